"""Top-combos settings in a query string: the one parser shared by the combos pages and exports.

    ?attr=state&attr=gender&attr=age_range      chosen attributes (column names, repeatable, in order)
    &min_size=2&max_size=5                      combo size range (default 2..5)
    &min_purchasers=10                          minimum purchasers per combo (default 10)
    &min_conversion=4                           minimum conversion in percent (default 4)
    &converted=purchased                        the conversion column (default: the one mapped to `converted`)
    &converted_value=yes                        values of a non-boolean conversion column meaning "converted"
    &match=12[&match_version=34]                converted = the visitor's key matches a key of buyers dataset 12
                                                (its current version, or version 34); read by
                                                analytics.combos_selectors.combo_match, not by `combo_settings`

With no `attr`, the default attributes are the dataset's categorical canonical fields (at most
DEFAULT_MAX_ATTRIBUTES). Bad input raises `QueryError` (the page answers 400).
"""

from __future__ import annotations

import math

from analytics.engine import ComboSettings, InvalidComboSettings, QueryError, Source
from analytics.engine.schema import BOOLEAN, TEXT

KEYS = (
    "attr",
    "min_size",
    "max_size",
    "min_purchasers",
    "min_conversion",
    "converted",
    "converted_value",
    "match",
    "match_version",
)
DEFAULT_MAX_ATTRIBUTES = 8
# Canonical fields offered first as combo attributes, in this order.
ATTRIBUTE_FIELDS = (
    "channel",
    "campaign",
    "gender",
    "age_range",
    "income_range",
    "net_worth",
    "credit_rating",
    "homeowner",
    "marital_status",
    "children",
    "state",
    "device",
)
NOT_ATTRIBUTE_FIELDS = frozenset(
    {"converted", "visitors_count", "purchasers_count", "visitor_key", "buyer_key", "email", "phone", "name", "zip"}
)
ERROR_NOT_A_NUMBER = "{key} must be a number, not {value!r}"


def attribute_choices(source: Source) -> list[str]:
    """Columns that can be combo attributes: canonical categorical fields first, then other text/boolean columns."""
    chosen = []
    for field_name in ATTRIBUTE_FIELDS:
        column = source.by_field(field_name)
        if column is not None and column.type in (TEXT, BOOLEAN) and column.name not in chosen:
            chosen.append(column.name)
    for column in source.columns:
        if column.name in chosen or column.field in NOT_ATTRIBUTE_FIELDS or column.type not in (TEXT, BOOLEAN):
            continue
        chosen.append(column.name)
    return chosen


def default_attributes(source: Source) -> list[str]:
    canonical = [
        c.name for f in ATTRIBUTE_FIELDS if (c := source.by_field(f)) is not None and c.type in (TEXT, BOOLEAN)
    ]
    return (canonical or attribute_choices(source))[:DEFAULT_MAX_ATTRIBUTES]


def _number(data, key: str, default, cast):
    raw = data.get(key, "")
    if raw in ("", None):
        return default
    try:
        return cast(str(raw).strip())
    except ValueError:
        raise InvalidComboSettings(ERROR_NOT_A_NUMBER.format(key=key, value=str(raw)[:40])) from None


def combo_settings(source: Source, data) -> ComboSettings:
    """The settings named by `data` (a QueryDict or a dict of lists/strings), checked against `source`."""
    getlist = data.getlist if hasattr(data, "getlist") else (lambda k: _as_list(data.get(k)))
    attributes = [a for a in getlist("attr") if a != ""] or default_attributes(source)
    for name in attributes:
        source.column(name)  # UnknownColumn (a QueryError) for a name the dataset lacks
    converted = data.get("converted") or None
    if converted is not None:
        source.column(converted)
    min_conversion = _number(data, "min_conversion", 4.0, float)
    if not math.isfinite(min_conversion):
        raise InvalidComboSettings(ERROR_NOT_A_NUMBER.format(key="min_conversion", value=str(min_conversion)))
    try:
        return ComboSettings(
            attributes=tuple(attributes),
            min_size=_number(data, "min_size", 2, int),
            max_size=_number(data, "max_size", 5, int),
            min_purchasers=_number(data, "min_purchasers", 10, int),
            min_conversion=min_conversion / 100,
            converted=converted,
            converted_values=tuple(v for v in getlist("converted_value") if v != ""),
        )
    except QueryError:
        raise
    except (TypeError, ValueError) as error:
        raise InvalidComboSettings(str(error)) from None


def combo_pairs(settings: ComboSettings) -> list[tuple[str, str]]:
    """The query-string pairs that `combo_settings` reads back into the same settings."""
    pairs = [("attr", a) for a in settings.attributes]
    pairs += [
        ("min_size", str(settings.min_size)),
        ("max_size", str(settings.max_size)),
        ("min_purchasers", str(settings.min_purchasers)),
        ("min_conversion", f"{settings.min_conversion * 100:g}"),
    ]
    if settings.converted:
        pairs.append(("converted", settings.converted))
    pairs += [("converted_value", str(v)) for v in settings.converted_values]
    return pairs


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
