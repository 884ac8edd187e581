"""The student's figures on a feedback page: checked, capped, re-encoded ``<img>`` elements.

The grader runs notebooks without a display, so the figures a page shows are the image outputs
saved in the notebook the student submitted. Each is decoded (strict base64), must be a PNG,
JPEG or GIF by its magic bytes and under a size cap, and is re-encoded, so nothing from the
notebook reaches the page but the image bytes themselves.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Iterable, Mapping
from pathlib import Path

MAX_IMAGE_BYTES = 300_000
"""Largest decoded image shown."""
MAX_PAGE_IMAGE_BYTES = 3_000_000
"""Most image bytes one feedback page carries (later figures are left out with a note)."""
_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
          "image/gif": (b"GIF87a", b"GIF89a")}


def decode_image(mime: str, data: object) -> bytes | None:
    """The bytes of a notebook image output, or None unless it is strict base64 of a ``mime``
    image (PNG, JPEG or GIF) no larger than :data:`MAX_IMAGE_BYTES`."""
    if isinstance(data, list):  # nbformat allows multi-line strings as lists
        data = "".join(str(part) for part in data)
    if mime not in _MAGIC or not isinstance(data, str):
        return None
    text = "".join(data.split())
    if len(text) > (MAX_IMAGE_BYTES + 2) // 3 * 4:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_MAGIC[mime]):
        return None
    return raw


def image_outputs(cell: Mapping) -> list[tuple[str, bytes]]:
    """(mime type, bytes) of each valid image a code cell displayed."""
    images = []
    outputs = cell.get("outputs")
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict) or out.get("output_type") not in ("display_data", "execute_result"):
            continue
        data = out.get("data") or {}
        for mime in _MAGIC:
            raw = decode_image(mime, data.get(mime)) if isinstance(data, dict) else None
            if raw is not None:
                images.append((mime, raw))
                break
    return images


def cell_key(source: object) -> str:
    """How a graded cell is matched with the submitted one: its source, stripped."""
    return ("".join(map(str, source)) if isinstance(source, list) else str(source or "")).strip()


def submitted_figures(path: Path | None) -> dict[str, list[tuple[str, bytes]]]:
    """:func:`cell_key` -> the images that code cell displayed in the submitted notebook at
    ``path`` ({} when there is none, or it cannot be read)."""
    from .engine.source import NotebookError, read_notebook

    if path is None:
        return {}
    try:
        nb = read_notebook(path)
    except NotebookError:
        return {}
    figures: dict[str, list[tuple[str, bytes]]] = {}
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            images = image_outputs(cell)
            if images:
                figures.setdefault(cell_key(cell.get("source")), images)
    return figures


class FigureBudget:
    """Renders images as ``<img>`` until a page's image bytes reach :data:`MAX_PAGE_IMAGE_BYTES`."""

    def __init__(self, limit: int = MAX_PAGE_IMAGE_BYTES) -> None:
        self.left = limit
        self.dropped = 0

    def render(self, images: Iterable[tuple[str, bytes]]) -> str:
        parts = []
        for mime, raw in images:
            if len(raw) > self.left:
                self.dropped += 1
                continue
            self.left -= len(raw)
            parts.append(f'<img class="figure" alt="figure from your notebook" '
                         f'src="data:{html.escape(mime)};base64,{base64.b64encode(raw).decode()}">')
        return "".join(parts)

    def note(self) -> str:
        """A line saying how many figures were left out ('' when none was)."""
        if not self.dropped:
            return ""
        return (f'<p class="notrun">{self.dropped} more figure(s) from your notebook are not shown '
                f"(this page carries at most {MAX_PAGE_IMAGE_BYTES // 1_000_000} MB of images).</p>")
