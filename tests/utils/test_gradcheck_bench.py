"""bench/gradcheck.py's corpus, at its smallest size: is every mistake diagnosed and no right gradient failed?"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gradcheck.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gradcheck", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_corpus_is_caught_and_diagnosed_without_false_failures(bench):
    """At 1e3 parameters, is every corpus mistake caught with exactly its expected diagnoses, and do
    all correct networks (one with ReLU inputs exactly at the kink) pass?"""
    corpus = bench.detection(1_000)
    assert corpus.caught == corpus.diagnosed == len(bench.MISTAKES), corpus.labels
    assert corpus.correct_passed == len(bench.CORRECT) and corpus.false_failures == 0, corpus.labels


def test_ratio_table_prints(bench, capsys):
    """Does the bench print check/fwd+bwd and the corpus counts in one short run?"""
    bench.main(["--sizes", "1e3", "--repeats", "1", "--subset", "50"])
    out = capsys.readouterr().out
    assert "check/fwd+bwd" in out and "false failures" in out and "14/14" in out
