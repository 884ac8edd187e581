"""`python -m autograder lab` in a real browser: Debian's chromium driven by Playwright.

One JupyterLab serves the module: a copy of the course (solutions/ and notebooks/ of 01–05)
plus a small assignment with a written question, graded for two students (one answered the
written question, one left it blank). Screenshots go to $BACKPROP_LAB_SCREENSHOTS (default: a
temporary folder)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from autograder import NOTEBOOKS_DIR, SOLUTIONS_DIR
from autograder.__main__ import main
from autograder.gradebook import COURSE_ID, read_csv, write_grade_files
from autograder.lab import LAST_OUTPUT_ENV, find_output, lab_command
from autograder.release import assignments
from tests.autograder.test_written import ANN, _submission, written_course

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium)")]
TOKEN = "backprop-lab-browser-test"
ASSIGNMENTS = ["00_written", *assignments(SOLUTIONS_DIR)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """(base URL, OUT, course root) of a running `autograder lab` on a graded class."""
    work = tmp_path_factory.mktemp("lab")
    course = written_course(work / "course")
    ignore = shutil.ignore_patterns(".*", "__pycache__")
    for name in assignments(SOLUTIONS_DIR):
        shutil.copytree(SOLUTIONS_DIR / name, course / "solutions" / name, ignore=ignore)
        shutil.copytree(NOTEBOOKS_DIR / name, course / "notebooks" / name, ignore=ignore)
    (course / "notebooks" / "00_written" / "data.txt").write_text("a file the instructor added\n")
    subs, out = work / "submitted", work / "out"
    for student, answer in {"ann": ANN, "bob": None}.items():
        path = subs / student / "00_written" / "written.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_submission(course, answer)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LAST_OUTPUT_ENV, str(work / "last-output"))
        assert main(["grade", "00_written", "--submissions", str(subs), "--out", str(out),
                     "--source", str(course / "solutions"), "--quiet"]) == 0
        assert find_output(None) == out.resolve()        # `lab` opens the last grades by default
    port = _free_port()
    argv, env, root = lab_command(out, port, allow_root=hasattr(os, "geteuid") and os.geteuid() == 0)
    log = (work / "server.log").open("w")
    server = subprocess.Popen([*argv, f"--IdentityProvider.token={TOKEN}"], env=env, cwd=root,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(work / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield base, out, course
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser_context():
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        # the token as a header reaches formgrader's own API calls too
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      extra_http_headers={"Authorization": f"token {TOKEN}"})
        context.set_default_timeout(90_000)
        yield context
        browser.close()


@pytest.fixture()
def page(browser_context):
    page = browser_context.new_page()
    yield page
    page.close()


def _shot(page, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BACKPROP_LAB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _links(page) -> list[str]:
    return page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")


def test_formgrader_lists_every_assignment(lab, page, tmp_path: Path) -> None:
    """Does Manage Assignments list the course's assignments (01–05 and the written one), with
    the two graded submissions of 00_written?"""
    base, _, _ = lab
    page.goto(f"{base}/formgrader/manage_assignments")
    page.wait_for_selector("td a:text-is('00_written')")
    names = page.eval_on_selector_all("tbody td.name a", "els => els.map(e => e.textContent.trim())")
    assert sorted(names) == sorted(ASSIGNMENTS) and len(ASSIGNMENTS) >= 6
    assert page.locator("#warning-exchange").count() == 0      # the course-local exchange exists
    row = page.locator("tbody tr", has=page.locator("td.name a:text-is('00_written')"))
    assert row.locator("a[href$='/manage_submissions/00_written']").inner_text().strip() == "2"
    _shot(page, "formgrader-manage-assignments", tmp_path)


def test_every_formgrader_link_opens(lab, page, browser_context, tmp_path: Path) -> None:
    """Does every link of formgrader's pages (assignment folders, previews, submissions,
    students, manual grading) open with HTTP 200 and no 404 page, and does the Assignment List
    read the course-local exchange?"""
    base, _, _ = lab
    seen: set[str] = set()
    for path in ("/formgrader/manage_assignments", "/formgrader/gradebook", "/formgrader/gradebook/00_written",
                 "/formgrader/manage_submissions/00_written", "/formgrader/manage_students"):
        page.goto(base + path)
        page.wait_for_selector("tbody tr:not(:has-text('Loading'))")
        seen.update(link.split("#")[0] for link in _links(page) if link.startswith(base))
    assert any("/tree/" in link and "/solutions/01_" in link for link in seen)
    assert any("/tree/" in link and "/notebooks/00_written" in link for link in seen)
    for link in sorted(seen):
        response = browser_context.request.get(link)
        assert response.status == 200, link
        assert "404 : Not Found" not in response.text() and "does not exist" not in response.text(), link
    page.goto(next(link for link in sorted(seen) if link.endswith("/solutions/00_written")))
    page.wait_for_selector("text=written.ipynb")
    _shot(page, "formgrader-link-assignment-folder", tmp_path)
    listing = browser_context.request.get(f"{base}/assignments?course_id={COURSE_ID}").json()
    assert listing["success"], listing


def test_manual_grading_lists_the_written_answer(lab, page, tmp_path: Path) -> None:
    """Does Manual Grading show both graded submissions with their autograded score, and mark
    only the one with a written answer as needing manual grading?"""
    base, _, _ = lab
    page.goto(f"{base}/formgrader/gradebook/00_written/written")
    page.wait_for_selector("text=Submission #2")
    page.click("text=Show All Names")
    rows = page.eval_on_selector_all("tbody tr", """els => els.map(r => [
        r.querySelector('a.name-shown').textContent.trim(), r.querySelector('.score').textContent.trim(),
        r.querySelector('.needs-manual-grade').dataset.search])""")
    assert sorted(rows) == [["ann", "2 / 5", "needs manual grade"], ["bob", "2 / 5", ""]]
    _shot(page, "formgrader-manual-grading", tmp_path)


def test_a_score_given_in_formgrader_reaches_the_gradebook(lab, page, tmp_path: Path) -> None:
    """Does a TA's score typed into the written answer's box in formgrader reach the gradebook,
    then grades.csv, in place of 'needs manual grading'? Is the student's HTML shown as text?"""
    from nbgrader.api import Gradebook

    base, out, _ = lab
    page.goto(f"{base}/formgrader/gradebook/00_written/written")
    page.wait_for_selector("text=Submission #2")
    page.click("text=Show All Names")
    page.click("a.name-shown:text-is('ann')")
    box = page.locator("input.score#written_delta")
    box.wait_for()
    # formgrader binds its score boxes once it has loaded the grades
    page.wait_for_function("() => window.formgrader && formgrader.grades && formgrader.grades.loaded")
    text = page.inner_text("body")
    assert "Reuse it:" in text and "<script>alert('x')</script>" in text     # shown, not run
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT") as put:
        box.fill("2.5")
        box.press("Tab")
    assert put.value.ok
    _shot(page, "formgrader-written-answer-graded", tmp_path)
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        grade = gb.find_grade("written_delta", "written", "00_written", "ann")
        assert (grade.manual_score, grade.needs_manual_grade) == (2.5, False)
    write_grade_files(out)
    row = {r["student_id"]: r for r in read_csv(out / "grades.csv")}["ann"]
    assert (row["score"], row["pending"], row["written:written_delta"]) == ("4.5", "0", "2.5")


def test_generate_keeps_other_files_of_the_release(lab, page, tmp_path: Path) -> None:
    """Does formgrader's Generate rebuild notebooks/00_written/written.ipynb and keep the other
    file the instructor put in that folder?"""
    base, _, course = lab
    released = course / "notebooks" / "00_written" / "written.ipynb"
    released.write_text("stale")
    page.goto(f"{base}/formgrader/manage_assignments")
    row = page.locator("tbody tr", has=page.locator("td.name a:text-is('00_written')"))
    row.locator("a:has(.glyphicon-education)").click()
    page.wait_for_selector("#success-modal, #error-modal")
    _shot(page, "formgrader-generate", tmp_path)
    assert page.locator("#success-modal").count() == 1, page.inner_text("#error-modal")
    assert (course / "notebooks" / "00_written" / "data.txt").read_text() == "a file the instructor added\n"
    assert "YOUR ANSWER HERE" in released.read_text()


def test_jupyterlab_menus_open_formgrader_and_the_assignment_list(lab, page, tmp_path: Path) -> None:
    """In JupyterLab: does Nbgrader > Formgrader list the assignments and open an assignment's
    folder in the file browser; and once formgrader has released an assignment, does Nbgrader >
    Assignment List show it, read from the course-local exchange?"""
    base, out, _ = lab
    page.goto(f"{base}/formgrader/manage_assignments")
    row = page.locator("tbody tr", has=page.locator("td.name a:text-is('00_written')"))
    row.locator("a:has(.glyphicon-cloud-upload)").click()
    page.wait_for_selector("#success-modal, #error-modal")
    assert page.locator("#success-modal").count() == 1, page.inner_text("#error-modal")
    assert (out / "exchange" / COURSE_ID / "outbound" / "00_written" / "written.ipynb").is_file()

    page.goto(f"{base}/lab")
    menu = page.locator(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
    menu.click()
    page.locator(".lm-Menu-itemLabel:text-is('Formgrader')").click()
    frame = page.frame_locator("iframe")
    frame.locator("td.name a:text-is('01_gradients')").click()
    page.wait_for_selector(".jp-BreadCrumbs:has-text('01_gradients')")
    _shot(page, "jupyterlab-formgrader", tmp_path)
    menu.click()
    page.locator(".lm-Menu-itemLabel:text-is('Assignment List')").click()
    released = page.locator("#released_assignments_list")
    released.locator("text=00_written").wait_for()
    assert "exchange directory" not in page.inner_text("body")
    _shot(page, "jupyterlab-assignment-list", tmp_path)
