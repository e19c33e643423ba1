"""Column type inference and typed conversion, vectorised with Arrow compute.

Inference sees every value of the file (the loader feeds it each chunk while staging), so a type
never has to be guessed from a prefix. A candidate type survives only while *every* non-missing
value has its shape; the conversion then validates values (an impossible date such as
2023-02-30 has a date's shape but is invalid) and reports invalid cells to the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"
MONEY = "money"
PERCENT = "percent"
BOOLEAN = "boolean"
DATE = "date"
DATETIME = "datetime"
TYPES = (TEXT, INTEGER, DECIMAL, MONEY, PERCENT, BOOLEAN, DATE, DATETIME)

TRUE_WORDS = ("true", "yes", "y", "t", "1")
FALSE_WORDS = ("false", "no", "n", "f", "0")
NONFINITE_WORDS = ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")

RE_INT = r"^[+-]?\d+$"
RE_US = r"^[+-]?((\d{1,3}(,\d{3})+|\d+)(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
RE_EU = r"^[+-]?(\d{1,3}([. \x{00A0}]\d{3})+|\d+)(,\d+)?$"
RE_PCT = r"^[+-]?(\d+([.,]\d+)?|[.,]\d+)\s*%$"
RE_CURRENCY = r"[$€£¥]|\b(USD|EUR|GBP)\b"
RE_EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
RE_LEADING_ZERO = r"^[+-]?0\d"
# Names that make an integer column of 20000..80000 read as Excel serial dates (1954..2119).
DATE_NAME = re.compile(r"(date|(^|[^a-z])dt([^a-z]|$)|day|time|created|updated|joined|since|(_|\b)at$)", re.IGNORECASE)
EXCEL_EPOCH_OFFSET = 25569  # serial of 1970-01-01 (Excel's 1900 system, after its fake 1900-02-29)
EXCEL_SERIAL_RANGE = (20000, 80000)
PROBE = 256  # values tried before a whole chunk is matched against a shape
MAX_INT_DIGITS = 18

US = "us"  # 1,234.50
EU = "eu"  # 1.234,50


@dataclass(frozen=True)
class DateShape:
    """One written form of a date. Ambiguous forms have groups ``a`` and ``b`` (day/month in an
    order decided per column); the others name the day group ``d`` for the validity check."""

    key: str
    regex: str
    fmt: str  # Arrow strptime format; ambiguous ones hold {a} and {b}
    kind: str
    ambiguous: bool = False
    description: str = ""


def _date_shapes() -> tuple[DateShape, ...]:
    shapes = [
        DateShape("iso", r"^\d{4}-\d{1,2}-(?P<d>\d{1,2})$", "%Y-%m-%d", DATE, description="ISO yyyy-mm-dd"),
        DateShape("ymd_slash", r"^\d{4}/\d{1,2}/(?P<d>\d{1,2})$", "%Y/%m/%d", DATE, description="yyyy/mm/dd"),
        DateShape("d_mon_yy", r"^(?P<d>\d{1,2})-[A-Za-z]{3}-\d{2}$", "%d-%b-%y", DATE, description="d-Mon-yy"),
        DateShape("d_mon_yyyy", r"^(?P<d>\d{1,2})-[A-Za-z]{3}-\d{4}$", "%d-%b-%Y", DATE, description="d-Mon-yyyy"),
        DateShape("d_mon_yyyy_sp", r"^(?P<d>\d{1,2}) [A-Za-z]{3} \d{4}$", "%d %b %Y", DATE, description="d Mon yyyy"),
        DateShape(
            "twitter",
            r"^[A-Za-z]{3} [A-Za-z]{3} (?P<d>\d{2}) \d{2}:\d{2}:\d{2} [+-]\d{4} \d{4}$",
            "%a %b %d %H:%M:%S %z %Y",
            DATETIME,
            description="Twitter (Tue Oct 31 22:10:47 +0000 2017)",
        ),
    ]
    for sep, sep_re in (("/", "/"), ("-", "-"), (".", r"\.")):
        for year, year_re in (("%Y", r"\d{4}"), ("%y", r"\d{2}")):
            base = rf"^(?P<a>\d{{1,2}}){sep_re}(?P<b>\d{{1,2}}){sep_re}{year_re}"
            fmt = f"{{a}}{sep}{{b}}{sep}{year}"
            shapes.append(DateShape(f"ab{sep}{year}", base + "$", fmt, DATE, ambiguous=True))
            shapes.append(DateShape(f"ab{sep}{year} hm", base + r" \d{1,2}:\d{2}$", fmt + " %H:%M", DATETIME, True))
            shapes.append(
                DateShape(f"ab{sep}{year} hms", base + r" \d{1,2}:\d{2}:\d{2}$", fmt + " %H:%M:%S", DATETIME, True)
            )
    return tuple(shapes)


DATE_SHAPES = _date_shapes()
# Once all of these are dead a column is text whatever comes next (money/us/eu are only tested
# after integer dies, so integer's death plus theirs covers every numeric shape).
_SETTLING_KEYS = (
    *("boolean", "email", "integer", "us", "eu", "percent", "money_us", "money_eu", "iso_datetime"),
    *(shape.key for shape in DATE_SHAPES),
)
SHAPES_BY_KEY = {shape.key: shape for shape in DATE_SHAPES}
ISO_DATETIME = "iso_datetime"
RE_ISO_DATETIME = r"^\d{4}-\d{2}-(?P<d>\d{2})[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$"


@dataclass(frozen=True)
class ColumnType:
    """The type chosen for a column and how its strings are read."""

    type: str
    format: str | None = None  # number style (us/eu), date shape key, "excel_serial", "iso_datetime", "id"
    description: str = ""  # what the receipt shows, e.g. "day/month/yyyy"
    ambiguous: bool = False  # day/month order could not be decided from the data
    order: str | None = None  # "dmy" | "mdy" for ambiguous date shapes
    tz: bool = False  # ISO datetimes carrying an offset


_NARROWER = {US: (INTEGER,), EU: (INTEGER,), "money_us": (US, INTEGER), "money_eu": (EU, INTEGER)}


@dataclass
class _Count:
    matched: int = 0
    dead: bool = False
    max_a: int = 0
    max_b: int = 0


@dataclass
class ColumnTracker:
    """Accumulates, chunk by chunk, which types fit every value of one column."""

    name: str
    missing_markers: pa.Array
    rows: int = 0
    missing: int = 0
    samples: list[str] = field(default_factory=list)
    counts: dict[str, _Count] = field(default_factory=dict)
    comma_seen: bool = False
    currency_seen: bool = False
    leading_zero: bool = False
    nonfinite: int = 0
    max_int_len: int = 0
    int_min: int | None = None
    int_max: int | None = None
    only01: bool = True
    tz_seen: bool = False
    naive_seen: bool = False
    skipped: int = 0  # values not examined because the column had settled as text
    # Set once a chunk had too many distinct values for the distinct-value shortcut to pay.
    many_distinct: bool = False

    def _test(self, key: str, values: pa.Array, mask_fn, weights: pa.Array | None = None) -> pa.Array | None:
        """Mask of ``values`` having ``key``'s shape, or None once the key is dead.

        A key dies at its first miss. Each chunk is probed on a short prefix first, so the many
        shapes a text column never had cost almost nothing. ``weights`` are the occurrence
        counts when ``values`` are a chunk's distinct values.
        """
        entry = self.counts.setdefault(key, _Count())
        if entry.dead:
            return None
        if len(values) > 2 * PROBE:
            head = pc.fill_null(mask_fn(values.slice(0, PROBE)), False)
            if not pc.all(head).as_py():
                entry.matched += _hits(head, None if weights is None else weights.slice(0, PROBE))
                entry.dead = True
                return None
        mask = pc.fill_null(mask_fn(values), False)
        hits = pc.sum(mask).as_py() or 0
        entry.matched += hits if weights is None else _hits(mask, weights)
        if hits < len(values):
            entry.dead = True
            return None
        return mask

    @property
    def settled(self) -> bool:
        """Plain text for good: every typed shape has died, so later chunks cannot change the
        decision (null counts are taken when the data is written, not here)."""
        return self.present > 0 and all(key in self.counts and self.counts[key].dead for key in _SETTLING_KEYS)

    def update(self, raw: pa.Array) -> None:
        if self.settled:
            self.rows += len(raw)
            self.skipped += len(raw)
            return
        if len(self.samples) >= 5 and not self.many_distinct and self._update_distinct(raw):
            return
        values = pc.utf8_trim_whitespace(raw)
        lower = pc.utf8_lower(values)
        missing = pc.is_in(lower, value_set=self.missing_markers)
        present = pc.filter(values, pc.invert(missing))
        self.rows += len(raw)
        self.missing += len(raw) - len(present)
        if len(self.samples) < 5 and len(present):
            for value in pc.unique(present.slice(0, 200)).to_pylist():
                if len(self.samples) < 5:
                    self.samples.append(value)
        if len(present):
            self._update_present(present, lower=pc.filter(lower, pc.invert(missing)))

    def _update_distinct(self, raw: pa.Array) -> bool:
        """Most columns (channels, states, yes/no, dates) repeat a few distinct values: every
        shape test then runs on those, weighted by their counts. Same decisions, a fraction of
        the work. False when the chunk has too many distinct values (ids, e-mails)."""
        counts = pc.value_counts(raw)
        if len(counts) * 4 > len(raw):
            self.many_distinct = True
            return False
        values = pc.utf8_trim_whitespace(counts.field("values"))
        weights = counts.field("counts")
        lower = pc.utf8_lower(values)
        missing = pc.is_in(lower, value_set=self.missing_markers)
        keep = pc.invert(missing)
        self.rows += len(raw)
        self.missing += _hits(missing, weights)
        present = pc.filter(values, keep)
        if len(present):
            self._update_present(present, pc.filter(weights, keep), pc.filter(lower, keep))
        return True

    def _update_present(
        self, present: pa.Array, weights: pa.Array | None = None, lower: pa.Array | None = None
    ) -> None:
        lower = pc.utf8_lower(present) if lower is None else lower
        regex = pc.match_substring_regex
        words = pa.array(TRUE_WORDS + FALSE_WORDS)
        if self._test(BOOLEAN, lower, lambda v: pc.is_in(v, value_set=words), weights):
            if self.only01:
                self.only01 = bool(pc.all(pc.is_in(lower, value_set=pa.array(["0", "1"]))).as_py())
        else:
            self.only01 = False
        self._test("email", present, lambda v: regex(v, RE_EMAIL), weights)
        nonfinite = pc.is_in(lower, value_set=pa.array(NONFINITE_WORDS))
        n_nonfinite = _hits(nonfinite, weights)
        self.nonfinite += n_nonfinite
        finite, finite_weights = present, weights
        if n_nonfinite:
            finite = pc.filter(present, pc.invert(nonfinite))
            finite_weights = None if weights is None else pc.filter(weights, pc.invert(nonfinite))
        if self._test(INTEGER, finite, lambda v: regex(v, RE_INT), finite_weights) is not None and len(finite):
            self.max_int_len = max(self.max_int_len, pc.max(pc.utf8_length(finite)).as_py() or 0)
            if not self.leading_zero:
                self.leading_zero = bool(pc.any(regex(finite, RE_LEADING_ZERO)).as_py())
            if self.max_int_len <= MAX_INT_DIGITS:
                bounds = pc.min_max(pc.cast(finite, pa.int64()))
                lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
                self.int_min = lo if self.int_min is None else min(self.int_min, lo)
                self.int_max = hi if self.int_max is None else max(self.int_max, hi)
        # Integers are valid in both number styles, and plain numbers are valid money: a wider
        # shape is only tested once the narrower one has died (cheap, and still exact).
        if self._dead(INTEGER):
            us = self._test(US, finite, lambda v: regex(v, RE_US), finite_weights) is not None
            eu = self._test(EU, finite, lambda v: regex(v, RE_EU), finite_weights) is not None
            if (us or eu) and not self.comma_seen:
                self.comma_seen = bool(pc.any(regex(finite, ",")).as_py())
        self._test(PERCENT, present, lambda v: regex(v, RE_PCT), weights)
        for money, plain, pattern in (("money_us", US, RE_US), ("money_eu", EU, RE_EU)):
            # currency_seen only matters while a money shape lives: no scan once it is dead.
            if self._dead(INTEGER) and self._dead(plain) and not self._dead(money):
                if not self.currency_seen:
                    self.currency_seen = bool(pc.any(regex(present, RE_CURRENCY)).as_py())
                self._test(money, present, lambda v, p=pattern: regex(money_clean(v), p), weights)
        self._update_dates(present, weights)

    def _dead(self, key: str) -> bool:
        count = self.counts.get(key)
        return count is not None and count.dead

    def _update_dates(self, present: pa.Array, weights: pa.Array | None) -> None:
        regex = pc.match_substring_regex
        for shape in DATE_SHAPES:
            mask = self._test(shape.key, present, lambda v, r=shape.regex: regex(v, r), weights)
            if shape.ambiguous and mask is not None:
                parts = pc.extract_regex(present, shape.regex)
                entry = self.counts[shape.key]
                entry.max_a = max(entry.max_a, pc.max(pc.cast(pc.struct_field(parts, "a"), pa.int32())).as_py() or 0)
                entry.max_b = max(entry.max_b, pc.max(pc.cast(pc.struct_field(parts, "b"), pa.int32())).as_py() or 0)
        if self._test(ISO_DATETIME, present, lambda v: regex(v, RE_ISO_DATETIME), weights) is not None:
            has_tz = pc.not_equal(pc.struct_field(pc.extract_regex(present, RE_ISO_DATETIME), "tz"), "")
            self.tz_seen = self.tz_seen or bool(pc.any(has_tz).as_py())
            self.naive_seen = self.naive_seen or not bool(pc.all(has_tz).as_py())

    # --- decision ---------------------------------------------------------------------------
    def matches_all(self, key: str) -> bool:
        """Every non-missing value had this key's shape."""
        count = self.counts.get(key)
        if count is None:
            # Never tested because a narrower shape (integer, plain number) still held.
            narrower = _NARROWER.get(key)
            return self.present > 0 and narrower is not None and any(self.matches_all(n) for n in narrower)
        return self.present > 0 and not count.dead

    @property
    def present(self) -> int:
        return self.rows - self.missing

    def decide(self, *, date_order: str = "auto", decimal_comma_hint: bool = False) -> ColumnType:
        """The most specific type that every value fits (see module docstring)."""
        present = self.present
        if present == 0:
            return ColumnType(TEXT, description="empty")
        finite = present - self.nonfinite
        ints = self.nonfinite == 0 and self._all(INTEGER, finite)
        if self.matches_all(BOOLEAN) and not (ints and self.only01):
            return ColumnType(BOOLEAN, description="yes/no")
        if ints:
            if self.leading_zero or self.max_int_len > MAX_INT_DIGITS:
                return ColumnType(TEXT, format="id", description="identifier (leading zeros kept)")
            lo, hi = EXCEL_SERIAL_RANGE
            if (
                DATE_NAME.search(self.name)
                and self.int_min is not None
                and lo <= self.int_min <= (self.int_max or 0) <= hi
            ):
                return ColumnType(DATE, format="excel_serial", description="Excel serial day numbers")
            return ColumnType(INTEGER)
        date = self._decide_date(date_order)
        if date is not None:
            return date
        us = self._all(US, finite)
        eu = self._all(EU, finite)
        if us and eu:
            # Every value reads both ways ("93.994", "1,234"). Without any comma the dots are
            # decimal points; with commas, a ;-delimited (European Excel) file means decimal commas.
            style = EU if self.comma_seen and decimal_comma_hint else US
            return ColumnType(DECIMAL, format=style, description=_number_description(style))
        if us or eu:
            style = US if us else EU
            return ColumnType(DECIMAL, format=style, description=_number_description(style))
        if self.matches_all(PERCENT):
            return ColumnType(PERCENT, description="percentage (stored as a fraction)")
        if self.currency_seen and (self.matches_all("money_us") or self.matches_all("money_eu")):
            both = self.matches_all("money_us") and self.matches_all("money_eu")
            style = (EU if decimal_comma_hint else US) if both else (US if self.matches_all("money_us") else EU)
            return ColumnType(MONEY, format=style, description=f"money, {_number_description(style)}")
        return ColumnType(TEXT)

    def _all(self, key: str, expected: int) -> bool:
        count = self.counts.get(key)
        if count is None:
            return expected > 0 and any(self._all(n, expected) for n in _NARROWER.get(key, ()))
        return expected > 0 and not count.dead

    def _decide_date(self, date_order: str) -> ColumnType | None:
        if self.matches_all(ISO_DATETIME):
            described = "ISO date-time" + (" with UTC offset" if self.tz_seen else "")
            return ColumnType(DATETIME, format=ISO_DATETIME, description=described, tz=self.tz_seen)
        for shape in DATE_SHAPES:
            if not self.matches_all(shape.key):
                continue
            if not shape.ambiguous:
                return ColumnType(shape.kind, format=shape.key, description=shape.description)
            count = self.counts[shape.key]
            resolved = _resolve_order(count.max_a, count.max_b, date_order)
            if resolved is None:
                continue
            order, ambiguous = resolved
            return ColumnType(
                shape.kind,
                format=shape.key,
                description=_order_description(shape, order),
                ambiguous=ambiguous,
                order=order,
            )
        return None

    def best_partial(self, wanted: str) -> ColumnType:
        """For a type the user forced: the format matching most values (invalid rows get rejected)."""
        if wanted in (DATE, DATETIME):
            keys = [s.key for s in DATE_SHAPES if s.kind == wanted] + ([ISO_DATETIME] if wanted == DATETIME else [])
            best = max(keys, key=lambda k: self.counts.get(k, _Count()).matched)
            if best == ISO_DATETIME:
                return ColumnType(DATETIME, format=ISO_DATETIME, tz=self.tz_seen, description="ISO date-time")
            shape = SHAPES_BY_KEY[best]
            count = self.counts.get(best, _Count())
            order = (_resolve_order(count.max_a, count.max_b, "auto") or ("mdy", True))[0]
            return ColumnType(
                wanted, format=best, order=order if shape.ambiguous else None, description=shape.description
            )
        if wanted in (DECIMAL, MONEY):
            us = self.counts.get(US if wanted == DECIMAL else "money_us", _Count()).matched
            eu = self.counts.get(EU if wanted == DECIMAL else "money_eu", _Count()).matched
            return ColumnType(wanted, format=US if us >= eu else EU)
        return ColumnType(wanted)


def _hits(mask: pa.Array, weights: pa.Array | None) -> int:
    """Values selected by ``mask``, each counted ``weights`` times when given."""
    if weights is None:
        return pc.sum(mask).as_py() or 0
    return pc.sum(pc.filter(weights, pc.fill_null(mask, False))).as_py() or 0


def _resolve_order(max_a: int, max_b: int, date_order: str) -> tuple[str, bool] | None:
    if max_a > 12 and max_b > 12:
        return None
    if max_a > 12:
        return "dmy", False
    if max_b > 12:
        return "mdy", False
    return ("dmy" if date_order == "dmy" else "mdy"), date_order == "auto"


def _order_description(shape: DateShape, order: str) -> str:
    sep = shape.key[2]
    year = "yyyy" if "%Y" in shape.fmt else "yy"
    first, second = ("day", "month") if order == "dmy" else ("month", "day")
    time = " hh:mm:ss" if shape.key.endswith("hms") else (" hh:mm" if shape.key.endswith("hm") else "")
    return f"{first}{sep}{second}{sep}{year}{time}"


def _number_description(style: str) -> str:
    return "1,234.5 style" if style == US else "1.234,5 style"


def money_clean(values: pa.Array) -> pa.Array:
    """Drop currency marks and spaces; "(12.50)" (accounting negative) becomes "-12.50"."""
    stripped = pc.replace_substring_regex(values, RE_CURRENCY, "")
    stripped = pc.replace_substring_regex(stripped, r"[\s\x{00A0}]", "")
    stripped = pc.replace_substring_regex(stripped, r"^\((.*)\)$", r"-\1")
    return pc.replace_substring_regex(stripped, r"^-[+-]", "-")


# --- conversion ------------------------------------------------------------------------------
@dataclass
class Converted:
    values: pa.Array
    invalid: pa.Array | None  # True where a present value could not be read
    nonfinite: int = 0


def arrow_type(ct: ColumnType) -> pa.DataType:
    return {
        TEXT: pa.string(),
        INTEGER: pa.int64(),
        DECIMAL: pa.float64(),
        MONEY: pa.decimal128(18, 2),
        PERCENT: pa.float64(),
        BOOLEAN: pa.bool_(),
        DATE: pa.date32(),
        DATETIME: pa.timestamp("us", tz="UTC") if ct.tz or ct.format == "twitter" else pa.timestamp("us"),
    }[ct.type]


def convert(raw: pa.Array, ct: ColumnType, missing_markers: pa.Array) -> Converted:
    """Turn raw strings into the column's Arrow type; missing markers become null."""
    values = pc.utf8_trim_whitespace(raw)
    if ct.type == TEXT and len(values):
        # Ids, e-mails, names: usually no value is short enough to be a missing marker, and
        # lower-casing a whole column only to learn that is most of the cost.
        longest = pc.max(pc.utf8_length(missing_markers)).as_py() or 0
        if not pc.any(pc.less_equal(pc.utf8_length(values), longest)).as_py():
            return Converted(values, None)
    lower = pc.utf8_lower(values)
    missing = pc.is_in(lower, value_set=missing_markers)
    target = arrow_type(ct)
    null = pa.scalar(None, pa.string())
    if ct.type == TEXT:
        return Converted(pc.if_else(missing, null, values), None)
    if ct.type == BOOLEAN:
        true = pc.is_in(lower, value_set=pa.array(TRUE_WORDS))
        false = pc.is_in(lower, value_set=pa.array(FALSE_WORDS))
        out = pc.if_else(true, True, pc.if_else(false, False, pa.scalar(None, pa.bool_())))
        return Converted(out, _invalid(missing, pc.or_(true, false)))
    if ct.type == INTEGER:
        ok = pc.and_(pc.match_substring_regex(values, RE_INT), pc.less_equal(pc.utf8_length(values), MAX_INT_DIGITS))
        text = pc.replace_substring_regex(values, r"^\+", "")
        return Converted(pc.cast(pc.if_else(ok, text, null), target), _invalid(missing, ok))
    if ct.type in (DECIMAL, MONEY):
        return _convert_number(values, lower, missing, ct, target)
    if ct.type == PERCENT:
        ok = pc.match_substring_regex(values, RE_PCT)
        text = pc.replace_substring(pc.replace_substring_regex(values, r"[\s%]", ""), ",", ".")
        number = pc.cast(pc.if_else(ok, text, null), pa.float64())
        return Converted(pc.divide(number, 100.0), _invalid(missing, ok))
    if ct.format == "excel_serial":
        ok = pc.match_substring_regex(values, RE_INT)
        serial = pc.cast(pc.if_else(ok, values, null), pa.int64())
        days = pc.cast(pc.subtract(serial, EXCEL_EPOCH_OFFSET), pa.int32())
        return Converted(days.cast(pa.date32()), _invalid(missing, ok))
    if ct.format == ISO_DATETIME:
        return _convert_iso_datetime(values, missing, ct, target)
    return _convert_date_shape(values, missing, ct, target)


def convert_distinct(raw: pa.Array, ct: ColumnType, missing_markers: pa.Array) -> Converted | None:
    """:func:`convert` run on the distinct values only, then spread back to every row: the
    conversion is value by value, so the result is identical. None when the values are mostly
    distinct (the detour would only cost)."""
    encoded = pc.dictionary_encode(raw)
    distinct = encoded.dictionary
    if len(distinct) * 4 > len(raw):
        return None
    indices = encoded.indices
    part = convert(distinct, ct, missing_markers)
    if ct.type == TEXT and part.values.null_count == 0 and part.values.equals(distinct):
        # Nothing to trim and no missing marker: every row is its own result, without a copy.
        return Converted(raw, None)
    nonfinite = part.nonfinite
    if nonfinite:
        # Counted per row, not per distinct value.
        words = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(distinct)), value_set=pa.array(NONFINITE_WORDS))
        nonfinite = pc.sum(pc.take(words, indices)).as_py() or 0
    invalid = None if part.invalid is None else pc.take(part.invalid, indices)
    return Converted(pc.take(part.values, indices), invalid, nonfinite)


def _invalid(missing: pa.Array, ok: pa.Array) -> pa.Array:
    return pc.and_(pc.invert(missing), pc.invert(pc.fill_null(ok, False)))


def _convert_number(values, lower, missing, ct: ColumnType, target) -> Converted:
    null = pa.scalar(None, pa.string())
    nonfinite = pc.is_in(lower, value_set=pa.array(NONFINITE_WORDS))
    text = money_clean(values) if ct.type == MONEY else values
    ok = pc.match_substring_regex(text, RE_EU if ct.format == EU else RE_US)
    if ct.format == EU:
        text = pc.replace_substring(pc.replace_substring_regex(text, r"[. \x{00A0}]", ""), ",", ".")
    else:
        text = pc.replace_substring(text, ",", "")
    number = pc.cast(pc.if_else(ok, text, null), pa.float64())
    # NaN and infinities would poison sums and averages: stored as empty, counted as a warning.
    n_nonfinite = pc.sum(nonfinite).as_py() or 0
    if ct.type == MONEY:
        number = pc.cast(pc.round(number, 2), target, safe=False)
    return Converted(number, _invalid(missing, pc.or_(ok, nonfinite)), n_nonfinite)


def _convert_iso_datetime(values, missing, ct: ColumnType, target) -> Converted:
    null = pa.scalar(None, pa.string())
    ok = pc.match_substring_regex(values, RE_ISO_DATETIME)
    # Validate the calendar date (Arrow's parser would otherwise roll 02-30 over to March).
    day_ok = _calendar_ok(pc.utf8_slice_codeunits(values, 0, 10), "%Y-%m-%d", pc.utf8_slice_codeunits(values, 8, 10))
    ok = pc.and_(ok, day_ok)
    text = pc.replace_substring(pc.if_else(ok, values, null), "T", " ")
    if ct.tz:
        # A column with offsets on most values: naive values are read as UTC.
        naive = pc.invert(pc.match_substring_regex(text, r"(Z|[+-]\d{2}(:?\d{2})?)$"))
        text = pc.if_else(pc.fill_null(naive, False), pc.binary_join_element_wise(text, "+00:00", ""), text)
    try:
        out = pc.cast(text, target)
    except pa.ArrowInvalid:
        out, ok = _cast_each(text, target, ok)
    return Converted(out, _invalid(missing, ok))


def _cast_each(text: pa.Array, target: pa.DataType, ok: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Slow path for the rare chunk where a value with a valid shape still fails (e.g. 25:61)."""
    out, good = [], []
    for value, fine in zip(text.to_pylist(), ok.to_pylist(), strict=True):
        try:
            out.append(pc.cast(pa.array([value], pa.string()), target)[0].as_py() if value is not None else None)
            good.append(bool(fine))
        except pa.ArrowInvalid:
            out.append(None)
            good.append(False)
    return pa.array(out, target), pa.array(good)


def _calendar_ok(text: pa.Array, fmt: str, day: pa.Array) -> pa.Array:
    parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    same_day = pc.equal(pc.day(parsed), pc.cast(pc.if_else(pc.is_valid(parsed), day, "0"), pa.int64()))
    return pc.fill_null(same_day, False)


def _convert_date_shape(values, missing, ct: ColumnType, target) -> Converted:
    shape = SHAPES_BY_KEY[ct.format or "iso"]
    null = pa.scalar(None, pa.string())
    matches = pc.match_substring_regex(values, shape.regex)
    text = pc.if_else(matches, values, null)
    fmt = shape.fmt
    day_group = "d"
    if shape.ambiguous:
        first, second = ("%d", "%m") if ct.order == "dmy" else ("%m", "%d")
        fmt = fmt.format(a=first, b=second)
        day_group = "a" if ct.order == "dmy" else "b"
    parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    day = pc.struct_field(pc.extract_regex(text, shape.regex), day_group)
    # strptime normalises 30 Feb to 1 March: an unchanged day of month proves the date is real.
    same_day = pc.equal(pc.day(parsed), pc.cast(day, pa.int64()))
    ok = pc.fill_null(pc.and_(matches, same_day), False)
    parsed = pc.if_else(ok, parsed, pa.scalar(None, parsed.type))
    if ct.type == DATE:
        out = pc.cast(pc.cast(parsed, pa.timestamp("s")) if parsed.type.tz else parsed, pa.date32())
    else:
        out = pc.cast(parsed, target)
    return Converted(out, _invalid(missing, ok))
