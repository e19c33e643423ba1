"""Unit checks of the writers, the file names and the export buttons partial."""

import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from exports import writers
from exports.naming import export_filename


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\0x", "'\0x"),
        (" =x", " =x"),
        ("x=1", "x=1"),
        ("", ""),
        (None, ""),
        (-5, "-5"),
        (-2.5, "-2.5"),
        (Decimal("-10.25"), "-10.25"),
        (True, "true"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (float("nan"), ""),
    ],
)
def test_csv_cell(value, expected):
    assert writers.csv_cell(value) == expected


def test_json_keeps_money_exact_and_numbers_as_numbers():
    rows = [(Decimal("12345678901234.56"), -5, "=1+1", dt.date(2024, 5, 1), None, float("inf"))]
    text = b"".join(
        writers.json_chunks(
            ["m", "i", "t", "d", "n", "f"], iter(rows), meta={"a": 1}, tail=lambda n: {"rows_written": n}
        )
    ).decode()
    document = json.loads(text, parse_float=Decimal)
    assert document["rows"] == [[Decimal("12345678901234.56"), -5, "=1+1", "2024-05-01", None, None]]
    assert (document["a"], document["rows_written"], document["columns"]) == (1, 1, ["m", "i", "t", "d", "n", "f"])


def test_xlsx_never_writes_formulas_even_for_headers(tmp_path):
    path = tmp_path / "x.xlsx"
    writers.xlsx_write(path, ["=SUM(A1)", "@h"], iter([("=2+2", 3), ("+x\x01y", dt.datetime(2024, 1, 1, 12, 30))]))
    sheet = openpyxl.load_workbook(path).active
    cells = [c for line in sheet.iter_rows() for c in line]
    assert [c.data_type for c in cells] == ["s", "s", "s", "n", "s", "d"]
    assert [c.value for c in cells[:5]] == ["=SUM(A1)", "@h", "=2+2", 3, "+x\ufffdy"]


@pytest.mark.parametrize(
    "name",
    ['a"b', "x\r\ny", "../../etc/passwd", "C:\\win\\x", "日本語", "é" * 300, "", "..", "-=+@"],
)
def test_export_filename_is_plain_ascii(name):
    filename = export_filename(name=name, what="rows", file_format="csv", on=dt.date(2024, 3, 4))
    assert filename.isascii() and len(filename) <= 100
    assert filename.endswith("-rows-2024-03-04.csv")
    assert all(ch.isalnum() or ch in "-_." for ch in filename)
    assert not filename.startswith((".", "-"))


def test_buttons_partial_joins_url_and_query(rf: RequestFactory):
    request = rf.get("/")
    html = render_to_string(
        "exports/_buttons.html",
        {"export_url": "/w/acme/exports/combos/", "export_query": "dataset=3&attr=a&name=x%22y"},
        request=request,
    )
    assert html.count('action="/w/acme/exports/combos/?dataset=3&amp;attr=a&amp;name=x%22y"') == 3
    assert html.count('name="csrfmiddlewaretoken"') == 3
    assert [v for v in ("csv", "xlsx", "json") if f'name="file" value="{v}"' in html] == ["csv", "xlsx", "json"]


def test_buttons_partial_renders_nothing_without_a_url(rf: RequestFactory):
    assert "<form" not in render_to_string("exports/_buttons.html", {}, request=rf.get("/"))


def test_csv_chunks_are_rfc4180():
    data = b"".join(writers.csv_chunks(["a", "b"], iter([('x"y', "1,2"), ("line\nbreak", None)])))
    assert data == '\ufeffa,b\r\n"x""y","1,2"\r\n"line\nbreak",\r\n'.encode()
    assert io.BytesIO(data).read(3) == b"\xef\xbb\xbf"
