"""How fast can DuckDB itself compute the buyers KPIs that group orders by buyer, on this machine?

    .venv/bin/python bench/buyers_floor.py                  # the 10M-row file of bench/analytics.py
    .venv/bin/python bench/buyers_floor.py --rows 1000000

The buyers dashboard's repeat-buyer rate and 90-day LTV need every buyer's order count and first
order date (one group-by over the buyer key), then each order against its buyer's first date (a
join back). This script times that work written directly in DuckDB, without the engine, on the
generated buyers file of bench/analytics.py (run that first: it writes the file), in four forms:

- the group-by alone (buyers, repeat buyers, first dates);
- the group-by and the join back (everything the repeat rate and the LTV need);
- the same two on a copy of the file sorted by buyer key (what a publish-time clustering would buy;
  the sort itself is timed once, as the price each publish would pay);
- the engine's own buyers KPIs (`buyers_kpis`, every KPI of the page) for comparison.

It answers whether a cold 10M-row buyers dashboard can fit in 1.5 s here: not when the floor of
the group-by and join alone is above it.
"""

# ruff: noqa: S608 - a benchmark: fixed SQL over our own generated files

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

GROUP_ONLY = """
    SELECT count(*), count(*) FILTER (WHERE n >= 2), count(*) FILTER (WHERE f0 <= ?)
    FROM (SELECT customer_id, count(*) AS n, min(order_date) AS f0 FROM {src} GROUP BY 1)
"""
GROUP_AND_JOIN = """
    WITH pk AS MATERIALIZED (SELECT customer_id, count(*) AS n, min(order_date) AS f0 FROM {src} GROUP BY 1)
    SELECT (SELECT count(*) FROM pk), (SELECT count(*) FROM pk WHERE n >= 2),
           (SELECT count(*) FROM pk WHERE f0 <= ?),
           (SELECT sum(coalesce(order_total, 0) - abs(refund_amount))
                   FILTER (WHERE b.order_date < pk.f0 + 90)
            FROM pk JOIN {src} b USING (customer_id) WHERE pk.f0 <= ?)
"""


def _median(fn, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "bench-analytics")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = args.workdir / f"buyers-{args.rows}.parquet"
    if not path.exists():
        sys.exit(f"{path} is missing: run bench/analytics.py --rows {args.rows} first (it writes it)")
    sorted_path = args.workdir / f"buyers-{args.rows}-by-buyer.parquet"
    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true")
    print(f"DuckDB {duckdb.__version__}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}; {path.name}")
    if not sorted_path.exists():
        started = time.perf_counter()
        tmp = sorted_path.with_suffix(".tmp")
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{path.as_posix()}') ORDER BY customer_id) "
            f"TO '{tmp.as_posix()}' (FORMAT parquet, COMPRESSION zstd)"
        )
        tmp.rename(sorted_path)
        print(f"  sorting a copy by buyer key (once; a publish would pay this): {time.perf_counter() - started:.1f} s")
    last = con.execute(f"SELECT max(order_date) FROM read_parquet('{path.as_posix()}')").fetchone()[0]
    cutoff = con.execute("SELECT ?::DATE - 90", [last]).fetchone()[0]

    def run(sql: str, file: Path, params: list):
        src = f"read_parquet('{file.as_posix()}')"
        return lambda: con.execute(sql.format(src=src), params).fetchall()

    figures = [
        ("group-by alone", run(GROUP_ONLY, path, [cutoff])),
        ("group-by + join back", run(GROUP_AND_JOIN, path, [cutoff, cutoff])),
        ("group-by alone, sorted copy", run(GROUP_ONLY, sorted_path, [cutoff])),
        ("group-by + join back, sorted copy", run(GROUP_AND_JOIN, sorted_path, [cutoff, cutoff])),
    ]
    answers = {}
    for label, fn in figures:
        seconds, value = _median(fn, args.repeat)
        answers[label] = value
        print(f"  {label:<36} {seconds:6.2f} s   {value[0]}")
    assert answers["group-by + join back"] == answers["group-by + join back, sorted copy"]

    from analytics.engine import metrics
    from analytics.engine.schema import Source

    schema_sql = "SELECT name FROM parquet_schema(?) WHERE num_children IS NULL"
    names = [n for (n,) in con.execute(schema_sql, [str(path)]).fetchall()]
    fields = {"customer_id": "buyer_key", "order_id": "order_id", "order_date": "order_date"}
    fields |= {"order_total": "revenue", "refund_amount": "refund"}
    types = {"order_date": "date", "order_total": "money", "refund_amount": "money"}
    source = Source.from_schema(
        path, [{"name": n, "type": types.get(n, "text"), "field": fields.get(n)} for n in names]
    )
    metrics.buyers_kpis(source)  # the once-per-version key facts, not what is measured here
    seconds, report = _median(lambda: metrics.buyers_kpis(source), args.repeat)
    print(f"  {'engine buyers_kpis (every KPI)':<36} {seconds:6.2f} s   {report['buyers'].value} buyers")


if __name__ == "__main__":
    main()
