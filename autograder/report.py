"""The class report: per question, how many students passed and which mistakes the others made.

Each question of each submission gets one *outcome*: ``passed``, the checker's diagnosis of the
failure (``transposed``, ``sign``, ...), ``not implemented`` (the stub still raises), ``no
diagnosis`` (the test failed, or the student's code raised, without a checker diagnosis), ``not
run`` or ``voided``. The word "error" is kept for the grader's own failures (status ``error``).
``OUT/report.html`` tabulates the counts and embeds ``OUT/report.png``, a stacked bar chart.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from pathlib import Path

from utils.gradcheck import DIAGNOSES

from .gradebook import load_results
from .outdir import atomic_path, atomic_write_text
from .engine.results import FAILED, NOT_RUN, PASSED, VOIDED, QuestionResult, SubmissionResult

NOT_IMPLEMENTED = "not implemented"
NO_DIAGNOSIS = "no diagnosis"   # failed or raised; never "error", which means a grader bug
_CHECKER_DIAGNOSES = frozenset(DIAGNOSES) - {"ok"}    # a failure's category, never "passed"
_FIXED_FIRST = [PASSED]
_FIXED_LAST = [NOT_IMPLEMENTED, NO_DIAGNOSIS, NOT_RUN, VOIDED]


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
               NOT_RUN: "#d4a72c", VOIDED: "#000000"}
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


def render(results: list[SubmissionResult], counts: dict[tuple[str, str, str], Counter],
           png: bytes | None) -> str:
    """The report page: scores by status, then the outcome table, then the chart."""
    names = categories(counts)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{html.escape(g)}</td>"
        + "".join(f"<td>{counts[(a, nb, g)][n] or ''}</td>" for n in names) + "</tr>"
        for a, nb, g in counts)
    status_counts = Counter((r.assignment, r.status) for r in results)
    status_rows = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(s)}</td><td>{n}</td></tr>"
                          for (a, s), n in sorted(status_counts.items()))
    image = (f'<img alt="outcomes per question" src="data:image/png;base64,'
             f'{base64.b64encode(png).decode()}">' if png else "")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}"
        "td:first-child,td:nth-child(2){text-align:left}</style></head><body>"
        f"<h1>Class report</h1><p>{len(results)} graded notebook(s), "
        f"{len({r.student_id for r in results})} student(s).</p>"
        f"<h2>Submissions by status</h2><table><tr><th>assignment</th><th>status</th><th>notebooks</th></tr>"
        f"{status_rows}</table>"
        f"<h2>Which mistakes, per question</h2><table><tr><th>assignment</th><th>question</th>{head}</tr>"
        f"{rows}</table>{image}</body></html>\n"
    )


def write_report(out_dir: Path) -> tuple[Path, Path | None]:
    """Write ``report.html`` (and ``report.png`` when there is anything to plot) for every
    results file in ``out_dir``."""
    results, _ = load_results(out_dir)
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
    """The outcome counts as a plain-text table (for the terminal)."""
    counts = outcome_counts(results)
    names = categories(counts)
    header = ["question", *names]
    rows = [[f"{a}:{g}", *(str(counts[(a, nb, g)][n] or "") for n in names)] for a, nb, g in counts]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
                     for row in [header, *rows])
