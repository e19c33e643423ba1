"""The demo/bench generator: deterministic, streamed, realistic enough to exercise the loader."""

from __future__ import annotations

import csv
from collections import Counter

import pyarrow.parquet as pq

from datasets.ingest import ingest_file
from datasets.ingest.generator import BUYER_COLUMNS, VISITOR_COLUMNS, generate_buyers, generate_visitors


def _rows(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = generate_visitors(tmp_path / "a.csv", 2_000, seed=7)
    b = generate_visitors(tmp_path / "b.csv", 2_000, seed=7)
    c = generate_visitors(tmp_path / "c.csv", 2_000, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_visitors_file_shape(tmp_path):
    rows = _rows(generate_visitors(tmp_path / "v.csv", 60_000, seed=1))  # spans two chunks
    states = Counter(row["state"] for row in rows)
    assert len(rows) == 60_000 and list(rows[0]) == VISITOR_COLUMNS
    assert len({row["visitor_id"] for row in rows}) == 60_000
    assert states.most_common(1)[0][0] == "CA" and states["CA"] > 5 * states["UT"]
    assert any(row["zip"].startswith("0") for row in rows)
    assert 0.02 < sum(row["converted"] == "Yes" for row in rows) / len(rows) < 0.10


def test_buyers_have_repeat_customers_and_refunds(tmp_path):
    rows = _rows(generate_buyers(tmp_path / "b.csv", 20_000, seed=2))
    customers = Counter(row["customer_id"] for row in rows)
    assert list(rows[0]) == BUYER_COLUMNS
    assert len({row["order_id"] for row in rows}) == 20_000
    assert max(customers.values()) >= 5 and len(customers) < 20_000
    assert 0.03 < sum(row["refund_amount"] != "0.00" for row in rows) / len(rows) < 0.09
    assert all(row["order_total"].startswith("$") for row in rows)


def test_generated_files_ingest_with_the_right_kinds_and_types(tmp_path):
    visitors = generate_visitors(tmp_path / "v.csv", 5_000, seed=3)
    buyers = generate_buyers(tmp_path / "b.csv", 5_000, seed=3)
    v = ingest_file(visitors, out_dir=tmp_path / "v")
    b = ingest_file(buyers, out_dir=tmp_path / "b")
    raw_totals = sum(float(row["order_total"].strip("$").replace(",", "")) for row in _rows(buyers))
    table = pq.read_table(b.parquet_path).to_pandas()
    assert (v.receipt.kind, b.receipt.kind) == ("visitors", "buyers")
    assert v.receipt.rows_loaded == b.receipt.rows_loaded == 5_000
    assert {c.name: c.type for c in v.receipt.columns}["converted"] == "boolean"
    assert {c.name: c.format for c in v.receipt.columns}["zip"] == "id"
    assert {c.name: c.type for c in b.receipt.columns}["order_total"] == "money"
    assert round(float(table["order_total"].sum()), 2) == round(raw_totals, 2)
    assert set(table["gender"].dropna()) == {"Female", "Male"}  # F/M spellings normalised, Unknown -> missing
