"""Feedback pages: what a student sees after grading.

One self-contained HTML page per graded notebook: the score, then every question with its
points and the checker's diagnosis ("[transposed] dW1: your gradient is the transpose of the
correct one ..."), then the student's notebook with each test cell's *visible* code and its
verdict. Hidden tests never appear: ``### BEGIN HIDDEN TESTS`` blocks are cut from test-cell
sources, a test cell shows only its printed output (the judge keeps the visible part's prints
only) and the verdict instead of its traceback, and as a last guard any line of a hidden-test
block of the source notebook is redacted from the page.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

from .outdir import atomic_write_text
from .release import protected_lines
from .engine.source import strip_hidden
from .engine.results import FAILED, NOT_RUN, PASSED, VOIDED, QuestionResult, SubmissionResult

HIDDEN_NOTE = "# (hidden tests run here when your notebook is graded)\n"
_MAX_OUTPUT_LINES = 40
_MAX_OUTPUT_CHARS = 4000
_MAX_IMAGE_BYTES = 400_000
_MAX_MARKDOWN_CHARS = 20_000        # longer markdown is shown as text (rendering stays cheap)
_MAX_MARKDOWN_TOTAL = 200_000       # markdown rendered per page; the rest is shown as text
_MAX_SOURCE_CHARS = 50_000          # a cell's code shown on the page
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")

_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap;margin:.2rem 0}
.cell{margin:1rem 0}.out{background:#fff;border-left:3px solid #ddd}
.passed{color:#1a7f37}.failed,.voided{color:#cf222e}.notrun{color:#9a6700}
.verdict{border:1px solid #ccc;border-radius:4px;padding:.4rem .6rem;margin:.2rem 0}
.verdict.passed{background:#dafbe1}.verdict.failed,.verdict.voided{background:#ffebe9}.verdict.notrun{background:#fff8c5}
"""


def strip_hidden_tests(source: str) -> str:
    """``source`` with every ``### BEGIN/END HIDDEN TESTS`` block replaced by a short note
    (an unterminated block is cut to the end of the cell)."""
    return strip_hidden(source, HIDDEN_NOTE, anywhere=True, cut_unterminated=True)


def hidden_lines(source: Path | None) -> list[str]:
    """Distinctive lines of the hidden-test blocks of a source notebook ([] if unreadable)."""
    if source is None or not source.is_file():
        return []
    try:
        return [line for kind, line in protected_lines(source) if kind == "hidden test"]
    except (ValueError, OSError):
        return []


def _css_class(status: str) -> str:
    return {PASSED: "passed", FAILED: "failed", VOIDED: "voided", NOT_RUN: "notrun"}.get(status, "")


def _verdict(q: QuestionResult) -> str:
    text = f"{q.grade_id}: {q.status}, {q.points:g}/{q.max_points:g} point(s)"
    if q.message:
        text += f"\n{q.message}"
    return f'<pre class="verdict {_css_class(q.status)}">{html.escape(text)}</pre>'


def _cut(text: str, limit: int = _MAX_SOURCE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


def _truncate(text: str) -> str:
    lines = text.splitlines()
    if len(lines) > _MAX_OUTPUT_LINES:
        text = "\n".join(lines[:_MAX_OUTPUT_LINES]) + f"\n... ({len(lines) - _MAX_OUTPUT_LINES} more lines)"
    if len(text) > _MAX_OUTPUT_CHARS:
        text = text[:_MAX_OUTPUT_CHARS] + f"\n... ({len(text) - _MAX_OUTPUT_CHARS} more characters)"
    return text


def _outputs(cell: nbformat.NotebookNode, kinds: tuple[str, ...] = ("stream", "error", "execute_result",
                                                                   "display_data")) -> str:
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind not in kinds:
            continue
        if kind == "stream":
            parts.append(f'<pre class="out">{html.escape(_truncate(str(out.get("text", ""))))}</pre>')
        elif kind == "error":
            line = f'{out.get("ename", "Error")}: {out.get("evalue", "")}'
            parts.append(f'<pre class="out failed">{html.escape(_truncate(line))}</pre>')
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            image = _png_base64(data.get("image/png"))
            if image:
                parts.append(f'<img alt="figure" src="data:image/png;base64,{html.escape(image)}">')
            elif "text/plain" in data:
                parts.append(f'<pre class="out">{html.escape(_truncate(str(data["text/plain"])))}</pre>')
    return "".join(parts)


def _png_base64(image: object) -> str:
    """``image`` if it is base64 text of bounded size (whitespace dropped), else "": anything
    else in an output could break out of the page's ``<img>`` tag."""
    if not isinstance(image, str) or len(image) > _MAX_IMAGE_BYTES:
        return ""
    image = "".join(image.split())
    return image if _BASE64.fullmatch(image) else ""


def _markdown(source: str) -> str:
    if len(source) > _MAX_MARKDOWN_CHARS:
        return f"<pre>{html.escape(_cut(source, _MAX_MARKDOWN_CHARS))}</pre>"
    try:
        import mistune
    except ImportError:  # pragma: no cover - mistune comes with nbconvert
        return f"<pre>{html.escape(source)}</pre>"
    return mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])(source)


def _cells(nb: nbformat.NotebookNode, questions: dict[str, QuestionResult]) -> str:
    parts = []
    markdown_left = _MAX_MARKDOWN_TOTAL          # rendering markdown costs more than escaping
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        source = str(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            rendered = len(source) <= markdown_left
            markdown_left -= len(source) if rendered else 0
            shown = _markdown(source) if rendered else f"<pre>{html.escape(_cut(source))}</pre>"
            parts.append(f'<div class="cell">{shown}</div>')
        elif cell.get("cell_type") == "code":
            grade_id = meta.get("grade_id", "")
            if meta.get("grade") or grade_id in questions:
                body = f"<pre>{html.escape(_cut(strip_hidden_tests(source)))}</pre>"
                body += _outputs(cell, kinds=("stream",))   # the judge keeps only visible prints
                if grade_id in questions:
                    body += _verdict(questions[grade_id])
            else:
                body = f"<pre>{html.escape(_cut(source))}</pre>{_outputs(cell)}"
            parts.append(f'<div class="cell">{body}</div>')
    return "\n".join(parts)


def render_feedback(result: SubmissionResult, nb: nbformat.NotebookNode | None = None,
                    hidden: list[str] = ()) -> str:
    """The feedback page of ``result`` (with the graded notebook ``nb`` when there is one);
    lines listed in ``hidden`` are redacted wherever they would appear."""
    title = f"{result.assignment} / {result.notebook}: feedback for {result.student_id}"
    rows = "".join(
        f'<tr><td>{html.escape(q.grade_id)}</td><td>{q.points:g} / {q.max_points:g}</td>'
        f'<td class="{_css_class(q.status)}">{html.escape(q.status)}</td>'
        f'<td>{html.escape(q.diagnosis)}</td><td><pre>{html.escape(q.message)}</pre></td></tr>'
        for q in result.questions)
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p><b>Score: {result.score:g} / {result.max_score:g}</b> &mdash; status: "
        f"<b>{html.escape(result.status)}</b></p>",
    ]
    if result.reason:
        parts.append(f"<p>{html.escape(result.reason)}</p>")
    parts.append("<h2>Questions</h2><table><tr><th>question</th><th>points</th><th>result</th>"
                 f"<th>diagnosis</th><th>what the checker says</th></tr>{rows}</table>")
    if nb is not None:
        parts.append("<h2>Your notebook</h2>" + _cells(nb, {q.grade_id: q for q in result.questions}))
    parts.append("</body></html>\n")
    page = "\n".join(parts)
    for line in hidden:
        page = page.replace(html.escape(line), "[hidden]").replace(line, "[hidden]")
    return page


def write_feedback(result: SubmissionResult, path: Path, *, source: Path | None = None,
                   graded: Path | None = None) -> Path:
    """Write ``result``'s feedback page to ``path``; ``graded`` is the graded notebook (shown
    when readable), ``source`` the instructor notebook whose hidden tests must not leak."""
    nb = None
    if graded is not None:
        try:
            nb = nbformat.read(graded, as_version=4)
        except Exception:  # an unreadable notebook still gets its score page
            nb = None
    atomic_write_text(path, render_feedback(result, nb, hidden_lines(source)))
    return path
