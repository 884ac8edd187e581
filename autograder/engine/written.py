"""Written answers: nbgrader's manually graded answer cells (markdown, ``grade`` and
``solution`` set, worth ``points``).

The grader never scores a written answer itself: it keeps the student's text (made safe to
render, see :func:`sanitise`) in the graded notebook and reports the question as
:data:`~autograder.engine.results.NEEDS_MANUAL`, worth its points once a TA grades it in
formgrader. Only an answer left blank (empty, or still the release's ``YOUR ANSWER HERE``)
gets 0 at once, with diagnosis ``blank`` and a message that says so.
"""

from __future__ import annotations

import hashlib
import re

from .results import BLANK, FAILED, NEEDS_MANUAL, QuestionResult

STUB = "YOUR ANSWER HERE"          # nbgrader's text stub (ClearSolutions.text_stub)
MAX_CHARS = 20_000                 # a written answer longer than this is cut (and says so)
NEEDS_MANUAL_MESSAGE = "written answer: a TA grades it by hand (its points are pending)"
BLANK_MESSAGE = f"no answer written (the cell is empty or still says '{STUB}')"

# An HTML tag, comment, declaration or processing instruction ("a < b" in text is not one).
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SCRIPT_URL = re.compile(r"(?i)\b(java|vb)script\s*:")


def sanitise(text: str) -> str:
    """The student's answer, safe to render as markdown in formgrader, JupyterLab and the
    feedback page: raw HTML is shown as text (``<script>`` becomes ``&lt;script>``),
    ``javascript:`` links are defused, control characters dropped and the length capped.
    Markdown and LaTeX (``$a < b$``) are kept as written."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + f"\n\n*(answer cut at {MAX_CHARS} characters)*"
    text = _TAG.sub("&lt;", text)
    return _SCRIPT_URL.sub(lambda m: m.group(0).replace(":", "&#58;"), text)


def is_blank(text: str) -> bool:
    """Whether the student wrote nothing: empty, or only the release's stub."""
    return text.strip() in ("", STUB)


def digest(text: str) -> str:
    """sha256 of an answer's text (whitespace at either end ignored)."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def written_question(grade_id: str, points: float, answer: str) -> QuestionResult:
    """The result of one written answer: pending a TA's grade, or 0 when left blank."""
    if is_blank(answer):
        return QuestionResult(grade_id, 0.0, points, FAILED, diagnosis=BLANK, message=BLANK_MESSAGE,
                              answer_sha256=digest(answer))
    return QuestionResult(grade_id, 0.0, points, NEEDS_MANUAL, message=NEEDS_MANUAL_MESSAGE,
                          answer_sha256=digest(answer))
