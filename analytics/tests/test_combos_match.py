"""Top combos on matched buyers/visitors (issue #5): a visitors dataset without a converted flag,
matched to a buyers dataset by key (email in any case/whitespace, or a hashed email). Expected
numbers come from pandas on the same frames (keys normalised in pandas, converted marked, grouped).
Another workspace's buyers dataset is a 404 (T-IDOR-02); keys that cannot match are a 400."""

import hashlib
import itertools
import random
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from django.core.cache import cache
from django.urls import reverse

from analytics.combos_services import combo_job_run
from analytics.engine import ComboSettings, compute_combos
from analytics.engine.adapter import source_for_version
from analytics.engine.combos import combos_cache_key
from analytics.models import ComboJob, ComboJobStatus
from analytics.tests.dashboard_data import dataset_from_frame
from datasets.models import DatasetVersion, Kind
from datasets.tests.pipeline_helpers import media_root  # noqa: F401
from exports.tests.helpers import read_json

pytestmark = pytest.mark.usefixtures("media_root", "clear_cache")

ATTRS = ["channel", "gender", "state"]
MIN_PURCHASERS = 3
MIN_CONVERSION = 0.05
SETTINGS = "attr=channel&attr=gender&attr=state&min_size=2&max_size=3&min_purchasers=3&min_conversion=5"
VISITOR_COLUMNS = [
    ("email", "text", "visitor_key"),
    ("channel", "text", "channel"),
    ("gender", "text", "gender"),
    ("state", "text", "state"),
]
FLAGGED_COLUMNS = [*VISITOR_COLUMNS, ("converted", "boolean", "converted")]
BUYER_COLUMNS = [("email", "text", "buyer_key"), ("order_id", "text", "order_id")]
HASHED_BUYER_COLUMNS = [("email_sha256", "text", "buyer_key"), ("order_id", "text", "order_id")]
PHONE_BUYER_COLUMNS = [("phone", "text", "buyer_key"), ("order_id", "text", "order_id")]
NO_KEY_BUYER_COLUMNS = [("order_id", "text", "order_id"), ("channel", "text", "channel")]


@pytest.fixture
def clear_cache():
    cache.clear()
    yield
    cache.clear()


# --- frames ----------------------------------------------------------------------------------------
def visitors_frame(rows: int = 1200, seed: int = 11) -> pd.DataFrame:
    """Visits of 1000 people (some visit twice); emails in mixed case, some padded, some missing.
    A random converted flag (unrelated to the buyers) lets a test tell flag from match."""
    rnd = random.Random(seed)
    records = []
    for i in range(rows):
        person = i if i < 1000 else rnd.randrange(1000)
        email = f"User{person}@Example.COM" if person % 3 else f"  user{person}@example.com "
        records.append(
            {
                "email": None if person % 97 == 0 else email,
                "channel": rnd.choice(["Email", "Search", "Social", "Direct"]),
                "gender": rnd.choice(["F", "M", None]),
                "state": rnd.choice(["CA", "NY", "TX", "WA"]),
                "converted": rnd.random() < 0.5,
            }
        )
    return pd.DataFrame.from_records(records)


def buyer_emails(seed: int = 4) -> list[str]:
    """Buyers: about a quarter of the visiting people (more in CA via Email) in another case and
    padding than the visitors wrote them, several orders each, plus buyers who never visited."""
    rnd = random.Random(seed)
    frame = visitors_frame()
    emails = []
    for person in range(1000):
        row = frame.iloc[person]
        rate = 0.6 if (row["channel"] == "Email" and row["state"] == "CA") else 0.2
        if rnd.random() < rate:
            emails += [f" USER{person}@example.com  "] * rnd.randint(1, 3)
    emails += [f"stranger{i}@example.com" for i in range(60)]
    return emails


def buyers_frame() -> pd.DataFrame:
    emails = buyer_emails()
    return pd.DataFrame({"email": emails, "order_id": [f"o{i}" for i in range(len(emails))]})


def hashed_buyers_frame() -> pd.DataFrame:
    emails = buyer_emails()
    hashed = [hashlib.sha256(e.strip().lower().encode()).hexdigest() for e in emails]
    return pd.DataFrame({"email_sha256": hashed, "order_id": [f"o{i}" for i in range(len(emails))]})


def norm(series: pd.Series) -> pd.Series:
    return series.map(lambda e: e.strip().lower() or None if isinstance(e, str) else None)


def matched(visitors: pd.DataFrame, buyer_keys: set[str]) -> pd.DataFrame:
    out = visitors.copy()
    out["converted"] = norm(out["email"]).isin(buyer_keys)
    return out


def pandas_ranking(df: pd.DataFrame) -> list[dict]:
    rows = []
    for k in range(2, 4):
        for subset in itertools.combinations(range(len(ATTRS)), k):
            names = [ATTRS[i] for i in subset]
            grouped = df.dropna(subset=names).groupby(names).agg(v=("converted", "size"), p=("converted", "sum"))
            for key, g in grouped.iterrows():
                v, p = int(g["v"]), int(g["p"])
                if p >= MIN_PURCHASERS and p / v >= MIN_CONVERSION:
                    rows.append(
                        {
                            "items": [[n, val] for n, val in zip(names, key, strict=True)],
                            "visitors": v,
                            "purchasers": p,
                            "order": (-p / v, -p, k, subset, tuple(str(x) for x in key)),
                        }
                    )
    rows.sort(key=lambda r: r["order"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def match_rate(visitors: pd.DataFrame, buyer_keys: set[str]) -> tuple[int, int, float]:
    visitor_keys = set(norm(visitors["email"]).dropna())
    hits = len(buyer_keys & visitor_keys)
    return hits, len(buyer_keys), hits / len(buyer_keys)


# --- datasets --------------------------------------------------------------------------------------
def visitors_ds(workspace, frame=None, columns=VISITOR_COLUMNS, **kwargs):
    frame = visitors_frame() if frame is None else frame
    return dataset_from_frame(workspace=workspace, kind=Kind.VISITORS, frame=frame, columns=columns, **kwargs)


def buyers_ds(workspace, frame=None, columns=BUYER_COLUMNS, **kwargs):
    frame = buyers_frame() if frame is None else frame
    return dataset_from_frame(workspace=workspace, kind=Kind.BUYERS, frame=frame, columns=columns, **kwargs)


def _url(name, workspace, query=""):
    return reverse(f"analytics:{name}", args=[workspace.slug]) + query


def _items(combo) -> list:
    return [[i["attribute"], i["value"]] for i in combo["items"]]


def _assert_ranking(data: dict, expected: list[dict]) -> None:
    assert data["ranked"] == len(expected) > 10
    for got, want in zip(data["combos"], expected, strict=False):
        assert got["rank"] == want["rank"]
        assert _items(got) == want["items"]
        assert (got["visitors"], got["purchasers"]) == (want["visitors"], want["purchasers"])


# --- tests -----------------------------------------------------------------------------------------
def test_matched_combos_equal_pandas(client, workspace, viewer):
    vframe = visitors_frame()
    visitors = visitors_ds(workspace, vframe)
    buyers = buyers_ds(workspace)
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?dataset={visitors.pk}&match={buyers.pk}&{SETTINGS}&format=json"))
    assert data.status_code == 200
    data = data.json()
    keys = set(norm(buyers_frame()["email"]))
    expected_frame = matched(vframe, keys)
    _assert_ranking(data, pandas_ranking(expected_frame))
    assert data["total_visitors"] == len(vframe)
    assert data["total_purchasers"] == int(expected_frame["converted"].sum())
    # The random flag of the frame is not what was counted.
    assert data["total_purchasers"] != int(vframe["converted"].sum())
    hits, n_buyers, rate = match_rate(vframe, keys)
    conversion = data["conversion"]
    assert conversion["method"] == "match"
    assert conversion["buyers_dataset"] == buyers.pk
    assert conversion["proposed"] is False
    assert (conversion["matched"], conversion["buyers"]) == (hits, n_buyers)
    assert conversion["match_rate"] == pytest.approx(rate)
    assert 0 < rate < 1


def test_hashed_buyer_emails_match_plain_visitor_emails(client, workspace, viewer):
    vframe = visitors_frame()
    visitors = visitors_ds(workspace, vframe)
    buyers = buyers_ds(workspace, hashed_buyers_frame(), columns=HASHED_BUYER_COLUMNS)
    client.force_login(viewer)
    data = client.get(
        _url("combos", workspace, f"?dataset={visitors.pk}&match={buyers.pk}&{SETTINGS}&format=json")
    ).json()
    plain_keys = set(norm(buyers_frame()["email"]))
    _assert_ranking(data, pandas_ranking(matched(vframe, plain_keys)))
    assert data["conversion"]["key_kind"] == "email+hashed_email"
    assert data["conversion"]["match_rate"] == pytest.approx(match_rate(vframe, plain_keys)[2])


def test_filters_apply_to_visitors_only(client, workspace, viewer):
    vframe = visitors_frame()
    visitors = visitors_ds(workspace, vframe)
    buyers = buyers_ds(workspace)
    client.force_login(viewer)
    query = f"?dataset={visitors.pk}&match={buyers.pk}&{SETTINGS}&in.state=CA&in.state=TX&format=json"
    data = client.get(_url("combos", workspace, query)).json()
    keys = set(norm(buyers_frame()["email"]))
    shown = vframe[vframe["state"].isin(["CA", "TX"])]
    _assert_ranking(data, pandas_ranking(matched(shown, keys)))
    hits, n_buyers, rate = match_rate(shown, keys)
    assert data["conversion"]["buyers"] == n_buyers == len(keys)  # every buyer, unfiltered
    assert data["conversion"]["matched"] == hits
    assert data["conversion"]["match_rate"] == pytest.approx(rate)


def test_matching_by_choice_even_with_a_converted_flag(client, workspace, viewer):
    vframe = visitors_frame()
    visitors = visitors_ds(workspace, vframe, columns=FLAGGED_COLUMNS)
    buyers = buyers_ds(workspace)
    client.force_login(viewer)
    flag = client.get(_url("combos", workspace, f"?dataset={visitors.pk}&{SETTINGS}&format=json")).json()
    match = client.get(
        _url("combos", workspace, f"?dataset={visitors.pk}&match={buyers.pk}&{SETTINGS}&format=json")
    ).json()
    keys = set(norm(buyers_frame()["email"]))
    assert flag["conversion"] == {"method": "flag", "column": "converted", "values": [], "note": ""}
    assert flag["total_purchasers"] == int(vframe["converted"].sum())
    assert match["conversion"]["method"] == "match"
    assert match["total_purchasers"] == int(matched(vframe, keys)["converted"].sum())


def test_without_a_flag_the_only_buyers_dataset_is_proposed(client, workspace, viewer):
    vframe = visitors_frame()
    visitors = visitors_ds(workspace, vframe)
    buyers = buyers_ds(workspace, name="Shop orders")
    client.force_login(viewer)
    data = client.get(_url("combos", workspace, f"?dataset={visitors.pk}&{SETTINGS}&format=json")).json()
    page = client.get(_url("combos", workspace, f"?dataset={visitors.pk}&{SETTINGS}"))
    keys = set(norm(buyers_frame()["email"]))
    _assert_ranking(data, pandas_ranking(matched(vframe, keys)))
    assert data["conversion"]["method"] == "match"
    assert data["conversion"]["proposed"] is True
    assert data["conversion"]["buyers_dataset"] == buyers.pk
    body = page.content.decode()
    assert page.status_code == 200
    assert "data-conversion-note" in body
    assert "has no converted flag, so visitors are matched to the buyers dataset" in body
    assert "Shop orders" in body
    # The links name the match explicitly.
    assert parse_qs(urlsplit(data["deep_dive_url"]).query)["match"] == [str(buyers.pk)]


def test_no_proposal_when_two_buyers_datasets_could_match(client, workspace, viewer):
    visitors = visitors_ds(workspace)
    buyers_ds(workspace, name="one")
    buyers_ds(workspace, name="two")
    client.force_login(viewer)
    response = client.get(_url("combos", workspace, f"?dataset={visitors.pk}&{SETTINGS}&format=json"))
    assert response.status_code == 400
    assert "converted flag" in response.json()["error"]


def test_form_lists_buyers_datasets_with_a_key(client, workspace, viewer):
    visitors = visitors_ds(workspace, columns=FLAGGED_COLUMNS)
    keyed = buyers_ds(workspace, name="Keyed buyers")
    buyers_ds(workspace, frame=pd.DataFrame({"order_id": ["o1"], "channel": ["Email"]}), columns=NO_KEY_BUYER_COLUMNS)
    client.force_login(viewer)
    response = client.get(_url("combos", workspace, f"?dataset={visitors.pk}&match={keyed.pk}&{SETTINGS}"))
    assert response.status_code == 200
    assert response.context["form"]["match_choices"] == [{"id": keyed.pk, "name": "Keyed buyers"}]
    assert response.context["form"]["match"] == str(keyed.pk)
    assert f'<option value="{keyed.pk}" selected>Keyed buyers</option>' in response.content.decode()


def test_another_workspaces_buyers_dataset_is_404(client, workspace, other_workspace, viewer):
    visitors = visitors_ds(workspace)
    mine = buyers_ds(workspace)
    theirs = buyers_ds(other_workspace)
    client.force_login(viewer)
    for name in ("combos", "combo_deep_dive"):
        bad = client.get(_url(name, workspace, f"?dataset={visitors.pk}&match={theirs.pk}&{SETTINGS}&format=json"))
        assert bad.status_code == 404
    version_elsewhere = client.get(
        _url(
            "combos",
            workspace,
            f"?dataset={visitors.pk}&match={mine.pk}&match_version={theirs.current_version_id}&{SETTINGS}",
        )
    )
    not_buyers = client.get(_url("combos", workspace, f"?dataset={visitors.pk}&match={visitors.pk}&{SETTINGS}"))
    assert version_elsewhere.status_code == 404
    assert not_buyers.status_code == 404
    export = client.post(
        reverse("exports:combos", args=[workspace.slug]) + f"?dataset={visitors.pk}&match={theirs.pk}&{SETTINGS}",
        {"file": "csv"},
    )
    assert export.status_code == 404


def test_incompatible_keys_are_a_400_with_the_reason(client, workspace, viewer):
    visitors = visitors_ds(workspace)
    phones = pd.DataFrame({"phone": [f"+1 (555) 010-{i:04d}" for i in range(50)], "order_id": ["o"] * 50})
    buyers = buyers_ds(workspace, phones, columns=PHONE_BUYER_COLUMNS)
    client.force_login(viewer)
    json_response = client.get(
        _url("combos", workspace, f"?dataset={visitors.pk}&match={buyers.pk}&{SETTINGS}&format=json")
    )
    html_response = client.get(_url("combos", workspace, f"?dataset={visitors.pk}&match={buyers.pk}&{SETTINGS}"))
    assert json_response.status_code == 400
    error = json_response.json()["error"]
    assert "visitor and buyer keys cannot be matched" in error
    assert "'email' holds email values" in error and "'phone' holds phone values" in error
    assert html_response.status_code == 400
    assert "visitor and buyer keys cannot be matched" in html_response.content.decode()


def test_a_missing_key_is_named(client, workspace, viewer):
    keyless = [c for c in VISITOR_COLUMNS if c[0] != "email"]
    visitors = visitors_ds(workspace, columns=keyless)
    with_key = visitors_ds(workspace)
    buyers = buyers_ds(workspace)
    no_key = buyers_ds(
        workspace, frame=pd.DataFrame({"order_id": ["o1"], "channel": ["Email"]}), columns=NO_KEY_BUYER_COLUMNS
    )
    client.force_login(viewer)
    no_visitor_key = client.get(
        _url("combos", workspace, f"?dataset={visitors.pk}&match={buyers.pk}&{SETTINGS}&format=json")
    )
    no_buyer_key = client.get(
        _url("combos", workspace, f"?dataset={with_key.pk}&match={no_key.pk}&{SETTINGS}&format=json")
    )
    assert no_visitor_key.status_code == no_buyer_key.status_code == 400
    assert "needs a visitor key column" in no_visitor_key.json()["error"]
    assert "needs a buyer key column" in no_buyer_key.json()["error"]


def test_a_match_and_a_conversion_column_together_are_a_400(client, workspace, viewer):
    visitors = visitors_ds(workspace, columns=FLAGGED_COLUMNS)
    buyers = buyers_ds(workspace)
    client.force_login(viewer)
    response = client.get(
        _url(
            "combos",
            workspace,
            f"?dataset={visitors.pk}&match={buyers.pk}&converted=converted&{SETTINGS}&format=json",
        )
    )
    assert response.status_code == 400
    assert "not both" in response.json()["error"]


def test_an_older_buyers_version_can_be_named(client, workspace, viewer):
    vframe = visitors_frame()
    visitors = visitors_ds(workspace, vframe)
    buyers = buyers_ds(workspace, versions=2)
    first = DatasetVersion.objects.filter(dataset=buyers, number=1).get()
    client.force_login(viewer)
    query = f"?dataset={visitors.pk}&match={buyers.pk}&match_version={first.pk}&{SETTINGS}&format=json"
    data = client.get(_url("combos", workspace, query)).json()
    assert data["conversion"]["buyers_version"] == first.pk
    assert parse_qs(urlsplit(data["deep_dive_url"]).query)["match_version"] == [str(first.pk)]
    _assert_ranking(data, pandas_ranking(matched(vframe, set(norm(buyers_frame()["email"])))))


def test_deep_dive_and_explorer_links_keep_the_match(client, workspace, viewer):
    vframe = visitors_frame()
    visitors = visitors_ds(workspace, vframe)
    buyers = buyers_ds(workspace)
    client.force_login(viewer)
    data = client.get(
        _url("combos", workspace, f"?dataset={visitors.pk}&match={buyers.pk}&{SETTINGS}&format=json")
    ).json()
    dive_url = data["deep_dive_url"] + "&rank=1&format=json"
    dive = client.get(dive_url).json()
    explorer = client.get(data["explorer_url"])
    dive_html = client.get(data["deep_dive_url"] + "&rank=1")
    expected = pandas_ranking(matched(vframe, set(norm(buyers_frame()["email"]))))
    assert parse_qs(urlsplit(data["explorer_url"]).query)["match"] == [str(buyers.pk)]
    assert dive["conversion"]["method"] == "match"
    assert _items(dive["combo"]) == expected[0]["items"]
    assert (dive["combo"]["visitors"], dive["combo"]["purchasers"]) == (
        expected[0]["visitors"],
        expected[0]["purchasers"],
    )
    assert parse_qs(urlsplit(dive["combos_url"]).query)["match"] == [str(buyers.pk)]
    assert explorer.status_code == 200
    assert dive_html.status_code == 200
    assert "data-conversion-note" in dive_html.content.decode()
    assert f'name="match" value="{buyers.pk}"' in dive_html.content.decode()  # the rank forms keep it


def test_background_job_carries_the_match(client, workspace, viewer, settings, django_capture_on_commit_callbacks):
    settings.COMBOS_BACKGROUND_THRESHOLD = 0  # every question is "large"
    vframe = visitors_frame()
    visitors = visitors_ds(workspace, vframe, columns=FLAGGED_COLUMNS)
    buyers = buyers_ds(workspace)
    client.force_login(viewer)
    query = f"?dataset={visitors.pk}&match={buyers.pk}&{SETTINGS}&format=json"
    with django_capture_on_commit_callbacks(execute=True):
        first = client.get(_url("combos", workspace, query)).json()
    job = ComboJob.objects.get()
    second = client.get(_url("combos", workspace, query)).json()
    # The same question by the flag is another job.
    with django_capture_on_commit_callbacks(execute=True):
        client.get(_url("combos", workspace, f"?dataset={visitors.pk}&{SETTINGS}&format=json"))
    job_query = parse_qs(job.settings_query)
    assert first["ready"] is False
    assert first["conversion"]["match_rate"] is None
    assert job_query["match"] == [str(buyers.pk)]
    assert job_query["match_version"] == [str(buyers.current_version_id)]
    assert job.status == ComboJobStatus.DONE
    assert second["ready"] is True
    assert second["job"]["id"] == job.pk
    keys = set(norm(buyers_frame()["email"]))
    _assert_ranking(second, pandas_ranking(matched(vframe, keys)))
    assert second["conversion"]["match_rate"] == pytest.approx(match_rate(vframe, keys)[2])
    assert ComboJob.objects.count() == 2


def test_a_job_whose_buyers_version_is_gone_fails_cleanly(workspace):
    visitors = visitors_ds(workspace)
    job = ComboJob.objects.create(
        workspace=workspace,
        version=visitors.current_version,
        key="k",
        settings_query=f"{SETTINGS}&match=999999&match_version=999999",
    )
    ended = combo_job_run(job=job)
    assert ended.status == ComboJobStatus.FAILED
    assert "no longer available" in ended.error


@pytest.mark.parametrize("proposed", [False, True])
def test_export_with_match_equals_the_page(client, workspace, owner, proposed):
    vframe = visitors_frame()
    visitors = visitors_ds(workspace, vframe)
    buyers = buyers_ds(workspace)
    client.force_login(owner)
    match = "" if proposed else f"&match={buyers.pk}"
    page = client.get(_url("combos", workspace, f"?dataset={visitors.pk}{match}&{SETTINGS}&format=json")).json()
    url = reverse("exports:combos", args=[workspace.slug]) + "?" + page["export_query"]
    response = client.post(url, {"file": "json"})
    assert response.status_code == 200
    document = read_json(response)
    header, rows = document["columns"], document["rows"]
    expected = pandas_ranking(matched(vframe, set(norm(buyers_frame()["email"]))))
    assert len(rows) == len(expected) == page["ranked"]
    got = [
        (
            int(r[0]),
            [[a, r[2 + i]] for i, a in enumerate(ATTRS) if r[2 + i] not in ("", None)],
            int(r[header.index("visitors")]),
            int(r[header.index("purchasers")]),
        )
        for r in rows
    ]
    assert got == [(e["rank"], e["items"], e["visitors"], e["purchasers"]) for e in expected]
    assert [(c["rank"], _items(c), c["visitors"], c["purchasers"]) for c in page["combos"]] == got[:50]


def test_engine_cache_key_names_the_buyers_files(workspace):
    visitors = visitors_ds(workspace)
    buyers = buyers_ds(workspace, versions=2)
    older = DatasetVersion.objects.filter(dataset=buyers, number=1).get()
    source = source_for_version(visitors.current_version)
    settings = ComboSettings(attributes=tuple(ATTRS), min_size=2, max_size=3, min_purchasers=3, min_conversion=0.05)
    current_buyers = source_for_version(buyers.current_version)
    keys = {
        combos_cache_key(source, settings, workspace_id=workspace.pk),
        combos_cache_key(source, settings, workspace_id=workspace.pk, buyers=current_buyers),
        combos_cache_key(source, settings, workspace_id=workspace.pk, buyers=source_for_version(older)),
    }
    result = compute_combos(source, settings, buyers=current_buyers)
    expected = pandas_ranking(matched(visitors_frame(), set(norm(buyers_frame()["email"]))))
    assert len(keys) == 3
    assert [[[a, v] for a, v in c.items] for c in result.combos] == [e["items"] for e in expected]
    assert result.to_dict()["match"]["buyers"] == len(set(norm(buyers_frame()["email"])))
