"""Read an instructor notebook and line a student's submission up against it.

The source (``solutions/<a>/<nb>.ipynb``, or the released notebook for a self-check) decides
what every nbgrader cell *is*: answer cells come from the student, every other graded or
locked cell comes from the source, whatever the student did to it (nbgrader's
OverwriteCells does the same). :func:`assemble` returns the notebook to run plus the
findings (edited test, deleted answer, duplicated cell, edited metadata) as plain sentences.
"""

from __future__ import annotations

import ast
import copy
import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .untrusted import clean_tree

ANSWER, TEST, SETUP, FREE, MARKDOWN = "answer", "test", "setup", "free", "markdown"
MAX_NOTEBOOK_BYTES = 64 * 2**20
_ROLE_KEYS = ("grade", "solution", "locked", "points", "task")


class NotebookError(ValueError):
    """A notebook that cannot be graded: the message names the file and what is wrong."""


@dataclass(frozen=True)
class Cell:
    """One cell to run: ``kind`` says who owns it and how it is graded."""

    kind: str                    # answer | test | setup | free | markdown
    source: str
    grade_id: str = ""
    points: float = 0.0
    metadata: dict = field(default_factory=dict, compare=False)
    from_student: bool = False


@dataclass(frozen=True)
class SourceNotebook:
    """The instructor's notebook, parsed."""

    path: Path
    cells: tuple[Cell, ...]
    exercises: tuple[str, ...]            # top-level defs of the answer cells
    answer_of: dict = field(default_factory=dict, compare=False)   # exercise name -> answer grade_id

    @property
    def tests(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.kind == TEST)

    def by_id(self, grade_id: str) -> Cell | None:
        return next((c for c in self.cells if c.grade_id == grade_id), None)


@dataclass
class Assembled:
    """The notebook to grade (student answers + instructor cells) and what was found."""

    cells: list[Cell]
    findings: list[str]                   # tampering: makes the submission FLAGGED
    notes: list[str]                      # worth saying, not tampering (deleted answer cell ...)
    deleted_answers: set[str]


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def _text(source: object) -> str:
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def read_notebook(path: Path, follow_links: bool = False) -> dict:
    """The notebook at ``path`` as a JSON dict, checked to be nbformat v4 (else NotebookError).
    Only a regular file is read: a symbolic link (unless ``follow_links``, for the instructor's
    own files), a device or a pipe is refused, never read through."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise NotebookError(f"{Path(path).name}: is a symbolic link, which is not graded "
                                "(submit the notebook file itself)") from None
        raise NotebookError(f"{Path(path).name}: cannot be read ({err.strerror or err})") from None
    try:
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise NotebookError(f"{Path(path).name}: not a regular file")
            if info.st_size > MAX_NOTEBOOK_BYTES:
                raise NotebookError(f"{Path(path).name}: {info.st_size / 2**20:.0f} MB is too large for a "
                                    f"notebook (limit {MAX_NOTEBOOK_BYTES // 2**20} MB; clear its outputs)")
            raw = handle.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as err:
        raise NotebookError(f"{Path(path).name}: cannot be read ({err.strerror or err})") from None
    try:
        nb = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise NotebookError(f"{Path(path).name}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise NotebookError(f"{Path(path).name}: malformed JSON at line {err.lineno}, "
                            f"column {err.colno}: {err.msg}") from None
    nb = clean_tree(nb, code=True)       # lone surrogates, control characters: gone here, once
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{Path(path).name}: not a Jupyter notebook (no list of cells)")
    if nb.get("nbformat") != 4:
        raise NotebookError(f"{Path(path).name}: nbformat {nb.get('nbformat')!r} is not supported "
                            "(expected a version 4 notebook)")
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise NotebookError(f"{Path(path).name}: cell {index + 1} is not a code, markdown "
                                "or raw cell")
    return nb


def _kind(cell: dict) -> str:
    meta = _nbgrader(cell)
    if cell.get("cell_type") != "code":
        return MARKDOWN
    if meta.get("solution"):
        return ANSWER
    if meta.get("grade"):
        return TEST
    if meta.get("locked") and meta.get("grade_id"):
        return SETUP
    return FREE


def top_level_defs(source: str) -> list[str]:
    """Names of the functions a cell defines at top level (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def parse_source(path: Path) -> SourceNotebook:
    """Parse the instructor notebook at ``path`` (raises NotebookError when unusable)."""
    nb = read_notebook(path, follow_links=True)
    cells, exercises, answer_of, seen = [], [], {}, set()
    for raw in nb["cells"]:
        meta = _nbgrader(raw)
        grade_id = str(meta.get("grade_id") or "")
        if grade_id and grade_id in seen:
            raise NotebookError(f"{Path(path).name}: grade_id {grade_id!r} appears twice in the source")
        seen.add(grade_id)
        kind = _kind(raw)
        points = float(meta.get("points") or 0.0) if kind == TEST else 0.0
        source = _text(raw.get("source"))
        cells.append(Cell(kind, source, grade_id, points, copy.deepcopy(raw.get("metadata", {}))))
        if kind == ANSWER:
            for name in top_level_defs(source):
                if name not in answer_of:
                    exercises.append(name)
                    answer_of[name] = grade_id
    return SourceNotebook(Path(path), tuple(cells), tuple(exercises), answer_of)


def _marker(word: str, anywhere: bool) -> re.Pattern:
    return re.compile((r"###\s*" if anywhere else r"[ \t]*###\s*") + word + " HIDDEN TESTS")


_BEGIN, _END = _marker("BEGIN", False), _marker("END", False)
_BEGIN_ANYWHERE, _END_ANYWHERE = _marker("BEGIN", True), _marker("END", True)


def strip_hidden(source: str, note: str = "", *, anywhere: bool = False,
                 cut_unterminated: bool = False) -> str:
    """``source`` with every ``### BEGIN/END HIDDEN TESTS`` block (marker lines included)
    replaced by ``note`` (what the student's copy shows). Markers start a line, or with
    ``anywhere`` may follow code on it; a block without its end is kept, or with
    ``cut_unterminated`` cut to the end. One pass over the lines: linear in the text, however
    a submission repeats the markers."""
    begin, end = (_BEGIN_ANYWHERE, _END_ANYWHERE) if anywhere else (_BEGIN, _END)
    find = (lambda pattern, line: pattern.search(line)) if anywhere else \
        (lambda pattern, line: pattern.match(line))
    out: list[str] = []
    block: list[str] | None = None
    for line in source.splitlines(keepends=True):
        if block is None:
            if find(begin, line):
                block = [line]
            else:
                out.append(line)
        else:
            block.append(line)
            if find(end, line):
                block = None
                out.append(note)
    if block is not None:
        out.append(note if cut_unterminated else "".join(block))
    return "".join(out)


def _same_code(a: str, b: str) -> bool:
    def norm(text: str) -> list[str]:
        return [line.rstrip() for line in strip_hidden(text).splitlines() if line.strip()]
    return norm(a) == norm(b)


def assemble(source: SourceNotebook, submission: dict) -> Assembled:
    """The cells to run for ``submission`` (a notebook dict from :func:`read_notebook`).

    Source order wins; the student's own extra cells stay where they were, after the
    graded cell they followed.
    """
    known = {c.grade_id: c for c in source.cells if c.grade_id}
    findings: list[str] = []
    notes: list[str] = []
    chosen: dict[str, dict] = {}
    extras: dict[str, list[Cell]] = {}
    anchor = ""                                # grade_id of the last known cell seen
    for position, raw in enumerate(submission["cells"], start=1):
        meta = _nbgrader(raw)
        grade_id = str(meta.get("grade_id") or "")
        where = f"cell {position}"
        if grade_id in known:
            ref = known[grade_id]
            if grade_id in chosen:
                what = "answer" if ref.kind == ANSWER else "graded"
                findings.append(f"{where} duplicates the {what} cell '{grade_id}' (the first copy was used)")
                continue
            chosen[grade_id] = raw
            anchor = grade_id
            changed = [k for k in _ROLE_KEYS
                       if k in meta or k in ref.metadata.get("nbgrader", {})
                       if meta.get(k) != ref.metadata.get("nbgrader", {}).get(k)]
            if changed:
                findings.append(f"the nbgrader metadata of cell '{grade_id}' was edited "
                                f"({', '.join(changed)}); the original was used")
            if ref.kind in (TEST, SETUP):
                if raw.get("cell_type") != "code" or not _same_code(_text(raw.get("source")), ref.source):
                    label = "test" if ref.kind == TEST else "locked"
                    findings.append(f"the {label} cell '{grade_id}' was edited; the original was restored")
            continue
        if meta.get("grade") or meta.get("solution"):
            findings.append(f"{where} claims to be graded cell '{grade_id or '?'}', which this "
                            "notebook does not have; it ran as an ordinary cell and earned nothing")
        meta_in = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        kind = FREE if raw.get("cell_type") == "code" else MARKDOWN
        cell = Cell(kind, _text(raw.get("source")), "", 0.0,
                    {k: v for k, v in meta_in.items() if k != "nbgrader"}, True)
        extras.setdefault(anchor, []).append(cell)

    cells: list[Cell] = list(extras.get("", []))
    deleted: set[str] = set()
    for ref in source.cells:
        raw = chosen.get(ref.grade_id) if ref.grade_id else None
        if ref.kind == ANSWER:
            if raw is None:
                deleted.add(ref.grade_id)
                notes.append(f"the answer cell '{ref.grade_id}' was deleted from the notebook")
            elif raw.get("cell_type") != "code":
                deleted.add(ref.grade_id)
                findings.append(f"the answer cell '{ref.grade_id}' was turned into a "
                                f"{raw.get('cell_type')} cell")
            else:
                cells.append(Cell(ANSWER, _text(raw.get("source")), ref.grade_id, 0.0,
                                  copy.deepcopy(ref.metadata), True))
        elif ref.grade_id:
            if raw is None and ref.kind in (TEST, SETUP):
                label = "test" if ref.kind == TEST else "locked"
                findings.append(f"the {label} cell '{ref.grade_id}' was deleted; the original was restored")
            cells.append(ref)
        elif ref.kind == MARKDOWN:
            pass                                # unlabelled source markdown: the student's copy is in extras
        # Unlabelled source code cells are ordinary cells: the student's copies are in extras.
        cells.extend(extras.get(ref.grade_id, []) if ref.grade_id else [])
    return Assembled(cells, findings, notes, deleted)


def to_notebook(cells: list[Cell], outputs: dict[int, list], counts: dict[int, int | None]) -> nbformat.NotebookNode:
    """An nbformat notebook of ``cells`` with the given outputs (by cell index)."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    nb_cells = []
    for index, cell in enumerate(cells):
        if cell.kind == MARKDOWN:
            new = new_markdown_cell(cell.source)
        else:
            new = new_code_cell(cell.source)
            new.outputs = [new_output(**out) for out in outputs.get(index, [])]
            new.execution_count = counts.get(index)
        new.metadata.update(copy.deepcopy(cell.metadata))
        new["id"] = (cell.grade_id or f"cell-{index}").replace("_", "-")[:64]   # stable: regrades match
        nb_cells.append(new)
    nb = new_notebook(cells=nb_cells)
    nb.metadata.update({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    return nb
