"""Grade one student's notebook against the instructor's source: the engine's public entry point.

:func:`grade_submission` lines the submission up against the source
(:mod:`autograder.engine.source`), runs the student's cells in a sandboxed process
(:mod:`autograder.engine.sandbox`, :mod:`autograder.engine.runner`) and the instructor's test
cells in a clean judge process (:mod:`autograder.engine.judge`, forked warm by
:mod:`autograder.engine.judgepool`). During a test the judge calls the student's functions
in the sandbox over direct pipes; the grader supervises both processes, enforces the time
limits and turns what happened into a :class:`~autograder.engine.results.SubmissionResult`. The
student's process never sees a test, and the judge never runs student code.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import judgepool, record, sandbox
from .deadline import TooSlow, wall_clock
from .plan import judge_cells, test_helpers
from .process import Process, expect
from .results import (ERROR, FAILED, FLAGGED, INVALID, MISSING, NOT_RUN, OK, PARTIAL, PASSED,
                      VOIDED, QuestionResult, SubmissionResult)
from .untrusted import (OUTPUT_TEXT_CHARS, SUBMISSION_OUTPUT_CHARS, OutputBudget,
                        clean_outputs)
from .source import (ANSWER, MARKDOWN, TEST, Assembled, Cell, NotebookError, SourceNotebook,
                     assemble, parse_source, read_notebook, to_notebook)

GRACE_SECONDS = 3.0          # after a cell's time is up, how long the soft interrupt may take
OVERALL_FACTOR = 10          # the whole notebook may take this many per-cell timeouts
STARTUP_SECONDS = 60.0       # starting the sandbox and the judge (imports), on a busy machine
JUDGE_GRACE_SECONDS = 30.0   # the judge's own work (setup cells, a verdict) after the notebook's time
GRADER_SECONDS = 90.0        # the judge's grace plus the grader's own work on one submission


class Stopped(Exception):
    """The student's process stopped for good (reason is student-facing)."""


class ProtocolViolation(Exception):
    """The student's process sent something that is not the grader's protocol."""


@dataclass
class _Run:
    """Everything one grading run learns, before it becomes a SubmissionResult."""

    outputs: dict[int, list] = field(default_factory=dict)
    counts: dict[int, int | None] = field(default_factory=dict)
    cell_errors: dict[str, str] = field(default_factory=dict)     # answer grade_id -> error name
    questions: dict[int, QuestionResult] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stopped: str = ""
    stopped_at: int | None = None
    timings: list[tuple[str, float]] = field(default_factory=list)   # (what, seconds) for profiling
    calls: int = 0                                                  # exercise calls relayed
    budget: OutputBudget = field(default_factory=OutputBudget)      # outputs left to store


def grade_submission(source: Path, submission: Path, *, student_id: str, assignment: str,
                     workdir: Path, seed: int, timeout: float = 30.0, memory_mb: int = 1024,
                     sandbox: str = "auto", autograded_path: Path | None = None) -> SubmissionResult:
    """Grade ``submission`` (a student's .ipynb) against ``source`` (the instructor's notebook).

    Never raises for anything the student did: an unreadable notebook is INVALID, a missing
    one MISSING, a grader failure ERROR with the exception in ``reason``.
    """
    started = time.monotonic()
    notebook = Path(source).stem
    base = dict(student_id=student_id, assignment=assignment, notebook=notebook)
    limit = wall_clock_seconds(float(timeout))
    try:
        with wall_clock(limit):
            result = _grade(Path(source), Path(submission), Path(workdir), seed, float(timeout),
                            int(memory_mb), sandbox, autograded_path, base, started)
    except TooSlow:
        unrun = _unrun(Path(source), "not run: grading this notebook took too long")
        result = SubmissionResult(**base, score=0.0, max_score=sum(q.max_points for q in unrun),
                                  status=INVALID, questions=unrun,
                                  reason=f"grading this notebook took longer than its limit of {limit:.0f} s "
                                         "(the grader's own work on it included): it is too large or "
                                         "too repetitive to process")
    except Exception as exc:                               # noqa: BLE001 (a grader bug: say so)
        result = SubmissionResult(**base, score=0.0, max_score=0.0, status=ERROR,
                                  reason=f"grader error: {type(exc).__name__}: {exc}")
    return _with_seconds(result, time.monotonic() - started)


def wall_clock_seconds(timeout: float) -> float:
    """The most one submission may take, everything included: starting, the student's cells
    (the whole-notebook limit), the judge's grace and the grader's own work on its content."""
    return STARTUP_SECONDS + OVERALL_FACTOR * timeout + GRADER_SECONDS


def _unrun(source: Path, message: str) -> tuple[QuestionResult, ...]:
    try:
        tests = parse_source(source).tests
    except NotebookError:
        return ()
    return tuple(QuestionResult(c.grade_id, 0.0, c.points, NOT_RUN, message=message) for c in tests)


def _with_seconds(result: SubmissionResult, seconds: float) -> SubmissionResult:
    from dataclasses import replace
    return replace(result, seconds=round(seconds, 3))


def _grade(source_path: Path, submission: Path, workdir: Path, seed: int, timeout: float,
           memory_mb: int, sandbox_kind: str, autograded_path: Path | None, base: dict,
           started: float) -> SubmissionResult:
    if autograded_path is not None and Path(autograded_path).is_file():
        Path(autograded_path).unlink()         # a stale graded copy must never outlive a regrade
    source = parse_source(source_path)
    max_score = float(sum(c.points for c in source.tests))
    unrun = tuple(QuestionResult(c.grade_id, 0.0, c.points, NOT_RUN, message="no gradable submission")
                  for c in source.tests)
    if not os.path.lexists(submission):
        return SubmissionResult(**base, score=0.0, max_score=max_score, status=MISSING,
                                reason=f"no submission: {submission.name} not found", questions=unrun)
    try:
        nb = read_notebook(submission)
    except NotebookError as err:
        return SubmissionResult(**base, score=0.0, max_score=max_score, status=INVALID,
                                reason=str(err), questions=unrun)
    kind, warning = sandbox.resolve(sandbox_kind)
    if warning:
        print(f"{base['student_id']}: {warning}", file=sys.stderr)
    assembled = assemble(source, nb)
    workdir.mkdir(parents=True, exist_ok=True)
    run = _Run(findings=list(assembled.findings), notes=list(assembled.notes))
    _execute(source, assembled, run, kind, workdir, seed, timeout, memory_mb, started)
    questions = tuple(run.questions[i] for i, c in enumerate(assembled.cells) if c.kind == TEST)
    questions = _explain(questions, source, assembled, run)
    score = float(sum(q.points for q in questions))
    if run.findings:
        status = FLAGGED
    elif run.stopped:
        status = PARTIAL
    else:
        status = OK
    reasons = run.findings + ([run.stopped] if run.stopped else []) + run.notes + ([warning] if warning else [])
    if autograded_path is not None:
        _write_autograded(assembled, run, Path(autograded_path))
    return SubmissionResult(**base, score=score, max_score=max_score, status=status,
                            reason="; ".join(reasons), questions=questions)


def _execute(source: SourceNotebook, assembled: Assembled, run: _Run, kind: str, workdir: Path,
             seed: int, timeout: float, memory_mb: int, started: float) -> None:
    overall = started + STARTUP_SECONDS + OVERALL_FACTOR * timeout
    to_runner_r, to_runner_w = os.pipe()        # judge -> student, straight (no relay)
    to_judge_r, to_judge_w = os.pipe()          # student -> judge
    limits = {"memory_mb": memory_mb, "cpu_seconds": int(OVERALL_FACTOR * timeout + 30),
              "file_mb": 64, "processes": 64, "isolate_network": kind == sandbox.RLIMIT,
              "judge_in": to_runner_r, "judge_out": to_judge_w, "watch": test_helpers(source)}
    # -P: the workdir (student-writable) is not put on sys.path before the runner starts.
    runner_argv = [sys.executable, "-P", "-m", "autograder.engine.runner", json.dumps(limits)]
    judge_env = dict(os.environ, BACKPROP_LAB_SEED=str(seed), MPLBACKEND="Agg", PYTHONHASHSEED="0",
                     **sandbox.single_thread_env())
    config = {"exercises": list(source.exercises), "runner_in": to_judge_r, "runner_out": to_runner_w}
    try:
        runner = Process(sandbox.command(kind, workdir, runner_argv),
                         sandbox.environment(workdir, seed), workdir, (to_runner_r, to_judge_w))
        try:
            judge = judgepool.spawn(config["exercises"], to_judge_r, to_runner_w, seed,
                                            str(source.path.parent), judge_env)
            if judge is None:
                judge = Process([sys.executable, "-m", "autograder.engine.judge", json.dumps(config)],
                                judge_env, source.path.parent, (to_judge_r, to_runner_w))
        except BaseException:
            runner.close()
            raise
    finally:
        for fd in (to_runner_r, to_runner_w, to_judge_r, to_judge_w):
            os.close(fd)
    try:
        try:
            header, _, _ = runner.read(time.monotonic() + STARTUP_SECONDS)
            if header.get("op") != "ready":
                raise ProtocolViolation("no ready message")
            isolation = header.get("isolation") or {}
            if isolation:
                run.notes.append("sandbox: " + ", ".join(f"{k}: {v}" for k, v in isolation.items()))
        except (record.ChannelClosed, record.ChannelTimeout, record.WireError, ProtocolViolation):
            raise RuntimeError(f"the student's sandbox did not start: {runner.stderr_text()}") from None
        run.timings.append(("start-up", time.monotonic() - started))
        # the whole notebook's time counts from when its process is ready (at the latest)
        overall = min(overall, time.monotonic() + OVERALL_FACTOR * timeout)
        feed = _JudgeFeed(judge, source)
        tests = [c.grade_id for c in assembled.cells if c.kind == TEST]
        feed.send_before(tests[0] if tests else "")
        for index, cell in enumerate(assembled.cells):
            if cell.kind == MARKDOWN:
                continue
            position = f"cell {index + 1}"
            if cell.kind == TEST:
                tick = time.monotonic()
                feed.send_before(cell.grade_id)
                if not run.stopped:                 # a stopped run's tests are not run
                    feed.drain(max(overall, time.monotonic() + JUDGE_GRACE_SECONDS))
                run.timings.append((f"judge setup before {cell.grade_id}", time.monotonic() - tick))
                tick = time.monotonic()
                run.questions[index] = _test(cell, index, runner, judge, run, timeout, overall)
                run.timings.append((f"{position} test {cell.grade_id} ({run.calls} calls so far)",
                                    time.monotonic() - tick))
                later = tests[tests.index(cell.grade_id) + 1:]
                feed.send_before(later[0] if later else None)
                continue
            if run.stopped:
                continue
            try:
                runner.send({"op": "exec", "cell": index, "source": cell.source, "kind": cell.kind,
                             "grade_id": cell.grade_id, "limit": timeout,
                             "timeout": max(min(timeout, overall - time.monotonic()), 0.05)})
                header = _read_runner(runner, min(time.monotonic() + timeout + GRACE_SECONDS, overall),
                                      timeout, {"done"})
            except record.ChannelClosed:
                _stop(run, runner, index, f"the notebook stopped at {position}: {runner.death()}")
                continue
            except Stopped as stop:
                if time.monotonic() >= overall:
                    stop = Stopped(f"the whole notebook ran past its time limit "
                                   f"({OVERALL_FACTOR:g} × {timeout:g} s)")
                _stop(run, runner, index, f"the notebook stopped at {position}: {stop}")
                continue
            except ProtocolViolation as err:
                reason = f"the notebook's process broke the grader's protocol at {position} ({err})"
                run.findings.append(reason)
                _stop(run, runner, index, reason)
                continue
            run.timings.append((f"{position} {cell.kind} {cell.grade_id}", float(header.get("seconds") or 0)))
            run.outputs[index] = _kept_outputs(run, position, header.get("outputs"))
            run.counts[index] = header.get("count")
            if header.get("error") and cell.kind == ANSWER:
                run.cell_errors[cell.grade_id] = str(header["error"])
            if header.get("error") == "SystemExit":
                run.notes.append(f"{position} called sys.exit(); grading went on with the next cell")
        try:
            runner.send({"op": "quit"})
            judge.send({"op": "quit"})
        except record.ChannelClosed:
            pass
    finally:
        runner.close()
        judge.close()
        if os.environ.get("BACKPROP_LAB_ENGINE_TIMINGS"):
            if "feed" in locals():
                run.timings += [(f"judge setup error: {e}", 0.0) for e in feed.errors]
            print("\n".join(f"{s:7.3f}  {what}" for what, s in run.timings), file=sys.stderr)


class _JudgeFeed:
    """Sends the judge the source's setup cells early (it works while the student's cells
    run), in order, and collects its acknowledgements before each test."""

    def __init__(self, judge: Process, source: SourceNotebook) -> None:
        self.judge = judge
        self.queue = judge_cells(source)
        self.positions = {c.grade_id: i for i, c in enumerate(source.cells) if c.kind == TEST}
        self.pending = 0
        self.ready = False
        self.errors: list[str] = []          # setup cells that failed in the judge (for logs)

    def send_before(self, grade_id: str | None) -> None:
        """Queue every setup cell that comes before test ``grade_id`` (all when None)."""
        limit = self.positions.get(grade_id, 10**9) if grade_id else 10**9
        while self.queue and self.queue[0][0] < limit:
            _, cell = self.queue.pop(0)
            try:
                self.judge.send({"op": "setup", "source": cell.source, "grade_id": cell.grade_id})
            except record.ChannelClosed:
                raise RuntimeError(f"the judge died: {self.judge.stderr_text()}") from None
            self.pending += 1

    def drain(self, deadline: float) -> None:
        if not self.ready:
            expect(self.judge, "ready", deadline, "the judge")
            self.ready = True
        while self.pending:
            header = expect(self.judge, "done", deadline, "the judge")
            if header.get("error"):
                self.errors.append(str(header["error"]))
            self.pending -= 1


def _read_runner(runner: Process, deadline: float, timeout: float, allowed: set[str]) -> dict:
    """The runner's next frame (header, with the frame kept), or Stopped with the reason."""
    try:
        header, _, _ = runner.read(deadline)
    except record.ChannelTimeout:
        runner.kill()
        raise Stopped(f"timed out after {timeout:g} s") from None
    except record.ChannelClosed:
        raise Stopped(runner.death()) from None
    except record.WireError as err:
        runner.kill()
        raise ProtocolViolation(str(err)) from None
    if header.get("op") not in allowed:
        runner.kill()
        raise ProtocolViolation(f"unexpected message {header.get('op')!r}")
    return header


def _judge_result(judge: Process, runner: Process, run: _Run, index: int, grade_id: str,
                  overall: float) -> dict:
    """The judge's verdict on the current test. If the whole notebook's time runs out during
    the test, the student's process is stopped there (the run becomes partial, keeping what
    earlier tests earned) and the judge, whose calls then fail at once, gets a short grace."""
    try:
        header, _, _ = judge.read(overall)
    except record.ChannelTimeout:
        if not run.stopped:
            _stop(run, runner, index, f"the notebook stopped during test '{grade_id}': "
                                      "the whole notebook ran past its time limit")
        return expect(judge, "result", time.monotonic() + JUDGE_GRACE_SECONDS, "the judge")
    except (record.ChannelClosed, record.WireError) as err:
        raise RuntimeError(f"the judge failed ({type(err).__name__}): {judge.stderr_text()}") from None
    if header.get("op") != "result":
        raise RuntimeError(f"the judge sent {header.get('op')!r} instead of 'result'")
    return header


def _stop(run: _Run, runner: Process, index: int, reason: str) -> None:
    run.stopped = reason
    run.stopped_at = index
    runner.kill()


def _test(cell: Cell, index: int, runner: Process, judge: Process, run: _Run,
          timeout: float, overall: float) -> QuestionResult:
    """Run test ``cell`` in the judge, which calls the student's functions in the runner
    directly; then take the runner back (or stop it, if the judge found it gone)."""
    if run.stopped:
        run.outputs[index] = [_error_output("NotRun", f"Not run: {run.stopped}")]
        return QuestionResult(cell.grade_id, 0.0, cell.points, NOT_RUN, message=f"not run: {run.stopped}")
    voided = ""
    try:
        runner.send({"op": "check"})
        checked = _read_runner(runner, min(time.monotonic() + timeout, overall), timeout, {"checked"})
        for finding in checked.get("findings") or []:
            run.findings.append(f"{str(finding)[:200]} (seen before test '{cell.grade_id}'; the test "
                                "was checked with the real numpy and utils, so this earned nothing)")
        for note in checked.get("notes") or []:
            run.notes.append(str(note)[:300])
        runner.send({"op": "serve"})
    except record.ChannelClosed:
        _stop(run, runner, index, f"the notebook stopped before test '{cell.grade_id}': "
                                         f"{runner.death()}")
    except Stopped as stop:
        _stop(run, runner, index, f"the notebook stopped before test '{cell.grade_id}': {stop}")
    except ProtocolViolation as err:
        voided = f"the notebook's process broke the grader's protocol ({err})"
        _stop(run, runner, index, voided)
    judge.send({"op": "test", "source": cell.source, "grade_id": cell.grade_id,
                "timeout": timeout, "runner_gone": bool(run.stopped)})
    header = _judge_result(judge, runner, run, index, cell.grade_id, overall)
    run.calls = int(header.get("calls") or 0)
    state = str(header.get("runner", "ok"))
    if run.stopped:
        pass
    elif state == "ok":
        try:
            _read_runner(runner, min(time.monotonic() + timeout + GRACE_SECONDS, overall), timeout,
                         {"served"})
        except Stopped as stop:
            _stop(run, runner, index, f"the notebook stopped during test '{cell.grade_id}': {stop}")
        except ProtocolViolation as err:
            voided = f"the notebook's process broke the grader's protocol during test '{cell.grade_id}' ({err})"
            _stop(run, runner, index, voided)
    elif state == "timeout":
        _stop(run, runner, index,
              f"the notebook stopped during test '{cell.grade_id}': timed out after {timeout:g} s")
    elif state == "closed":
        runner.proc.poll()
        _stop(run, runner, index,
              f"the notebook stopped during test '{cell.grade_id}': {runner.death()}")
    else:
        voided = f"the notebook's process broke the grader's protocol during test '{cell.grade_id}' ({state})"
        _stop(run, runner, index, voided)
    error = header.get("error") or {}
    printed = run.budget.take(str(header["output"]), OUTPUT_TEXT_CHARS) if header.get("output") else None
    outputs = [{"output_type": "stream", "name": "stdout", "text": printed}] if printed else []
    if voided:
        run.findings.append(voided)
        run.outputs[index] = outputs + [_error_output("Voided", voided)]
        return QuestionResult(cell.grade_id, 0.0, cell.points, VOIDED, message=voided)
    if header.get("passed"):
        run.outputs[index] = outputs
        return QuestionResult(cell.grade_id, cell.points, cell.points, PASSED)
    message = str(error.get("message") or error.get("evalue") or "the test failed")
    if error.get("stopped") and run.stopped:
        message = run.stopped
    run.outputs[index] = outputs + [{"output_type": "error", "ename": str(error.get("ename", "Error")),
                                     "evalue": str(error.get("evalue", message)),
                                     "traceback": list(error.get("traceback") or [message])}]
    return QuestionResult(cell.grade_id, 0.0, cell.points, FAILED,
                          diagnosis=str(error.get("diagnosis") or ""), message=message)


def _kept_outputs(run: _Run, position: str, outputs: object) -> list[dict]:
    """A cell's outputs as the grader stores them: validated, cut, within the budget."""
    kept, dropped = clean_outputs(outputs, run.budget)
    if dropped:
        run.notes.append(f"{dropped} output(s) of {position} were not kept (not a valid notebook "
                         f"output, or past the {SUBMISSION_OUTPUT_CHARS // 10**6} MB of outputs "
                         "a notebook may store)")
    return kept


def _error_output(name: str, text: str) -> dict:
    return {"output_type": "error", "ename": name, "evalue": text, "traceback": [f"{name}: {text}"]}


def _explain(questions: tuple[QuestionResult, ...], source: SourceNotebook, assembled: Assembled,
             run: _Run) -> tuple[QuestionResult, ...]:
    """Say *why* a function was missing: its answer cell was deleted, or failed to run."""
    from dataclasses import replace
    explained = []
    for q in questions:
        if q.status == FAILED and "NameError" in q.message:
            for name, grade_id in source.answer_of.items():
                if f"'{name}'" not in q.message and f" {name} " not in q.message + " ":
                    continue
                if grade_id in assembled.deleted_answers:
                    q = replace(q, message=f"{q.message} — the answer cell '{grade_id}' was deleted")
                elif grade_id in run.cell_errors:
                    q = replace(q, message=f"{q.message} — the answer cell '{grade_id}' raised "
                                           f"{run.cell_errors[grade_id]} when it ran")
                break
        explained.append(q)
    return tuple(explained)


def _write_autograded(assembled: Assembled, run: _Run, path: Path) -> None:
    nb = to_notebook(assembled.cells, run.outputs, run.counts)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    nbformat.write(nb, str(partial))
    os.replace(partial, path)                  # readers never see half a notebook
