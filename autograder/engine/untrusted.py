"""Text and outputs that come from a submission, made safe once, where they enter the grader.

Every string a student can influence (a notebook's content, a folder name, anything the
sandboxed process or the judge sends back: outputs, exception messages, findings) passes
through here before the grader stores, compares or renders it:

- :func:`clean_text`: lone surrogates (unencodable in UTF-8) and control characters other than
  tab, newline and carriage return become U+FFFD, so no file, CSV row, database or page that
  later holds the text can fail to encode it;
- :func:`clean_tree`: the same for every string (and key) in a decoded JSON message;
- :func:`clean_outputs`: a cell's outputs as nbformat allows them and nothing else: a known
  ``output_type`` with the fields it needs, text of bounded size, and a total budget per
  submission, so forged or huge outputs never reach a graded notebook or a feedback page.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

_UNSAFE = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSAFE_CODE = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0e-\x1f\x7f]")   # keeps form feed
REPLACEMENT = "\ufffd"

OUTPUT_TEXT_CHARS = 100_000          # one output's text (a stream, a text/plain value, a traceback)
OUTPUT_IMAGE_CHARS = 400_000         # one base64 image/png
SUBMISSION_OUTPUT_CHARS = 2_000_000  # every output of one submission together
MIME_TYPES = ("text/plain", "image/png")
STREAM_NAMES = ("stdout", "stderr")


def clean_text(text: object, limit: int | None = None) -> str:
    """``text`` as a string that encodes as UTF-8 and holds no control characters but tab,
    newline and carriage return; cut to ``limit`` characters (with a note) when given."""
    if not isinstance(text, str):
        text = str(text)
    text = _UNSAFE.sub(REPLACEMENT, text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"\n[... {len(text) - limit} more characters not kept]"
    return text


def clean_code(text: str) -> str:
    """Code from a notebook: like :func:`clean_text`, but a form feed (legal Python
    whitespace) is kept."""
    return _UNSAFE_CODE.sub(REPLACEMENT, text)


def clean_tree(value: Any, code: bool = False) -> Any:
    """``value`` (decoded JSON) with every string and key cleaned (:func:`clean_code` when
    ``code``); iterative, so depth costs no recursion."""
    clean = clean_code if code else clean_text
    if isinstance(value, str):
        return clean(value)
    if not isinstance(value, (dict, list)):
        return value
    root = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = clean(item)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
        elif isinstance(item, dict):
            if any(isinstance(k, str) and _UNSAFE.search(k) for k in item):
                renamed = {clean(k) if isinstance(k, str) else k: v for k, v in item.items()}
                item.clear()
                item.update(renamed)
            stack.extend((item, k) for k in list(item))
    return root[0]


class OutputBudget:
    """How many characters of outputs one submission may still store."""

    def __init__(self, chars: int = SUBMISSION_OUTPUT_CHARS) -> None:
        self.left = chars
        self.dropped = 0

    def take(self, text: str, limit: int) -> str | None:
        """``text`` cut to ``limit`` and charged to the budget; None once the budget is spent."""
        if self.left <= 0:
            self.dropped += 1
            return None
        text = clean_text(text, min(limit, self.left))
        self.left -= len(text)
        return text


def _text(value: object) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value if isinstance(value, str) else None


def _png(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return text


def _one(output: object, budget: OutputBudget) -> dict | None:
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(output.get("text"))
        name = output.get("name")
        if text is None or name not in STREAM_NAMES:
            return None
        kept = budget.take(text, OUTPUT_TEXT_CHARS)
        return None if kept is None else {"output_type": "stream", "name": name, "text": kept}
    if kind == "error":
        ename, evalue = _text(output.get("ename")), _text(output.get("evalue"))
        traceback = output.get("traceback")
        if ename is None or evalue is None or not isinstance(traceback, list) \
                or not all(isinstance(t, str) for t in traceback):
            return None
        kept = [budget.take(part, OUTPUT_TEXT_CHARS) for part in (ename, evalue, "".join(traceback))]
        if None in kept:
            return None
        return {"output_type": "error", "ename": kept[0][:200], "evalue": kept[1],
                "traceback": kept[2].splitlines(True)}
    if kind in ("execute_result", "display_data"):
        data = output.get("data")
        if not isinstance(data, dict):
            return None
        kept_data = {}
        if _png(data.get("image/png")) is not None:
            image = _png(data["image/png"])
            if len(image) <= OUTPUT_IMAGE_CHARS and budget.left >= len(image):
                budget.left -= len(image)
                kept_data["image/png"] = image
        plain = _text(data.get("text/plain"))
        if plain is not None:
            kept = budget.take(plain, OUTPUT_TEXT_CHARS)
            if kept is not None:
                kept_data["text/plain"] = kept
        if not kept_data:
            return None
        clean = {"output_type": kind, "data": kept_data, "metadata": {}}
        if kind == "execute_result":
            count = output.get("execution_count")
            clean["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
        return clean
    return None


def clean_outputs(outputs: object, budget: OutputBudget) -> tuple[list[dict], int]:
    """The outputs of one cell that are well-formed (cleaned and cut), and how many were
    dropped (malformed, unknown type, or past the submission's budget)."""
    if not isinstance(outputs, list):
        return [], 0 if outputs in (None, "") else 1
    kept, dropped = [], 0
    for output in outputs:
        clean = _one(output, budget)
        if clean is None:
            dropped += 1
        else:
            kept.append(clean)
    return kept, dropped
