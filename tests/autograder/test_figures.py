"""The student's figures on a feedback page: only real, capped images, re-encoded."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat

from autograder.figures import (MAX_IMAGE_BYTES, FigureBudget, decode_image, image_outputs,
                                submitted_figures)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
"""Enough of a PNG for the magic-byte check (the page re-encodes it; browsers decode it)."""


def encoded(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_decode_accepts_real_images_only() -> None:
    """Are strict base64 PNGs accepted (also with line breaks), and bad base64, wrong magic
    bytes, unknown types and oversized images refused?"""
    text = encoded(PNG)
    assert decode_image("image/png", text) == PNG
    assert decode_image("image/png", "\n".join(text[i:i + 76] for i in range(0, len(text), 76))) == PNG
    assert decode_image("image/png", [text[:100], text[100:]]) == PNG
    assert decode_image("image/png", text + '"><script>alert(1)</script>') is None
    assert decode_image("image/png", encoded(b"<svg onload=alert(1)>")) is None
    assert decode_image("image/svg+xml", encoded(b"<svg/>")) is None
    assert decode_image("image/jpeg", text) is None
    assert decode_image("image/png", encoded(PNG + b"\0" * MAX_IMAGE_BYTES)) is None
    assert decode_image("image/png", 42) is None


def test_budget_caps_the_page() -> None:
    """Does a page stop adding figures at its byte budget, and say how many it left out?"""
    budget = FigureBudget(limit=len(PNG) * 2)
    html = budget.render([("image/png", PNG)] * 3)
    assert html.count("<img") == 2 and budget.dropped == 1
    assert "1 more figure(s)" in budget.note()
    assert f"data:image/png;base64,{encoded(PNG)}" in html


def test_submitted_figures_are_keyed_by_cell_source(tmp_path: Path) -> None:
    """Are a submitted notebook's valid images found by their cell's source, the rest ignored,
    and an unreadable notebook treated as having none?"""
    plot = nbformat.v4.new_code_cell("plt.plot(x)\n")
    plot.outputs = [nbformat.v4.new_output("display_data", data={"image/png": encoded(PNG),
                                                                   "text/plain": "<Figure>"})]
    forged = nbformat.v4.new_code_cell("forged()")
    forged.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "not base64!"})]
    path = tmp_path / "sub.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[plot, forged]), path)
    assert submitted_figures(path) == {"plt.plot(x)": [("image/png", PNG)]}
    assert image_outputs(json.loads(path.read_text())["cells"][1]) == []
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert submitted_figures(tmp_path / "bad.ipynb") == {} and submitted_figures(None) == {}
