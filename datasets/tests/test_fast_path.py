"""The native (Arrow) pass 1 and the Python csv pass 1 give the same Parquet, receipt and
rejected rows on the same file; the fast path hands over to the Python path whenever it cannot
prove that (quoted newlines, stray quotes, lone CRs, odd encodings, spreadsheets)."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from datasets.ingest import IngestOptions, fastcsv, ingest_file
from datasets.ingest.generator import generate_buyers, generate_visitors
from datasets.tests import hostile as H


def _both(path: Path, tmp_path: Path, monkeypatch, **options):
    """(fast result, python result) for one file."""
    fast = ingest_file(path, out_dir=tmp_path / "fast", **options)
    with monkeypatch.context() as patched:
        patched.setattr(fastcsv, "ineligible", lambda prepared: "forced by the test")
        slow = ingest_file(path, out_dir=tmp_path / "python", **options)
    return fast, slow


def _receipt(result) -> dict:
    data = dataclasses.asdict(result.receipt)
    data.pop("elapsed_seconds")
    return data


def _rejected(result) -> bytes | None:
    return result.rejected_rows_path.read_bytes() if result.rejected_rows_path else None


def _assert_same(fast, slow) -> None:
    assert slow.reader == "python"
    assert _receipt(fast) == _receipt(slow)
    assert pq.read_table(fast.parquet_path).equals(pq.read_table(slow.parquet_path))
    assert _rejected(fast) == _rejected(slow)
    assert fast.column_types == slow.column_types
    assert fast.mapping == slow.mapping


SHARED = [
    ("bank-marketing/bank-additional-full.csv", "fast"),
    ("bank-marketing/bank-full.csv", "fast"),
    ("marketing-campaign/marketing_campaign.csv", "fast"),
    ("online-shoppers-intention/online_shoppers_intention.csv", "fast"),
    ("online-retail/online_retail.csv.gz", "fast"),
    ("format-variants/marketing_campaign__all_quoted_mdy.csv", "fast"),
    ("format-variants/marketing_campaign__semicolon_crlf_ddmmyyyy.csv", "fast"),
    ("format-variants/marketing_campaign__comma_excel_d-mon-yy.csv", "fast"),
    ("format-variants/marketing_campaign__excel_serial_dates.csv", "fast"),
    ("format-variants/adult__with_header_no_spaces.csv", "fast"),
    ("format-variants/online_shoppers_intention__recoded_numeric.csv", "fast"),
    # ", " after every delimiter: Arrow cannot skip initial spaces.
    ("adult-census/adult.data", "python"),
    # Tweets hold quoted line breaks.
    ("chat-twitter-support/twcs_first5000.csv", "python"),
]


@pytest.mark.parametrize(("name", "reader"), SHARED)
def test_shared_data_sets_same_result_on_both_paths(name, reader, shared_data, tmp_path, monkeypatch):
    fast, slow = _both(shared_data / name, tmp_path, monkeypatch)
    assert fast.reader == reader
    _assert_same(fast, slow)


HOSTILE = [
    (H.ragged, "fast"),
    (H.nul_bytes, "fast"),
    (H.utf8_bom, "fast"),
    (H.big_field, "fast"),
    (H.semicolon_decimal_comma, "fast"),
    (H.unterminated_quote, "fast"),  # no quote character in the dialect: quotes are text
    (H.unterminated_quote_quoted, "python"),
    (H.embedded_newlines, "python"),
    (H.cr_only, "python"),
    (H.mixed_line_endings, "python"),
    (H.mixed_utf8_latin1, "python"),
    (H.cp1252, "python"),
    (H.one_column, "python"),
    (H.csv_as_gz, "fast"),
    (H.gzip_multi_member, "fast"),
]


@pytest.mark.parametrize(("make", "reader"), HOSTILE, ids=[make.__name__ for make, _ in HOSTILE])
def test_hostile_files_same_result_on_both_paths(make, reader, tmp_path, monkeypatch):
    path = make(tmp_path)
    fast, slow = _both(path, tmp_path, monkeypatch)
    assert fast.reader == reader
    _assert_same(fast, slow)


# Blank and whitespace-only lines, ",,," rows, trailing empty fields, short and long rows,
# quoted delimiters and doubled quotes, CRLF, metadata above the header, no final newline.
EDGES = (
    b"Report: visitors\r\nexported 2024-01-02\r\n\r\n"
    b"id,name,amount,when\r\n"
    b"1,Alice,10,2024-01-02\r\n"
    b"\r\n"
    b"   \r\n"
    b",,,\r\n"
    b'2,"Smith, Bob",20,2024-01-03\r\n'
    b'3,"say ""hi""",x,2024-01-04\r\n'
    b"4,Carol,30,2024-01-05,,\r\n"
    b"5,Dan,40\r\n"
    b"6,Eve,50,2024-01-06,extra\r\n"
    b"1,Alice,10,2024-01-02\r\n"
    b"7,Fay,60,2024-02-30\r\n"
    b"8,Gus,70,2024-01-08"
)


def test_edge_file_same_result_on_both_paths(tmp_path, monkeypatch):
    path = H.write(tmp_path, "edges.csv", EDGES)
    fast, slow = _both(path, tmp_path, monkeypatch)
    assert fast.reader == "fast"
    _assert_same(fast, slow)
    receipt = fast.receipt
    # Counted by hand from EDGES: the header is on line 4, data records on lines 5, 9..16
    # (3, 6, 7, 8 are blank); 12 and 13 have 3 and 5 non-empty fields, 14 repeats 5, and
    # 2024-02-30 on line 15 is no date (the column is a date column: every value has the shape).
    assert receipt.header_row == 4
    assert receipt.lines_skipped_above_header == 2
    assert receipt.blank_lines == 4
    assert receipt.rows_read == 9
    assert receipt.rejected_line_numbers == [12, 13, 15]
    assert receipt.rejected_reasons == {"ROW_FIELD_COUNT": 2, "ROW_INVALID_VALUE": 1}
    assert receipt.duplicates_removed == 1
    assert receipt.rows_loaded == 9 - 3 - 1
    assert "TRAILING_EMPTY_FIELDS" in receipt.warning_codes


def test_edge_file_across_many_small_blocks(tmp_path, monkeypatch):
    """Tiny reads: every block boundary falls somewhere else, the result must not move."""
    path = H.write(tmp_path, "edges.csv", EDGES)
    monkeypatch.setattr(fastcsv, "READ_BYTES", 7)
    fast, slow = _both(path, tmp_path, monkeypatch)
    assert fast.reader == "fast"
    _assert_same(fast, slow)


def test_stray_character_after_closing_quote_falls_back(tmp_path, monkeypatch):
    # csv.reader(strict=True) rejects line 3; Arrow would read it as "abcdef".
    path = H.write(tmp_path, "stray.csv", b'a,b\n"x",1\n"abc"def,2\n"y",3\n')
    fast, slow = _both(path, tmp_path, monkeypatch)
    assert (fast.reader, fast.fallback_reason) == ("python", "quoted newline or non-strict quoting")
    assert fast.receipt.rejected_line_numbers == [3]
    _assert_same(fast, slow)


def test_invalid_utf8_after_the_sample_falls_back(tmp_path, monkeypatch):
    """The sample is clean UTF-8; a Windows-1252 byte far below it is read as cp1252 by the
    Python path (and counted), which Arrow cannot do."""
    body = b"".join(b"%d,name%d\n" % (i, i) for i in range(3000))
    path = H.write(tmp_path, "late.csv", b"id,name\n" + body + b"9999,Caf\xe9\n")
    fast, slow = _both(path, tmp_path, monkeypatch, options=IngestOptions(sample_bytes=16 * 1024))
    assert fast.reader == "python" and fast.fallback_reason.startswith("arrow")
    assert fast.receipt.encoding == "ascii" and "MIXED_ENCODING" in fast.receipt.warning_codes
    _assert_same(fast, slow)


def test_generated_files_multi_block_same_result(tmp_path, monkeypatch):
    visitors = tmp_path / "visitors.csv"
    generate_visitors(visitors, 20_000, seed=7)
    monkeypatch.setattr(fastcsv, "READ_BYTES", 64 * 1024)
    fast, slow = _both(visitors, tmp_path, monkeypatch)
    assert fast.reader == "fast" and fast.receipt.rows_loaded == 20_000
    _assert_same(fast, slow)


def test_generated_buyers_gzip_same_result(tmp_path, monkeypatch):
    buyers = tmp_path / "buyers.csv"
    generate_buyers(buyers, 20_000, seed=11)
    packed = tmp_path / "buyers.csv.gz"
    packed.write_bytes(gzip.compress(buyers.read_bytes()))
    fast, slow = _both(packed, tmp_path, monkeypatch)
    assert fast.reader == "fast"
    _assert_same(fast, slow)
