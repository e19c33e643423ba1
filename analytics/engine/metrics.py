"""KPI metrics, exactly as DESIGN.md §6 defines them, computed in DuckDB over every row.

Every KPI carries its definition text (the "how is this computed" line) and, when an input is
missing, a `missing` message naming it instead of a value. Nothing is ever estimated.

Choices the design leaves open, made here and repeated in the definitions:
- an order is an order id (rows sharing one are one order); without an order id column, a row;
  rows whose order id is empty count as one order each;
- refund amounts count by magnitude (a file may write them as negatives); a boolean refund flag
  refunds the row's whole revenue; without a refund column nothing is subtracted (and the
  net revenue KPI says so in `note`);
- the LTV cut-off uses the dataset's last order date over all rows (not only the filtered ones):
  the data's end is a property of the file, not of the segment being looked at;
- splits and "top" values count records (rows).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal

from .cache import KEY_PREFIX, PRECOMPUTED_TIMEOUT, NullCache, ResultCache, cached, default_cache
from .filters import FilterSet
from .query import counts_query, execute_many
from .schema import BOOLEAN, TEXT, Column, Source, connection

LTV_DAYS = 90

# --- missing-input messages (pages show them in place of the number) ----------------------------
NEEDS_REVENUE = "needs a revenue column"
NEEDS_NUMERIC_REVENUE = "needs a numeric revenue column"
NEEDS_REFUND = "needs a refund column"
NEEDS_BUYER_KEY = "needs a buyer key column"
NEEDS_VISITOR_KEY = "needs a visitor key column"
NEEDS_ORDER_DATE = "needs an order date column"
NEEDS_SPEND = "needs spend data"
NEEDS_VISITORS = "needs visitor data"
NEEDS_CONVERSION_INPUT = "needs a converted flag in the visitor data, or buyer and visitor keys to match"
NEEDS_COMPATIBLE_KEYS = "needs buyer and visitor keys of the same kind (email, hashed email, phone or id)"
NEEDS_MATCHING_KEYS = "needs buyers that match visitors: no buyer key was found among the visitor keys (match rate 0%)"
NEEDS_LTV_COHORT = "needs buyers whose first order is at least 90 days before the last order date"
NEEDS_ORDERS = "needs at least one order"
NEEDS_ROWS = "needs at least one row"
NEEDS_POSITIVE_ORDERS = "needs at least one order with revenue > 0"
NEEDS_NEW_CUSTOMERS = "needs at least one new customer"
NEEDS_FIELD = "needs a {label} column"

NOTE_NO_REFUND_COLUMN = "no refund column: nothing subtracted"

# --- definitions (shown next to each KPI) --------------------------------------------------------
DEFINITIONS = {
    "revenue": "Gross revenue: the sum of the revenue column over all orders shown.",
    "refunds": "Refunds: the sum of refund amounts (by magnitude); a refund flag refunds the order's revenue.",
    "net_revenue": "Net revenue = gross revenue - refunds.",
    "orders": "Orders: distinct order ids (without an order id column, each row is an order).",
    "aov": "AOV = gross revenue / number of orders with revenue > 0.",
    "buyers": "Buyers: distinct buyer keys.",
    "buyer_records": "Buyer records: rows in the data shown.",
    "repeat_buyer_rate": "Repeat buyer rate = buyers with ≥ 2 orders / buyers.",
    "ltv_90": (
        "90-day LTV: mean net revenue per buyer over the orders dated from the buyer's first order up to, "
        "but not including, first order + 90 days (days 0-89), over buyers whose first order is on or "
        "before the dataset's last order date - 90 days."
    ),
    "conversion_rate_flag": (
        "Conversion rate = converted visitor rows / visitor rows (the visitors file's converted flag)."
    ),
    "conversion_rate_match": (
        "Conversion rate = visitors matched to a buyer / visitors, matching normalised keys "
        "(email: trimmed, lower-case; phone: digits only; hashed email; visitor id)."
    ),
    "cac": (
        "CAC = spend / new customers; new customers are buyers whose first order in the dataset is among the "
        "orders shown."
    ),
    "visitors_total": "Visitors: rows in the visitors data shown.",
    "visitors_unique": "Unique visitors: distinct visitor keys.",
    "repeat_visitor_rate": "Repeat visitor rate = visitor keys seen on ≥ 2 rows / distinct visitor keys.",
    "new_vs_returning_column": "Returning share = rows marked returning / rows with a new/returning value.",
    "new_vs_returning_key": (
        "Returning share = visits after each visitor key's first / visits with a visitor key "
        "(no date column: each key's first row in the data shown is new, its other rows returning)."
    ),
    "new_vs_returning_first_date": (
        "Returning share = returning visits / visits with a visitor key and a date. A visitor key's first "
        "visit date is its earliest date over all rows of the dataset version, not only the rows shown; "
        "every visit on that date is new, every later visit returning. So filtering to a later period "
        "shows visitors first seen before it as returning."
    ),
    "gender_split": "Gender split: share of records per gender value (missing values left out).",
    "top_state": "Top state: the state with the most records.",
    "top_income_range": "Top income range: the income range with the most records.",
    "top_age_range": "Most common age range: the age range with the most records.",
}


@dataclass(frozen=True)
class KPI:
    key: str
    label: str
    value: object
    unit: str  # money | count | rate | text | split
    definition: str
    missing: str | None = None
    detail: dict = field(default_factory=dict)

    @property
    def state(self) -> str:
        return "missing" if self.missing else "ok"

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "definition": self.definition,
            "state": self.state,
            "missing": self.missing,
            "detail": self.detail,
        }


def _missing(key: str, label: str, unit: str, reason: str, definition: str | None = None, **detail) -> KPI:
    return KPI(key, label, None, unit, definition or DEFINITIONS[key], missing=reason, detail=detail)


@dataclass(frozen=True)
class Report:
    kpis: tuple[KPI, ...]

    def __getitem__(self, key: str) -> KPI:
        return next(k for k in self.kpis if k.key == key)

    def keys(self) -> list[str]:
        return [k.key for k in self.kpis]

    def to_dict(self) -> dict:
        return {"kpis": [k.to_dict() for k in self.kpis]}


# --- SQL helpers ---------------------------------------------------------------------------------
def _number(value) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal) else value


def _rows(sql: str, params: list) -> list[tuple]:
    return connection().execute(sql, params).fetchall()


def _base(source: Source, filters: FilterSet, exprs: dict[str, str], *, filtered: bool = True) -> tuple[str, list]:
    """`SELECT <expr> AS <alias>, ... FROM <source> WHERE <filters>`; exprs are built here from
    column aliases and our own constants only."""
    relation, params = source.relation()
    where, where_params = filters.compile(source) if filtered else ("TRUE", [])
    select = ", ".join(f"{expr} AS {alias}" for alias, expr in exprs.items())
    return f"SELECT {select} FROM {relation} WHERE {where}", params + where_params  # noqa: S608 - internal aliases


def _numeric(column: Column | None) -> bool:
    return column is not None and column.is_numeric


def _refund_expr(refund: Column | None, revenue_expr: str) -> str | None:
    if refund is None:
        return None
    if refund.is_numeric:
        return f"abs({refund.ref})"
    if refund.type == BOOLEAN:
        return f"CASE WHEN {refund.ref} THEN coalesce({revenue_expr}, 0) ELSE 0 END"
    return None


def _key_expr(column: Column | None, source: Source) -> str:
    """A key column as text, empty = missing. Ingestion already trims text cells, so text keys are
    used as stored (no per-row string work on the hot path); other types are cast and trimmed.

    A text column without a single empty value (ingestion turns empty cells into nulls) is used as
    it is: `nullif` on every row of a 10M-row key column costs a fifth of a second."""
    if column is None:
        return "CAST(NULL AS VARCHAR)"
    if column.type == TEXT:
        return f"nullif({column.ref}, '')" if _has_empty_text(source, column) else column.ref
    return f"nullif(trim(CAST({column.ref} AS VARCHAR)), '')"


_empty_text: dict[str, bool] = {}


def _has_empty_text(source: Source, column: Column) -> bool:
    """Whether any row of the file holds '' in `column`. Near free: the Parquet min/max statistics
    rule out every row group whose smallest value is not ''. Memoised per file (immutable)."""
    key = unique_memo_key(source, column)
    if key not in _empty_text:
        relation, params = source.relation()
        sql = f"SELECT EXISTS (SELECT 1 FROM {relation} WHERE {column.ref} = '')"  # noqa: S608 - internal alias
        if len(_empty_text) > 4096:
            _empty_text.clear()
        _empty_text[key] = bool(_rows(sql, params)[0][0])
    return _empty_text[key]


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


# --- categorical splits --------------------------------------------------------------------------
def value_counts(source: Source, column: Column, filters: FilterSet) -> list[tuple[object, int]]:
    """(value, rows) for every non-missing value, most frequent first, ties by value."""
    base, params = _base(source, filters, {"v": column.ref})
    sql = f"SELECT v, count(*) AS n FROM ({base}) WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v ASC"  # noqa: S608
    return _rows(sql, params)


def value_counts_many(
    source: Source,
    columns: list[Column],
    filters: FilterSet,
    *,
    workspace_id: int | None = None,
    cache: ResultCache | None = None,
) -> dict[int, list[tuple[object, int]]]:
    """`value_counts` of several columns in one scan (`execute_many`), keyed by column index. With a
    workspace id they go through the result cache as the charts' own `counts_query` (a dashboard
    page computes them once); without one nothing is cached."""
    columns = list({c.index: c for c in columns}.values())
    if workspace_id is None:
        workspace_id, cache = 0, NullCache()  # nothing is stored, so no entry can be shared
    queries = [counts_query(source, c.name, filters=filters) for c in columns]
    results = execute_many(queries, workspace_id=workspace_id, cache=cache)
    return {c.index: [(v, n) for v, n in r.rows if v is not None] for c, r in zip(columns, results, strict=True)}


def _prefetch_counts(
    source: Source,
    filters: FilterSet,
    field_names: tuple[str, ...],
    *,
    workspace_id: int | None = None,
    cache: ResultCache | None = None,
) -> dict[int, list]:
    """`value_counts_many` of the fields the dataset has."""
    columns = [c for f in field_names if (c := source.by_field(f)) is not None]
    return value_counts_many(source, columns, filters, workspace_id=workspace_id, cache=cache)


# The buyers KPIs' categorical counts (gender split, top state, income and age range).
KPI_COUNT_FIELDS = ("gender", "state", "income_range", "age_range")


def _split_kpi(
    source: Source, filters: FilterSet, field_name: str, key: str, label: str, *, prefetched: dict | None = None
) -> KPI:
    column = source.by_field(field_name)
    if column is None:
        return _missing(key, label, "split", NEEDS_FIELD.format(label=field_name.replace("_", " ")))
    counts = (prefetched or {}).get(column.index)
    counts = value_counts(source, column, filters) if counts is None else counts
    total = sum(n for _, n in counts)
    split = [{"value": v, "count": n, "share": n / total} for v, n in counts]
    return KPI(key, label, split, "split", DEFINITIONS[key], detail={"records": total})


def _top_kpi(
    source: Source, filters: FilterSet, field_name: str, key: str, label: str, *, prefetched: dict | None = None
) -> KPI:
    column = source.by_field(field_name)
    if column is None:
        return _missing(key, label, "text", NEEDS_FIELD.format(label=field_name.replace("_", " ")))
    counts = (prefetched or {}).get(column.index)
    counts = value_counts(source, column, filters) if counts is None else counts
    if not counts:
        return _missing(key, label, "text", NEEDS_ROWS)
    total = sum(n for _, n in counts)
    value, n = counts[0]
    return KPI(key, label, value, "text", DEFINITIONS[key], detail={"count": n, "share": n / total})


# --- buyers --------------------------------------------------------------------------------------
def buyers_kpis(
    buyers: Source,
    *,
    filters: FilterSet | None = None,
    visitors: Source | None = None,
    visitor_filters: FilterSet | None = None,
    spend: float | Decimal | Source | None = None,
    spend_filters: FilterSet | None = None,
    workspace_id: int | None = None,
    cache: ResultCache | None = None,
) -> Report:
    """Every buyers-dashboard KPI, revenue ones and no-revenue ones (the page picks which to show).

    With a workspace id, the categorical counts go through the result cache (`_prefetch_counts`)."""
    filters = filters or FilterSet()
    f = _buyer_fields(buyers)
    revenue_expr = f["revenue"].ref if _numeric(f["revenue"]) else "CAST(NULL AS DOUBLE)"
    refund_expr = _refund_expr(f["refund"], revenue_expr)
    exprs = {
        "k": _key_expr(f["buyer_key"], buyers),
        "o": _key_expr(f["order_id"], buyers),
        "r": revenue_expr,
        "f": refund_expr or "0",
    }
    base, params = _base(buyers, filters, exprs)
    revenue_missing = _revenue_missing(f["revenue"])
    one_row_orders = f["order_id"] is None or order_ids_unique(buyers, f["order_id"])
    ltv_missing, ltv_inputs = _ltv_setup(buyers, f, revenue_missing)
    ltv = ltv_missing
    if one_row_orders and ltv_missing is None:
        # Each row is its own order, and the LTV is computable: one group-by over the buyer keys
        # serves both the repeat-buyer counts and the LTV cohort (each buyer's first order date).
        base, params = _base(buyers, filters, {**exprs, "d": ltv_inputs["d"], "net": ltv_inputs["net"]})
        cutoff = ltv_inputs["cutoff"]
        sql = f"""
            WITH b AS ({base}),
            pk AS MATERIALIZED (SELECT k, count(*) AS n, min(d) AS f0 FROM b WHERE k IS NOT NULL GROUP BY k),
            tot AS (SELECT count(*) AS n, sum(r) AS r, sum(f) AS f, count(*) FILTER (WHERE r > 0) AS pos FROM b),
            w AS (SELECT sum(b.net) FILTER (WHERE b.d >= c.f0 AND b.d < c.f0 + {LTV_DAYS}) AS v
                  FROM pk c JOIN b ON b.k = c.k WHERE c.f0 <= ?)
            SELECT tot.n, tot.r, tot.f, tot.n, tot.pos, (SELECT count(*) FROM pk),
                   (SELECT count(*) FROM pk WHERE n >= 2), (SELECT count(*) FROM pk WHERE f0 <= ?), w.v
            FROM tot, w
        """  # noqa: S608 - built from internal aliases; LTV_DAYS is our constant
        *main, ltv_n, ltv_total = _rows(sql, [*params, cutoff, cutoff])[0]
        records, gross, refunds, orders, positive_orders, n_buyers, repeat = main
        ltv = _ltv_result(ltv_n, ltv_total, last=ltv_inputs["last"], cutoff=cutoff)
    else:
        if one_row_orders:
            # Each row is its own order: no group-by over order ids (the costly part on big files).
            sql = f"""
                WITH b AS ({base}),
                tot AS (SELECT count(*) AS n, sum(r) AS r, sum(f) AS f, count(*) FILTER (WHERE r > 0) AS pos FROM b),
                pb AS (SELECT count(*) AS n, count(*) FILTER (WHERE n >= 2) AS rep
                       FROM (SELECT count(*) AS n FROM b WHERE k IS NOT NULL GROUP BY k))
                SELECT tot.n, tot.r, tot.f, tot.n, tot.pos, pb.n, pb.rep FROM tot, pb
            """  # noqa: S608 - built from internal aliases
        else:
            sql = f"""
                WITH b AS ({base}),
                per_order AS (SELECT sum(r) AS r FROM b WHERE o IS NOT NULL GROUP BY o),
                per_buyer AS (SELECT count(DISTINCT o) + count(*) FILTER (WHERE o IS NULL) AS n
                              FROM b WHERE k IS NOT NULL GROUP BY k)
                SELECT (SELECT count(*) FROM b),
                       (SELECT sum(r) FROM b),
                       (SELECT sum(f) FROM b),
                       (SELECT count(*) FROM per_order) + (SELECT count(*) FROM b WHERE o IS NULL),
                       (SELECT count(*) FROM per_order WHERE r > 0)
                           + (SELECT count(*) FROM b WHERE o IS NULL AND r > 0),
                       (SELECT count(*) FROM per_buyer),
                       (SELECT count(*) FROM per_buyer WHERE n >= 2)
            """  # noqa: S608 - built from internal aliases
        records, gross, refunds, orders, positive_orders, n_buyers, repeat = _rows(sql, params)[0]
        if ltv is None:  # computable, but not folded into the query above
            ltv = ltv_kpi(buyers, filters=filters, revenue_missing=revenue_missing)
    kpis = _revenue_kpis(
        gross=_number(gross),
        refunds=None if refund_expr is None else _number(refunds) or 0.0,
        orders=orders,
        positive_orders=positive_orders,
        revenue_missing=revenue_missing,
    )
    kpis.append(KPI("buyer_records", "Total buyers", records, "count", DEFINITIONS["buyer_records"]))
    kpis += _buyer_count_kpis(has_key=f["buyer_key"] is not None, buyers=n_buyers, repeat=repeat)
    kpis.append(ltv)
    kpis.append(cac_kpi(buyers, filters=filters, spend=spend, spend_filters=spend_filters))
    kpis.append(
        conversion_kpi(visitors, visitor_filters=visitor_filters, buyers=buyers, buyer_filters=filters)
        if visitors is not None
        else _missing("conversion_rate", "Conversion rate", "rate", NEEDS_VISITORS, DEFINITIONS["conversion_rate_flag"])
    )
    # The four categorical KPIs' counts in one scan.
    counts = _prefetch_counts(buyers, filters, KPI_COUNT_FIELDS, workspace_id=workspace_id, cache=cache)
    kpis.append(_split_kpi(buyers, filters, "gender", "gender_split", "Gender split", prefetched=counts))
    kpis.append(_top_kpi(buyers, filters, "state", "top_state", "Top state", prefetched=counts))
    kpis.append(_top_kpi(buyers, filters, "income_range", "top_income_range", "Top income range", prefetched=counts))
    kpis.append(_top_kpi(buyers, filters, "age_range", "top_age_range", "Most common age range", prefetched=counts))
    return Report(tuple(kpis))


def _revenue_missing(revenue: Column | None) -> str | None:
    if revenue is None:
        return NEEDS_REVENUE
    return None if revenue.is_numeric else NEEDS_NUMERIC_REVENUE


def _revenue_kpis(
    *, gross: float | None, refunds: float | None, orders: int, positive_orders: int, revenue_missing: str | None
) -> list[KPI]:
    """Revenue, refunds, net revenue, orders, AOV. `refunds` None = the data has no refund column."""
    if revenue_missing:
        return [
            _missing("revenue", "Revenue", "money", revenue_missing),
            _missing("refunds", "Refunds", "money", revenue_missing),
            _missing("net_revenue", "Net revenue", "money", revenue_missing),
            KPI("orders", "Orders", orders, "count", DEFINITIONS["orders"]),
            _missing("aov", "AOV", "money", revenue_missing),
        ]
    gross = gross or 0.0
    kpis = [KPI("revenue", "Revenue", gross, "money", DEFINITIONS["revenue"])]
    if refunds is None:
        kpis.append(_missing("refunds", "Refunds", "money", NEEDS_REFUND))
        note = {"note": NOTE_NO_REFUND_COLUMN}
        kpis.append(KPI("net_revenue", "Net revenue", gross, "money", DEFINITIONS["net_revenue"], detail=note))
    else:
        kpis.append(KPI("refunds", "Refunds", refunds, "money", DEFINITIONS["refunds"]))
        kpis.append(KPI("net_revenue", "Net revenue", gross - refunds, "money", DEFINITIONS["net_revenue"]))
    kpis.append(KPI("orders", "Orders", orders, "count", DEFINITIONS["orders"]))
    if not positive_orders:
        kpis.append(_missing("aov", "AOV", "money", NEEDS_POSITIVE_ORDERS))
    else:
        detail = {"orders_with_revenue": positive_orders}
        kpis.append(KPI("aov", "AOV", gross / positive_orders, "money", DEFINITIONS["aov"], detail=detail))
    return kpis


def _buyer_count_kpis(*, has_key: bool, buyers: int, repeat: int) -> list[KPI]:
    if not has_key:
        return [
            _missing("buyers", "Unique buyers", "count", NEEDS_BUYER_KEY),
            _missing("repeat_buyer_rate", "Repeat buyer rate", "rate", NEEDS_BUYER_KEY),
        ]
    unique = KPI("buyers", "Unique buyers", buyers, "count", DEFINITIONS["buyers"])
    if not buyers:
        return [unique, _missing("repeat_buyer_rate", "Repeat buyer rate", "rate", NEEDS_ORDERS)]
    detail = {"repeat_buyers": repeat, "buyers": buyers}
    rate = KPI(
        "repeat_buyer_rate",
        "Repeat buyer rate",
        repeat / buyers,
        "rate",
        DEFINITIONS["repeat_buyer_rate"],
        detail=detail,
    )
    return [unique, rate]


_unique_order_ids: dict[str, bool] = {}


def unique_memo_key(source: Source, column: Column) -> str:
    return f"{source.fingerprint()}:{column.index}"


def keys_unique(source: Source, column: Column) -> bool:
    """Whether no two rows of the whole file share a value of `column` (a key): the same exact,
    memoised test as `order_ids_unique`. Then every filtered subset has one row per key too."""
    return order_ids_unique(source, column)


def order_ids_unique(source: Source, column: Column) -> bool:
    """Whether no two rows of the whole file share an order id (then any filtered subset is an
    order per row too). Exact: equal ids hash equally, so as many distinct hashes as ids proves
    the ids distinct; fewer (a duplicate, or a hash collision) means the general path.

    A scan of the whole key column (about 2 s at 10M rows), so the answer is kept per file
    fingerprint (versions are immutable): in this process, and in the shared cache so that every
    web process reads what the publish-time precomputation worked out once."""
    key = unique_memo_key(source, column)
    if key not in _unique_order_ids:
        shared = default_cache()
        fact_key = _fact_key(key, "unique")
        known = shared.get(fact_key)
        if known is None:
            base, params = _base(source, FilterSet(), {"o": _key_expr(column, source)}, filtered=False)
            sql = f"SELECT count(DISTINCT hash(o)) = count(o) FROM ({base}) WHERE o IS NOT NULL"  # noqa: S608
            known = bool(_rows(sql, params)[0][0])
            shared.set(fact_key, known, PRECOMPUTED_TIMEOUT)
        if len(_unique_order_ids) > 1024:
            _unique_order_ids.clear()
        _unique_order_ids[key] = known
    return _unique_order_ids[key]


def _fact_key(memo_key: str, fact: str) -> str:
    """The shared-cache key of a fact about one column of one file. The fingerprint holds the
    version id and the file's path, so two workspaces never share an entry (T-IDOR-09)."""
    return f"{KEY_PREFIX}:fact:{fact}:{hashlib.sha256(memo_key.encode()).hexdigest()}"


def forget_facts(source: Source, column: Column) -> None:
    """Drop what is remembered about `column` (benchmarks measure the first computation)."""
    key = unique_memo_key(source, column)
    _unique_order_ids.pop(key, None)
    _empty_text.pop(key, None)
    default_cache().set(_fact_key(key, "unique"), None, 1)


def _buyer_fields(source: Source) -> dict[str, Column | None]:
    return {name: source.by_field(name) for name in ("buyer_key", "order_id", "order_date", "revenue", "refund")}


def _ltv_setup(buyers: Source, f: dict, revenue_missing: str | None) -> tuple[KPI | None, dict]:
    """The LTV's missing-input KPI, or None and its inputs: the date and net expressions, the
    dataset's last order date (over all rows) and the cohort cut-off."""
    label = "90-day LTV"
    if revenue_missing or f["revenue"] is None:
        return _missing("ltv_90", label, "money", revenue_missing or NEEDS_REVENUE), {}
    if f["buyer_key"] is None:
        return _missing("ltv_90", label, "money", NEEDS_BUYER_KEY), {}
    if f["order_date"] is None:
        return _missing("ltv_90", label, "money", NEEDS_ORDER_DATE), {}
    date_expr = f"CAST({f['order_date'].ref} AS DATE)"
    everything, all_params = _base(buyers, FilterSet(), {"d": date_expr}, filtered=False)
    last = _rows(f"SELECT max(d) FROM ({everything})", all_params)[0][0]  # noqa: S608
    if last is None:
        return _missing("ltv_90", label, "money", NEEDS_ORDER_DATE), {}
    revenue = f["revenue"].ref
    refund = _refund_expr(f["refund"], revenue) or "0"
    return None, {
        "d": date_expr,
        "net": f"coalesce({revenue}, 0) - ({refund})",
        "last": last,
        "cutoff": last - dt.timedelta(days=LTV_DAYS),
    }


def _ltv_result(n: int, window_total, *, last: dt.date, cutoff: dt.date) -> KPI:
    """The LTV from the cohort size and the sum of its buyers' net amounts inside their windows.

    The mean of the per-buyer sums is that total / the number of cohort buyers (a buyer whose
    window holds no net amount adds 0), so no second group-by per buyer is needed."""
    detail = {"buyers": n, "last_order_date": last.isoformat(), "cohort_first_order_on_or_before": cutoff.isoformat()}
    if not n:
        return _missing("ltv_90", "90-day LTV", "money", NEEDS_LTV_COHORT, **detail)
    # A decimal sum is exact: divide it before the one rounding to float.
    mean = float(window_total / n) if isinstance(window_total, Decimal) else (window_total or 0.0) / n
    return KPI("ltv_90", "90-day LTV", mean, "money", DEFINITIONS["ltv_90"], detail=detail)


def ltv_kpi(buyers: Source, *, filters: FilterSet, revenue_missing: str | None = None) -> KPI:
    f = _buyer_fields(buyers)
    missing, inputs = _ltv_setup(buyers, f, revenue_missing)
    if missing is not None:
        return missing
    exprs = {"k": _key_expr(f["buyer_key"], buyers), "d": inputs["d"], "net": inputs["net"]}
    base, params = _base(buyers, filters, exprs)
    sql = f"""
        WITH b AS ({base}),
        firsts AS (SELECT k, min(d) AS f0 FROM b WHERE k IS NOT NULL AND d IS NOT NULL GROUP BY k),
        cohort AS (SELECT k, f0 FROM firsts WHERE f0 <= ?)
        SELECT (SELECT count(*) FROM cohort),
               sum(b.net) FILTER (WHERE b.d >= c.f0 AND b.d < c.f0 + {LTV_DAYS})
        FROM cohort c JOIN b ON b.k = c.k
    """  # noqa: S608 - internal aliases; LTV_DAYS is our constant
    n, window_total = _rows(sql, [*params, inputs["cutoff"]])[0]
    return _ltv_result(n, window_total, last=inputs["last"], cutoff=inputs["cutoff"])


def cac_kpi(
    buyers: Source,
    *,
    filters: FilterSet,
    spend: float | Decimal | Source | None,
    spend_filters: FilterSet | None = None,
) -> KPI:
    label = "CAC"
    total_spend = spend_total(spend, filters=spend_filters)
    if total_spend is None:
        return _missing("cac", label, "money", NEEDS_SPEND)
    f = _buyer_fields(buyers)
    if f["buyer_key"] is None:
        return _missing("cac", label, "money", NEEDS_BUYER_KEY)
    key = _key_expr(f["buyer_key"], buyers)
    if f["order_date"] is None:
        # Without dates every buyer shown is new to the data shown.
        base, params = _base(buyers, filters, {"k": key})
        new = _rows(f"SELECT count(DISTINCT k) FROM ({base})", params)[0][0]  # noqa: S608
    else:
        date = f"CAST({f['order_date'].ref} AS DATE)"
        shown, p1 = _base(buyers, filters, {"k": key, "d": date})
        everything, p2 = _base(buyers, FilterSet(), {"k": key, "d": date}, filtered=False)
        sql = f"""
            WITH shown AS (SELECT k, min(d) AS f FROM ({shown}) WHERE k IS NOT NULL GROUP BY k),
            firsts AS (SELECT k, min(d) AS f0 FROM ({everything}) WHERE k IS NOT NULL GROUP BY k)
            SELECT count(*) FROM shown JOIN firsts USING (k) WHERE shown.f IS NOT DISTINCT FROM firsts.f0
        """  # noqa: S608 - internal aliases
        new = _rows(sql, p1 + p2)[0][0]
    detail = {"spend": total_spend, "new_customers": new}
    if not new:
        return _missing("cac", label, "money", NEEDS_NEW_CUSTOMERS, **detail)
    return KPI("cac", label, total_spend / new, "money", DEFINITIONS["cac"], detail=detail)


SPEND_NAMES = ("spend", "ad spend", "ad_spend", "marketing spend", "media spend", "cost", "ad cost", "amount spent")


def spend_total(spend: float | Decimal | Source | None, *, filters: FilterSet | None = None) -> float | None:
    """Total spend: a number given by the caller, or the sum of a spend source's spend column."""
    if spend is None:
        return None
    if isinstance(spend, (int, float, Decimal)) and not isinstance(spend, bool):
        return float(spend)
    column = spend.by_field("spend") or next(
        (c for c in spend.columns if c.is_numeric and c.name.strip().lower() in SPEND_NAMES), None
    )
    if column is None or not column.is_numeric:
        return None
    base, params = _base(spend, filters or FilterSet(), {"s": column.ref})
    value, rows = _rows(f"SELECT sum(s), count(s) FROM ({base})", params)[0]  # noqa: S608
    return _number(value) if rows else None


# --- conversion and key matching -------------------------------------------------------------------
EMAIL = "email"
HASHED_EMAIL = "hashed_email"
PHONE = "phone"
ID = "id"
KEY_KINDS = (EMAIL, HASHED_EMAIL, PHONE, ID)
_RE_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_RE_HASH = re.compile(r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{64})$")
_RE_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,24}$")
KEY_SAMPLE = 2000
KEY_KIND_SHARE = 0.8
# SQL normalisers (constants): {} is the column alias.
# Trimming strips any whitespace (tabs, newlines, NBSP), not only spaces as trim() does.
_TRIMMED = r"regexp_replace(CAST({} AS VARCHAR), '^[\s\x{{a0}}]+|[\s\x{{a0}}]+$', '', 'g')"
KEY_NORMALISERS = {
    EMAIL: f"nullif(lower({_TRIMMED}), '')",
    HASHED_EMAIL: f"nullif(lower({_TRIMMED}), '')",
    PHONE: "nullif(regexp_replace(CAST({} AS VARCHAR), '[^0-9]', '', 'g'), '')",
    ID: f"nullif({_TRIMMED}, '')",
}


def key_kind(source: Source, column: Column) -> str:
    """What a key column holds, from a sample of its values (detection only; metrics use all rows)."""
    relation, params = source.relation()
    sql = f"SELECT CAST({column.ref} AS VARCHAR) FROM {relation} WHERE {column.ref} IS NOT NULL LIMIT ?"  # noqa: S608
    values = [v.strip() for (v,) in _rows(sql, [*params, KEY_SAMPLE]) if v and v.strip()]
    if not values:
        return ID
    for kind, pattern in ((EMAIL, _RE_EMAIL), (HASHED_EMAIL, _RE_HASH)):
        if sum(bool(pattern.match(v)) for v in values) >= KEY_KIND_SHARE * len(values):
            return kind
    phone_like = sum(bool(_RE_PHONE.match(v)) and sum(ch.isdigit() for ch in v) >= 7 for v in values)
    if phone_like >= KEY_KIND_SHARE * len(values) and column.type == TEXT:
        return PHONE
    return ID


def _hash_length(source: Source, column: Column) -> int:
    relation, params = source.relation()
    sql = f"SELECT length(trim(CAST({column.ref} AS VARCHAR))) FROM {relation} WHERE {column.ref} IS NOT NULL LIMIT 1"  # noqa: S608
    rows = _rows(sql, params)
    return rows[0][0] if rows else 64


def _match_exprs(visitors: Source, vcol: Column, buyers: Source, bcol: Column) -> tuple[str, str, str] | None:
    """(visitor expr, buyer expr, method) normalising both keys to one comparable form."""
    vkind, bkind = key_kind(visitors, vcol), key_kind(buyers, bcol)
    if vkind == bkind:
        norm = KEY_NORMALISERS[vkind]
        return norm.format(vcol.ref), norm.format(bcol.ref), vkind
    kinds = {vkind, bkind}
    if kinds == {EMAIL, HASHED_EMAIL}:
        # Hash the plain side's normalised email the way the other side was hashed (md5 or sha256).
        hashed, hashed_col = (visitors, vcol) if vkind == HASHED_EMAIL else (buyers, bcol)
        fn = "md5" if _hash_length(hashed, hashed_col) == 32 else "sha256"
        email = KEY_NORMALISERS[EMAIL]
        hashed_norm = KEY_NORMALISERS[HASHED_EMAIL]
        v = hashed_norm.format(vcol.ref) if vkind == HASHED_EMAIL else f"{fn}({email.format(vcol.ref)})"
        b = hashed_norm.format(bcol.ref) if bkind == HASHED_EMAIL else f"{fn}({email.format(bcol.ref)})"
        return v, b, f"{EMAIL}+{HASHED_EMAIL}"
    return None


def conversion_kpi(
    visitors: Source | None,
    *,
    visitor_filters: FilterSet | None = None,
    buyers: Source | None = None,
    buyer_filters: FilterSet | None = None,
    flag_counts: tuple[int, int] | None = None,
) -> KPI:
    """Matched buyers / visitors when both sides have keys; else the visitors file's converted flag.

    `flag_counts`: (rows, converted rows) under `visitor_filters`, when the caller already has them."""
    label = "Conversion rate"
    if visitors is None:
        return _missing("conversion_rate", label, "rate", NEEDS_VISITORS, DEFINITIONS["conversion_rate_flag"])
    visitor_filters = visitor_filters or FilterSet()
    vkey = visitors.by_field("visitor_key")
    bkey = buyers.by_field("buyer_key") if buyers is not None else None
    if vkey is not None and bkey is not None:
        exprs = _match_exprs(visitors, vkey, buyers, bkey)
        if exprs is None:
            return _missing(
                "conversion_rate", label, "rate", NEEDS_COMPATIBLE_KEYS, DEFINITIONS["conversion_rate_match"]
            )
        vexpr, bexpr, method = exprs
        vbase, vparams = _base(visitors, visitor_filters, {"k": vexpr})
        bbase, bparams = _base(buyers, buyer_filters or FilterSet(), {"k": bexpr})
        sql = f"""
            WITH v AS (SELECT DISTINCT k FROM ({vbase}) WHERE k IS NOT NULL),
            b AS (SELECT DISTINCT k FROM ({bbase}) WHERE k IS NOT NULL)
            SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM b), (SELECT count(*) FROM v JOIN b USING (k))
        """  # noqa: S608 - internal aliases and constant normalisers
        n_visitors, n_buyers, matched = _rows(sql, vparams + bparams)[0]
        detail = {
            "method": "match",
            "key_kind": method,
            "visitors": n_visitors,
            "buyers": n_buyers,
            "matched": matched,
            "match_rate": _rate(matched, n_buyers),
        }
        if not n_visitors:
            return _missing(
                "conversion_rate", label, "rate", NEEDS_ROWS, DEFINITIONS["conversion_rate_match"], **detail
            )
        if matched:
            return KPI(
                "conversion_rate",
                label,
                matched / n_visitors,
                "rate",
                DEFINITIONS["conversion_rate_match"],
                detail=detail,
            )
        # No buyer matched any visitor: the keys come from unrelated systems, so 0% would be a
        # made-up number. Use the visitors' own converted flag if there is one, else say so.
        converted = visitors.by_field("converted")
        if converted is None or converted.type != BOOLEAN:
            return _missing(
                "conversion_rate", label, "rate", NEEDS_MATCHING_KEYS, DEFINITIONS["conversion_rate_match"], **detail
            )
    converted = visitors.by_field("converted")
    if converted is None or converted.type != BOOLEAN:
        return _missing("conversion_rate", label, "rate", NEEDS_CONVERSION_INPUT, DEFINITIONS["conversion_rate_flag"])
    if flag_counts is None:
        base, params = _base(visitors, visitor_filters, {"c": converted.ref})
        flag_counts = _rows(f"SELECT count(*), count(*) FILTER (WHERE c) FROM ({base})", params)[0]  # noqa: S608
    rows, conv = flag_counts
    detail = {"method": "flag", "visitors": rows, "converted": conv}
    if not rows:
        return _missing("conversion_rate", label, "rate", NEEDS_ROWS, DEFINITIONS["conversion_rate_flag"], **detail)
    return KPI("conversion_rate", label, conv / rows, "rate", DEFINITIONS["conversion_rate_flag"], detail=detail)


# --- visitors --------------------------------------------------------------------------------------
RETURNING_WORDS = ("return", "repeat", "existing")


def _visitor_scan(visitors: Source, filters: FilterSet, key: Column | None) -> dict:
    """One filtered scan for the visitors KPIs: rows, rows with a key, converted rows, and the
    new/returning and gender value counts (GROUPING SETS: the grand total plus one set per column)."""
    converted = visitors.by_field("converted")
    flag = converted is not None and converted.type == BOOLEAN
    columns = [c for f in ("new_returning", "gender") if (c := visitors.by_field(f)) is not None]
    columns = list({c.index: c for c in columns}.values())
    exprs = {"k": _key_expr(key, visitors), "c": converted.ref if flag else "CAST(NULL AS BOOLEAN)"}
    exprs.update({f"v{i}": c.ref for i, c in enumerate(columns)})
    base, params = _base(visitors, filters, exprs)
    aliases = [f"v{i}" for i in range(len(columns))]
    flags = "".join(f"GROUPING({a}), " for a in aliases)
    values = "".join(f"{a}, " for a in aliases)
    sets = ", ".join(["()", *(f"({a})" for a in aliases)])
    sql = (
        f"SELECT {flags}{values}count(*), count(k), count(*) FILTER (WHERE c) FROM ({base}) "  # noqa: S608
        f"GROUP BY GROUPING SETS ({sets})"
    )
    width = len(aliases)
    out = {"total": 0, "keyed": 0, "converted": 0, "counts": {c.index: [] for c in columns}}
    for row in _rows(sql, params):
        n, keyed, conv = row[-3:]
        if all(row[:width]):  # the grand total
            out.update(total=n, keyed=keyed, converted=conv)
            continue
        position = row[:width].index(0)
        value = row[width + position]
        if value is not None:
            out["counts"][columns[position].index].append((value, n))
    for counts in out["counts"].values():
        counts.sort(key=lambda vn: (-vn[1], vn[0]))  # as value_counts: most rows first, ties by value
    out["flag_counts"] = (out["total"], out["converted"]) if flag else None
    return out


def visitors_kpis(visitors: Source, *, filters: FilterSet | None = None) -> Report:
    filters = filters or FilterSet()
    key = visitors.by_field("visitor_key")
    scan = _visitor_scan(visitors, filters, key)
    total, keyed = scan["total"], scan["keyed"]
    if key is None or keys_unique(visitors, key):
        # One row per key in the whole file (memoised per version): no group-by over the keys.
        unique, repeat = keyed, 0
    else:
        base, params = _base(visitors, filters, {"k": _key_expr(key, visitors)})
        sql = f"""
            SELECT count(*), count(*) FILTER (WHERE n >= 2)
            FROM (SELECT count(*) AS n FROM ({base}) WHERE k IS NOT NULL GROUP BY k)
        """  # noqa: S608 - internal aliases
        unique, repeat = _rows(sql, params)[0]
    return _visitors_report(visitors, filters, total=total, keyed=keyed, unique=unique, repeat=repeat, scan=scan)


def _visitors_report(
    visitors: Source, filters: FilterSet, *, total: int, keyed: int, unique: int, repeat: int, scan: dict
):
    key = visitors.by_field("visitor_key")
    kpis = [KPI("visitors_total", "Visitors", total, "count", DEFINITIONS["visitors_total"])]
    if key is None:
        kpis.append(_missing("visitors_unique", "Unique visitors", "count", NEEDS_VISITOR_KEY))
        kpis.append(_missing("repeat_visitor_rate", "Repeat visitor rate", "rate", NEEDS_VISITOR_KEY))
    else:
        kpis.append(KPI("visitors_unique", "Unique visitors", unique, "count", DEFINITIONS["visitors_unique"]))
        kpis.append(
            KPI(
                "repeat_visitor_rate",
                "Repeat visitor rate",
                _rate(repeat, unique),
                "rate",
                DEFINITIONS["repeat_visitor_rate"],
                missing=None if unique else NEEDS_ROWS,
                detail={"repeat_visitors": repeat, "visitors": unique},
            )
        )
    counts = scan["counts"]
    kpis.append(_new_vs_returning(visitors, filters, keyed=keyed, unique=unique, prefetched=counts))
    kpis.append(_split_kpi(visitors, filters, "gender", "gender_split", "Gender split", prefetched=counts))
    kpis.append(conversion_kpi(visitors, visitor_filters=filters, flag_counts=scan["flag_counts"]))
    return Report(tuple(kpis))


VISIT_KEY_FIELDS = ("visitor_key", "email")
VISIT_DATE_FIELDS = ("order_date", "event_date", "lead_date", "start_time")  # series.DATE_FIELDS order


def first_visit_inputs(source: Source) -> tuple[Column, Column] | None:
    """(visitor key, date) columns that classify visits as new or returning without a
    new/returning column; None when either is missing."""
    key = next((c for f in VISIT_KEY_FIELDS if (c := source.by_field(f)) is not None), None)
    date = next((c for f in VISIT_DATE_FIELDS if (c := source.by_field(f)) is not None and c.is_temporal), None)
    return None if key is None or date is None else (key, date)


def first_visit_sql(source: Source, filters: FilterSet, *, bucket: str | None = None) -> tuple[str, list]:
    """`SELECT [period,] new, returning` over the filtered visits with a key and a date.

    A key's first visit date is its earliest calendar day over ALL rows of the version (one
    group-by on the unfiltered file); a visit on that day is new, a later one returning.
    `bucket` (an allowlisted date_trunc part) groups by period, ordered by period.
    """
    inputs = first_visit_inputs(source)
    if inputs is None:
        raise ValueError("needs a visitor key and a date column")
    if bucket is not None and bucket not in ("day", "week", "month"):
        raise ValueError(f"unknown bucket {bucket!r}")
    key, date = inputs
    exprs = {"k": _key_expr(key, source), "d": f"CAST({date.ref} AS DATE)"}
    everything, all_params = _base(source, FilterSet(), exprs, filtered=False)
    shown, params = _base(source, filters, exprs)
    counts = "count(*) FILTER (WHERE v.d = f.f0) AS n_new, count(*) FILTER (WHERE v.d > f.f0) AS n_ret"
    period = f"CAST(date_trunc('{bucket}', v.d) AS DATE)" if bucket else None
    select = f"{period} AS p, {counts}" if period else counts
    sql = f"""
        WITH f AS (SELECT k, min(d) AS f0 FROM ({everything}) WHERE k IS NOT NULL AND d IS NOT NULL GROUP BY k)
        SELECT {select} FROM ({shown}) v JOIN f ON v.k = f.k WHERE v.d IS NOT NULL
    """  # noqa: S608 - internal aliases; `bucket` is checked against the engine's allowlist by callers
    if period:
        sql += " GROUP BY p ORDER BY p"
    return sql, all_params + params


def _new_vs_returning(
    visitors: Source, filters: FilterSet, *, keyed: int, unique: int, prefetched: dict | None = None
) -> KPI:
    label = "Returning visitors"
    column = visitors.by_field("new_returning")
    if column is not None:
        counts = (prefetched or {}).get(column.index)
        counts = value_counts(visitors, column, filters) if counts is None else counts
        returning = sum(n for v, n in counts if _is_returning(v))
        total = sum(n for _, n in counts)
        detail = {"method": "column", "new": total - returning, "returning": returning}
        if not total:
            return _missing(
                "new_vs_returning", label, "rate", NEEDS_ROWS, DEFINITIONS["new_vs_returning_column"], **detail
            )
        return KPI(
            "new_vs_returning", label, returning / total, "rate", DEFINITIONS["new_vs_returning_column"], detail=detail
        )
    if first_visit_inputs(visitors) is not None:
        sql, params = first_visit_sql(visitors, filters)
        new, returning = _rows(sql, params)[0]
        definition = DEFINITIONS["new_vs_returning_first_date"]
        detail = {"method": "first_visit_date", "new": new, "returning": returning}
        if not new + returning:
            return _missing("new_vs_returning", label, "rate", NEEDS_ROWS, definition, **detail)
        return KPI("new_vs_returning", label, returning / (new + returning), "rate", definition, detail=detail)
    if visitors.by_field("visitor_key") is None:
        return _missing(
            "new_vs_returning",
            label,
            "rate",
            "needs a new/returning column or a visitor key",
            DEFINITIONS["new_vs_returning_key"],
        )
    returning = keyed - unique
    detail = {"method": "key", "new": unique, "returning": returning}
    if not keyed:
        return _missing("new_vs_returning", label, "rate", NEEDS_ROWS, DEFINITIONS["new_vs_returning_key"], **detail)
    return KPI("new_vs_returning", label, returning / keyed, "rate", DEFINITIONS["new_vs_returning_key"], detail=detail)


def _is_returning(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return any(word in text for word in RETURNING_WORDS)


# --- cached dashboards -----------------------------------------------------------------------------
def _spend_fingerprint(spend) -> object:
    if spend is None or isinstance(spend, (int, float, Decimal)):
        return None if spend is None else str(spend)
    return spend.fingerprint()


def buyers_dashboard(
    buyers: Source,
    *,
    workspace_id: int,
    filters: FilterSet | None = None,
    visitors: Source | None = None,
    visitor_filters: FilterSet | None = None,
    spend: float | Decimal | Source | None = None,
    spend_filters: FilterSet | None = None,
    cache: ResultCache | None = None,
) -> Report:
    """`buyers_kpis`, cached per (workspace, every source's files, filters)."""
    filters = filters or FilterSet()
    visitor_filters = visitor_filters or FilterSet()
    payload = {
        "filters": filters.canonical(buyers),
        "visitors": visitors.fingerprint() if visitors is not None else None,
        "visitor_filters": visitor_filters.canonical(visitors) if visitors is not None else None,
        "spend": _spend_fingerprint(spend),
        "spend_filters": (spend_filters or FilterSet()).canonical(spend) if isinstance(spend, Source) else None,
    }
    return cached(
        cache=cache,
        workspace_id=workspace_id,
        fingerprints=[buyers.fingerprint()],
        kind="buyers_kpis",
        payload=payload,
        compute=lambda: buyers_kpis(
            buyers,
            filters=filters,
            visitors=visitors,
            visitor_filters=visitor_filters,
            spend=spend,
            spend_filters=spend_filters,
            workspace_id=workspace_id,
            cache=cache,
        ),
    )


def visitors_dashboard(
    visitors: Source, *, workspace_id: int, filters: FilterSet | None = None, cache: ResultCache | None = None
) -> Report:
    filters = filters or FilterSet()
    return cached(
        cache=cache,
        workspace_id=workspace_id,
        fingerprints=[visitors.fingerprint()],
        kind="visitors_kpis",
        payload={"filters": filters.canonical(visitors)},
        compute=lambda: visitors_kpis(visitors, filters=filters),
    )
