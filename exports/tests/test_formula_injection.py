"""SECURITY.md §3.6 T-CSVI-01..03: formula injection neutralised in CSV and Excel, raw in JSON."""

import io

import openpyxl
import pytest
from django.urls import reverse

from exports.tests.helpers import (
    TRIGGERS,
    body,
    formula_dataset,
    parse_csv,
    raw_dataset,
    read_csv,
    read_json,
    stored_rows,
)

pytestmark = pytest.mark.django_db


def _export(client, workspace, dataset, file_format):
    url = reverse("exports:rows", args=[workspace.slug]) + f"?dataset={dataset.pk}"
    return client.post(url, {"file": file_format})


def _expected_csv_cell(value) -> str:
    """The rule, stated independently: text starting with a trigger gets a leading quote; numbers as is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value[:1] in TRIGGERS else value
    return str(value)


@pytest.fixture
def formula(workspace, owner):
    return formula_dataset(workspace=workspace, user=owner)


@pytest.fixture
def raw(workspace, owner):
    return raw_dataset(workspace=workspace, user=owner)


# --- T-CSVI-01: CSV ------------------------------------------------------------------------------


def test_csv_prefixes_every_formula_cell_header_included(owner_client, workspace, formula):
    response = _export(owner_client, workspace, formula, "csv")
    header, rows = stored_rows(formula)
    parsed = read_csv(response)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert parsed[0] == [_expected_csv_cell(h) for h in header]
    assert parsed[0][3:] == ["'=evil_header", "'@at header"]
    assert len(parsed) == 1 + len(rows) == 11
    for got, row in zip(parsed[1:], rows, strict=True):
        assert got == [_expected_csv_cell(row[h]) for h in header]
    by_id = {r[0]: r for r in parsed[1:]}
    assert by_id["1"][1] == "'=1+1"
    assert by_id["2"][1:3] == ["'+SUM(A1)", "-5"]  # the typed numeric -5 stays unprefixed
    assert by_id["3"][1] == "'-2+3"
    assert by_id["4"][1] == "'@SUM(A1:A2)"
    assert by_id["9"][1] == '\'=HYPERLINK("http://x","click")'
    assert by_id["10"][1] == "plain"
    # Every text cell now starts with something other than a trigger.
    assert not [cell for line in parsed for cell in line if cell[:1] in TRIGGERS and cell != "-5"]


def test_csv_rfc4180_quoting_and_raw_cells(owner_client, workspace, raw):
    response = _export(owner_client, workspace, raw, "csv")
    data = body(response)
    text = data.decode("utf-8")
    parsed = parse_csv(data)
    header, rows = stored_rows(raw)
    assert text.startswith("\ufeff'=header,payload,amount\r\n")
    assert parsed[0] == ["'=header", "payload", "amount"]
    for got, row in zip(parsed[1:], rows, strict=True):
        assert got == [_expected_csv_cell(row[h]) for h in header]
    payloads = [line[1] for line in parsed[1:]]
    assert payloads[:3] == ["'\t=1+1", "'\rCR first", "'\0NUL first"]
    assert payloads[3:5] == [" =leading space", "\u00a0=nbsp"]  # first character is not a trigger
    assert payloads[5] == "'=cmd|' /C calc'!A0"
    assert payloads[8] == "'-10"  # text that looks like a number is still text
    # RFC 4180: fields with quotes, commas, CR or LF are quoted and inner quotes doubled; CRLF rows.
    assert '"quote "" and, comma"' in text
    assert '"line\r\nbreak"' in text
    assert '"\'\rCR first"' in text
    assert [line[2] for line in parsed[1:]] == [str(-(i + 1)) for i in range(len(rows))]


# --- T-CSVI-02: XLSX -----------------------------------------------------------------------------


def _sheet(response):
    return openpyxl.load_workbook(io.BytesIO(body(response))).active


@pytest.mark.parametrize("which", ["formula", "raw"])
def test_xlsx_has_no_formula_cells_and_keeps_payloads_as_strings(owner_client, workspace, which, request):
    dataset = request.getfixturevalue(which)
    response = _export(owner_client, workspace, dataset, "xlsx")
    sheet = _sheet(response)
    header, rows = stored_rows(dataset)
    cells = [cell for line in sheet.iter_rows() for cell in line]
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert cells and all(c.data_type != "f" for c in cells)
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == header
    assert all(c.data_type == "s" for c in next(sheet.iter_rows(max_row=1)))
    for line, row in zip(sheet.iter_rows(min_row=2), rows, strict=True):
        for cell, name in zip(line, header, strict=True):
            value = row[name]
            if isinstance(value, str):
                assert cell.data_type == "s"
                # Raw text: control characters XML cannot hold become U+FFFD, and XML reads a
                # CR (or CRLF) in element text back as LF.
                expected = value.replace("\0", "\ufffd").replace("\r\n", "\n").replace("\r", "\n")
                assert cell.value == expected
            elif value is None:
                assert cell.value is None
            else:
                assert (cell.value, cell.data_type) == (value, "n")


def test_xlsx_formula_payloads_exact(owner_client, workspace, formula):
    sheet = _sheet(_export(owner_client, workspace, formula, "xlsx"))
    payloads = {line[0].value: line[1] for line in sheet.iter_rows(min_row=2)}
    assert (payloads[1].value, payloads[1].data_type) == ("=1+1", "s")
    assert (payloads[9].value, payloads[9].data_type) == ('=HYPERLINK("http://x","click")', "s")
    assert (payloads[4].value, payloads[4].data_type) == ("@SUM(A1:A2)", "s")


# --- T-CSVI-03: JSON -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["formula", "raw"])
def test_json_raw_values_and_safe_headers(owner_client, workspace, which, request):
    dataset = request.getfixturevalue(which)
    response = _export(owner_client, workspace, dataset, "json")
    document = read_json(response)
    header, rows = stored_rows(dataset)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["Content-Disposition"].endswith('.json"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert document["columns"] == header
    assert document["rows"] == [[row[h] for h in header] for row in rows]
    assert document["rows_written"] == len(rows)
    assert document["truncated"] is False


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_csv_and_xlsx_are_attachments_with_nosniff(owner_client, workspace, formula, file_format):
    response = _export(owner_client, workspace, formula, file_format)
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["X-Content-Type-Options"] == "nosniff"
