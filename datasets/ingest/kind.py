"""Which kind of data a file holds, from the fields its columns propose."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .fields import CUSTOM, FIELDS, KINDS, FieldSpec

# Below this much evidence (field weights) the file is "custom": every column still works as an
# attribute, nothing is assumed.
MIN_KIND_SCORE = 2.5
_BY_NAME: dict[str, list[FieldSpec]] = defaultdict(list)
for _spec in FIELDS:
    _BY_NAME[_spec.name].append(_spec)


def kind_scores(candidates: Iterable[tuple[str, FieldSpec, float]]) -> dict[str, float]:
    """Sum, per kind, the weights of the fields some column could take (best match per field)."""
    best: dict[tuple[str, str], float] = {}
    for _column, spec, confidence in candidates:
        for kind in spec.kinds:
            key = (kind, spec.name)
            best[key] = max(best.get(key, 0.0), spec.weight * confidence)
    scores = dict.fromkeys(KINDS, 0.0)
    for (kind, _name), score in best.items():
        scores[kind] += score
    scores[CUSTOM] = 0.0
    return scores


def detect_kind(candidates: list[tuple[str, FieldSpec, float]]) -> tuple[str, dict[str, float]]:
    scores = kind_scores(candidates)
    kind = max(scores, key=lambda k: scores[k])
    if scores[kind] < MIN_KIND_SCORE:
        return CUSTOM, scores
    return kind, scores
