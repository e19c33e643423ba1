"""The native (Arrow) pass 1 and the Python csv pass 1 give the same Parquet, receipt and
rejected rows on the same file; the fast path hands over to the Python path whenever it cannot
prove that (quoted newlines, stray quotes, lone CRs, odd encodings, spreadsheets)."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pyarrow as pa
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


# --- the single pass: types from the first chunk, final Parquet written while reading -------------
def _single_and_two(path: Path, tmp_path: Path, options: IngestOptions | None = None, **kwargs):
    """(default load, which tries the single pass; two-pass load) for one file."""
    options = options or IngestOptions()
    single = ingest_file(path, out_dir=tmp_path / "single", options=options, **kwargs)
    two_options = dataclasses.replace(options, single_pass=False)
    two = ingest_file(path, out_dir=tmp_path / "two", options=two_options, **kwargs)
    assert (two.single_pass, two.single_pass_abandoned) == (False, None)
    return single, two


def _assert_same_as_two_pass(single, two) -> None:
    assert _receipt(single) == _receipt(two)
    assert single.parquet_path.read_bytes() == two.parquet_path.read_bytes()
    assert _rejected(single) == _rejected(two)
    assert single.column_types == two.column_types
    assert single.mapping == two.mapping
    assert single.reader == two.reader


# The single pass keeps every one of these, also files with duplicate rows: it removes them after
# writing (the issue counts 12 duplicates in bank-additional-full.csv and 5,268 in
# online_retail.csv.gz). The second value: whether some row hash repeats (duplicates looked for).
SINGLE = [
    ("bank-marketing/bank-additional-full.csv", True),
    ("marketing-campaign/marketing_campaign.csv", False),
    ("online-retail/online_retail.csv.gz", True),
    ("format-variants/marketing_campaign__semicolon_crlf_ddmmyyyy.csv", False),
    ("format-variants/marketing_campaign__excel_serial_dates.csv", False),
    ("format-variants/online_shoppers_intention__recoded_numeric.csv", True),
]


@pytest.mark.parametrize(("name", "repeats"), SINGLE)
def test_shared_data_sets_single_pass_same_as_two_passes(name, repeats, shared_data, tmp_path):
    single, two = _single_and_two(shared_data / name, tmp_path)
    assert (single.single_pass, single.single_pass_abandoned, single.single_pass_dedup) == (True, None, repeats)
    _assert_same_as_two_pass(single, two)
    assert (single.receipt.duplicates_found > 0) == repeats


def _late_change(tmp_path: Path, late: bytes, column: bytes = b"n") -> Path:
    """3,000 rows whose first 2,000 fit one type, then one row with ``late`` in that column."""
    body = b"".join(b"%d,%d,01/02/2024\n" % (i, 100 + i) for i in range(3000))
    return H.write(tmp_path, "late.csv", b"id," + column + b",day\n" + body + b"3000," + late + b",01/02/2024\n")


@pytest.mark.parametrize(
    ("late", "type_before", "type_after"),
    [
        (b"abc", "integer", "text"),  # a word: text
        (b"0123", "integer", "text"),  # a leading zero: an identifier kept as text
        (b"12.5", "integer", "decimal"),  # a fraction: decimal
    ],
)
def test_type_change_after_the_first_chunk_falls_back_to_two_passes(late, type_before, type_after, tmp_path):
    path = _late_change(tmp_path, late)
    options = IngestOptions(chunk_rows=1000)
    single, two = _single_and_two(path, tmp_path, options)
    # Line 1 is the header, rows start on line 2: the late row (line 3002) is in the 4th chunk.
    assert single.single_pass is False
    assert single.single_pass_abandoned == "column types changed in the last chunk"
    assert single.column_types["n"].type == type_after != type_before
    _assert_same_as_two_pass(single, two)


def test_date_order_decided_late_falls_back(tmp_path):
    """01/02/2024 reads both ways; 25/02/2024 in a later chunk proves day/month."""
    body = b"".join(b"%d,01/02/2024\n" % i for i in range(2500))
    after = b"".join(b"%d,03/04/2024\n" % i for i in range(2501, 3000))
    path = H.write(tmp_path, "dates.csv", b"id,day\n" + body + b"2500,25/02/2024\n" + after)
    single, two = _single_and_two(path, tmp_path, IngestOptions(chunk_rows=1000))
    assert single.single_pass is False and single.single_pass_abandoned.startswith("column types changed")
    assert single.column_types["day"].order == "dmy"
    _assert_same_as_two_pass(single, two)


# EDGES without its duplicate row: invalid values and wrong field counts in one single pass.
EDGES_NO_DUPLICATE = EDGES.replace(b"1,Alice,10,2024-01-02\r\n7,Fay", b"7,Fay")


def test_single_pass_rejects_like_two_passes(tmp_path, monkeypatch):
    path = H.write(tmp_path, "edges.csv", EDGES_NO_DUPLICATE)
    monkeypatch.setattr(fastcsv, "READ_BYTES", 7)
    single, two = _single_and_two(path, tmp_path)
    assert (single.single_pass, single.single_pass_abandoned) == (True, None)
    _assert_same_as_two_pass(single, two)
    # By hand, as in EDGES: line 14 (the repeat) is gone, so 2024-02-30 is now on line 14.
    assert single.receipt.rejected_line_numbers == [12, 13, 14]
    assert single.receipt.rejected_reasons == {"ROW_FIELD_COUNT": 2, "ROW_INVALID_VALUE": 1}
    assert single.receipt.rows_loaded == 8 - 3


def test_single_pass_with_duplicates_kept(tmp_path):
    path = H.write(tmp_path, "edges.csv", EDGES)
    single, two = _single_and_two(path, tmp_path, IngestOptions(keep_duplicates=True))
    assert (single.single_pass, single.single_pass_abandoned, single.single_pass_dedup) == (True, None, True)
    _assert_same_as_two_pass(single, two)
    assert single.receipt.duplicates_found == 1 and single.receipt.rows_loaded == 9 - 3


def test_single_pass_removes_duplicates_after_writing(tmp_path, monkeypatch):
    """EDGES repeats line 5 on line 14: the single pass stands and gives the two-pass result."""
    path = H.write(tmp_path, "edges.csv", EDGES)
    monkeypatch.setattr(fastcsv, "READ_BYTES", 7)
    single, two = _single_and_two(path, tmp_path)
    assert (single.single_pass, single.single_pass_abandoned, single.single_pass_dedup) == (True, None, True)
    _assert_same_as_two_pass(single, two)
    # By hand, as in test_edge_file_same_result_on_both_paths.
    assert single.receipt.rejected_line_numbers == [12, 13, 15]
    assert (single.receipt.duplicates_found, single.receipt.duplicates_removed) == (1, 1)
    assert single.receipt.rows_loaded == 9 - 3 - 1
    assert pq.read_table(single.parquet_path).column("id").to_pylist() == [1, 2, 3, 4, 8]


def _with_repeats(tmp_path: Path, rows: int, every: int) -> tuple[Path, list[int]]:
    """A visitors file with every ``every``-th data row appended again at the end, and the line
    numbers of those repeats (header on line 1)."""
    plain = tmp_path / "plain.csv"
    generate_visitors(plain, rows, seed=9)
    lines = plain.read_bytes().splitlines(keepends=True)
    repeats = lines[every::every]
    path = H.write(tmp_path, "repeats.csv", b"".join(lines) + b"".join(repeats))
    return path, list(range(len(lines) + 1, len(lines) + 1 + len(repeats)))


def test_single_pass_duplicates_across_chunks_same_as_two_passes(tmp_path):
    path, repeat_lines = _with_repeats(tmp_path, 6_000, 250)
    mapping = {"gender": "gender", "converted": "converted"}
    single, two = _single_and_two(path, tmp_path, IngestOptions(chunk_rows=1000), mapping=mapping)
    assert (single.single_pass, single.single_pass_dedup) == (True, True)
    _assert_same_as_two_pass(single, two)
    assert single.receipt.duplicates_removed == len(repeat_lines) == 6_000 // 250
    assert single.receipt.rows_loaded == 6_000
    assert len(pq.read_table(single.parquet_path)) == 6_000


def test_single_pass_duplicate_rows_with_invalid_values(tmp_path):
    """A row with an invalid value, repeated: the first is rejected, the repeat is a duplicate
    (the two-pass load drops duplicates before converting)."""
    body = b"".join(b"%d,2024-01-%02d\n" % (i, i % 28 + 1) for i in range(1500))
    bad = b"77,2024-02-30\n"  # the shape of a date (the column stays a date column), no real day
    path = H.write(tmp_path, "bad.csv", b"id,day\n" + body + bad + b"5,2024-01-06\n" + bad + bad)
    single, two = _single_and_two(path, tmp_path, IngestOptions(chunk_rows=500))
    assert (single.single_pass, single.single_pass_dedup) == (True, True)
    _assert_same_as_two_pass(single, two)
    # Lines: header 1, rows 2..1501, bad 1502, repeat of id 5 on 1503, bad again 1504 and 1505.
    assert single.receipt.rejected_line_numbers == [1502]
    assert single.receipt.duplicates_removed == 3
    assert single.receipt.rows_loaded == 1500


def test_rows_sharing_a_hash_but_not_their_values_go_to_the_two_pass_load(tmp_path, monkeypatch):
    """Every row hashed alike (a forced collision): reading the rows back shows they differ, so the
    two-pass load (which compares whole rows within a hash) decides; only equal rows are duplicates."""
    from datasets.ingest import load

    def same_hash(con, width, columns=None):
        return lambda batch: pa.array([7] * batch.num_rows, pa.uint64())

    monkeypatch.setattr(load, "_row_hasher", same_hash)
    body = b"".join(b"%d,%s\n" % (i % 300, b"xy"[i % 2 : i % 2 + 1]) for i in range(1200))
    path = H.write(tmp_path, "collide.csv", b"id,tag\n" + body)
    single = ingest_file(path, out_dir=tmp_path / "single", options=IngestOptions(chunk_rows=500))
    assert (single.single_pass, single.single_pass_abandoned) == (False, "rows with equal hashes but different values")
    # (i % 300, i % 2) repeats with period 300 (300 is even): 300 distinct rows of 1,200.
    assert (single.receipt.duplicates_removed, single.receipt.rows_loaded) == (900, 300)
    assert pq.read_table(single.parquet_path).column("id").to_pylist() == list(range(300))


def test_duplicates_in_a_file_with_infinities_fall_back(tmp_path):
    body = b"".join(b"%d,%d.5\n" % (i, i) for i in range(1500))
    path = H.write(tmp_path, "inf.csv", b"id,x\n" + body + b"1500,inf\n" + b"3,3.5\n")
    single, two = _single_and_two(path, tmp_path, IngestOptions(chunk_rows=500))
    assert (single.single_pass, single.single_pass_abandoned) == (
        False,
        "repeated rows in a file with non-finite values",
    )
    _assert_same_as_two_pass(single, two)
    assert single.receipt.duplicates_removed == 1


def test_too_many_repeated_rows_fall_back(tmp_path, monkeypatch):
    from datasets.ingest import load

    path, repeat_lines = _with_repeats(tmp_path, 3_000, 100)
    monkeypatch.setattr(load, "SINGLE_PASS_MAX_REPEATED", 10)
    single, two = _single_and_two(path, tmp_path, IngestOptions(chunk_rows=1000))
    assert (single.single_pass, single.single_pass_abandoned) == (False, "too many repeated rows")
    _assert_same_as_two_pass(single, two)
    assert single.receipt.duplicates_removed == len(repeat_lines) == 30


def test_single_pass_generated_files_with_mapping(tmp_path):
    visitors = tmp_path / "visitors.csv"
    generate_visitors(visitors, 20_000, seed=3)
    mapping = {"gender": "gender", "converted": "converted"}
    single, two = _single_and_two(visitors, tmp_path, IngestOptions(chunk_rows=4096), mapping=mapping)
    assert (single.single_pass, single.receipt.rows_loaded) == (True, 20_000)
    _assert_same_as_two_pass(single, two)


def test_single_pass_off_by_option(tmp_path):
    path = H.write(tmp_path, "edges.csv", EDGES_NO_DUPLICATE)
    result = ingest_file(path, out_dir=tmp_path / "off", options=IngestOptions(single_pass=False))
    assert (result.reader, result.single_pass, result.single_pass_abandoned) == ("fast", False, None)


def test_single_pass_limits_fall_back_to_two_passes(tmp_path, monkeypatch):
    from datasets.ingest import load

    visitors = tmp_path / "visitors.csv"
    generate_visitors(visitors, 5_000, seed=5)
    monkeypatch.setattr(load, "SINGLE_PASS_MAX_ROWS", 3_000)
    single, two = _single_and_two(visitors, tmp_path, IngestOptions(chunk_rows=1000))
    assert (single.single_pass, single.single_pass_abandoned) == (False, "too many rows to hold their hashes")
    _assert_same_as_two_pass(single, two)


def test_single_pass_too_many_invalid_values_falls_back(tmp_path, monkeypatch):
    from datasets.ingest import load

    path = H.write(tmp_path, "edges.csv", EDGES_NO_DUPLICATE)
    monkeypatch.setattr(load, "SINGLE_PASS_MAX_INVALID", 0)
    single, two = _single_and_two(path, tmp_path)
    assert (single.single_pass, single.single_pass_abandoned) == (False, "too many invalid values")
    _assert_same_as_two_pass(single, two)
    assert single.receipt.rejected_line_numbers == [12, 13, 14]


def test_key_column_repeating_later_is_no_duplicate(tmp_path):
    """The id is all distinct in the first chunk and repeats later (rows 2,000.. reuse ids 0..)
    without any duplicate row: every row is hashed whole, so nothing repeats."""
    body = b"".join(b"%d,%s\n" % (i % 2000, b"ab"[i // 2000 : i // 2000 + 1]) for i in range(3000))
    path = H.write(tmp_path, "ids.csv", b"id,group\n" + body)
    single, two = _single_and_two(path, tmp_path, IngestOptions(chunk_rows=1000))
    assert (single.single_pass, single.single_pass_abandoned, single.single_pass_dedup) == (True, None, False)
    _assert_same_as_two_pass(single, two)
    assert (single.receipt.duplicates_found, single.receipt.rows_loaded) == (0, 3000)
