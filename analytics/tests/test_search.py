"""Global search (analytics:search): match counts against pandas on a frame full of LIKE
metacharacters, quotes and unicode; `%` and `_` literal; paging; tenancy (T-IDOR-02); escaping
of cells and column names (T-XSS-01); `?format=json`; the box on the dataset page."""

import math
from datetime import date, timedelta

import pandas as pd
import pytest
from django.urls import reverse

from analytics.search_selectors import highlight
from analytics.tests.dashboard_data import dataset_from_frame
from datasets.models import Kind
from datasets.tests.page_helpers import dataset_row
from datasets.tests.pipeline_helpers import media_root  # noqa: F401

pytestmark = pytest.mark.usefixtures("media_root")

XSS_VALUE = "<img src=x onerror=alert(1)>"
XSS_COLUMN = '<b>note</b><script>alert("col")</script>'
NAMES = [
    "100% cotton",
    "50%off",
    "snake_case_name",
    "snakeXcaseXname",
    "C:\\temp\\file",
    'say "hi"',
    "O'Brien",
    "Zoë Café",
    "ÉCOLE normale",
    "naïve",
    None,
    "plain",
    XSS_VALUE,
]
ROWS = 130
COLUMNS = [
    ("name", "text", None),
    ("amount", "decimal", None),
    ("count", "integer", None),
    ("day", "date", None),
    ("flag", "boolean", None),
    (XSS_COLUMN, "text", None),
]


def search_frame() -> pd.DataFrame:
    return pd.DataFrame.from_records(
        [
            {
                "name": NAMES[i % len(NAMES)],
                "amount": i * 0.5,
                "count": i,
                "day": date(2024, 1, 1) + timedelta(days=i),
                "flag": i % 3 == 0,
                XSS_COLUMN: "x%y" if i % 7 == 0 else ("under_score" if i % 5 == 0 else "quiet"),
            }
            for i in range(ROWS)
        ]
    )


def _text(value) -> str | None:
    """A cell as DuckDB's CAST(... AS VARCHAR) writes it, for the values of this frame."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def pandas_matches(frame: pd.DataFrame, needle: str) -> list[int]:
    """The `count` of every row holding `needle` in any column, case-insensitive, plain substring."""
    low = needle.lower()
    kept = []
    for record in frame.to_dict("records"):
        texts = [_text(v) for v in record.values()]
        if any(t is not None and low in t.lower() for t in texts):
            kept.append(record["count"])
    return kept


@pytest.fixture
def frame():
    return search_frame()


@pytest.fixture
def dataset(workspace, frame):
    return dataset_from_frame(workspace=workspace, kind=Kind.CUSTOM, frame=frame, columns=COLUMNS, name="Mixed")


def _url(workspace, **params):
    from urllib.parse import urlencode

    return reverse("analytics:search", args=[workspace.slug]) + ("?" + urlencode(params) if params else "")


def _json(client, workspace, **params):
    response = client.get(_url(workspace, format="json", **params))
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    "needle",
    ["%", "_", "\\", '"', "'", "é", "ÉCOLE", "école", "e_c", "50%", "2024-01-1", "TRUE", "0.5", "<img", "zz-none"],
)
def test_counts_equal_pandas(client, workspace, viewer, dataset, frame, needle):  # noqa: PLR0917 - fixtures
    client.force_login(viewer)
    body = _json(client, workspace, dataset=dataset.pk, q=needle)
    expected = pandas_matches(frame, needle)
    assert body["total"] == len(expected)
    assert [int(row[2]) for row in body["rows"]] == expected[:50]


def test_percent_and_underscore_are_literal(client, workspace, viewer, dataset, frame):
    client.force_login(viewer)
    percent = _json(client, workspace, dataset=dataset.pk, q="%")["total"]
    underscore = _json(client, workspace, dataset=dataset.pk, q="e_c")["total"]
    # As LIKE wildcards "%" would match every row and "e_c" the "snakeXcase" rows too.
    with_percent = sum(1 for _, r in frame.iterrows() if "%" in str(r["name"] or "") or "%" in r[XSS_COLUMN])
    assert 0 < percent == with_percent < ROWS
    assert underscore == (frame["name"] == "snake_case_name").sum()
    assert underscore < (frame["name"].isin(["snake_case_name", "snakeXcaseXname"])).sum()


def test_paging_walks_every_match_once_in_file_order(client, workspace, viewer, dataset, frame):
    client.force_login(viewer)
    expected = pandas_matches(frame, "2024")  # every row has a 2024 date
    pages = [_json(client, workspace, dataset=dataset.pk, q="2024", page=p) for p in (1, 2, 3)]
    assert [len(p["rows"]) for p in pages] == [50, 50, ROWS - 100]
    assert [p["num_pages"] for p in pages] == [3, 3, 3]
    assert [int(row[2]) for p in pages for row in p["rows"]] == expected == list(range(ROWS))
    past_end = _json(client, workspace, dataset=dataset.pk, q="2024", page=9)
    assert past_end["page"] == 3 and past_end["rows"] == pages[2]["rows"]


def test_json_columns_rows_and_count(client, workspace, viewer, dataset, frame):
    client.force_login(viewer)
    body = _json(client, workspace, dataset=dataset.pk, q="ÉCOLE")
    expected = pandas_matches(frame, "ÉCOLE")
    assert body["columns"] == [name for name, _, _ in COLUMNS]
    assert body["dataset"]["id"] == dataset.pk
    assert body["version"]["id"] == dataset.current_version_id
    assert body["total"] == len(expected) > 0
    first = frame[frame["count"] == expected[0]].iloc[0]
    assert body["rows"][0] == [
        "ÉCOLE normale",
        str(first["amount"]),
        str(first["count"]),
        first["day"].isoformat(),
        "true" if first["flag"] else "false",
        first[XSS_COLUMN],
    ]


def test_html_count_marks_and_paging_links(client, workspace, viewer, dataset, frame):
    client.force_login(viewer)
    response = client.get(_url(workspace, dataset=dataset.pk, q="école"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-total="{len(pandas_matches(frame, "école"))}"' in html
    assert "<mark>ÉCOLE</mark> normale" in html  # the match marked, case kept as stored
    paged = client.get(_url(workspace, dataset=dataset.pk, q="2024")).content.decode()
    assert "page=2" in paged and 'rel="next"' in paged
    assert paged.count("<tr>") == 1 + 50  # header + one page


def test_cell_and_column_name_payloads_are_escaped(client, workspace, viewer, dataset):
    client.force_login(viewer)
    html = client.get(_url(workspace, dataset=dataset.pk, q="<img")).content.decode()
    assert "<img src=x" not in html
    assert "<script>alert(" not in html
    assert "<mark>&lt;img</mark> src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;note&lt;/b&gt;&lt;script&gt;alert(&quot;col&quot;)&lt;/script&gt;" in html


def test_other_workspace_dataset_or_version_is_404(client, workspace, other_workspace, viewer, dataset):
    other = dataset_row(workspace=other_workspace, name="Globex secret")
    client.force_login(viewer)
    assert client.get(_url(workspace, dataset=other.pk, q="a")).status_code == 404
    assert client.get(_url(workspace, dataset=other.pk, q="a", format="json")).status_code == 404
    wrong_version = _url(workspace, dataset=dataset.pk, version=other.current_version_id, q="a")
    assert client.get(wrong_version).status_code == 404
    assert client.get(_url(workspace, dataset="abc")).status_code == 404


def test_outsider_gets_404(client, workspace, outsider, dataset):
    client.force_login(outsider)
    assert client.get(_url(workspace, dataset=dataset.pk, q="a")).status_code == 404


def test_without_dataset_param_searches_the_most_recent(client, workspace, viewer, dataset):
    newer = dataset_row(workspace=workspace, name="Newest", table=None)
    client.force_login(viewer)
    body = _json(client, workspace, q="alice")
    assert body["dataset"]["id"] == newer.pk
    assert body["total"] == 1  # dataset_row holds Alice and Bob
    html = client.get(_url(workspace)).content.decode()
    assert f'<option value="{dataset.pk}"' in html and f'<option value="{newer.pk}"' in html
    assert "data-search-prompt" in html


def test_empty_states(client, workspace, viewer, dataset):
    client.force_login(viewer)
    no_match = client.get(_url(workspace, dataset=dataset.pk, q="zz-none")).content.decode()
    assert "data-no-match" in no_match and 'data-total="0"' in no_match


def test_no_dataset_at_all(client, workspace, viewer):
    client.force_login(viewer)
    response = client.get(_url(workspace, q="x"))
    assert response.status_code == 200
    assert b"data-empty-state" in response.content
    assert _json(client, workspace, q="x")["total"] == 0


@pytest.mark.parametrize(
    "params", [{"page": "abc"}, {"page": "0"}, {"format": "xml"}, {"in.no_such_column": "x"}, {"q": "x" * 201}]
)
def test_bad_parameters_are_400(client, workspace, viewer, dataset, params):
    client.force_login(viewer)
    response = client.get(_url(workspace, dataset=dataset.pk, **{"q": "a", **params}))
    assert response.status_code == 400


def test_dataset_page_has_a_search_box(client, workspace, viewer, dataset):
    client.force_login(viewer)
    html = client.get(reverse("datasets:detail", args=[workspace.slug, dataset.pk])).content.decode()
    assert f'action="{reverse("analytics:search", args=[workspace.slug])}"' in html
    assert f'name="dataset" value="{dataset.pk}"' in html


@pytest.mark.parametrize(
    ("text", "needle", "expected"),
    [
        ("ÉCOLE normale", "école", [("ÉCOLE", True), (" normale", False)]),
        ("a%b%c", "%", [("a", False), ("%", True), ("b", False), ("%", True), ("c", False)]),
        ("aaa", "aa", [("aa", True), ("a", False)]),
        ("İstanbul x", "x", [("İstanbul ", False), ("x", True)]),
        ("İstanbul", "stan", [("İ", False), ("stan", True), ("bul", False)]),
        ("<b>", "zz", [("<b>", False)]),
    ],
)
def test_highlight_parts(text, needle, expected):
    assert highlight(text, needle) == expected
