"""Tests for utils.ner.vocab: word ids, padding and unknown-word classes."""

from __future__ import annotations

import numpy as np
import pytest

from utils.ner.vocab import PAD, SPECIALS, UNKNOWN_CLASSES, Vocabulary, unknown_class

SENTENCES = [["Museums", "in", "Paris", "are", "amazing"], ["I", "love", "paris", "!"]]


@pytest.mark.parametrize("token, expected", [
    ("Hilton", "<unk:Title>"), ("NASA", "<unk:UPPER>"), ("sequin", "<unk:lower>"),
    ("1989", "<unk:number>"), ("3.5%", "<unk:number>"), ("12/04", "<unk:number>"),
    ("http://t.co/x", "<unk:url>"), ("www.bbc.co.uk", "<unk:url>"), ("@paulwalk", "<unk:@user>"),
    ("#nowplaying", "<unk:#tag>"), ("...", "<unk>"), ("iPhone", "<unk>"), ("A", "<unk:Title>"),
])
def test_unknown_class_by_shape(token, expected):
    """Does each unknown word fall into the class its shape suggests?"""
    assert unknown_class(token) == expected
    assert expected in UNKNOWN_CLASSES


def test_build_lowercases_counts_and_keeps_specials_first():
    """Does build put padding and unknown classes first, then training words by frequency?"""
    vocab = Vocabulary.build(SENTENCES)
    assert vocab.words[: len(SPECIALS)] == SPECIALS
    assert vocab.pad_id == 0 and vocab.words[0] == PAD
    assert vocab.words[len(SPECIALS)] == "paris"          # the only word seen twice
    assert "Paris" not in vocab and "paris" in vocab


def test_lookup_order_exact_then_lowercase_then_class():
    """Is a token found as itself, then lower-cased, then by its unknown class?"""
    vocab = Vocabulary.build(SENTENCES, lowercase=False)
    assert vocab.id("Paris") != vocab.id("paris")
    assert vocab.id("MUSEUMS") == vocab.words.index("<unk:UPPER>")
    lower = Vocabulary.build(SENTENCES)
    assert lower.id("PARIS") == lower.id("paris")
    assert lower.id("Hilton") == lower.words.index("<unk:Title>")
    assert lower.is_unknown("Hilton") and not lower.is_unknown("Paris")


def test_min_count_and_pretrained_words():
    """Are rare training words dropped by min_count while pretrained words are always kept?"""
    vocab = Vocabulary.build(SENTENCES, min_count=2, pretrained=["london", "paris"])
    assert vocab.words[len(SPECIALS):] == ("paris", "london")
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(SENTENCES, min_count=0)


def test_encode_decode_round_trip():
    """Does encode give int64 ids that decode back to the (lower-cased or class) words?"""
    vocab = Vocabulary.build(SENTENCES)
    ids = vocab.encode(["Paris", "Hilton", "is"])
    assert ids.dtype == np.int64 and ids.shape == (3,)
    assert vocab.decode(ids) == ["paris", "<unk:Title>", "<unk:lower>"]


def test_invalid_word_lists_are_refused():
    """Is a word list without the specials, or with a duplicate, refused?"""
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(("a", "b"))
    with pytest.raises(ValueError, match="twice"):
        Vocabulary(SPECIALS + ("a", "a"))
