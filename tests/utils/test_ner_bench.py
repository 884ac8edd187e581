"""Tests for bench/ner.py: the WNUT-17 table reproduction and a short training run."""

from __future__ import annotations

import importlib.util

import pytest

from utils.ner.datasets import REPO_ROOT, shared_ner_dir

SHARED = shared_ner_dir()


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_ner", REPO_ROOT / "bench" / "ner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_uses_the_solution_notebooks_functions(bench):
    """Does the benchmark train the notebook's own exercise functions?"""
    functions = bench.notebook_functions()
    assert all(callable(functions[name]) for name in bench.EXERCISES)
    assert functions["make_windows"].__code__.co_filename.endswith("ner_window.ipynb:make_windows")


@pytest.mark.skipif(SHARED is None, reason="../shared/data/ner (instructors' corpora) is absent")
def test_wnut17_table_is_reproduced(bench, capsys):
    """Does --wnut17-table print every published system as reproduced and exit 0?"""
    assert bench.main(["--wnut17-table"]) == 0
    out = capsys.readouterr().out
    assert "all seven reproduced to two decimals" in out and "DIFFERENT" not in out
    assert "UH-RiTUAL" in out and "41.86   41.86" in out


@pytest.mark.slow
def test_short_training_run_on_the_default_corpus(bench, capsys):
    """Does one small epoch on WNUT-16 print F1 beside both baselines and the training time?"""
    assert bench.main(["--corpus", "wnut16", "--epochs", "1", "--hidden-dim", "16"]) == 0
    out = capsys.readouterr().out
    for expected in ("majority class (all O)", "memoriser", "window tagger (seed 0, epoch 1)", "training time"):
        assert expected in out
