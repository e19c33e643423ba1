"""Top combos on the UCI bank-marketing file against an independent pandas group-by.

Conversion is `y == "yes"`. "unknown" (the file's own marker in job, marital, education,
housing, loan) is treated as an ordinary value, exactly as the pandas reference does: pandas
reads it as the string "unknown", we store it as that string, so both rank combos containing it.
Rank order everywhere: conversion desc, purchasers desc, size asc, attribute positions asc,
values asc (as text).
"""

import itertools
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.engine import (
    ComboSettings,
    Filter,
    FilterSet,
    InvalidComboSettings,
    MemoryCache,
    Source,
    UnknownColumn,
    compute_combos,
    top_combos,
)

from .helpers import SHARED_DATA, source_from_csv

BANK = SHARED_DATA / "bank-marketing" / "bank-additional-full.csv"
ATTRS = ["job", "marital", "education", "housing", "loan", "contact"]
MIN_PURCHASERS = 10
MIN_CONVERSION = 0.04


@pytest.fixture(scope="module")
def bank_df():
    assert BANK.exists(), f"shared data missing: {BANK}"
    df = pd.read_csv(BANK, sep=";", keep_default_na=False)
    df["converted"] = df["y"] == "yes"
    return df


@pytest.fixture(scope="module")
def bank(bank_df, tmp_path_factory):
    path = tmp_path_factory.mktemp("bank") / "bank.parquet"
    columns = {a: pa.array(bank_df[a].tolist(), pa.string()) for a in ATTRS}
    columns["age"] = pa.array(bank_df["age"].tolist(), pa.int64())
    columns["y"] = pa.array(bank_df["y"].tolist(), pa.string())
    columns["converted"] = pa.array(bank_df["converted"].tolist(), pa.bool_())
    pq.write_table(pa.table(columns), path)
    schema = [{"name": a, "type": "text", "field": None} for a in ATTRS]
    schema += [
        {"name": "age", "type": "integer", "field": None},
        {"name": "y", "type": "text", "field": None},
        {"name": "converted", "type": "boolean", "field": "converted"},
    ]
    return Source.from_schema(path, schema)


def pandas_ranking(df: pd.DataFrame, attrs: list[str], sizes: range) -> list[dict]:
    rows = []
    for k in sizes:
        for subset in itertools.combinations(range(len(attrs)), k):
            names = [attrs[i] for i in subset]
            grouped = df.groupby(names).agg(visitors=("converted", "size"), purchasers=("converted", "sum"))
            for key, g in grouped.iterrows():
                values = key if isinstance(key, tuple) else (key,)
                v, p = int(g["visitors"]), int(g["purchasers"])
                if p >= MIN_PURCHASERS and p / v >= MIN_CONVERSION:
                    rows.append(
                        {
                            "items": tuple(zip(names, values, strict=True)),
                            "visitors": v,
                            "purchasers": p,
                            "conversion": p / v,
                            "positions": subset,
                        }
                    )
    rows.sort(
        key=lambda r: (
            -r["conversion"],
            -r["purchasers"],
            len(r["positions"]),
            r["positions"],
            [str(v) for _, v in r["items"]],
        )
    )
    return rows


@pytest.fixture(scope="module")
def reference(bank_df):
    return pandas_ranking(bank_df, ATTRS, range(2, 4))


@pytest.fixture(scope="module")
def result(bank):
    settings = ComboSettings(
        tuple(ATTRS), min_size=2, max_size=3, min_purchasers=MIN_PURCHASERS, min_conversion=MIN_CONVERSION
    )
    return compute_combos(bank, settings)


def test_ranked_combos_equal_pandas(result, reference):
    ours = [(c.items, c.visitors, c.purchasers, c.conversion) for c in result.combos]
    theirs = [(r["items"], r["visitors"], r["purchasers"], r["conversion"]) for r in reference]
    assert len(ours) == len(theirs) > 1000
    assert ours == theirs
    assert [c.rank for c in result.combos[:3]] == [1, 2, 3]


def test_unknown_is_an_ordinary_value(result, reference):
    with_unknown = [r for r in reference if any(v == "unknown" for _, v in r["items"])]
    ours = [c for c in result.combos if any(v == "unknown" for _, v in c.items)]
    assert len(ours) == len(with_unknown) > 0


def test_wilson_interval_and_small_sample_flag(result):
    combo = result.combo(1)
    n, p = combo.visitors, combo.purchasers / combo.visitors
    z = 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert combo.ci_low == pytest.approx(centre - half)
    assert combo.ci_high == pytest.approx(centre + half)
    assert combo.small_sample is (combo.purchasers < 30 or combo.visitors < 100)
    big = max(result.combos, key=lambda c: c.visitors)
    assert big.small_sample is False


def test_text_converted_column_with_values(bank, result):
    settings = ComboSettings(tuple(ATTRS), 2, 3, converted="y", converted_values=("yes",))
    assert [(c.items, c.visitors, c.purchasers) for c in compute_combos(bank, settings).combos] == [
        (c.items, c.visitors, c.purchasers) for c in result.combos
    ]


def test_kpi_cards(bank_df, result, reference):
    kpis = result.kpis()
    total = int(bank_df["converted"].sum())
    assert kpis["total_buyers"]["value"] == total
    covered = np.zeros(len(bank_df), dtype=bool)
    for r in reference[:50]:
        mask = np.ones(len(bank_df), dtype=bool)
        for name, value in r["items"]:
            mask &= (bank_df[name] == value).to_numpy()
        covered |= mask
    assert kpis["top_share"]["value"] == pytest.approx(bank_df["converted"][covered].sum() / total)
    assert kpis["highest_converting"]["value"]["items"] == [
        {"attribute": a, "value": v} for a, v in reference[0]["items"]
    ]
    best = max(reference, key=lambda r: r["purchasers"])  # max() keeps the first (best-ranked) of equals
    assert kpis["best_volume"]["value"]["purchasers"] == best["purchasers"]
    assert kpis["best_volume"]["value"]["rank"] == reference.index(best) + 1


def test_leaderboard_and_deep_dive(bank_df, result, reference):
    jobs = bank_df.groupby("job").agg(visitors=("converted", "size"), purchasers=("converted", "sum"))
    board = {row["value"]: (row["visitors"], row["purchasers"]) for row in result.leaderboards()["job"]}
    assert board == {job: (int(g["visitors"]), int(g["purchasers"])) for job, g in jobs.iterrows()}
    dive = result.deep_dive(3)
    assert dive["combo"]["rank"] == 3
    assert [n["rank"] for n in dive["neighbours"]] == [1, 2, 3, 4, 5]
    conversions = np.array([r["conversion"] for r in reference])
    assert dive["percentile"] == pytest.approx((conversions <= reference[2]["conversion"]).mean() * 100)
    first = dive["attributes"][0]
    name, value = reference[2]["items"][0]
    counts = bank_df[name].value_counts()
    assert {row["value"]: row["visitors"] for row in first["values"]} == counts.to_dict()
    assert [row["value"] for row in first["values"] if row["selected"]] == [value]


def test_concentration_is_a_union_and_grows(result):
    series = result.concentration(20)
    shares = [p["purchasers_share"] for p in series]
    assert len(series) == 20
    assert shares == sorted(shares)
    assert series[0]["purchasers"] == result.combo(1).purchasers


def test_filters_apply_before_ranking(bank, bank_df):
    married = FilterSet((Filter("marital", "in", ("married",)),))
    settings = ComboSettings(("job", "education", "contact"), 2, 2)
    ours = compute_combos(bank, settings, filters=married).combos
    theirs = pandas_ranking(bank_df[bank_df["marital"] == "married"], ["job", "education", "contact"], range(2, 3))
    assert [(c.items, c.visitors, c.purchasers) for c in ours] == [
        (r["items"], r["visitors"], r["purchasers"]) for r in theirs
    ]


def test_preaggregated_full_grain_file_rolls_up_the_same(tmp_path, bank_df, bank):
    attrs = ["job", "marital", "contact"]
    cube = bank_df.groupby(attrs).agg(visitors=("converted", "size"), purchasers=("converted", "sum")).reset_index()
    csv = cube.to_csv(index=False)
    schema = [(a, "text", None) for a in attrs] + [
        ("visitors", "integer", "visitors_count"),
        ("purchasers", "integer", "purchasers_count"),
    ]
    combos_file = source_from_csv(tmp_path, "combos", csv, schema)
    settings = ComboSettings(tuple(attrs), 2, 3)
    from_file = compute_combos(combos_file, settings)
    from_rows = compute_combos(bank, settings)
    assert [(c.items, c.visitors, c.purchasers) for c in from_file.combos] == [
        (c.items, c.visitors, c.purchasers) for c in from_rows.combos
    ]
    assert from_file.total_purchasers == int(bank_df["converted"].sum())


def test_preaggregated_listed_combos_file(tmp_path):
    csv = (
        "channel,state,device,visitors,purchasers\n"
        "Email,CA,,100,20\nSocial,,mobile,200,10\nEmail,TX,,50,1\nEmail,CA,,100,5\nDirect,NY,desktop,40,30\nBad,CA,,10,12\n"
    )
    schema = [("channel", "text", None), ("state", "text", None), ("device", "text", None)]
    schema += [("visitors", "integer", "visitors_count"), ("purchasers", "integer", "purchasers_count")]
    result = compute_combos(
        source_from_csv(tmp_path, "listed", csv, schema), ComboSettings(("channel", "state", "device"), 2, 3)
    )
    # Email·CA summed (200 visitors, 25 purchasers = 12.5%); Direct·NY·desktop 75%; Social·mobile 5%;
    # Email·TX has 1 purchaser (< 10); the row with purchasers > visitors is left out and counted.
    assert [(c.label, c.visitors, c.purchasers) for c in result.combos] == [
        ("channel = Direct · state = NY · device = desktop", 40, 30),
        ("channel = Email · state = CA", 200, 25),
        ("channel = Social · device = mobile", 200, 10),
    ]
    assert result.inconsistent_rows == 1
    assert result.kpis()["total_buyers"]["value"] is None


def test_settings_validation(bank):
    with pytest.raises(InvalidComboSettings):
        ComboSettings(("job", "job"))
    with pytest.raises(InvalidComboSettings):
        ComboSettings(("job", "marital"), min_size=3, max_size=2)
    with pytest.raises(InvalidComboSettings):
        ComboSettings(("job", "marital"), min_conversion=4)
    with pytest.raises(UnknownColumn):
        top_combos(bank, ComboSettings(("job", "password__startswith")), workspace_id=1, cache=MemoryCache())
    assert ComboSettings(("job", "marital", "loan")).max_size == 3  # default 2..5 clamps to 3 attributes


def test_top_combos_cached_per_workspace(bank):
    cache = MemoryCache()
    settings = ComboSettings(("job", "marital"), 2, 2)
    a = top_combos(bank, settings, workspace_id=1, cache=cache)
    assert top_combos(bank, settings, workspace_id=1, cache=cache) is a
    assert top_combos(bank, settings, workspace_id=2, cache=cache) is not a
