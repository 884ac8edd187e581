"""Tests for utils.ner.scoring: CoNLL entity-level scores, checked against seqeval and WNUT-17."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import f1_score, precision_score, recall_score

from utils.ner.conll import read_conll
from utils.ner.datasets import shared_ner_dir
from utils.ner.scoring import confusion_matrix, entities, entity_scores

SHARED = shared_ner_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/data/ner (instructors' corpora) is absent")

# Entity-level F1 published in "Results of the WNUT2017 Shared Task on Novel and Emerging Entity
# Recognition" (Derczynski et al., 2017), Table 4.
WNUT17_PUBLISHED = {
    "uh_ritual": 41.86, "spinningbytes.txt": 40.78, "sjtu_adapt.txt": 40.42, "arcada": 39.98,
    "flytxt": 38.35, "mic-cis.txt": 37.06, "drexel_cci": 26.30,
}


def test_exact_match_rules():
    """Does only an entity with the exact span and type count as correct?"""
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-LOC", "O"]]   # short span, right LOC, wrong type
    scores = entity_scores(gold, pred)
    assert (scores.total.correct, scores.total.predicted, scores.total.gold) == (1, 3, 3)
    assert scores.f1 == pytest.approx(1 / 3)
    assert scores["LOC"].precision == 0.5 and scores["LOC"].recall == 1.0
    assert scores["ORG"].f1 == 0.0 and scores["PER"].recall == 0.0
    assert "all" in repr(scores) and "33.33" in repr(scores)


def test_stray_inside_tag_starts_an_entity_like_conlleval():
    """Is an I-X after O read as the start of an entity, as conlleval reads it?"""
    assert entities(["O", "I-LOC", "I-LOC", "I-PER"]) == {("LOC", 1, 2), ("PER", 3, 3)}


def test_no_entities_gives_zero_not_a_warning():
    """Does an all-O prediction score 0 without dividing by zero?"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = entity_scores([["B-PER", "O"]], [["O", "O"]])
    assert (scores.precision, scores.recall, scores.f1) == (0.0, 0.0, 0.0)


def test_mismatched_lengths_are_refused():
    """Are different sentence counts or lengths refused with a message saying where?"""
    with pytest.raises(ValueError, match="1 gold sentences but 2"):
        entity_scores([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1"):
        entity_scores([["O", "O"]], [["O"]])


TAGS = st.lists(st.sampled_from(["O", "O", "B-A", "I-A", "B-B", "I-B"]), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(TAGS, TAGS).map(lambda p: (p[0], (p[1] * 8)[: len(p[0])])), min_size=1, max_size=5))
def test_agrees_with_seqeval(pairs):
    """Do precision, recall and F1 equal seqeval's on random tag sequences?"""
    gold = [list(g) for g, _ in pairs]
    pred = [list(p) for _, p in pairs]
    scores = entity_scores(gold, pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert scores.precision == pytest.approx(precision_score(gold, pred))
        assert scores.recall == pytest.approx(recall_score(gold, pred))
        assert scores.f1 == pytest.approx(f1_score(gold, pred))


def test_confusion_matrix_counts_tokens():
    """Does the confusion matrix count gold tags in rows and predictions in columns?"""
    tags = ["O", "B-LOC", "I-LOC"]
    matrix = confusion_matrix([["O", "B-LOC", "I-LOC"]], [["O", "B-LOC", "O"]], tags)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    with pytest.raises(KeyError, match="B-PER"):
        confusion_matrix([["B-PER"]], [["O"]], tags)


@needs_shared
def test_reproduces_wnut17_published_table():
    """Does the scorer reproduce every published WNUT-17 F1 to two decimals from the submissions?"""
    folder = SHARED / "wnut17"
    gold = [list(s.tags) for s in read_conll(folder / "emerging.test.annotated")]
    found = {}
    for name in WNUT17_PUBLISHED:
        predicted = [list(s.tags) for s in read_conll(folder / "submissions" / name)]
        found[name] = round(100 * entity_scores(gold, predicted).f1, 2)
    assert found == WNUT17_PUBLISHED
