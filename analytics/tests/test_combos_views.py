"""The top-combos page and the deep dive: JSON numbers against an independent pandas ranking of a
small hand-made visitors frame, the Wilson interval against its formula, the sort allowlist,
tenancy (T-IDOR-02), strict input (400) and escaping (T-XSS-03/04)."""

import itertools
import math
import random
from urllib.parse import urlencode

import pandas as pd
import pytest
from django.core.cache import cache
from django.urls import reverse

from analytics.models import ComboJob
from analytics.tests.dashboard_data import XSS_VALUE, dataset_from_frame, visitors_dataset
from datasets.models import Kind
from datasets.tests.page_helpers import dataset_row
from datasets.tests.pipeline_helpers import media_root  # noqa: F401

pytestmark = pytest.mark.usefixtures("media_root", "clear_cache")

ATTRS = ["channel", "gender", "state"]
MIN_PURCHASERS = 3
MIN_CONVERSION = 0.05
SETTINGS = "attr=channel&attr=gender&attr=state&min_size=2&max_size=3&min_purchasers=3&min_conversion=5"
COLUMNS = [
    ("email", "text", "visitor_key"),
    ("channel", "text", "channel"),
    ("gender", "text", "gender"),
    ("state", "text", "state"),
    ("converted", "boolean", "converted"),
    ("age", "integer", None),
]
Z = 1.959963984540054


@pytest.fixture
def clear_cache():
    cache.clear()
    yield
    cache.clear()


def combos_frame(rows: int = 1500, seed: int = 3) -> pd.DataFrame:
    rnd = random.Random(seed)
    records = []
    for i in range(rows):
        channel = rnd.choice(["Email", "Search", "Social", "Direct", "Affiliate"])
        state = rnd.choice(["CA", "NY", "TX", "FL", "WA"])
        # Email in CA converts far better: the ranking has a clear top.
        rate = 0.45 if (channel == "Email" and state == "CA") else 0.12
        records.append(
            {
                "email": f"v{i}@example.com",
                "channel": channel,
                "gender": rnd.choice(["F", "M", None]),
                "state": state,
                "converted": rnd.random() < rate,
                "age": rnd.randint(18, 70),
            }
        )
    return pd.DataFrame.from_records(records)


def pandas_ranking(df: pd.DataFrame, attrs=ATTRS, sizes=range(2, 4)) -> list[dict]:
    """Every combo of 2..3 attributes with purchasers ≥ 3 and conversion ≥ 5%, ranked by
    conversion desc, purchasers desc, size, attribute positions, values as text."""
    rows = []
    for k in sizes:
        for subset in itertools.combinations(range(len(attrs)), k):
            names = [attrs[i] for i in subset]
            grouped = df.dropna(subset=names).groupby(names).agg(v=("converted", "size"), p=("converted", "sum"))
            for key, g in grouped.iterrows():
                values = key if isinstance(key, tuple) else (key,)
                v, p = int(g["v"]), int(g["p"])
                if p >= MIN_PURCHASERS and p / v >= MIN_CONVERSION:
                    rows.append(
                        {
                            "items": [[n, val] for n, val in zip(names, values, strict=True)],
                            "visitors": v,
                            "purchasers": p,
                            "conversion": p / v,
                            "order": (-p / v, -p, k, subset, tuple(str(x) for x in values)),
                        }
                    )
    rows.sort(key=lambda r: r["order"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def wilson_by_hand(p: int, n: int) -> tuple[float, float]:
    phat = p / n
    centre = (phat + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(phat * (1 - phat) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


def _url(name, workspace, query=""):
    return reverse(f"analytics:{name}", args=[workspace.slug]) + query


def _dataset(workspace, frame=None, **kwargs):
    frame = combos_frame() if frame is None else frame
    return dataset_from_frame(workspace=workspace, kind=Kind.VISITORS, frame=frame, columns=COLUMNS, **kwargs)


def _items(combo) -> list:
    return [[i["attribute"], i["value"]] for i in combo["items"]]


def test_ranked_combos_equal_pandas(client, workspace, viewer):
    frame = combos_frame()
    _dataset(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    expected = pandas_ranking(frame)
    assert data["ranked"] == len(expected)
    assert data["total_visitors"] == len(frame)
    assert data["total_purchasers"] == int(frame["converted"].sum())
    assert len(data["combos"]) == min(50, len(expected))
    for got, want in zip(data["combos"], expected, strict=False):
        assert got["rank"] == want["rank"]
        assert _items(got) == want["items"]
        assert (got["visitors"], got["purchasers"]) == (want["visitors"], want["purchasers"])
        assert got["conversion"] == pytest.approx(want["conversion"])


def test_second_page_continues_the_ranking(client, workspace, viewer):
    frame = combos_frame()
    _dataset(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?{SETTINGS}&page=2&format=json")).json()
    expected = pandas_ranking(frame)
    assert len(expected) > 50
    assert [c["rank"] for c in data["combos"]] == [r["rank"] for r in expected[50:100]]
    assert [_items(c) for c in data["combos"]] == [r["items"] for r in expected[50:100]]
    assert data["paging"]["page"] == 2


def test_wilson_interval_and_small_sample_flag_match_the_formula(client, workspace, viewer):
    _dataset(workspace)
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    for combo in data["combos"]:
        low, high = wilson_by_hand(combo["purchasers"], combo["visitors"])
        assert combo["ci_low"] == pytest.approx(low)
        assert combo["ci_high"] == pytest.approx(high)
        assert combo["small_sample"] is (combo["purchasers"] < 30 or combo["visitors"] < 100)
    shown = data["combos"][0]
    assert shown["display"]["interval"] == f"{shown['ci_low'] * 100:.1f}% to {shown['ci_high'] * 100:.1f}%"
    assert any(c["small_sample"] for c in data["combos"])


def test_kpis_equal_pandas(client, workspace, viewer):
    frame = combos_frame()
    _dataset(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    kpis = {k["key"]: k for k in data["kpis"]}
    expected = pandas_ranking(frame)
    top = expected[:50]
    covered = pd.Series(False, index=frame.index)
    for combo in top:
        mask = pd.Series(True, index=frame.index)
        for name, value in combo["items"]:
            mask &= frame[name] == value
        covered |= mask
    buyers = int(frame["converted"].sum())
    assert kpis["total_buyers"]["value"] == buyers
    assert kpis["top_share"]["value"] == pytest.approx(int(frame.loc[covered, "converted"].sum()) / buyers)
    assert _items(kpis["highest_converting"]["value"]) == expected[0]["items"]
    best_volume = min(expected, key=lambda r: (-r["purchasers"], r["rank"]))
    assert kpis["best_volume"]["value"]["rank"] == best_volume["rank"]
    assert len(data["concentration"]) == min(50, len(expected))


def test_leaderboards_equal_pandas(client, workspace, viewer):
    frame = combos_frame()
    _dataset(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    board = next(b for b in data["leaderboards"] if b["attribute"] == "channel")
    grouped = frame.groupby("channel")["converted"].agg(["size", "sum"])
    grouped["conv"] = grouped["sum"] / grouped["size"]
    expected = grouped.sort_values("conv", ascending=False)
    assert [v["value"] for v in board["values"]] == list(expected.index)
    assert [v["visitors"] for v in board["values"]] == list(expected["size"])
    assert [v["purchasers"] for v in board["values"]] == list(expected["sum"])


def test_filters_apply_to_combos(client, workspace, viewer):
    frame = combos_frame()
    _dataset(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?{SETTINGS}&in.state=CA&in.state=TX&format=json")).json()
    expected = pandas_ranking(frame[frame["state"].isin(["CA", "TX"])])
    assert data["ranked"] == len(expected)
    assert data["total_visitors"] == int(frame["state"].isin(["CA", "TX"]).sum())
    assert [_items(c) for c in data["combos"]] == [r["items"] for r in expected[:50]]
    assert data["filters"]["pairs"] == [["in.state", "CA"], ["in.state", "TX"]]


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [("-conversion", "conversion", True), ("purchasers", "purchasers", False), ("-visitors", "visitors", True)],
)
def test_sort_orders_every_ranked_combo(*, client, workspace, viewer, sort, key, descending):
    frame = combos_frame()
    _dataset(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?{SETTINGS}&sort={sort}&format=json")).json()
    expected = pandas_ranking(frame)
    # Stable sort of the ranked list: ties keep the rank order.
    want = sorted(expected, key=lambda r: (-r[key] if descending else r[key], r["rank"]))[:50]
    assert [c["rank"] for c in data["combos"]] == [r["rank"] for r in want]


@pytest.mark.parametrize(
    "sort", ["amount DESC; SELECT 1--", "-id", "workspace__owner__password", "(SELECT 1)", "rank "]
)
def test_sort_outside_the_allowlist_is_400(client, workspace, viewer, sort):
    _dataset(workspace)
    client.force_login(viewer)
    response = client.get(_url("combos", workspace, f"?{SETTINGS}&{urlencode({'sort': sort})}"))
    json_response = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json&{urlencode({'sort': sort})}"))
    assert response.status_code == 400
    assert json_response.status_code == 400
    assert "Invalid sort" in json_response.json()["error"]


@pytest.mark.parametrize(
    "query",
    [
        "attr=nope",
        "min_size=two",
        "min_conversion=150",
        "in.nope=1",
        "owner__password__startswith=a",
        "page=0",
        "page=x",
        "format=xml",
        "attr=channel&min_size=3",
    ],
)
def test_bad_settings_are_400_and_keep_the_form(client, workspace, viewer, query):
    _dataset(workspace)
    client.force_login(viewer)
    response = client.get(_url("combos", workspace, f"?{query}"))
    assert response.status_code == 400
    assert b"data-combos-settings" in response.content or query == "format=xml"


def test_html_shows_the_numbers_of_the_json(client, workspace, viewer):
    _dataset(workspace)
    client.force_login(viewer)
    body = client.get(_url("combos", workspace, f"?{SETTINGS}")).content.decode()
    data = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    for combo in data["combos"][:10]:
        assert f'data-combo-rank="{combo["rank"]}"' in body
        assert combo["display"]["conversion"] in body
        assert combo["display"]["interval"] in body
    for kpi in data["kpis"]:
        assert kpi["display"] in body
    assert 'id="chart-data"' in body


def test_deep_dive_rank_3_neighbours_and_percentile_equal_pandas(client, workspace, viewer):
    frame = combos_frame()
    _dataset(workspace, frame)
    client.force_login(viewer)
    data = client.get(_url("combo_deep_dive", workspace, f"?{SETTINGS}&rank=3&format=json")).json()
    expected = pandas_ranking(frame)
    assert _items(data["combo"]) == expected[2]["items"]
    assert [n["rank"] for n in data["neighbours"]] == [1, 2, 3, 4, 5]
    assert [_items(n) for n in data["neighbours"]] == [r["items"] for r in expected[:5]]
    assert [n["current"] for n in data["neighbours"]] == [False, False, True, False, False]
    conversions = pd.Series([r["conversion"] for r in expected])
    assert data["percentile"] == pytest.approx((conversions <= expected[2]["conversion"]).mean() * 100)
    # Each attribute's distribution over the whole data, the combo's value flagged.
    for attribute in data["attributes"]:
        name = attribute["attribute"]
        counts = frame[name].value_counts()
        assert {v["value"]: v["visitors"] for v in attribute["values"]} == counts.to_dict()
        assert [v["value"] for v in attribute["values"] if v["selected"]] == [attribute["value"]]


def test_deep_dive_page_has_slider_jump_and_neighbour_links(client, workspace, viewer):
    _dataset(workspace)
    client.force_login(viewer)
    body = client.get(_url("combo_deep_dive", workspace, f"?{SETTINGS}&rank=3")).content.decode()
    assert 'type="range" name="rank"' in body
    assert 'id="rank-jump"' in body
    assert "data-previous" in body and "data-next" in body
    assert 'class="combo-current" aria-current="true" data-combo-rank="3"' in body


@pytest.mark.parametrize("rank", ["0", "x", "100000"])
def test_deep_dive_rank_out_of_range_is_400(client, workspace, viewer, rank):
    _dataset(workspace)
    client.force_login(viewer)
    response = client.get(_url("combo_deep_dive", workspace, f"?{SETTINGS}&rank={rank}&format=json"))
    assert response.status_code == 400
    assert "rank" in response.json()["error"].lower()


def test_another_workspaces_dataset_or_version_is_404(client, workspace, other_workspace, viewer):
    _dataset(workspace)
    foreign = _dataset(other_workspace)
    client.force_login(viewer)
    for name in ("combos", "combo_deep_dive", "explorer"):
        by_dataset = client.get(_url(name, workspace, f"?dataset={foreign.pk}"))
        by_version = client.get(_url(name, workspace, f"?dataset={foreign.pk}&version={foreign.current_version_id}"))
        assert (by_dataset.status_code, by_version.status_code) == (404, 404)


def test_a_version_of_another_dataset_is_404(client, workspace, viewer):
    mine = _dataset(workspace)
    other = _dataset(workspace, name="second")
    client.force_login(viewer)
    response = client.get(_url("combos", workspace, f"?dataset={mine.pk}&version={other.current_version_id}"))
    assert response.status_code == 404


def test_buyers_datasets_are_not_offered_for_combos(client, workspace, viewer):
    dataset_row(workspace=workspace, name="People")  # a custom dataset: not a combos source
    client.force_login(viewer)
    response = client.get(_url("combos", workspace))
    assert response.status_code == 200
    assert b"data-empty-state" in response.content


def test_a_pre_aggregated_combos_file_is_ranked(client, workspace, viewer):
    frame = pd.DataFrame(
        {
            "channel": ["Email", "Email", "Search", "Search"],
            "state": ["CA", "NY", "CA", "NY"],
            "visitors": [100, 80, 60, 40],
            "purchasers": [20, 4, 30, 1],
        }
    )
    columns = [
        ("channel", "text", "channel"),
        ("state", "text", "state"),
        ("visitors", "integer", "visitors_count"),
        ("purchasers", "integer", "purchasers_count"),
    ]
    dataset_from_frame(workspace=workspace, kind=Kind.COMBOS, frame=frame, columns=columns)
    client.force_login(viewer)
    query = "?attr=channel&attr=state&min_size=1&max_size=2&min_purchasers=3&min_conversion=5&format=json"
    data = client.get(_url("combos", workspace, query)).json()
    got = [(_items(c), c["visitors"], c["purchasers"]) for c in data["combos"]]
    assert got[0] == ([["channel", "Search"], ["state", "CA"]], 60, 30)
    assert got[1] == ([["state", "CA"]], 160, 50)  # 31.25% beats channel = Search, 31 / 100
    assert data["total_purchasers"] == 55


def test_xss_in_cells_and_column_names_is_escaped(client, workspace, viewer):
    frame = combos_frame()
    frame.loc[frame["channel"] == "Email", "channel"] = XSS_VALUE
    frame["<b>x</b><img src=x onerror=alert(2)>"] = frame["state"]
    columns = [*COLUMNS, ("<b>x</b><img src=x onerror=alert(2)>", "text", None)]
    dataset_from_frame(workspace=workspace, kind=Kind.VISITORS, frame=frame, columns=columns)
    client.force_login(viewer)
    pairs = [
        ("attr", "channel"),
        ("attr", columns[-1][0]),
        ("min_size", "1"),
        ("max_size", "2"),
        ("min_purchasers", "3"),
    ]
    query = "?" + urlencode(pairs)
    page = client.get(_url("combos", workspace, query))
    data = client.get(_url("combos", workspace, query + "&format=json")).json()
    body = page.content.decode()
    dive = client.get(_url("combo_deep_dive", workspace, query)).content.decode()
    assert page.status_code == 200
    assert data["settings"]["attributes"] == ["channel", columns[-1][0]]
    assert XSS_VALUE in [i["value"] for c in data["combos"] for i in c["items"]]  # JSON: the data as it is
    for page in (body, dive):
        assert XSS_VALUE not in page
        assert "<img src=x onerror=alert(2)>" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "</script><script>" not in page
    # Chart labels are HTML-escaped before json_script (which escapes < > & again).
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in dive


def test_empty_workspace_shows_the_upload_state(client, workspace, viewer):
    client.force_login(viewer)
    response = client.get(_url("combos", workspace))
    json_response = client.get(_url("combos", workspace, "?format=json"))
    assert response.status_code == 200
    assert b"data-empty-state" in response.content
    assert json_response.json() == {"dataset": None}


def test_no_converted_flag_says_what_is_missing(client, workspace, viewer):
    visitors = visitors_dataset(workspace=workspace)
    visitors.current_version.columns = [c for c in visitors.current_version.columns if c["name"] != "converted"]
    visitors.current_version.save()
    client.force_login(viewer)
    response = client.get(_url("combos", workspace, "?format=json"))
    assert response.status_code == 400
    assert "converted flag" in response.json()["error"]


def test_small_jobs_compute_inline_without_a_job(client, workspace, viewer):
    _dataset(workspace)
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?{SETTINGS}&format=json")).json()
    assert data["ready"] is True
    assert data["job"] is None
    assert ComboJob.objects.count() == 0
