//! Errors a script can meet — syntax, constructs outside the subset, run-time exceptions —
//! each with its file:line:col and Django's (or Python's) class and message.

use crate::support::run_source;

const MODELS: &str = "\
from django.db import models

class Customer(models.Model):
    name = models.CharField(max_length=20)

class Tag(models.Model):
    label = models.CharField(max_length=20)

";

/// The last stdout line (the JSON error line) and the stderr message.
fn failure(source: &str) -> (String, String) {
    let out = run_source(source, "json", &[]);
    assert!(!out.success, "the script should fail: {}", out.stdout);
    let last = out.stdout.lines().last().unwrap_or_default().to_string();
    let message = out.stderr.lines().last().unwrap_or_default().to_string();
    let message = message
        .split_once("script.py:")
        .map(|(_, m)| m.to_string())
        .unwrap_or(message);
    (last, message)
}

#[test]
fn syntax_errors_name_the_position() {
    let (line, message) = failure("x = 1\nprint((x,\n");
    assert_eq!(
        line,
        r#"{"error":"SyntaxError","message":"'(' was never closed"}"#
    );
    assert_eq!(message, "2:6: SyntaxError: '(' was never closed");
    let (_, message) = failure("if True:\nprint(1)\n");
    assert_eq!(message, "2:1: SyntaxError: expected an indented block");
    let (_, message) = failure("x = 'open\n");
    assert_eq!(message, "1:5: SyntaxError: unterminated string literal");
}

#[test]
fn constructs_outside_the_subset_say_which() {
    let (_, message) = failure("async def f():\n    pass\n");
    assert_eq!(message, "1:1: SyntaxError: unsupported construct: 'async'");
    let (_, message) = failure("class Plain:\n    pass\n");
    assert_eq!(
        message,
        "1:1: SyntaxError: unsupported construct: class 'Plain': only model classes (models.Model) and exception classes can be defined"
    );
    let (_, message) = failure("with open('f') as f:\n    pass\n");
    assert_eq!(message, "1:6: NameError: name 'open' is not defined");
    let (_, message) = failure(&format!(
        "{MODELS}class VipCustomer(Customer):\n    level = models.IntegerField()\n"
    ));
    assert_eq!(
        message,
        "9:1: SyntaxError: unsupported construct: class 'VipCustomer(Customer)': multi-table inheritance (only abstract base models)"
    );
    let (_, message) = failure("@staticmethod\ndef f():\n    pass\n");
    assert_eq!(
        message,
        "1:1: SyntaxError: unsupported construct: decorators other than @transaction.atomic and @property"
    );
    let (_, message) = failure("x = 1\ny = *[x]\n");
    assert_eq!(
        message,
        "2:5: SyntaxError: can't use starred expression here"
    );
    let (_, message) = failure("a, *b, *c = [1, 2]\n");
    assert_eq!(
        message,
        "1:1: SyntaxError: multiple starred expressions in assignment"
    );
}

#[test]
fn django_errors_keep_their_class_and_wording() {
    let (line, message) = failure(&format!(
        "{MODELS}print(1)\nCustomer.objects.filter(nme='x').count()\n"
    ));
    assert_eq!(
        line,
        r#"{"error":"FieldError","message":"Cannot resolve keyword 'nme' into field. Choices are: id, name"}"#
    );
    assert_eq!(
        message,
        "10:34: FieldError: Cannot resolve keyword 'nme' into field. Choices are: id, name"
    );
    let (line, _) = failure(&format!("{MODELS}Customer.objects.get(name='nobody')\n"));
    assert_eq!(
        line,
        r#"{"error":"DoesNotExist","message":"Customer matching query does not exist."}"#
    );
    let (line, _) = failure(&format!("{MODELS}Customer.objects.all()[-1]\n"));
    assert_eq!(
        line,
        r#"{"error":"ValueError","message":"Negative indexing is not supported."}"#
    );
    // The messages below are Django 5.1.4's for the same statements (django_runner.py, sqlite).
    let (line, _) = failure(&format!(
        "{MODELS}list(Customer.objects.values('name').union(Tag.objects.values('label')).filter(name='a'))\n"
    ));
    assert_eq!(
        line,
        r#"{"error":"NotSupportedError","message":"Calling QuerySet.filter() after union() is not supported."}"#
    );
    let (line, _) = failure(&format!(
        "{MODELS}list(Customer.objects.annotate(x=Subquery(Tag.objects.values('id', 'label')[:1])))\n"
    ));
    assert_eq!(
        line,
        r#"{"error":"FieldError","message":"Cannot resolve expression type, unknown output_field"}"#
    );
    let (line, _) = failure(&format!(
        "{MODELS}list(Tag.objects.filter(label=OuterRef('name')))\n"
    ));
    assert_eq!(
        line,
        r#"{"error":"ValueError","message":"This queryset contains a reference to an outer query and may only be used in a subquery."}"#
    );
}

#[test]
fn write_refusals_name_the_position() {
    // Django on PostgreSQL (django/db/models/sql/compiler.py, as_sql); SQLite accepts it.
    let (line, message) = failure(&format!(
        "{MODELS}with_lock = Customer.objects.select_for_update()\nlist(with_lock)\n"
    ));
    assert_eq!(
        line,
        r#"{"error":"TransactionManagementError","message":"select_for_update cannot be used outside of a transaction."}"#
    );
    assert_eq!(
        message,
        "10:1: TransactionManagementError: select_for_update cannot be used outside of a transaction."
    );
    let (line, message) = failure(&format!(
        "{MODELS}Customer.objects.create(name='a')\nCustomer.objects.all()[:1].update(name='b')\n"
    ));
    assert_eq!(
        line,
        r#"{"error":"TypeError","message":"Cannot update a query once a slice has been taken."}"#
    );
    assert_eq!(
        message,
        "10:28: TypeError: Cannot update a query once a slice has been taken."
    );
    // An uncaught error leaves the block: its writes are undone before the script stops.
    let source = format!(
        "{MODELS}from django.db import transaction
Customer.objects.create(name='kept')
try:
    with transaction.atomic():
        Customer.objects.update(name='lost')
        Customer.objects.get(name='nobody')
except Customer.DoesNotExist:
    pass
print(list(Customer.objects.values_list('name', flat=True)))
with transaction.atomic():
    Customer.objects.update(name='x')
    1 / 0
"
    );
    let out = crate::support::run_source(&source, "json", &[]);
    assert!(!out.success);
    assert_eq!(
        out.stdout,
        "[\"kept\"]\n{\"error\":\"ZeroDivisionError\",\"message\":\"division by zero\"}\n"
    );
    assert!(
        out.stderr.contains("script.py:20:5: ZeroDivisionError"),
        "{}",
        out.stderr
    );
}

#[test]
fn python_errors_have_python_messages() {
    let (line, message) = failure("x = 1\ny = x / 0\n");
    assert_eq!(
        line,
        r#"{"error":"ZeroDivisionError","message":"division by zero"}"#
    );
    assert_eq!(message, "2:5: ZeroDivisionError: division by zero");
    let (line, _) = failure("print(undefined)\n");
    assert_eq!(
        line,
        r#"{"error":"NameError","message":"name 'undefined' is not defined"}"#
    );
    let (line, _) = failure("d = {'a': 1}\nd['b']\n");
    assert_eq!(line, r#"{"error":"KeyError","message":"'b'"}"#);
    let (line, _) = failure("assert 1 == 2, 'no'\n");
    assert_eq!(line, r#"{"error":"AssertionError","message":"no"}"#);
    let (line, _) = failure("'a' + 1\n");
    assert_eq!(
        line,
        r#"{"error":"TypeError","message":"unsupported operand type(s) for +: 'str' and 'int'"}"#
    );
}

#[test]
fn except_matches_by_class_and_model() {
    let source = format!(
        "{MODELS}\
from django.core.exceptions import ObjectDoesNotExist
class Oops(ValueError):
    pass

try:
    Customer.objects.get(name='nobody')
except Tag.DoesNotExist:
    print('wrong model')
except Customer.DoesNotExist as e:
    print('customer', str(e))
try:
    Tag.objects.get(pk=1)
except ObjectDoesNotExist:
    print('any model')
try:
    raise Oops('custom')
except ValueError as e:
    print(type(e) is Oops, str(e))
finally:
    print('finally')
try:
    Tag.objects.get(pk=1)
except Customer.DoesNotExist:
    print('not reached')
"
    );
    let out = run_source(&source, "json", &[]);
    assert_eq!(
        out.stdout,
        "[\"customer\",\"Customer matching query does not exist.\"]\n\"any model\"\n[true,\"custom\"]\n\"finally\"\n{\"error\":\"DoesNotExist\",\"message\":\"Tag matching query does not exist.\"}\n"
    );
    assert!(!out.success);
}
