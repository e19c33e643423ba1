"""Control characters are spelled out; CSV cells that a spreadsheet would run are neutralised."""

import pytest

from audit.display import csv_cell, details_text, visible_text


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("plain text, ünïcode 🚀", "plain text, ünïcode 🚀"),
        ("line one\r\nfake line two", "line one\\r\\nfake line two"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("csi\x9bJ", "csi\\x9bJ"),  # the one-byte C1 form of ESC [
        ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
        ("tab\there", "tab\\there"),
        ("<script>", "<script>"),  # HTML escaping is the template's job
    ],
)
def test_visible_text(raw, shown):
    assert visible_text(raw) == shown


def test_details_text_is_sorted_json_with_controls_spelled_out():
    assert details_text({"b": "x\x1by", "a": 1}) == '{"a": 1, "b": "x\\u001by"}'


@pytest.mark.parametrize(
    "raw, cell",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\\t=1"),
        ("\r=1", "'\\r=1"),
        ("a=1", "a=1"),
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
def test_csv_cell(raw, cell):
    assert csv_cell(raw) == cell
