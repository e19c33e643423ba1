"""Value normalisers for mapped canonical fields (categorical spellings, age buckets)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

GENDER_SPELLINGS: dict[str, str] = {
    "f": "Female",
    "female": "Female",
    "w": "Female",
    "woman": "Female",
    "women": "Female",
    "m": "Male",
    "male": "Male",
    "man": "Male",
    "men": "Male",
}
AGE_BUCKETS: tuple[tuple[int, int, str], ...] = (
    (0, 17, "Under 18"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, 200, "65+"),
)


def normalize_gender(values: pa.Array) -> pa.Array:
    """ "F", " female", "WOMAN" -> "Female"; other spellings are kept as written (trimmed)."""
    lower = pc.utf8_lower(values)
    keys = pa.array(list(GENDER_SPELLINGS))
    canon = pa.array(list(GENDER_SPELLINGS.values()))
    index = pc.index_in(lower, value_set=keys)
    mapped = pc.take(canon, index)
    return pc.if_else(pc.is_valid(index), mapped, values)


def age_bucket(ages: pa.Array) -> pa.Array:
    """Integer ages -> the product's age ranges (null stays null)."""
    out = pa.nulls(len(ages), pa.string())
    for low, high, label in AGE_BUCKETS:
        inside = pc.and_(pc.greater_equal(ages, low), pc.less_equal(ages, high))
        out = pc.if_else(pc.fill_null(inside, False), label, out)
    return out
