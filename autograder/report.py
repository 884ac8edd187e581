"""The class report: per question, how many students passed and which mistakes the others made,
who made them, and which submissions were flagged (or otherwise not graded normally) and why.

Each question of each submission gets one *outcome*: ``passed``, the checker's diagnosis of the
failure (``transposed``, ``sign``, ...), ``not implemented`` (the stub still raises), ``no
diagnosis`` (the test failed, or the student's code raised, without a checker diagnosis), ``not
run`` or ``voided``; a written answer is ``needs manual grading`` until a TA grades it in the
gradebook (then ``graded by hand``), or ``blank``. The word "error" is kept for the grader's own
failures (status ``error``). ``OUT/report.html`` tabulates the counts and embeds
``OUT/report.png``, a stacked bar chart.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from pathlib import Path

from utils.gradcheck import DIAGNOSES

from .gradebook import load_results, manual_grades, with_manual_grades
from .outdir import atomic_path, atomic_write_text
from .engine.results import (BLANK, ERROR, FAILED, FLAGGED, GRADED_BY_HAND, INVALID, MISSING,
                             NEEDS_MANUAL, NOT_RUN, OK, PARTIAL, PASSED, VOIDED, QuestionResult,
                             SubmissionResult)

NOT_IMPLEMENTED = "not implemented"
NO_DIAGNOSIS = "no diagnosis"   # failed or raised; never "error", which means a grader bug
_CHECKER_DIAGNOSES = frozenset(DIAGNOSES) - {"ok"} | {BLANK}   # a failure's category, never "passed"
_FIXED_FIRST = [PASSED]
_FIXED_LAST = [NOT_IMPLEMENTED, NO_DIAGNOSIS, NOT_RUN, VOIDED, NEEDS_MANUAL, GRADED_BY_HAND]


def outcome(q: QuestionResult) -> str:
    """The report category of one graded question."""
    if q.status == FAILED:
        if q.diagnosis in _CHECKER_DIAGNOSES:
            return q.diagnosis
        return NOT_IMPLEMENTED if "NotImplementedError" in q.message else NO_DIAGNOSIS
    return q.status


def outcome_counts(results: list[SubmissionResult]) -> dict[tuple[str, str, str], Counter]:
    """(assignment, notebook, grade_id) -> Counter of outcomes, in notebook order."""
    counts: dict[tuple[str, str, str], Counter] = {}
    for r in results:
        for q in r.questions:
            counts.setdefault((r.assignment, r.notebook, q.grade_id), Counter())[outcome(q)] += 1
    return counts


def categories(counts: dict[tuple[str, str, str], Counter]) -> list[str]:
    """Every outcome seen: passed, then diagnoses (most frequent first), then the rest."""
    total: Counter = Counter()
    for counter in counts.values():
        total.update(counter)
    middle = sorted((c for c in total if c not in _FIXED_FIRST + _FIXED_LAST),
                    key=lambda c: (-total[c], c))
    return [c for c in _FIXED_FIRST if c in total] + middle + [c for c in _FIXED_LAST if c in total]


def plot(counts: dict[tuple[str, str, str], Counter], path: Path) -> Path:
    """A horizontal stacked bar per question: how many students had each outcome."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(counts)
    names = categories(counts)
    palette = {PASSED: "#2da44e", NOT_IMPLEMENTED: "#c8c8c8", NO_DIAGNOSIS: "#555555",
               NOT_RUN: "#d4a72c", VOIDED: "#000000", NEEDS_MANUAL: "#54aeff", GRADED_BY_HAND: "#0969da"}
    tab10, tab20b = plt.get_cmap("tab10").colors, plt.get_cmap("tab20b").colors
    # diagnoses get colours unlike the fixed ones (no green, grey, brown or olive)
    others = iter([tab10[i] for i in (3, 0, 1, 4, 6, 9)] + list(tab20b))
    colors = {c: palette.get(c) or next(others, "#cf222e") for c in names}
    fig, ax = plt.subplots(figsize=(9, 0.45 * max(len(keys), 2) + 1.5))
    left = [0] * len(keys)
    labels = [f"{a} · {g}" for a, _, g in keys]
    for name in names:
        values = [counts[k][name] for k in keys]
        ax.barh(labels, values, left=left, color=colors[name], label=name)
        left = [l + v for l, v in zip(left, values)]
    ax.invert_yaxis()
    ax.set_xlabel("students")
    ax.set_title("Outcome of every question, by checker diagnosis")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    with atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=100, format="png")
    plt.close(fig)
    return path


def question_name(notebook: str, grade_id: str) -> str:
    """A question as ``grades.csv`` names its column: ``<notebook>:<grade_id>``."""
    return f"{notebook}:{grade_id}"


def who(results: list[SubmissionResult]) -> dict[tuple[str, str, str], dict[str, list[str]]]:
    """(assignment, notebook, grade_id) -> outcome -> the students who had it (all but
    ``passed``), so a TA knows whom to reach about which mistake."""
    found: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for r in results:
        for q in r.questions:
            kind = outcome(q)
            per_question = found.setdefault((r.assignment, r.notebook, q.grade_id), {})
            if kind != PASSED:
                per_question.setdefault(kind, []).append(r.student_id)
    return found


def needs_a_look(results: list[SubmissionResult]) -> list[SubmissionResult]:
    """Submissions whose status is not ``ok``: flagged ones first, then by status and student."""
    order = {status: i for i, status in enumerate((FLAGGED, ERROR, INVALID, PARTIAL, MISSING))}
    return sorted((r for r in results if r.status != OK),
                  key=lambda r: (order.get(r.status, len(order)), r.assignment, r.student_id, r.notebook))


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], kinds: str) -> str:
    """An HTML table with a header for every column (cells are escaped here); ``kinds`` has one
    letter per column: ``i`` an identifier (kept on one line), ``n`` a number, ``t`` text that
    wraps and takes the width left."""
    css = {"i": "id", "n": "n", "t": "t"}
    head = "".join(f'<th class="{css[k]}">{html.escape(h)}</th>' for h, k in zip(header, kinds))
    body = "".join("<tr>" + "".join(f'<td class="{css[k]}">{html.escape(c)}</td>' for c, k in zip(row, kinds))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "… (grades.csv has all of it)"


def _mistakes_text(counter: Counter, names: list[str]) -> str:
    return ", ".join(f"{n} {counter[n]}" for n in names if n != PASSED and counter[n])


_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;max-width:100%;margin:.5rem 0 1.5rem}"
    "th{background:#f6f8fa;text-align:left}td,th{border:1px solid #ccc;padding:.25rem .5rem;"
    "vertical-align:top}.id,.n{white-space:nowrap}.n{text-align:right}"
    ".t{min-width:16rem;overflow-wrap:break-word}"
    "img{max-width:100%;height:auto}.none{color:#1a7f37}")


def render(results: list[SubmissionResult], counts: dict[tuple[str, str, str], Counter],
           png: bytes | None) -> str:
    """The report page: scores by status, the submissions to look at (flagged and why), the
    outcomes per question, who made which mistake, then the chart."""
    names = categories(counts)
    status_counts = Counter((r.assignment, r.status) for r in results)
    status_table = _table(("assignment", "status", "notebooks"),
                          [(a, s, str(n)) for (a, s), n in sorted(status_counts.items())], "iin")
    look = needs_a_look(results)
    look_table = (_table(("student", "assignment", "notebook", "status", "why"),
                         [(r.student_id, r.assignment, r.notebook, r.status, _cut(r.reason) or "-")
                          for r in look], "iiiit")
                  if look else '<p class="none">None: every submission was graded normally.</p>')
    outcome_rows = [(a, question_name(nb, g), str(sum(c.values())), str(c[PASSED]),
                     _mistakes_text(c, names) or "-") for (a, nb, g), c in counts.items()]
    outcome_table = _table(("assignment", "question", "students", "passed", "not passed: outcome count"),
                           outcome_rows, "iinnt")
    who_rows = [(a, question_name(nb, g), kind, str(len(students)), ", ".join(students))
                for (a, nb, g), kinds in who(results).items()
                for kind in names if kind in kinds for students in [kinds[kind]]]
    who_table = (_table(("assignment", "question", "outcome", "students", "who"), who_rows, "iiint")
                 if who_rows else '<p class="none">Every student passed every question.</p>')
    image = (f'<img alt="outcomes per question" src="data:image/png;base64,'
             f'{base64.b64encode(png).decode()}">' if png else "")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title>"
        f"<meta name='viewport' content='width=device-width'><style>{_PAGE_CSS}</style></head><body>"
        f"<h1>Class report</h1><p>{len(results)} graded notebook(s), "
        f"{len({r.student_id for r in results})} student(s).</p>"
        f"<h2>Submissions by status</h2>{status_table}"
        f"<h2>Submissions to look at</h2><p>Flagged (tampering found), failed to grade, unreadable, "
        f"stopped early or missing; the reason says what happened.</p>{look_table}"
        f"<h2>Outcome of each question</h2>{outcome_table}"
        f"<h2>Who made which mistake</h2><p>Outcomes are the checker's diagnoses (transposed, "
        f"sign, ...), <i>{NOT_IMPLEMENTED}</i> (the stub still raises), <i>{NO_DIAGNOSIS}</i> (failed "
        f"without a diagnosis), <i>{NOT_RUN}</i>, <i>{VOIDED}</i>, and for written answers "
        f"<i>{NEEDS_MANUAL}</i> (a TA grades it), <i>{GRADED_BY_HAND}</i> and <i>{BLANK}</i>.</p>{who_table}"
        f"{image}</body></html>\n"
    )


def write_report(out_dir: Path) -> tuple[Path, Path | None]:
    """Write ``report.html`` (and ``report.png`` when there is anything to plot) for every
    results file in ``out_dir``."""
    results, _ = load_results(out_dir)
    results = with_manual_grades(results, manual_grades(out_dir / "gradebook.db"))
    counts = outcome_counts(results)
    png_path = out_dir / "report.png"
    png_path.unlink(missing_ok=True)
    png = None
    if counts:
        plot(counts, png_path)
        png = png_path.read_bytes()
    html_path = out_dir / "report.html"
    atomic_write_text(html_path, render(results, counts, png))
    return html_path, (png_path if png else None)


def text_table(results: list[SubmissionResult]) -> str:
    """The outcomes per question as a plain-text table (for the terminal); questions are named
    as grades.csv's columns."""
    counts = outcome_counts(results)
    names = categories(counts)
    header = ["question", "students", "passed", "not passed: outcome count"]
    rows = [[question_name(nb, g), str(sum(c.values())), str(c[PASSED]), _mistakes_text(c, names) or "-"]
            for (a, nb, g), c in counts.items()]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) if i in (1, 2) else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
                     for row in [header, *rows])
