"""DuckDB on the 22 TPC-H queries, for the comparison in BENCHMARKS.md.

Runs the same SQL texts that Quiver's TPC-H bench gives DataFusion (read from
benches/src/tpch/queries.rs) over in-memory DuckDB tables loaded from the Parquet files of
`tpchgen-cli` (the same generator, and so the same rows, as the `tpchgen-arrow` crate Quiver
loads from). Prints each query's median time and the total of the medians.

    python3 -m venv /tmp/duck && /tmp/duck/bin/pip install duckdb tpchgen-cli
    /tmp/duck/bin/tpchgen-cli parquet -s 1 --output-dir=/tmp/tpch-sf1
    /tmp/duck/bin/python benches/duckdb/tpch.py /tmp/tpch-sf1 --threads 2 --runs 5
"""

import argparse
import pathlib
import re
import statistics
import time

import duckdb

TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]


def read_queries():
    """The `const QN: &str = "..."` texts of queries.rs, with Rust's line continuations undone."""
    source = (pathlib.Path(__file__).parent.parent / "src" / "tpch" / "queries.rs").read_text()
    queries = {}
    for match in re.finditer(r'const Q(\d+): &str = "((?:[^"\\]|\\.)*)";', source, re.S):
        queries[int(match.group(1))] = re.sub(r"\\\n\s*", "", match.group(2)).replace('\\"', '"')
    if sorted(queries) != list(range(1, 23)):
        raise SystemExit(f"expected the 22 queries in queries.rs, found {sorted(queries)}")
    return queries


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="directory holding tpchgen-cli's <table>.parquet files")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query (median)")
    args = parser.parse_args()

    queries = read_queries()
    connection = duckdb.connect()
    connection.execute(f"SET threads={args.threads}")
    for table in TABLES:
        path = pathlib.Path(args.data) / f"{table}.parquet"
        connection.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{path}')")
    total = 0.0
    for number in range(1, 23):
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            rows = connection.execute(queries[number]).fetchall()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        total += median
        print(f"q{number}\t{median * 1000:.1f} ms\t{len(rows)} rows", flush=True)
    print(f"total\t{total:.3f} s\tDuckDB {duckdb.__version__}, {args.threads} threads, "
          f"median of {args.runs} runs")


if __name__ == "__main__":
    main()
