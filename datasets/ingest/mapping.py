"""Proposed column mapping onto a kind's canonical fields (a proposal: the user confirms it).

Evidence is the header (synonyms, after splitting camelCase and punctuation) and the values'
shape (type, e-mail addresses, gender spellings). Each column takes at most one field and each
field at most one column, best confidence first. Unmapped columns stay as custom attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import types as T
from .fields import ANY, BOOL, DATE, FIELDS, INT, NUMBER, FieldSpec
from .kind import detect_kind
from .normalize import GENDER_SPELLINGS

EXACT = 0.95
CONTAINS = 0.75
SHAPE_ONLY = 0.6
KEY_FIELDS_FOR_EMAIL = {"visitors": "visitor_key", "buyers": "buyer_key", "leads": "lead_email"}


@dataclass(frozen=True)
class ColumnFacts:
    """What mapping needs to know about a column (from sniffing or loading)."""

    name: str
    type: T.ColumnType
    binary01: bool = False  # integers that are only 0 and 1
    emails: bool = False
    samples: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldProposal:
    column: str
    field: str | None  # None: kept as a custom attribute
    confidence: float
    reason: str
    transform: str | None = None


@dataclass
class MappingProposal:
    kind: str
    kind_scores: dict[str, float]
    columns: list[FieldProposal] = field(default_factory=list)

    def as_dict(self) -> dict[str, str | None]:
        return {p.column: p.field for p in self.columns}

    @property
    def confident(self) -> bool:
        """Good enough to skip the review page: a real kind and no weak guesses."""
        mapped = [p for p in self.columns if p.field]
        return self.kind != "custom" and all(p.confidence >= CONTAINS for p in mapped)


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def normalize_header(name: str) -> str:
    """ "InvoiceNo" -> "invoice no", "Dt_Customer" -> "dt customer", "BounceRates in %" -> "bounce rates in"."""
    spaced = _CAMEL.sub(" ", name)
    return " ".join(re.findall(r"[a-z0-9]+", spaced.lower()))


def _accepts(spec: FieldSpec, facts: ColumnFacts) -> bool:
    kind = facts.type.type
    if spec.accepts == BOOL:
        return kind == T.BOOLEAN or facts.binary01
    if spec.accepts == DATE:
        return kind in (T.DATE, T.DATETIME)
    if spec.accepts == NUMBER:
        return kind in (T.INTEGER, T.DECIMAL, T.MONEY, T.PERCENT)
    if spec.accepts == INT:
        return kind == T.INTEGER
    return spec.accepts == ANY


def _name_score(header: str, synonym: str) -> float:
    if header == synonym:
        return EXACT
    if re.search(rf"(^| ){re.escape(synonym)}( |$)", header):
        return CONTAINS
    return 0.0


def candidates_for(facts: ColumnFacts) -> list[tuple[FieldSpec, float, str]]:
    header = normalize_header(facts.name)
    found: list[tuple[FieldSpec, float, str]] = []
    for spec in FIELDS:
        if not _accepts(spec, facts):
            continue
        score = max((_name_score(header, syn) for syn in spec.synonyms), default=0.0)
        if score:
            found.append((spec, score, f"header {'is' if score == EXACT else 'contains'} a name for {spec.name}"))
    samples = [s.strip().lower() for s in facts.samples if s.strip()]
    if samples and all(s in GENDER_SPELLINGS for s in samples):
        gender = next(spec for spec in FIELDS if spec.name == "gender")
        found.append((gender, SHAPE_ONLY, "values are gender spellings"))
    return found


def propose_mapping(columns: list[ColumnFacts], *, kind: str | None = None) -> MappingProposal:
    per_column = {facts.name: candidates_for(facts) for facts in columns}
    flat = [(name, spec, score) for name, found in per_column.items() for spec, score, _ in found]
    detected, scores = detect_kind(flat)
    kind = kind or detected
    options: list[tuple[float, int, str, FieldSpec, str]] = []
    for order, facts in enumerate(columns):
        for spec, score, reason in per_column[facts.name]:
            if kind in spec.kinds:
                options.append((score, -order, facts.name, spec, reason))
        key_field = KEY_FIELDS_FOR_EMAIL.get(kind)
        if facts.emails and key_field:
            spec = next(s for s in FIELDS if s.name == key_field)
            options.append((SHAPE_ONLY, -order, facts.name, spec, "values are e-mail addresses"))
    chosen: dict[str, FieldProposal] = {}
    taken: set[str] = set()
    for score, _neg_order, column, spec, reason in sorted(options, key=lambda o: (-o[0], -o[1])):
        if column in chosen or spec.name in taken:
            continue
        chosen[column] = FieldProposal(column, spec.name, score, reason, spec.transform)
        taken.add(spec.name)
    proposals = [
        chosen.get(facts.name) or FieldProposal(facts.name, None, 1.0, "kept as a custom attribute")
        for facts in columns
    ]
    return MappingProposal(kind=kind, kind_scores=scores, columns=proposals)
