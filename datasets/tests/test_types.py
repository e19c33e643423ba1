"""Type inference and value normalisation, value by value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from datasets.ingest import types as T
from datasets.ingest.normalize import age_bucket, normalize_gender
from datasets.ingest.options import DEFAULT_MISSING_MARKERS

MARKERS = pa.array(sorted(DEFAULT_MISSING_MARKERS))


def _read(values: list[str], name: str = "x", **decide) -> tuple[T.ColumnType, list]:
    tracker = T.ColumnTracker(name, MARKERS)
    tracker.update(pa.array(values))
    column_type = tracker.decide(**decide)
    return column_type, T.convert(pa.array(values), column_type, MARKERS).values.to_pylist()


def test_booleans():
    assert _read(["Yes", "no", "Y", "N", "TRUE", "false", "t", "F"]) == (
        T.ColumnType(T.BOOLEAN, description="yes/no"),
        [True, False, True, False, True, False, True, False],
    )


def test_zero_one_stays_integer_until_mapped():
    assert _read(["0", "1", "1"])[0].type == T.INTEGER


def test_missing_markers():
    assert _read(["5", "", "NA", "n/a", "null", "?", "unknown", " 7 "])[1] == [5, None, None, None, None, None, None, 7]


def test_money_us_and_eu():
    assert _read(["$1,234.50", "($3.00)", "$0.99"])[1] == [Decimal("1234.50"), Decimal("-3.00"), Decimal("0.99")]
    assert _read(["1.234,50 €", "3,00 €"], decimal_comma_hint=True)[1] == [Decimal("1234.50"), Decimal("3.00")]


def test_percentages_are_fractions():
    assert _read(["12%", "3.5 %", "100%"])[1] == [0.12, 0.035, 1.0]


def test_dates_day_first_month_first_and_ambiguous():
    eu_type, eu = _read(["04/09/2012", "31/12/2012"])
    us_type, us = _read(["9/4/2012", "12/31/2012"])
    unsure_type, unsure = _read(["4/9/2012", "1/2/2012"])
    assert (eu_type.description, eu) == ("day/month/yyyy", [dt.date(2012, 9, 4), dt.date(2012, 12, 31)])
    assert (us_type.description, us) == ("month/day/yyyy", [dt.date(2012, 9, 4), dt.date(2012, 12, 31)])
    assert (unsure_type.ambiguous, unsure) == (True, [dt.date(2012, 4, 9), dt.date(2012, 1, 2)])
    assert _read(["4/9/2012"], date_order="dmy")[1] == [dt.date(2012, 9, 4)]


def test_d_mon_yy_and_excel_serials():
    assert _read(["4-Sep-12", "30-Jan-13"])[1] == [dt.date(2012, 9, 4), dt.date(2013, 1, 30)]
    assert _read(["41156", "45658"], name="Order Date")[1] == [dt.date(2012, 9, 4), dt.date(2025, 1, 1)]
    assert _read(["41156", "45658"], name="Quantity")[0].type == T.INTEGER


def test_datetimes_with_and_without_offsets():
    column_type, values = _read(["2017-10-23 22:55:01+00:00", "2017-10-23T20:00:00Z"])
    assert column_type.tz is True
    assert values == [
        dt.datetime(2017, 10, 23, 22, 55, 1, tzinfo=dt.UTC),
        dt.datetime(2017, 10, 23, 20, 0, tzinfo=dt.UTC),
    ]


def test_impossible_date_is_invalid_not_rolled_over():
    column_type, _ = _read(["2024-02-29", "2023-02-29"])
    converted = T.convert(pa.array(["2024-02-29", "2023-02-29"]), column_type, MARKERS)
    assert converted.values.to_pylist() == [dt.date(2024, 2, 29), None]
    assert converted.invalid.to_pylist() == [False, True]


def test_mixed_column_is_text():
    assert _read(["12", "abc", "2024-01-01"])[0].type == T.TEXT


def test_gender_spellings_and_age_buckets():
    assert normalize_gender(pa.array(["F", "female", "WOMAN", "m", "Male", "Other"])).to_pylist() == [
        "Female",
        "Female",
        "Female",
        "Male",
        "Male",
        "Other",
    ]
    assert age_bucket(pa.array([17, 18, 34, 65, None])).to_pylist() == ["Under 18", "18-24", "25-34", "65+", None]
