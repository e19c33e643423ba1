import pytest
from django.http import QueryDict

from analytics.combo_params import combo_pairs, combo_settings, default_attributes
from analytics.engine import QueryError, Source


def _source(tmp_path) -> Source:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "v.parquet"
    pq.write_table(
        pa.table({"State": ["TX"], "Sex": ["F"], "Bought": [True], "Colour": ["x"], "Visits": [3]}),
        path,
    )
    return Source.from_schema(
        path,
        [
            {"name": "State", "type": "text", "field": "state"},
            {"name": "Sex", "type": "text", "field": "gender"},
            {"name": "Bought", "type": "boolean", "field": "converted"},
            {"name": "Colour", "type": "text"},
            {"name": "Visits", "type": "integer"},
        ],
    )


def test_defaults_are_the_canonical_categorical_fields_in_canonical_order(tmp_path):
    source = _source(tmp_path)
    assert default_attributes(source) == ["Sex", "State"]
    settings = combo_settings(source, QueryDict(""))
    assert settings.attributes == ("Sex", "State")
    assert (settings.min_size, settings.max_size, settings.min_purchasers) == (2, 2, 10)
    assert settings.min_conversion == pytest.approx(0.04)


def test_round_trip_through_the_query_string(tmp_path):
    source = _source(tmp_path)
    data = QueryDict("attr=Colour&attr=State&attr=Sex&min_size=1&max_size=3&min_purchasers=0&min_conversion=12.5")
    settings = combo_settings(source, data)
    assert settings.attributes == ("Colour", "State", "Sex")
    assert settings.min_conversion == pytest.approx(0.125)
    again = QueryDict(mutable=True)
    for key, value in combo_pairs(settings):
        again.appendlist(key, value)
    assert combo_settings(source, again) == settings


@pytest.mark.parametrize(
    "query",
    [
        "attr=Nope",
        "attr=State&min_size=two",
        "attr=State&min_conversion=nan",
        "attr=State&min_conversion=150",
        "attr=State&attr=Sex&min_size=3",
        "attr=State&converted=Missing",
        "attr=State&min_purchasers=-1",
    ],
)
def test_bad_settings_are_query_errors(tmp_path, query):
    with pytest.raises(QueryError):
        combo_settings(_source(tmp_path), QueryDict(query))
