"""Top combos (DESIGN.md §6): rank every combination of k distinct attributes and their values.

For each set of k attributes (min_size ≤ k ≤ max_size) and each combination of their
non-missing values: visitors = matching rows, purchasers = converted matching rows,
conversion = purchasers / visitors. Combos with purchasers ≥ min_purchasers and
conversion ≥ min_conversion are ranked by conversion (desc), then purchasers (desc), then -
for a deterministic order - size k (asc), the attributes' positions in the chosen list, and the
values (asc, as text). Each carries a Wilson 95% interval and a small-sample flag.

Speed: DuckDB groups the rows once by *all* chosen attributes (the cube at full grain: at most
a few tens of thousands of cells however many rows there are); every combination is then a
roll-up of that small cube, done here with numpy on integer codes. That is the same answer as a
GROUPING SETS query over the rows, without scanning the rows once per set.

Conversion comes from the visitors' converted flag (or a chosen column and values), or - with a
`buyers` source - from matching: a visitor row converted when its key, normalised the way the
dashboard's conversion KPI normalises it (analytics/engine/metrics.py), is among the buyers' keys.
The buyers' rows are used unfiltered (the filters describe the visitors).

A pre-aggregated combos file (columns mapped to visitors_count / purchasers_count) is read the
same way when every row names every chosen attribute (it *is* a cube); when rows leave
attributes empty, each row is taken as the combo of the attributes it names.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .cache import ResultCache, cache_key, cached, default_cache
from .errors import InvalidComboSettings, InvalidOperatorForType
from .filters import FilterSet, coerce_value
from .metrics import _match_exprs, key_kind
from .schema import BOOLEAN, Source, connection

Z95 = 1.959963984540054
SMALL_SAMPLE_PURCHASERS = 30
SMALL_SAMPLE_VISITORS = 100
MAX_ATTRIBUTES = 12
TOP_COVERAGE = 50
NEEDS_CONVERTED = "needs a converted flag (or purchasers counts)"
NEEDS_TOTALS = "a combos file without full-grain rows has no dataset totals"
NEEDS_COMBOS = "no combo meets the minimums"
MATCH_NO_VISITOR_KEY = "matching to buyers needs a visitor key column in the visitors dataset (none is mapped)"
MATCH_NO_BUYER_KEY = "matching to buyers needs a buyer key column in the buyers dataset (none is mapped)"
MATCH_INCOMPATIBLE = (
    "visitor and buyer keys cannot be matched: the visitor key {vname!r} holds {vkind} values and the buyer key "
    "{bname!r} holds {bkind} values (they must be the same kind, or email and hashed email)"
)
MATCH_PREAGGREGATED = "a pre-aggregated combos file already counts purchasers: it cannot be matched to buyers"
MATCH_AND_COLUMN = "choose either a conversion column or a buyers dataset to match, not both"


def wilson(purchasers, visitors, z: float = Z95):
    """Wilson score interval for purchasers / visitors (numpy arrays or scalars)."""
    n = np.asarray(visitors, dtype=float)
    p_hat = np.divide(purchasers, n, out=np.zeros_like(n), where=n > 0)
    denom = 1 + z * z / n
    centre = (p_hat + z * z / (2 * n)) / denom
    half = z * np.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


@dataclass(frozen=True)
class ComboSettings:
    attributes: tuple[str, ...]
    min_size: int = 2
    max_size: int = 5
    min_purchasers: int = 10
    min_conversion: float = 0.04
    converted: str | None = None  # column; default: the one mapped to "converted"
    converted_values: tuple = ()  # for a non-boolean converted column: the values that mean "converted"

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", tuple(self.attributes))
        object.__setattr__(self, "converted_values", tuple(self.converted_values))
        attrs = self.attributes
        if not attrs or len(attrs) > MAX_ATTRIBUTES or len(set(attrs)) != len(attrs):
            raise InvalidComboSettings(f"choose 1 to {MAX_ATTRIBUTES} distinct attributes")
        for name in ("min_size", "max_size", "min_purchasers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidComboSettings(f"{name} must be a whole number ≥ 0")
        if not 1 <= self.min_size <= self.max_size:
            raise InvalidComboSettings("sizes must satisfy 1 ≤ min ≤ max")
        if self.min_size > len(attrs):
            raise InvalidComboSettings("min size is larger than the number of attributes")
        # A 2..5 default with 3 attributes chosen means 2..3.
        object.__setattr__(self, "max_size", min(self.max_size, len(attrs)))
        conv = self.min_conversion
        if isinstance(conv, bool) or not isinstance(conv, (int, float)) or not 0 <= conv <= 1:
            raise InvalidComboSettings("min conversion must be between 0 and 1")

    def subsets(self) -> list[tuple[int, ...]]:
        """Attribute-position tuples, by size then lexicographic (this order is a tiebreak)."""
        n = len(self.attributes)
        return [s for k in range(self.min_size, self.max_size + 1) for s in itertools.combinations(range(n), k)]

    def canonical(self) -> list:
        return [
            list(self.attributes),
            self.min_size,
            self.max_size,
            self.min_purchasers,
            float(self.min_conversion),
            self.converted,
            [str(v) for v in self.converted_values],
        ]


@dataclass(frozen=True)
class Combo:
    rank: int
    items: tuple[tuple[str, object], ...]  # (attribute, value) in the chosen attributes' order
    visitors: int
    purchasers: int
    conversion: float
    ci_low: float
    ci_high: float
    small_sample: bool

    @property
    def size(self) -> int:
        return len(self.items)

    @property
    def label(self) -> str:
        return " · ".join(f"{name} = {value}" for name, value in self.items)

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "items": [{"attribute": a, "value": v} for a, v in self.items],
            "size": self.size,
            "visitors": self.visitors,
            "purchasers": self.purchasers,
            "conversion": self.conversion,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "small_sample": self.small_sample,
        }


@dataclass(frozen=True)
class Cube:
    """Full-grain counts: codes[i, a] is the code of attribute a's value in cell i (-1 = missing)."""

    attributes: tuple[str, ...]
    vocab: tuple[tuple, ...]  # per attribute, values ordered by their text
    codes: np.ndarray
    visitors: np.ndarray
    purchasers: np.ndarray


@dataclass(frozen=True)
class ComboResult:
    settings: ComboSettings
    # Ranked qualifying combos, columnar (rank i = row i): subset index, codes (padded with -1), counts.
    subset_ids: np.ndarray
    codes: np.ndarray
    visitors: np.ndarray
    purchasers: np.ndarray
    cube: Cube | None  # None for a listed (not full-grain) combos file
    inconsistent_rows: int = 0  # pre-aggregated rows with purchasers > visitors, left out
    listed_vocab: tuple = ()  # value vocabularies when there is no cube
    match: dict | None = None  # with a buyers source: visitors, buyers, matched keys, match rate, key kind
    _subsets: list = field(default_factory=list, compare=False)

    # --- combos ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.visitors)

    @property
    def total_visitors(self) -> int | None:
        return int(self.cube.visitors.sum()) if self.cube is not None else None

    @property
    def total_purchasers(self) -> int | None:
        return int(self.cube.purchasers.sum()) if self.cube is not None else None

    def _subset(self, i: int) -> tuple[int, ...]:
        return self._subsets[int(self.subset_ids[i])]

    def combo(self, rank: int) -> Combo:
        """The combo at `rank` (1-based)."""
        if not 1 <= rank <= len(self):
            raise IndexError(rank)
        i = rank - 1
        subset = self._subset(i)
        vocab = self._vocab()
        items = tuple((self.settings.attributes[a], vocab[a][int(self.codes[i, j])]) for j, a in enumerate(subset))
        v, p = int(self.visitors[i]), int(self.purchasers[i])
        low, high = wilson(p, v)
        return Combo(
            rank=rank,
            items=items,
            visitors=v,
            purchasers=p,
            conversion=p / v,
            ci_low=float(low),
            ci_high=float(high),
            small_sample=p < SMALL_SAMPLE_PURCHASERS or v < SMALL_SAMPLE_VISITORS,
        )

    def page(self, offset: int = 0, limit: int = 50) -> list[Combo]:
        start = max(0, int(offset))
        return [self.combo(r) for r in range(start + 1, min(len(self), start + int(limit)) + 1)]

    @property
    def combos(self) -> list[Combo]:
        return self.page(0, len(self))

    def _vocab(self) -> tuple[tuple, ...]:
        return self.cube.vocab if self.cube is not None else self.listed_vocab

    # --- summaries ----------------------------------------------------------------------------
    def _matches(self, i: int) -> np.ndarray:
        subset = self._subset(i)
        cube = self.cube
        mask = np.ones(len(cube.visitors), dtype=bool)
        for j, a in enumerate(subset):
            mask &= cube.codes[:, a] == self.codes[i, j]
        return mask

    def concentration(self, n: int = TOP_COVERAGE) -> list[dict]:
        """Purchasers (and visitors) in the union of the top 1..n combos, as shares of the total:
        a row counts once however many of those combos it matches."""
        if self.cube is None:
            return []
        total_p = self.total_purchasers
        total_v = self.total_visitors
        covered = np.zeros(len(self.cube.visitors), dtype=bool)
        out = []
        for i in range(min(n, len(self))):
            covered |= self._matches(i)
            p = int(self.cube.purchasers[covered].sum())
            v = int(self.cube.visitors[covered].sum())
            out.append(
                {
                    "top": i + 1,
                    "purchasers": p,
                    "visitors": v,
                    "purchasers_share": p / total_p if total_p else None,
                    "visitors_share": v / total_v if total_v else None,
                }
            )
        return out

    def kpis(self, top: int = TOP_COVERAGE) -> dict:
        """The four cards: total buyers, % of buyers in the top `top` combos, highest-converting
        combo, best-volume combo (most purchasers; ties by rank)."""
        out: dict = {}
        if self.cube is None:
            out["total_buyers"] = {"value": None, "missing": NEEDS_TOTALS}
            out["top_share"] = {"value": None, "missing": NEEDS_TOTALS, "top": top}
        else:
            out["total_buyers"] = {"value": self.total_purchasers, "missing": None}
            series = self.concentration(top)
            share = series[-1]["purchasers_share"] if series else 0.0
            out["top_share"] = {"value": share, "missing": None, "top": top, "combos": len(series)}
        if len(self):
            best_volume = int(np.argmax(self.purchasers))  # first max = best rank among equals
            out["highest_converting"] = {"value": self.combo(1).to_dict(), "missing": None}
            out["best_volume"] = {"value": self.combo(best_volume + 1).to_dict(), "missing": None}
        else:
            out["highest_converting"] = {"value": None, "missing": NEEDS_COMBOS}
            out["best_volume"] = {"value": None, "missing": NEEDS_COMBOS}
        return out

    def attribute_values(self, attribute: str) -> list[dict]:
        """One attribute over the whole (filtered) data: each value's visitors, purchasers,
        conversion and Wilson interval, best converting first."""
        if self.cube is None:
            return []
        a = self.settings.attributes.index(attribute)
        cube = self.cube
        codes = cube.codes[:, a]
        present = codes >= 0
        size = len(cube.vocab[a])
        v = np.bincount(codes[present], weights=cube.visitors[present], minlength=size).astype(np.int64)
        p = np.bincount(codes[present], weights=cube.purchasers[present], minlength=size).astype(np.int64)
        total_v = int(cube.visitors.sum())
        low, high = wilson(p, v)
        rows = []
        for code in range(size):
            if not v[code]:
                continue
            rows.append(
                {
                    "value": cube.vocab[a][code],
                    "visitors": int(v[code]),
                    "purchasers": int(p[code]),
                    "conversion": int(p[code]) / int(v[code]),
                    "ci_low": float(low[code]),
                    "ci_high": float(high[code]),
                    "share": int(v[code]) / total_v if total_v else None,
                    "small_sample": bool(p[code] < SMALL_SAMPLE_PURCHASERS or v[code] < SMALL_SAMPLE_VISITORS),
                }
            )
        rows.sort(key=lambda r: (-r["conversion"], -r["purchasers"], str(r["value"])))
        return rows

    def leaderboards(self) -> dict[str, list[dict]]:
        return {name: self.attribute_values(name) for name in self.settings.attributes}

    def deep_dive(self, rank: int, *, window: int = 2) -> dict:
        """A combo, its neighbouring ranks, its conversion percentile among the ranked combos, and
        each of its attributes' distribution in the whole data with the combo's value flagged."""
        combo = self.combo(rank)
        neighbours = [self.combo(r).to_dict() for r in range(max(1, rank - window), min(len(self), rank + window) + 1)]
        conversions = self.purchasers / self.visitors
        # Percent of ranked combos converting at or below this one.
        percentile = float((conversions <= combo.conversion).sum()) / len(self) * 100
        attributes = []
        for name, value in combo.items:
            values = self.attribute_values(name)
            for row in values:
                row["selected"] = row["value"] == value
            attributes.append({"attribute": name, "value": value, "values": values})
        return {
            "combo": combo.to_dict(),
            "neighbours": neighbours,
            "percentile": percentile,
            "ranked": len(self),
            "attributes": attributes,
        }

    def to_dict(self, *, offset: int = 0, limit: int = 50) -> dict:
        return {
            "settings": dict(
                zip(
                    (
                        "attributes",
                        "min_size",
                        "max_size",
                        "min_purchasers",
                        "min_conversion",
                        "converted",
                        "converted_values",
                    ),
                    self.settings.canonical(),
                    strict=True,
                )
            ),
            "ranked": len(self),
            "total_visitors": self.total_visitors,
            "total_purchasers": self.total_purchasers,
            "kpis": self.kpis(),
            "match": self.match,
            "combos": [c.to_dict() for c in self.page(offset, limit)],
        }


# --- computing -----------------------------------------------------------------------------------
def match_keys(visitors: Source, buyers: Source) -> tuple[str, str, str]:
    """(visitor key expr, buyer key expr, key kind): both keys normalised to one comparable form,
    or InvalidComboSettings naming what is missing or why the keys cannot be compared."""
    vcol, bcol = visitors.by_field("visitor_key"), buyers.by_field("buyer_key")
    if vcol is None:
        raise InvalidComboSettings(MATCH_NO_VISITOR_KEY)
    if bcol is None:
        raise InvalidComboSettings(MATCH_NO_BUYER_KEY)
    exprs = _match_exprs(visitors, vcol, buyers, bcol)
    if exprs is None:
        raise InvalidComboSettings(
            MATCH_INCOMPATIBLE.format(
                vname=vcol.name, vkind=key_kind(visitors, vcol), bname=bcol.name, bkind=key_kind(buyers, bcol)
            )
        )
    return exprs


def matchable(visitors: Source, buyers: Source) -> bool:
    """Whether `visitors` can be matched to `buyers` (both keys present and of compatible kinds)."""
    try:
        match_keys(visitors, buyers)
    except InvalidComboSettings:
        return False
    return True


def _buyer_keys_sql(buyers: Source, bexpr: str) -> tuple[str, list]:
    relation, params = buyers.relation()
    return f"SELECT DISTINCT k FROM (SELECT {bexpr} AS k FROM {relation}) WHERE k IS NOT NULL", params  # noqa: S608


def _matched_sql(visitors: Source, buyers: Source) -> tuple[str, list]:
    vexpr, bexpr, _ = match_keys(visitors, buyers)
    keys, params = _buyer_keys_sql(buyers, bexpr)
    return f"coalesce({vexpr} IN ({keys}), false)", params


def match_summary(visitors: Source, buyers: Source, filters: FilterSet) -> dict:
    """Distinct visitor keys (under `filters`), distinct buyer keys (all rows), how many buyer keys
    are among the visitor keys, and the match rate = matched / buyers (the dashboard's definition)."""
    vexpr, bexpr, kind = match_keys(visitors, buyers)
    relation, params = visitors.relation()
    where, where_params = filters.compile(visitors)
    keys, bparams = _buyer_keys_sql(buyers, bexpr)
    sql = f"""
        WITH v AS (SELECT DISTINCT k FROM (SELECT {vexpr} AS k FROM {relation} WHERE {where}) WHERE k IS NOT NULL),
        b AS ({keys})
        SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM b), (SELECT count(*) FROM v JOIN b USING (k))
    """  # noqa: S608 - internal aliases and constant normalisers
    n_visitors, n_buyers, matched = connection().execute(sql, params + where_params + bparams).fetchone()
    return {
        "key_kind": kind,
        "visitors": int(n_visitors),
        "buyers": int(n_buyers),
        "matched": int(matched),
        "match_rate": matched / n_buyers if n_buyers else None,
    }


def _converted_sql(source: Source, settings: ComboSettings, buyers: Source | None = None) -> tuple[str, list]:
    if buyers is not None:
        if settings.converted or settings.converted_values:
            raise InvalidComboSettings(MATCH_AND_COLUMN)
        return _matched_sql(source, buyers)
    column = source.column(settings.converted) if settings.converted else source.by_field("converted")
    if column is None:
        raise InvalidComboSettings(NEEDS_CONVERTED)
    if settings.converted_values:
        values = [coerce_value(column, v) for v in settings.converted_values]
        return f"{column.ref} IN ({', '.join('?' for _ in values)})", values
    if column.type != BOOLEAN:
        raise InvalidOperatorForType(op="converted", name=column.name, type_=column.type)
    return f"coalesce({column.ref}, false)", []


def _factorize(column: pa.ChunkedArray) -> tuple[tuple, np.ndarray]:
    """Codes in text order of the distinct non-missing values (-1 for missing)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    values = encoded.dictionary.to_pylist()
    order = sorted(range(len(values)), key=lambda i: (str(values[i]), type(values[i]).__name__))
    remap = np.empty(len(values) + 1, np.int64)
    remap[np.asarray(order, np.int64)] = np.arange(len(values), dtype=np.int64)
    remap[len(values)] = -1
    indices = pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
    return tuple(values[i] for i in order), remap[indices]


def _cube_rows(
    source: Source, settings: ComboSettings, filters: FilterSet, buyers: Source | None = None
) -> tuple[pa.Table, bool]:
    """(table of [attr values..., visitors, purchasers], is_preaggregated)."""
    columns = [source.column(a) for a in settings.attributes]
    relation, params = source.relation()
    where, where_params = filters.compile(source)
    attrs = ", ".join(f"{c.ref} AS {_a(i)}" for i, c in enumerate(columns))
    group = ", ".join(_a(i) for i in range(len(columns)))
    vcount, pcount = source.by_field("visitors_count"), source.by_field("purchasers_count")
    preaggregated = vcount is not None and pcount is not None
    if preaggregated and buyers is not None:
        raise InvalidComboSettings(MATCH_PREAGGREGATED)
    if preaggregated:
        counts, count_params = f"sum({vcount.ref}) AS v, sum({pcount.ref}) AS p", []
    else:
        converted, count_params = _converted_sql(source, settings, buyers)
        counts = f"count(*) AS v, count(*) FILTER (WHERE {converted}) AS p"
    # Parameters in text order: the select list's (converted values) come before the FROM's.
    sql = f"SELECT {attrs}, {counts} FROM {relation} WHERE {where} GROUP BY {group}"  # noqa: S608 - internal aliases
    table = connection().sql(sql, params=count_params + params + where_params).to_arrow_table()
    return table, preaggregated


def _a(i: int) -> str:
    return f'"a{int(i)}"'


def compute_combos(
    source: Source,
    settings: ComboSettings,
    *,
    filters: FilterSet | None = None,
    buyers: Source | None = None,
    progress=None,
) -> ComboResult:
    """`progress(fraction)` (optional) is called as the work advances, 0 < fraction ≤ 1.

    `buyers`: count a visitor row as converted when its key matches a buyer's key (see `match_keys`)."""
    filters = filters or FilterSet()
    table, preaggregated = _cube_rows(source, settings, filters, buyers)
    if progress is not None:
        progress(CUBE_SHARE)
    n_attr = len(settings.attributes)
    vocab, code_columns = [], []
    for a in range(n_attr):
        values, codes = _factorize(table.column(a))
        vocab.append(values)
        code_columns.append(codes)
    codes = np.stack(code_columns, axis=1) if table.num_rows else np.zeros((0, n_attr), np.int64)
    counts = [pc.fill_null(table.column(n_attr + i), 0).to_numpy().astype(np.int64) for i in range(2)]
    visitors, purchasers = counts
    inconsistent = 0
    if preaggregated:
        bad = purchasers > visitors
        inconsistent = int(bad.sum())
        codes, visitors, purchasers = codes[~bad], visitors[~bad], purchasers[~bad]
    subsets = settings.subsets()
    full_grain = not preaggregated or bool((codes >= 0).all())
    if full_grain:
        cube = Cube(settings.attributes, tuple(vocab), codes, visitors, purchasers)
        parts = _rollup(cube, subsets, progress=progress)
    else:
        cube = None
        parts = _listed(codes, visitors, purchasers, subsets, vocab)
    result = _rank(
        settings,
        parts,
        subsets,
        cube=cube,
        inconsistent=inconsistent,
        listed_vocab=() if cube is not None else tuple(vocab),
    )
    if buyers is not None:
        result = dataclasses.replace(result, match=match_summary(source, buyers, filters))
    if progress is not None:
        progress(1.0)
    return result


_NOT_CACHED = object()
CUBE_SHARE = 0.5  # progress reported once the rows are grouped into the cube (the one scan of the data)
DENSE_KEY_SPACE = 1 << 22  # up to this many possible keys, count with one bincount (no sort)


def _group(columns: list[np.ndarray], v: np.ndarray, p: np.ndarray, radices: list[int]) -> tuple[np.ndarray, ...]:
    """Sum v and p per distinct row of the code `columns` (codes ≥ 0, column j < radices[j]).

    Rows are packed into one int64 (mixed radix), so grouping is a 1-D bincount or unique rather
    than numpy's slow row-wise unique; groups come out in lexicographic code order either way.
    """
    space = math.prod(radices)
    if space >= 1 << 62:  # cannot pack: the slow, general path
        unique, inverse = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        return (
            unique,
            np.bincount(inverse, weights=v, minlength=len(unique)).astype(np.int64),
            np.bincount(inverse, weights=p, minlength=len(unique)).astype(np.int64),
        )
    flat = columns[0].copy()
    for column, radix in zip(columns[1:], radices[1:], strict=True):
        flat *= radix
        flat += column
    if space <= max(DENSE_KEY_SPACE, 4 * len(flat)):
        present = np.flatnonzero(np.bincount(flat, minlength=space))
        sums_v = np.bincount(flat, weights=v, minlength=space)[present].astype(np.int64)
        sums_p = np.bincount(flat, weights=p, minlength=space)[present].astype(np.int64)
        packed = present.astype(np.int64)
    else:
        packed, inverse = np.unique(flat, return_inverse=True)
        sums_v = np.bincount(inverse, weights=v, minlength=len(packed)).astype(np.int64)
        sums_p = np.bincount(inverse, weights=p, minlength=len(packed)).astype(np.int64)
    unique = np.empty((len(packed), len(radices)), np.int64)
    rest = packed.copy()
    for j in reversed(range(len(radices))):
        unique[:, j] = rest % radices[j]
        rest //= radices[j]
    return unique, sums_v, sums_p


def _rollup(
    cube: Cube, subsets: list[tuple[int, ...]], *, progress=None
) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Every subset's groups: (subset index, codes, visitors, purchasers)."""
    parts = []
    step = max(1, len(subsets) // 20)
    columns = [np.ascontiguousarray(cube.codes[:, a]) for a in range(cube.codes.shape[1])]
    has_missing = [bool((c < 0).any()) for c in columns]
    visitors, purchasers = cube.visitors.astype(float), cube.purchasers.astype(float)
    for s, subset in enumerate(subsets):
        radices = [max(1, len(cube.vocab[a])) for a in subset]
        if any(has_missing[a] for a in subset):
            present = np.logical_and.reduce([columns[a] >= 0 for a in subset])  # only non-missing values
            if not present.any():
                continue
            cols = [columns[a][present] for a in subset]
            unique, v, p = _group(cols, visitors[present], purchasers[present], radices)
        else:
            unique, v, p = _group([columns[a] for a in subset], visitors, purchasers, radices)
        parts.append((s, unique, v, p))
        if progress is not None and (s + 1) % step == 0:
            progress(CUBE_SHARE + (1 - CUBE_SHARE) * 0.95 * (s + 1) / len(subsets))
    return parts


def _listed(codes, visitors, purchasers, subsets, vocab):
    """A combos file whose rows name only some attributes: each row is the combo it names."""
    index = {subset: s for s, subset in enumerate(subsets)}
    pattern = [tuple(int(a) for a in np.flatnonzero(row >= 0)) for row in codes]
    parts = []
    for subset, s in index.items():
        rows = np.fromiter((pat == subset for pat in pattern), bool, len(pattern))
        if not rows.any():
            continue
        radices = [max(1, len(vocab[a])) for a in subset]
        chosen = codes[rows]
        unique, v, p = _group([chosen[:, a] for a in subset], visitors[rows], purchasers[rows], radices)
        parts.append((s, unique, v, p))
    return parts


def _rank(settings: ComboSettings, parts, subsets, *, cube, inconsistent, listed_vocab) -> ComboResult:
    width = settings.max_size
    ids, codes, vs, ps = [], [], [], []
    for s, unique, v, p in parts:
        with np.errstate(divide="ignore", invalid="ignore"):
            conversion = np.where(v > 0, p / np.maximum(v, 1), 0.0)
        keep = (v > 0) & (p >= settings.min_purchasers) & (conversion >= settings.min_conversion)
        if not keep.any():
            continue
        padded = np.full((int(keep.sum()), width), -1, np.int64)
        padded[:, : unique.shape[1]] = unique[keep]
        ids.append(np.full(int(keep.sum()), s, np.int64))
        codes.append(padded)
        vs.append(v[keep])
        ps.append(p[keep])
    if ids:
        subset_ids, all_codes = np.concatenate(ids), np.concatenate(codes)
        visitors, purchasers = np.concatenate(vs), np.concatenate(ps)
        conversion = purchasers / visitors
        # np.lexsort: the last key is the primary one.
        keys = [all_codes[:, j] for j in reversed(range(width))] + [subset_ids, -purchasers, -conversion]
        order = np.lexsort(keys)
        subset_ids, all_codes = subset_ids[order], all_codes[order]
        visitors, purchasers = visitors[order], purchasers[order]
    else:
        subset_ids = np.zeros(0, np.int64)
        all_codes = np.zeros((0, width), np.int64)
        visitors = purchasers = np.zeros(0, np.int64)
    return ComboResult(
        settings=settings,
        subset_ids=subset_ids,
        codes=all_codes,
        visitors=visitors,
        purchasers=purchasers,
        cube=cube,
        inconsistent_rows=inconsistent,
        listed_vocab=listed_vocab,
        _subsets=subsets,
    )


def _cache_args(
    source: Source, settings: ComboSettings, workspace_id: int, filters: FilterSet, buyers: Source | None = None
) -> dict:
    for name in settings.attributes:
        source.column(name)  # unknown attributes fail before the cache is consulted
    fingerprints = [source.fingerprint()]
    payload = {"settings": settings.canonical(), "filters": filters.canonical(source)}
    if buyers is not None:
        fingerprints.append(buyers.fingerprint())
        payload["match"] = True
    return {"workspace_id": workspace_id, "fingerprints": fingerprints, "kind": "combos", "payload": payload}


def combos_cache_key(
    source: Source,
    settings: ComboSettings,
    *,
    workspace_id: int,
    filters: FilterSet | None = None,
    buyers: Source | None = None,
) -> str:
    """The cache key `top_combos` stores its result under (pages name their background job by it)."""
    return cache_key(**_cache_args(source, settings, workspace_id, filters or FilterSet(), buyers))


def top_combos_cached(
    source: Source,
    settings: ComboSettings,
    *,
    workspace_id: int,
    filters: FilterSet | None = None,
    buyers: Source | None = None,
    cache: ResultCache | None = None,
) -> ComboResult | None:
    """The cached result of `top_combos` for these arguments, or None (never computes)."""
    cache = default_cache() if cache is None else cache
    key = combos_cache_key(source, settings, workspace_id=workspace_id, filters=filters, buyers=buyers)
    hit = cache.get(key, _NOT_CACHED)
    return None if hit is _NOT_CACHED else hit


def top_combos(
    source: Source,
    settings: ComboSettings,
    *,
    workspace_id: int,
    filters: FilterSet | None = None,
    buyers: Source | None = None,
    cache: ResultCache | None = None,
    progress=None,
) -> ComboResult:
    """`compute_combos`, cached per (workspace, source files [+ buyers files], settings, filters)."""
    filters = filters or FilterSet()
    return cached(
        cache=cache,
        **_cache_args(source, settings, workspace_id, filters, buyers),
        compute=lambda: compute_combos(source, settings, filters=filters, buyers=buyers, progress=progress),
    )


def cube_size_hint(settings: ComboSettings) -> int:
    """How many attribute subsets the settings ask for (pages use it to decide on a background job)."""
    n = len(settings.attributes)
    return sum(math.comb(n, k) for k in range(settings.min_size, settings.max_size + 1))
