"""Hostile and malformed files (SECURITY.md §3.7): each is refused with a specific error code, or
accepted with exactly the right rows and warnings."""

from __future__ import annotations

import resource

import pyarrow.parquet as pq
import pytest

from datasets.ingest import IngestError, IngestOptions, Limits, ingest_file, sniff_file
from datasets.ingest import errors as E

from . import hostile as H

SMALL = Limits(max_decompressed_bytes=8 << 20, max_zip_entries=100, max_field_bytes=1 << 20)


def _load(path, tmp_path, **options):
    result = ingest_file(path, out_dir=tmp_path / "out", options=IngestOptions(limits=SMALL, **options))
    return result, pq.read_table(result.parquet_path).to_pylist()


@pytest.mark.parametrize(
    ("make", "code"),
    H.REFUSED_CASES,
    ids=lambda value: getattr(value, "__name__", value),
)
def test_refused_with_specific_code(make, code, tmp_path):
    path = make(tmp_path)
    with pytest.raises(IngestError) as caught:
        ingest_file(path, out_dir=tmp_path / "out", options=IngestOptions(limits=SMALL))
    assert caught.value.code == code
    assert caught.value.message == E.error_message(code, caught.value.detail)
    assert not (tmp_path / "out" / "data.parquet").exists()


def test_gzip_bomb_stops_at_the_limit_with_bounded_memory(tmp_path):
    path = H.gzip_bomb(tmp_path, size=256 << 20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(IngestError) as caught:
        ingest_file(path, out_dir=tmp_path / "out", options=IngestOptions(limits=SMALL))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert path.stat().st_size < 1 << 20
    assert caught.value.code == E.DECOMPRESSION_LIMIT
    assert grown_kib < 200 * 1024  # far below the 256 MiB the bomb would inflate to


def test_gzip_ratio_limit(tmp_path):
    path = H.gzip_ratio_bomb(tmp_path)
    limits = Limits(max_compression_ratio=50, ratio_grace_bytes=1 << 20)
    with pytest.raises(IngestError) as caught:
        ingest_file(path, out_dir=tmp_path / "out", options=IngestOptions(limits=limits))
    assert caught.value.code == E.COMPRESSION_RATIO


def test_too_many_columns_limit(tmp_path):
    with pytest.raises(IngestError) as caught:
        ingest_file(
            H.many_columns(tmp_path), out_dir=tmp_path / "out", options=IngestOptions(limits=Limits(max_columns=500))
        )
    assert caught.value.code == E.TOO_MANY_COLUMNS


def test_ragged_rows_rejected_with_line_numbers(tmp_path):
    result, rows = _load(H.ragged(tmp_path), tmp_path)
    receipt = result.receipt
    assert rows == [{"a": 1, "b": 2, "c": 3}, {"a": 10, "b": 11, "c": 12}, {"a": 13, "b": 14, "c": 15}]
    assert receipt.rows_read == 5 and receipt.rows_rejected == 2
    assert receipt.rejected_line_numbers == [3, 4]
    assert receipt.rejected_reasons == {E.ROW_FIELD_COUNT: 2}
    assert {E.W_ROWS_REJECTED, E.W_TRAILING_EMPTY_FIELDS} <= receipt.warning_codes
    rejected = (tmp_path / "out" / "rejected_rows.csv").read_text().splitlines()
    assert rejected == [
        "line,reason,a,b,c",
        '3,"expected 3 fields, found 2",4,5',
        '4,"expected 3 fields, found 4",6,7,8,9',
    ]


def test_one_column(tmp_path):
    result, rows = _load(H.one_column(tmp_path), tmp_path)
    assert result.receipt.delimiter == ""
    assert [row["email"] for row in rows] == ["a@example.com", "b@example.com", "c@example.com"]


def test_thousand_columns(tmp_path):
    result, rows = _load(H.many_columns(tmp_path), tmp_path)
    assert len(result.receipt.columns) == 1000
    assert rows[2]["c999"] == 2 * 1000 + 999


def test_unterminated_quote_without_quoting_is_literal(tmp_path):
    result, rows = _load(H.unterminated_quote(tmp_path), tmp_path)
    assert result.receipt.quotechar == ""
    assert [row["note"] for row in rows] == ["ok", '"never closed', "fine"]


def test_unterminated_quote_is_rejected_with_its_line(tmp_path):
    result, rows = _load(H.unterminated_quote_quoted(tmp_path), tmp_path)
    assert rows == [{"name": "Alice", "note": "ok"}]
    assert result.receipt.rejected_reasons == {E.ROW_UNTERMINATED_QUOTE: 1}
    assert result.receipt.rejected_line_numbers == [3]


def test_rfc4180_embedded_newlines_keep_line_numbers_right(tmp_path):
    result, rows = _load(H.embedded_newlines(tmp_path), tmp_path)
    assert [row["note"] for row in rows] == ["first line\nsecond line", 'say "hi"', "a\r\nb", "end"]
    assert result.receipt.rejected_line_numbers == [7]


def test_cr_only_and_mixed_line_endings(tmp_path):
    cr, cr_rows = _load(H.cr_only(tmp_path), tmp_path / "cr")
    mixed, mixed_rows = _load(H.mixed_line_endings(tmp_path), tmp_path / "mixed")
    assert cr_rows == mixed_rows == [{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5, "b": 6}]
    assert cr.receipt.rows_rejected == mixed.receipt.rows_rejected == 0


def test_200_kib_field(tmp_path):
    _result, rows = _load(H.big_field(tmp_path), tmp_path)
    assert len(rows[0]["blob"]) == 200 * 1024 and rows[1]["blob"] == "small"


def test_nul_bytes_are_stripped_and_counted(tmp_path):
    result, rows = _load(H.nul_bytes(tmp_path), tmp_path)
    assert rows == [{"name": "Alice", "amount": 10}, {"name": "Bob", "amount": 20}]
    assert next(w for w in result.receipt.warnings if w.code == E.W_NUL_BYTES).count == 2


def test_mixed_utf8_and_latin1(tmp_path):
    result, rows = _load(H.mixed_utf8_latin1(tmp_path), tmp_path)
    assert rows == [{"name": "Müller", "city": "Köln"}, {"name": "Jörg", "city": "Málaga"}]
    assert E.W_MIXED_ENCODING in result.receipt.warning_codes


def test_cp1252(tmp_path):
    result, rows = _load(H.cp1252(tmp_path), tmp_path)
    assert result.receipt.encoding == "cp1252"
    assert rows[3]["name"] == "Café 3" and rows[3]["note"] == "“quoted” naïve"
    assert str(rows[3]["price"]) == "3.00" and result.receipt.columns[1].type == "money"


def test_utf16_le_and_be_with_bom(tmp_path):
    le, le_rows = _load(H.utf16(tmp_path, "le"), tmp_path / "le")
    be, be_rows = _load(H.utf16(tmp_path, "be"), tmp_path / "be")
    assert (le.receipt.encoding, be.receipt.encoding) == ("utf-16-le", "utf-16-be")
    assert le_rows == be_rows == [{"name": "Zoë", "city": "Zürich"}, {"name": "Anaïs", "city": "Montréal"}]


def test_utf8_bom_is_not_part_of_the_header(tmp_path):
    result, rows = _load(H.utf8_bom(tmp_path), tmp_path)
    assert result.receipt.columns[0].name == "name"
    assert rows == [{"name": "Renée", "amount": 5}]


def test_semicolon_and_decimal_comma(tmp_path):
    result, rows = _load(H.semicolon_decimal_comma(tmp_path), tmp_path)
    assert result.receipt.delimiter == ";"
    assert [(row["amount"], row["rate"]) for row in rows] == [(1234.5, 0.5), (12.0, 1.25), (7.5, 2.0)]


def test_containers_are_detected_by_content_not_name(tmp_path):
    zipped, zip_rows = _load(H.zip_as_csv(tmp_path), tmp_path / "zip")
    gz_named, gz_rows = _load(H.csv_as_gz(tmp_path), tmp_path / "gz")
    xlsx_named, xlsx_rows = _load(H.csv_as_xlsx(tmp_path), tmp_path / "xlsx")
    assert (zipped.receipt.container, zipped.receipt.inner_name) == ("zip", "export/data.csv")
    assert gz_named.receipt.container == xlsx_named.receipt.container == "text"
    assert zip_rows == gz_rows == xlsx_rows
    assert [row["amount"] for row in zip_rows] == [10, 20, 30]


def test_multi_member_gzip(tmp_path):
    result, rows = _load(H.gzip_multi_member(tmp_path), tmp_path)
    assert result.receipt.container == "gzip"
    assert [row["name"] for row in rows] == ["Alice", "Bob", "Carol"]


def test_xlsx_formulas_read_as_cached_values(tmp_path):
    result, rows = _load(H.xlsx_formulas(tmp_path), tmp_path)
    assert [row["total"] for row in rows] == [3, 9]
    assert E.W_FORMULAS_CACHED in result.receipt.warning_codes


def test_two_sheets_first_by_default_or_chosen(tmp_path):
    path = H.xlsx_two_sheets(tmp_path)
    first, first_rows = _load(path, tmp_path / "first")
    second, second_rows = _load(path, tmp_path / "second", sheet="Second")
    assert (first.receipt.sheet, second.receipt.sheet) == ("First", "Second")
    assert first.receipt.sheet_names == ["First", "Second"] and E.W_MULTIPLE_SHEETS in first.receipt.warning_codes
    assert [row["amount"] for row in first_rows] == [1, 2]
    assert [row["amount"] for row in second_rows] == [10, 20, 30]


def test_unknown_sheet(tmp_path):
    with pytest.raises(IngestError) as caught:
        ingest_file(H.xlsx_two_sheets(tmp_path), out_dir=tmp_path / "out", options=IngestOptions(sheet="Nope"))
    assert caught.value.code == E.SHEET_NOT_FOUND


def test_leading_zeros_kept(tmp_path):
    result, rows = _load(H.leading_zeros(tmp_path), tmp_path)
    assert [row["zip"] for row in rows] == ["02134", "90210", "00501"]
    assert [row["account"] for row in rows] == ["007", "123", "042"]
    assert result.receipt.columns[1].format == "id"


def test_nan_and_infinity(tmp_path):
    result, rows = _load(H.nan_infinity(tmp_path), tmp_path)
    assert [row["score"] for row in rows] == [1.5, None, None, None, 2.5]
    assert next(w for w in result.receipt.warnings if w.code == E.W_NON_FINITE).count == 2


def test_impossible_dates_rejected_with_reason(tmp_path):
    result, rows = _load(H.impossible_dates(tmp_path), tmp_path)
    assert [row["id"] for row in rows] == [1, 4]
    assert result.receipt.rejected_line_numbers == [3, 4]
    assert (
        result.receipt.rejected_examples[0]["message"]
        == "column 'signup': '2024-02-30' is not a valid date (ISO yyyy-mm-dd)"
    )


def test_metadata_lines_above_the_header(tmp_path):
    result, rows = _load(H.metadata_above_header(tmp_path), tmp_path)
    assert result.receipt.header_row == 4
    assert result.receipt.lines_skipped_above_header == 2
    assert rows == [{"email": "a@x.com", "visits": 3}, {"email": "b@x.com", "visits": 4}]
    assert sniff_file(tmp_path / "meta.csv").header_row == 4


def test_duplicates_removed_or_kept(tmp_path):
    removed, removed_rows = _load(H.duplicates(tmp_path), tmp_path / "removed")
    kept, kept_rows = _load(H.duplicates(tmp_path), tmp_path / "kept", keep_duplicates=True)
    assert removed.receipt.duplicates_removed == 2 and len(removed_rows) == 2
    assert kept.receipt.duplicates_found == 2 and kept.receipt.duplicates_removed == 0 and len(kept_rows) == 4
    assert E.W_DUPLICATES_KEPT in kept.receipt.warning_codes
