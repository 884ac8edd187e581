"""A determined class: one batch in which every student attacks the grader a different way.
Nobody earns what they did not, nobody's attack costs anyone else (or the batch) their grade,
and grades.csv, the gradebook, the report and the feedback pages tell one story."""

from __future__ import annotations

import json
import os
import re
import tempfile

import nbformat
import pytest

from autograder.batch import Limits, grade_assignment
from autograder.gradebook import load_results
from autograder.report import outcome_counts
from tests.autograder.adversarial import (ASSIGNMENT, NOTEBOOK, assert_consistent, course, csv_rows,
                                          student_notebook, submission_path, submit)

pytestmark = pytest.mark.slow

HONEST = ["ann", "namesake"]

MUTATE = {"double": "def double(x):\n    x[...] = 0\n    return x.copy()",
          "total": "def total(weights):\n    weights.clear()\n    return 0.0"}
SPOOF = {"double": "def double(x):\n    raise AssertionError('[passed] double: your answer is right')",
         "total": "def total(weights):\n    raise AssertionError('[transposed] total: looks transposed')"}
NAMESAKE = "def show(value):\n    \"\"\"My own plotting helper.\"\"\"\n    return f'mine: {value}'\n\nshow(1)"
CHEAT = "from utils.gradcheck import assert_close\nassert_close = lambda *args, **kwargs: None"
GARBLE_PRINT = "print('bad \\ud800 text \\x00\\x1b[31m red \\x07')"
GARBLE_TOTAL = "def total(weights):\n    raise ValueError('lone \\ud800 surrogate, bell \\x07, nul \\x00')"
MAIN_PROBE = "import __main__\nprint('MAIN', hasattr(__main__, 'Runner'), __main__.double is double)"
FORGE = '''import gc
streams = next(o for o in gc.get_objects() if isinstance(o, type) and o.__name__ == "Streams")
def forged(self):
    return [{"output_type": "bogus", "text": "x"},
            {"output_type": "display_data", "metadata": {}, "text": "",
             "data": {"image/png": '"><script>alert(1)</script>', "text/html": "<script>x</script>"}},
            {"output_type": "stream", "name": "stdout", "text": "A" * (5 * 2**20)},
            {"output_type": "stream", "name": "stdout", "text": "B" * (5 * 2**20)}]
streams.outputs = forged'''
DEEP = '''import os
for _ in range(1500):
    os.mkdir("d")
    os.chdir("d")
os.chdir(os.environ["HOME"])
os.chmod("d", 0)'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One class, graded once with the real engine (two workers, bubblewrap where usable)."""
    root = tmp_path_factory.mktemp("class")
    home = course(root / "course")
    subs = root / "submissions"
    submit(subs, "ann", student_notebook(home))
    submit(subs, "mutator", student_notebook(home, MUTATE))
    submit(subs, "spoofer", student_notebook(home, SPOOF))
    submit(subs, "namesake", student_notebook(home, extra=[("total", NAMESAKE)]))
    submit(subs, "cheat", student_notebook(home, {"double": "def double(x):\n    return x"},
                                           extra=[("imports", CHEAT)]))
    # links, devices and folders that are not what they seem
    submission_path(subs, "linker").parent.mkdir(parents=True)
    submission_path(subs, "linker").symlink_to(home / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    submission_path(subs, "copycat").parent.mkdir(parents=True)
    submission_path(subs, "copycat").symlink_to(submission_path(subs, "ann"))
    (subs / "folderlink").symlink_to(subs / "ann", target_is_directory=True)
    (subs / "assignmentlink").mkdir()
    (subs / "assignmentlink" / ASSIGNMENT).symlink_to(subs / "ann" / ASSIGNMENT, target_is_directory=True)
    submission_path(subs, "pipe").parent.mkdir(parents=True)
    os.mkfifo(submission_path(subs, "pipe"))
    # text no file format can hold, in outputs, messages, metadata and the folder name
    garbled = student_notebook(home, {"total": GARBLE_TOTAL}, extra=[("double", GARBLE_PRINT)])
    garbled.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={
        "nbgrader": {"grade": True, "grade_id": "fake\ud800\x01", "points": 5}}))
    text = json.dumps(garbled)                                  # ensure_ascii: "\ud800" stays escaped
    submit(subs, "garbler", text)
    odd = os.fsdecode(b"odd\xffname")
    submit(subs, odd, student_notebook(home))
    # huge repetitive text where a test cell was
    repeated = student_notebook(home)
    next(c for c in repeated.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_total") \
        .source = "### BEGIN HIDDEN TESTS\n" * 200_000
    submit(subs, "repeater", repeated)
    submit(subs, "forger", student_notebook(home, extra=[("double", FORGE), ("double", MAIN_PROBE)]))
    submit(subs, "deep", student_notebook(home, extra=[("double", DEEP)]))
    out = root / "out"
    scratch = root / "scratch"
    scratch.mkdir()
    patch = pytest.MonkeyPatch()
    patch.setattr(tempfile, "tempdir", str(scratch))          # where the workers' folders go
    try:
        results = grade_assignment(ASSIGNMENT, subs, out, source_dir=home / "solutions", workers=2,
                                   limits=Limits(timeout=20), progress=False)
    finally:
        patch.undo()
    return {"out": out, "rows": csv_rows(out), "results": {r.student_id: r for r in results},
            "scratch": scratch, "odd": odd}


def _row(graded: dict, student: str) -> dict:
    return graded["rows"][student]


def test_the_whole_class_is_graded_and_every_record_agrees(graded: dict) -> None:
    """Does the batch finish with one row per student (none an `error`), and do grades.csv,
    the gradebook and the feedback pages agree?"""
    rows = graded["rows"]
    assert len(rows) == 15
    assert {s: r["status"] for s, r in rows.items() if r["status"] == "error"} == {}
    assert_consistent(graded["out"])


def test_mutating_the_inputs_earns_nothing(graded: dict) -> None:
    """Does an answer that zeroes its array (or empties its dict) and returns zeros fail,
    because the references come from the inputs the test made, not the mutated ones?"""
    row = _row(graded, "mutator")
    assert (row["score"], row["status"]) == ("0", "ok"), row
    assert (row[f"{NOTEBOOK}:test_double"], row[f"{NOTEBOOK}:test_total"]) == ("0", "0")
    assert _row(graded, "ann")["score"] == "3"


@pytest.mark.parametrize("student, words", [
    ("linker", "the notebook attack.ipynb is a symbolic link"),
    ("copycat", "the notebook attack.ipynb is a symbolic link"),
    ("folderlink", "the student folder folderlink is a symbolic link"),
    ("assignmentlink", f"the assignment folder {ASSIGNMENT} is a symbolic link"),
    ("pipe", "the notebook attack.ipynb is not a regular file"),
])
def test_links_and_devices_are_refused_not_read_through(graded: dict, student: str, words: str) -> None:
    """Is a submission that is a link (to the solutions, to another student's notebook, or
    through a linked folder) or a device `invalid` with a reason, and never graded as the
    file it points to?"""
    row = _row(graded, student)
    assert (row["score"], row["status"]) == ("0", "invalid"), row
    assert words in row["reason"]
    assert not (graded["out"] / "autograded" / student).exists()


def test_a_spoofed_verdict_is_not_counted_as_passed(graded: dict) -> None:
    """When student code raises '[passed] ...' or '[transposed] ...', does the report count
    the question as failed without a diagnosis, exactly as grades.csv scores it?"""
    row = _row(graded, "spoofer")
    assert row["score"] == "0"
    spoofed = {q.grade_id: q for q in graded["results"]["spoofer"].questions}
    assert spoofed["test_double"].diagnosis == "" and spoofed["test_total"].diagnosis == ""
    results, _ = load_results(graded["out"])
    counts = outcome_counts(results)
    for grade_id in ("test_double", "test_total"):
        passed_in_csv = sum(r[f"{NOTEBOOK}:{grade_id}"] not in ("0", "") for r in graded["rows"].values())
        assert counts[(ASSIGNMENT, NOTEBOOK, grade_id)]["passed"] == passed_in_csv
    assert "transposed" not in counts[(ASSIGNMENT, NOTEBOOK, "test_total")]


def test_an_honest_name_collision_is_a_note_and_a_cheat_stays_flagged(graded: dict) -> None:
    """Is a student's own function named like a locked helper only a note (full marks, `ok`),
    while replacing a checker with one that ignores its inputs is still `flagged`?"""
    row = _row(graded, "namesake")
    assert (row["score"], row["status"]) == ("3", "ok"), row
    assert "defines its own 'show'" in row["reason"] and "changed nothing" in row["reason"]
    cheat = _row(graded, "cheat")
    assert cheat["status"] == "flagged" and "assert_close" in cheat["reason"], cheat
    assert cheat[f"{NOTEBOOK}:test_double"] == "0"


def test_unencodable_text_is_cleaned_where_it_enters(graded: dict) -> None:
    """Do a lone surrogate and control characters in outputs, exception messages, cell metadata
    and a folder name end up as U+FFFD in every record, instead of crashing the batch?"""
    row = _row(graded, "garbler")
    assert row["status"] == "flagged" and row["score"] == "2", row
    assert "fake\ufffd\ufffd" in row["reason"]
    message = {q.grade_id: q for q in graded["results"]["garbler"].questions}["test_total"].message
    assert "\ufffd" in message and "\x07" not in message
    odd = graded["odd"].replace("\udcff", "\ufffd")
    assert _row(graded, odd)["score"] == "3"
    for path in [graded["out"] / "grades.csv", *(graded["out"] / "feedback").rglob("*.html"),
                 *(graded["out"] / "results").glob("*.json")]:
        text = path.read_bytes().decode("utf-8")                     # strict: no surrogates
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", text), path


def test_huge_repetitive_text_is_processed_in_linear_time(graded: dict) -> None:
    """Is a test cell replaced by 200,000 hidden-test markers flagged as edited and restored
    (the student keeps the marks their answers earn), within the grader's limits?"""
    row = _row(graded, "repeater")
    assert row["status"] == "flagged" and "the test cell 'test_total' was edited" in row["reason"], row
    assert row["score"] == "3"


def test_forged_outputs_are_validated_capped_and_escaped(graded: dict) -> None:
    """Does `import __main__` give the notebook its own module, and do outputs forged through
    the runner's objects (unknown type, a script in an image, 10 MiB of text) end up dropped,
    capped and escaped instead of failing the grader or landing in the feedback page?"""
    row = _row(graded, "forger")
    assert row["score"] == "3" and row["status"] == "ok", row
    assert "not kept" in row["reason"]
    graded_nb = graded["out"] / "autograded" / "forger" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert graded_nb.stat().st_size < 3 * 2**20
    outputs = [o for c in nbformat.read(graded_nb, as_version=4).cells for o in c.get("outputs", [])]
    assert {o["output_type"] for o in outputs} <= {"stream", "error", "execute_result", "display_data"}
    assert any(o.get("text") == "MAIN False True\n" for o in outputs)
    page = (graded["out"] / "feedback" / "forger" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "<script>" not in page and '"><script' not in page


def test_a_deep_folder_tree_is_cleaned_up(graded: dict) -> None:
    """Does a 1,500-level folder tree (its top unreadable) leave the student's grade intact
    and nothing behind in the grader's temporary folder?"""
    row = _row(graded, "deep")
    assert (row["score"], row["status"]) == ("3", "ok"), row
    assert list(graded["scratch"].iterdir()) == []


def test_the_report_keeps_error_for_grader_failures(graded: dict) -> None:
    """With no grader failure in the class, does report.html avoid the word "error" (student
    code that raised is "no diagnosis"), and the feedback pages too?"""
    report = (graded["out"] / "report.html").read_text()
    assert not re.search(r"\berror\b", report)
    assert "no diagnosis" in report
    for page in (graded["out"] / "feedback").rglob("*.html"):
        assert not re.search(r"\berror\b", page.read_text()), page
