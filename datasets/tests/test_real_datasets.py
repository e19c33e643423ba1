"""Every data set in ../shared/data ingests correctly. Expected values come from pandas, the
csv module or the data set READMEs, never from the code under test."""

from __future__ import annotations

import csv
import gzip
from datetime import datetime

import pandas as pd
import pyarrow.parquet as pq

from datasets.ingest import IngestOptions, ingest_file


def _raw(path, **kwargs) -> pd.DataFrame:
    """The file as strings, exactly as written (no NA conversion, no type guessing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kwargs)


def test_bank_additional_full(shared_data, tmp_path):
    path = shared_data / "bank-marketing" / "bank-additional-full.csv"
    raw = _raw(path, sep=";")
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    receipt = result.receipt
    assert (receipt.delimiter, receipt.quotechar) == (";", '"')
    assert receipt.rows_read == len(raw) == 41_188
    assert receipt.duplicates_removed == raw.duplicated().sum() == 12
    assert receipt.rows_loaded == 41_188 - 12 == len(table)
    assert (raw["y"] == "yes").sum() == 4_640
    assert table["y"].sum() == (raw.drop_duplicates()["y"] == "yes").sum()
    assert table["age"].sum() == raw.drop_duplicates()["age"].astype(int).sum()
    types = {c.name: c.type for c in receipt.columns}
    assert types["age"] == "integer" and types["y"] == "boolean" and types["euribor3m"] == "decimal"
    # "unknown" is a missing marker by default (README: "unknown" used as a missing value).
    assert table["education"].isna().sum() == (raw.drop_duplicates()["education"] == "unknown").sum()
    assert receipt.kind == "visitors"
    assert result.mapping.as_dict()["y"] == "converted"
    assert "DUPLICATES_REMOVED" in receipt.warning_codes


def test_adult_has_no_header(shared_data, tmp_path):
    path = shared_data / "adult-census" / "adult.data"
    raw = _raw(path, header=None, skipinitialspace=True)
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    receipt = result.receipt
    assert receipt.has_header is False and receipt.header_row is None
    assert receipt.rows_read == len(raw) == 32_561
    assert receipt.duplicates_removed == raw.duplicated().sum() == 24
    assert receipt.rows_loaded == len(table) == 32_561 - 24
    assert receipt.blank_lines == 1  # README: one trailing blank line
    assert list(table.columns) == [f"column_{i}" for i in range(1, 16)]
    assert table["column_1"].sum() == raw.drop_duplicates()[0].astype(int).sum()
    # " ?" is a missing marker: README counts 4,262 such cells (before duplicates are dropped).
    assert (raw == "?").sum().sum() == 4_262
    assert table.isna().sum().sum() == (raw.drop_duplicates() == "?").sum().sum()
    assert (table["column_15"] == ">50K").sum() == (raw.drop_duplicates()[14] == ">50K").sum()
    assert {"NO_HEADER", "BLANK_LINES_SKIPPED"} <= receipt.warning_codes


def test_online_retail_gz(shared_data, tmp_path):
    path = shared_data / "online-retail" / "online_retail.csv.gz"
    raw = _raw(path)
    deduped = raw.drop_duplicates()
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path, columns=["Quantity", "CustomerID", "InvoiceDate"]).to_pandas()
    receipt = result.receipt
    assert receipt.container == "gzip"
    assert receipt.rows_read == len(raw) == 541_909
    assert receipt.duplicates_removed == raw.duplicated().sum() == 5_268
    assert receipt.rows_loaded == len(table) == 541_909 - 5_268
    assert (table["Quantity"] < 0).sum() == (deduped["Quantity"].astype(int) < 0).sum()
    assert (raw["Quantity"].astype(int) < 0).sum() == 10_624  # README
    assert table["CustomerID"].isna().sum() == (deduped["CustomerID"] == "").sum()
    assert table["InvoiceDate"].min() == pd.Timestamp("2010-12-01 08:26:00")
    assert receipt.kind == "buyers"
    assert receipt.decompressed_bytes == len(gzip.decompress(path.read_bytes()))


def _marketing_reference(shared_data) -> pd.DataFrame:
    ref = _raw(shared_data / "marketing-campaign" / "marketing_campaign.csv", sep="\t")
    ref["Dt_Customer"] = pd.to_datetime(ref["Dt_Customer"], format="%d-%m-%Y").dt.date
    return ref.set_index("ID")


def test_marketing_campaign_tab_separated(shared_data, tmp_path):
    path = shared_data / "marketing-campaign" / "marketing_campaign.csv"
    ref = _marketing_reference(shared_data)
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    assert result.receipt.delimiter == "\t"
    assert result.receipt.rows_loaded == len(ref) == 2_240
    assert table["Income"].isna().sum() == (ref["Income"] == "").sum() == 24
    assert list(table["Dt_Customer"]) == list(ref["Dt_Customer"])
    assert table["Response"].sum() == 334  # README
    assert next(c for c in result.receipt.columns if c.name == "Dt_Customer").description == "day-month-yyyy"


def _variant_matches_reference(shared_data, tmp_path, name: str, *, date_description: str) -> None:
    ref = _marketing_reference(shared_data)
    result = ingest_file(shared_data / "format-variants" / name, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    table["ID"] = table["ID"].astype(str)
    table = table.set_index("ID").loc[ref.index]
    assert result.receipt.rows_loaded == 2_240
    assert list(table["Dt_Customer"]) == list(ref["Dt_Customer"])
    assert list(table["Income"].fillna(-1).astype(int)) == [int(v) if v else -1 for v in ref["Income"]]
    assert list(table["Marital_Status"]) == list(ref["Marital_Status"])
    assert int(table["Response"].sum()) == (ref["Response"] == "1").sum()
    assert next(c for c in result.receipt.columns if c.name == "Dt_Customer").description == date_description


def test_variant_semicolon_crlf_ddmmyyyy(shared_data, tmp_path):
    _variant_matches_reference(
        shared_data, tmp_path, "marketing_campaign__semicolon_crlf_ddmmyyyy.csv", date_description="day/month/yyyy"
    )


def test_variant_comma_excel_d_mon_yy(shared_data, tmp_path):
    """This Excel re-save swapped day and month wherever the day was <= 12 (839 rows): the file
    itself says 5-Aug-13 where the source says 08-05-2013. We must read what the file says."""
    ref = _marketing_reference(shared_data)
    path = shared_data / "format-variants" / "marketing_campaign__comma_excel_d-mon-yy.csv"
    raw = _raw(path).set_index("ID").loc[ref.index]
    written = pd.to_datetime(raw["Dt_Customer"], format="%d-%b-%y").dt.date
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    table = table.set_index(table["ID"].astype(str)).loc[ref.index]
    assert list(table["Dt_Customer"]) == list(written)
    swapped = table["Dt_Customer"] != ref["Dt_Customer"]
    assert swapped.sum() == 839
    assert all(
        (got.day, got.month) == (want.month, want.day)
        for got, want in zip(table["Dt_Customer"][swapped], ref["Dt_Customer"][swapped], strict=True)
    )
    assert list(table["Income"].fillna(-1).astype(int)) == [int(v) if v else -1 for v in ref["Income"]]
    assert next(c for c in result.receipt.columns if c.name == "Dt_Customer").description == "d-Mon-yy"


def test_variant_all_quoted_mdy(shared_data, tmp_path):
    _variant_matches_reference(
        shared_data, tmp_path, "marketing_campaign__all_quoted_mdy.csv", date_description="month/day/yyyy"
    )


def test_variant_excel_serial_dates(shared_data, tmp_path):
    _variant_matches_reference(
        shared_data, tmp_path, "marketing_campaign__excel_serial_dates.csv", date_description="Excel serial day numbers"
    )


def test_online_shoppers_revenue_is_the_conversion(shared_data, tmp_path):
    path = shared_data / "online-shoppers-intention" / "online_shoppers_intention.csv"
    raw = _raw(path)
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    assert result.receipt.rows_read == len(raw) == 12_330
    assert (raw["Revenue"] == "TRUE").sum() == 1_908
    assert result.receipt.duplicates_removed == raw.duplicated().sum()
    assert table["Revenue"].sum() == (raw.drop_duplicates()["Revenue"] == "TRUE").sum()
    assert result.mapping.as_dict()["Revenue"] == "converted"
    assert result.mapping.as_dict()["VisitorType"] == "new_returning"
    assert result.receipt.kind == "visitors"


def test_online_shoppers_recoded_variant_has_the_same_conversions(shared_data, tmp_path):
    source = _raw(shared_data / "online-shoppers-intention" / "online_shoppers_intention.csv")
    path = shared_data / "format-variants" / "online_shoppers_intention__recoded_numeric.csv"
    raw = _raw(path)
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    assert (raw["Revenue"] == "1").sum() == (source["Revenue"] == "TRUE").sum()
    assert next(c for c in result.receipt.columns if c.name == "Revenue").type == "boolean"
    assert table["Revenue"].sum() == (raw.drop_duplicates()["Revenue"] == "1").sum()


def test_adult_variant_with_header(shared_data, tmp_path):
    reference = _raw(shared_data / "adult-census" / "adult.data", header=None, skipinitialspace=True)
    path = shared_data / "format-variants" / "adult__with_header_no_spaces.csv"
    raw = _raw(path)
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    assert result.receipt.has_header is True
    assert result.receipt.rows_read == len(raw) == (~(reference == "?").any(axis=1)).sum() == 30_162
    assert result.receipt.rows_loaded == len(raw.drop_duplicates()) == len(table)
    assert table["age"].sum() == raw.drop_duplicates()["age"].astype(int).sum()
    assert result.mapping.as_dict()["sex"] == "gender"


def test_twcs_first5000(shared_data, tmp_path):
    path = shared_data / "chat-twitter-support" / "twcs_first5000.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        records = [row for row in csv.reader(fh) if row]
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    receipt = result.receipt
    # One tweet holds bare carriage returns outside quotes: a conforming parser splits it into
    # two short records, which are rejected (not silently dropped) with their line numbers.
    short = [row for row in records[1:] if len(row) != 8]
    assert receipt.rows_rejected == len(short) == 2
    assert receipt.rejected_reasons == {"ROW_FIELD_COUNT": 2}
    assert receipt.rows_loaded == len(table) == len(records) - 1 - len(short)
    assert table["inbound"].sum() == sum(row[3] == "True" for row in records[1:] if len(row) == 8)
    assert str(table["created_at"].dtype) == "datetime64[us, UTC]"
    stamps = [datetime.strptime(row[4], "%a %b %d %H:%M:%S %z %Y") for row in records[1:] if len(row) == 8]
    assert table["created_at"].min() == min(stamps)
    assert table["created_at"].max() == max(stamps)
    assert receipt.kind == "chat_sessions"
    assert result.mapping.as_dict()["text"] == "transcript"


def test_chat_xlsx_read_with_calamine(shared_data, tmp_path):
    path = shared_data / "chat-twitter-support" / "twcs-AmazonHelp-200-inbound.xlsx"
    reference = pd.read_excel(path, engine="openpyxl")
    result = ingest_file(path, out_dir=tmp_path)
    table = pq.read_table(result.parquet_path).to_pandas()
    assert result.receipt.container == "xlsx"
    assert result.receipt.rows_loaded == len(reference) == 200
    assert list(table["text"]) == list(reference["text"])
    assert table["Prime"].sum() == reference["Prime"].sum()
    assert result.receipt.kind == "chat_sessions"


def test_two_sheet_workbook_first_or_chosen_sheet(shared_data, tmp_path):
    path = shared_data / "format-variants" / "online_retail_II__two_sheets_subset.xlsx"
    sheets = pd.read_excel(path, sheet_name=None, engine="openpyxl")
    first = ingest_file(path, out_dir=tmp_path / "first")
    second = ingest_file(path, out_dir=tmp_path / "second", options=IngestOptions(sheet="Year 2010-2011"))
    second_table = pq.read_table(second.parquet_path).to_pandas()
    assert first.receipt.sheet == "Year 2009-2010" and "MULTIPLE_SHEETS" in first.receipt.warning_codes
    assert first.receipt.rows_read == len(sheets["Year 2009-2010"]) == 14_269
    assert second.receipt.rows_read == len(sheets["Year 2010-2011"]) == 20_497
    deduped = sheets["Year 2010-2011"].drop_duplicates()
    assert second.receipt.rows_loaded == len(deduped) == len(second_table)
    assert (second_table["Quantity"] < 0).sum() == (deduped["Quantity"] < 0).sum()
    negatives = sum((frame["Quantity"] < 0).sum() for frame in sheets.values())
    assert negatives == 761  # README: cancellations kept
    assert second_table["InvoiceDate"].min() == deduped["InvoiceDate"].min()
