"""Entity-level precision, recall and F1 as the CoNLL shared tasks score them.

An entity counts as found only when its span *and* type match a gold entity exactly. Entities
are read from IOB tags by ``seqeval``'s conlleval-compatible chunker (a stray ``I-X`` after
``O`` starts an entity, as in the ``conlleval`` Perl script), so scores agree with published
CoNLL/WNUT tables; the tests reproduce the WNUT-17 results table from the systems' outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from seqeval.metrics.sequence_labeling import get_entities


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


@dataclass(frozen=True)
class TypeScores:
    """Counts and scores for one entity type (or all types together)."""

    entity_type: str
    correct: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        return _ratio(self.correct, self.predicted)

    @property
    def recall(self) -> float:
        return _ratio(self.correct, self.gold)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.correct, self.predicted + self.gold)


@dataclass(frozen=True)
class EntityScores:
    """Micro-averaged entity scores (fractions in [0, 1]) with a per-type breakdown.

    ``repr`` is a small table in percent, like conlleval's report.
    """

    total: TypeScores
    per_type: tuple[TypeScores, ...]

    @property
    def precision(self) -> float:
        return self.total.precision

    @property
    def recall(self) -> float:
        return self.total.recall

    @property
    def f1(self) -> float:
        return self.total.f1

    def __getitem__(self, entity_type: str) -> TypeScores:
        for scores in self.per_type:
            if scores.entity_type == entity_type:
                return scores
        raise KeyError(entity_type)

    def __repr__(self) -> str:
        rows = [f"{'type':<10} {'precision':>9} {'recall':>7} {'F1':>6} {'gold':>6} {'found':>6}"]
        for s in (*self.per_type, self.total):
            rows.append(f"{s.entity_type:<10} {100 * s.precision:9.2f} {100 * s.recall:7.2f} "
                        f"{100 * s.f1:6.2f} {s.gold:6d} {s.predicted:6d}")
        return "\n".join(rows)


def entities(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """The entities of one tagged sentence as ``(type, first, last)`` token positions."""
    return {(kind, start, end) for kind, start, end in get_entities(list(tags))}


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> EntityScores:
    """Score ``predicted`` tag sequences against ``gold`` ones (one sequence per sentence).

    Raises:
        ValueError: different numbers of sentences, or a sentence whose lengths differ.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted ones")
    counts: dict[str, list[int]] = {}
    for index, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(f"sentence {index}: {len(gold_tags)} gold tags but "
                             f"{len(predicted_tags)} predicted ones")
        gold_entities, found = entities(gold_tags), entities(predicted_tags)
        for kind, *_ in gold_entities:
            counts.setdefault(kind, [0, 0, 0])[2] += 1
        for entity in found:
            row = counts.setdefault(entity[0], [0, 0, 0])
            row[1] += 1
            row[0] += entity in gold_entities
    per_type = tuple(TypeScores(kind, *counts[kind]) for kind in sorted(counts))
    total = TypeScores("all", *(int(sum(c[i] for c in counts.values())) for i in range(3)))
    return EntityScores(total, per_type)


def confusion_matrix(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
                     tags: Sequence[str]) -> np.ndarray:
    """Token-level counts, shape ``(len(tags), len(tags))``: row = gold tag, column = predicted tag."""
    index = {tag: i for i, tag in enumerate(tags)}
    matrix = np.zeros((len(tags), len(tags)), dtype=np.int64)
    for gold_tags, predicted_tags in zip(gold, predicted, strict=True):
        for g, p in zip(gold_tags, predicted_tags, strict=True):
            if g not in index or p not in index:
                raise KeyError(f"tag {g if g not in index else p!r} is not in the tag list {list(tags)}")
            matrix[index[g], index[p]] += 1
    return matrix
