"""The Python subset itself: containers, numbers, Decimal, strings and f-strings, dates,
control flow, functions and exceptions, printed as Django's runner prints them."""
import datetime
from decimal import Decimal
x = [3, 1, 2]
x.sort()
print(x, sorted(x, reverse=True), x[::-1], x[-2:], x[:10], len(x))
d = {"b": 2, "a": 1}
d["c"] = 3
print(d, list(d.items()), d.get("z", 0), "a" in d, sorted(d))
print(7 // 2, -7 // 2, 7 % 3, -7 % 3, 7 / 2, 2 ** 10, 2 ** -1, 1e3, 0.1 + 0.2)
print(Decimal("1.10") + Decimal("2.205"), Decimal("10") / Decimal("4"), Decimal("1") / Decimal("3"), Decimal("2.50") * 3)
print(round(2.675, 2), round(0.5), round(1.5), round(Decimal("2.345"), 2), int("42"), float("1.5"), str(3.0))
print(f"{1/3:.3f} {42:05d} {'x':>3}|{'y':<3}|{'z':^5}| {1234.5:,.1f} {0.25:.0%}")
s = "Hello, World"
print(s.lower(), s.upper(), s.split(", "), s.replace("l", "L"), s[1:5], s.startswith("He"), "-".join(["a", "b"]))
print(list(range(5)), list(range(2, 10, 3)), list(enumerate("ab")), list(zip([1, 2], "xy")))
print([i * i for i in range(5) if i % 2], {k: v for k, v in zip("ab", [1, 2])}, {i % 3 for i in range(10)})
a, (b, c) = 1, (2, 3)
print(a, b, c, min(3, 1, 2), max([4, 9, 2]), sum([1.5, 2]), abs(-3), any([0, 1]), all([]))
def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)
print(fact(10), (lambda q: q + 1)(2), list(map(str, [1, 2])), list(filter(None, [0, 1, 2])))
print(datetime.date(2024, 2, 28) + datetime.timedelta(days=2), datetime.datetime(2024, 1, 1, 12) - datetime.datetime(2023, 12, 31))
print(datetime.timedelta(hours=25).total_seconds(), datetime.date(2024, 3, 1).isoformat(), datetime.date(2024, 3, 1).weekday())
print(repr("it's"), repr(None), str([1, "a", None, True]), (1,), (), [], {})
t = 0
for i in range(10):
    if i == 3:
        continue
    if i > 6:
        break
    t += i
else:
    t = -1
print(t)
n = 0
while n < 5:
    n += 2
print(n, 5 if n > 3 else 6, not n, n and "y", 0 or "z")
try:
    [][1]
except IndexError as e:
    print("index", e)
try:
    {}["k"]
except KeyError as e:
    print("key", e)
print(1 < 2 < 3, 1 == 1.0, "a" < "b", [1, 2] < [1, 3], None is None, 2 in [1, 2], "x" not in "abc")
print("%s is %d years, %.2f" % ("Ann", 30, 1.5), "{} and {name}".format(1, name="n"))
print(sorted([("b", 2), ("a", 2), ("c", 1)], key=lambda p: p[1]), max(["aa", "b"], key=len))
print(Decimal("0.1") * Decimal("0.2"), Decimal("100") - Decimal("0.01"), -Decimal("5.5"), Decimal("7") // Decimal("2"), Decimal("-7") % Decimal("2"))
print(1e16, 1.5e-5, 123456789.0, float("inf"), -0.0, 3.0 * 2)
print(set(), {1, 2} | {3}, sorted({3, 1, 2}))
print(datetime.datetime(2024, 1, 2, 3, 4, 5, 6).isoformat(), str(datetime.datetime(2024, 1, 2, 3, 4)), datetime.time(1, 2, 3))
print(str(datetime.timedelta(days=1, seconds=3661)), str(datetime.timedelta(seconds=-1)))
print(divmod(17, 5), pow(2, 8), isinstance(1, int), isinstance("a", (int, str)), type(1) is int)

# Starred unpacking and displays.
a, *rest = [1, 2, 3, 4]
first, *mid, last = range(5)
*init, end = "abc"
x, *y = (9,)
print(a, rest, first, mid, last, init, end, x, y)
nums = [1, 2]
print([*nums, *"ab", 3], (*nums, 0), sorted({*nums, 5}), [*[]])
try:
    p, *q, r = [1]
except ValueError as e:
    print(str(e))
