"""report: the checker's table printed before a test cell fails."""

from __future__ import annotations

import numpy as np
import pytest

from utils.gradcheck import check_gradient, report


def _results():
    x = np.array([1.0, -2.0, 0.5])
    f = lambda v: float(np.sum(v**2))  # noqa: E731
    return {"right": check_gradient(f, x, 2 * x, name="right"),
            "halved": check_gradient(f, x, x, name="halved"),
            "flipped": check_gradient(f, x, -2 * x, name="flipped")}


def test_report_prints_every_row_then_raises_the_first_failure(capsys) -> None:
    """Does report print the whole table, passing rows included, before raising the first failing message?"""
    results = _results()
    with pytest.raises(AssertionError) as raised:
        report(results)
    printed = capsys.readouterr().out
    assert all(name in printed for name in ("right", "halved", "flipped"))
    assert str(raised.value) == results["halved"].message and str(raised.value).startswith("[scale]")


def test_report_returns_passing_results(capsys) -> None:
    """Does report return the results, and print their table, when every check passes?"""
    results = {"right": _results()["right"]}
    assert report(results) == results
    assert "right" in capsys.readouterr().out
