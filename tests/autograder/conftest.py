"""Keep the tests from touching the checkout's record of the last grading output."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.lab import LAST_OUTPUT_ENV


@pytest.fixture(autouse=True)
def _last_output_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LAST_OUTPUT_ENV, str(tmp_path / "last-output"))
