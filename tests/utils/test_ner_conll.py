"""Tests for utils.ner.conll: reading CoNLL column files in IOB1 and IOB2."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from utils.ner.conll import ConllFormatError, Sentence, detect_scheme, parse_conll, read_conll, to_iob2
from utils.ner.datasets import shared_ner_dir

SHARED = shared_ner_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/data/ner (instructors' corpora) is absent")


def write(tmp_path: Path, text: str, name: str = "corpus.conll") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_tab_separated_iob2_with_docstart(tmp_path):
    """Are sentences split at blank and -DOCSTART- lines, with tokens and tags kept in order?"""
    path = write(tmp_path, "-DOCSTART-\tO\n\nmuseums\tO\nin\tO\nParis\tB-LOC\n\nSamuel\tB-PER\nQuinn\tI-PER\n")
    assert read_conll(path) == [
        Sentence(("museums", "in", "Paris"), ("O", "O", "B-LOC")),
        Sentence(("Samuel", "Quinn"), ("B-PER", "I-PER")),
    ]


def test_space_separated_multi_column_takes_last_column(tmp_path):
    """Does a CoNLL-2003-style line (token POS chunk tag) give the token and the last column?"""
    path = write(tmp_path, "-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n"
                           "German JJ B-NP I-MISC\ncall NN I-NP O\n")
    (sentence,) = read_conll(path)
    assert sentence.tokens == ("EU", "rejects", "German", "call")
    assert sentence.tags == ("B-ORG", "O", "B-MISC", "O")


def test_iob1_is_rewritten_as_iob2():
    """Do IOB1 entities (I- starts, B- between neighbours of one type) come back in IOB2?"""
    tags = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]
    assert detect_scheme([tags]) == "IOB1"
    assert to_iob2(tags) == ("B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG")


@given(st.lists(st.sampled_from(["O", "B-A", "I-A", "B-B", "I-B"]), max_size=12))
def test_to_iob2_is_idempotent_and_yields_iob2(tags):
    """Is to_iob2's output valid IOB2, and unchanged by a second pass?"""
    once = to_iob2(tags)
    assert detect_scheme([once]) == "IOB2"
    assert to_iob2(once) == once


def test_crlf_line_endings_and_whitespace_blank_lines():
    """Are Windows line endings and whitespace-only lines handled like plain blank lines?"""
    sentences = parse_conll(["a\tO\r\n", "b\tB-X\r\n", " \r\n", "c\tO\r\n"])
    assert [s.tokens for s in sentences] == [("a", "b"), ("c",)]


def test_empty_token_field_in_tab_file_is_kept():
    """Is a tab line with an empty token (as in BTC) read as an empty token, not an error?"""
    (sentence,) = parse_conll(["a\tO\n", "\tO\n", "b\tO\n"])
    assert sentence.tokens == ("a", "", "b")


@pytest.mark.parametrize("text, line, words", [
    ("a\tO\nb\n", 2, "expected at least 2 columns"),
    ("a O\nb B-LOC\nc LOC\n", 3, "'LOC' is not an IOB tag"),
    ("a O\nb E-LOC\n", 2, "not an IOB tag"),
    ("\n\n", 1, "no tagged tokens"),
])
def test_malformed_file_names_file_and_line(tmp_path, text, line, words):
    """Does a malformed file raise ConllFormatError naming the file and the offending line?"""
    path = write(tmp_path, text, "bad.conll")
    with pytest.raises(ConllFormatError) as caught:
        read_conll(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert words in str(caught.value)
    assert caught.value.line_number == line


def test_strict_iob2_rejects_an_i_start(tmp_path):
    """With scheme='IOB2', does an entity starting with I- raise at its line?"""
    path = write(tmp_path, "x O\n\na O\nb I-LOC\n")
    with pytest.raises(ConllFormatError, match=r":4: I-LOC starts an entity after O"):
        read_conll(path, scheme="IOB2")
    assert read_conll(path, scheme="IOB1")[1].tags == ("O", "B-LOC")


def test_binary_file_is_a_format_error(tmp_path):
    """Does a non-UTF-8 file raise ConllFormatError with a line number, not UnicodeDecodeError?"""
    path = tmp_path / "latin.conll"
    path.write_bytes(b"a O\nMontr\xe9al B-LOC\n")
    with pytest.raises(ConllFormatError, match=r"latin.conll:2: not utf-8"):
        read_conll(path)
    assert read_conll(path, encoding="latin-1")[0].tokens[1] == "Montréal"


def test_unknown_scheme_and_mismatched_sentence():
    """Are a bad scheme name and a sentence with fewer tags than tokens refused?"""
    with pytest.raises(ValueError, match="scheme"):
        parse_conll(["a O"], scheme="BIOES")
    with pytest.raises(ValueError, match="2 tokens but 1 tags"):
        Sentence(("a", "b"), ("O",))


@needs_shared
@pytest.mark.parametrize("relative, sentences, tokens, entities, scheme", [
    ("btc/btc.train", 6338, 99933, 8779, "IOB2"),
    ("btc/btc.test", 2001, 35428, 4376, "IOB2"),
    ("wnut17/wnut17train.conll", 3394, 62730, 1975, "IOB2"),
    ("wnut17/emerging.test.annotated", 1287, 23394, 1079, "IOB2"),
    ("wikigold/wikigold.conll.txt", 1696, 39007, 3558, "IOB1"),
])
def test_real_corpora_counts(relative, sentences, tokens, entities, scheme):
    """Do the real corpora read with the sentence, token and entity counts their README states?"""
    path = SHARED / relative
    corpus = read_conll(path)
    assert len(corpus) == sentences
    assert sum(len(s) for s in corpus) == tokens
    assert sum(tag.startswith("B-") for s in corpus for tag in s.tags) == entities
    raw = [line.rstrip("\r\n").split()[-1] for line in path.read_text(encoding="utf-8").splitlines()
           if line.strip() and not line.startswith("-DOCSTART-")]
    assert detect_scheme([raw]) == scheme
