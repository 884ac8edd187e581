"""The judge: runs the instructor's setup and test cells in a clean process.

The judge never executes student code and never unpickles anything. Each exercise name
(a top-level ``def`` of the source's answer cells) is an :class:`Exercise` proxy: calling it
sends the arguments, safely encoded, to the student's sandboxed process (through the
grader, :mod:`autograder.engine.submission`), which calls the student's function and sends back its
return value, decoded here into plain numbers and arrays. So the real numpy and the real
``utils.gradcheck`` judge every value: patching them in the student's notebook, or editing
a test, earns nothing.

Started as ``python -m autograder.engine.judge '<exercise names json>'``; commands on stdin
(``setup``, ``test``), answers on stdout (``done``, ``call``/``return``/``raise``, ``result``).
Hidden tests never leak: output printed by hidden code is dropped, and a failure inside a
hidden block shows only a ``utils.gradcheck`` hidden-mode message or the exception type.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import linecache
import os
import re
import sys
import time
import traceback
from typing import Any

HIDDEN_BEGIN = re.compile(r"^\s*###\s*BEGIN HIDDEN TESTS")
HIDDEN_END = re.compile(r"^\s*###\s*END HIDDEN TESTS")
DIAGNOSIS = re.compile(r"^\[(\w+)\]\s")
OUTPUT_CHARS = 50_000
GRACE_SECONDS = 3.0          # how long a soft interrupt of student code may take
SAFE_STUDENT_ERRORS = ("NotImplementedError", "NameError", "TimeoutError", "RecursionError",
                       "MemoryError")


class StudentStopped(RuntimeError):
    """The student's process is gone (timed out, crashed, exited): no more calls possible."""


class StudentException(Exception):
    """An exception raised by a student's function that is not a plain builtin one."""


class Channel:
    """The judge's ends of the protocol: to the grader (commands, results) and straight to
    the student's process (calls), on private descriptors; stdout is for tests' prints."""

    def __init__(self, cmd_fd: int, out_fd: int, runner_in: int, runner_out: int) -> None:
        from autograder.engine import record
        self.record = record
        self.reader = record.FrameReader(cmd_fd)
        self.out_fd = out_fd
        self.runner_reader = record.FrameReader(runner_in)
        self.runner_out = runner_out
        self.stopped = ""           # why the student's process can take no more calls
        self.runner_state = "ok"    # ok | timeout | closed | protocol: ...
        self.in_test = False
        self.deadline = 0.0         # monotonic time when the current test's calls must end
        self.timeout = 0.0
        self.calls = 0              # calls of student functions so far (for timings)

    def send(self, header: dict, blobs: list[bytes] = ()) -> None:
        self.record.write_frame(self.out_fd, header, blobs)

    def read(self) -> tuple[dict, list[bytes]]:
        header, blobs, _ = self.reader.read()
        return header, blobs

    def to_runner(self, header: dict, blobs: list[bytes] = ()) -> None:
        try:
            self.record.write_frame(self.runner_out, header, blobs)
        except OSError:
            self._lose("closed", "the notebook's process is gone")

    def from_runner(self) -> tuple[dict, list[bytes]]:
        """The student's next frame, within the test's time (plus grace), else StudentStopped."""
        record = self.record
        try:
            header, blobs, _ = self.runner_reader.read(self.deadline + GRACE_SECONDS)
        except record.ChannelTimeout:
            self._lose("timeout", f"timed out after {self.timeout:g} s")
        except record.ChannelClosed:
            self._lose("closed", "the notebook's process died")
        except record.WireError as err:
            self._lose(f"protocol: {err}", "the notebook's process broke the grader's protocol")
        if header.get("op") not in ("return", "raise", "callback"):
            self._lose(f"protocol: unexpected message {str(header.get('op'))[:40]!r}",
                       "the notebook's process broke the grader's protocol")
        return header, blobs

    def _lose(self, state: str, message: str):
        self.runner_state = state
        self.stopped = message
        raise StudentStopped(message)


class Exercise:
    """Stands for the student's function ``name``: calls go to the student's process."""

    def __init__(self, name: str, channel: Channel) -> None:
        self.__name__ = self.__qualname__ = name
        self.channel = channel

    def __repr__(self) -> str:
        return f"<your function {self.__name__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        channel, record = self.channel, self.channel.record
        if channel.stopped:
            raise StudentStopped(channel.stopped)
        if not channel.in_test:
            raise RuntimeError(f"{self.__name__} is only called during tests")
        registered: list = []

        def register(fn: Any) -> int:
            registered.append(fn)
            return len(registered) - 1

        tree, blobs = record.encode((args, kwargs), register)
        channel.calls += 1
        channel.to_runner({"op": "call", "name": self.__name__, "args": tree,
                           "timeout": max(channel.deadline - time.monotonic(), 0.05),
                           "limit": channel.timeout}, blobs)
        while True:
            header, blobs = channel.from_runner()
            op = header.get("op")
            if op == "callback":
                self._callback(registered, header, blobs)
                continue
            if header.get("output"):
                sys.stdout.write(record.cap_text(str(header["output"])))
            if op == "return":
                try:
                    value = record.decode(header.get("value"), blobs)
                    if "writeback" in header:      # the arguments stay as the test made them
                        record.apply_in_place((args, kwargs), record.decode(header["writeback"], blobs),
                                              generators_only=True)
                except record.WireError as err:
                    raise _student_error(self.__name__, "ValueError",
                                         f"the grader could not read what your function returned ({err})")
                return value
            if op == "raise":
                raise _student_error(self.__name__, str(header.get("type", "Exception")),
                                     str(header.get("message", "")), header.get("traceback") or [])

    def _callback(self, registered: list, header: dict, blobs: list[bytes]) -> None:
        record = self.channel.record
        try:
            fn = registered[header["id"]]
            args, kwargs = record.decode(header.get("args"), blobs)
            tree, out = record.encode(fn(*args, **kwargs))
        except Exception as exc:                            # noqa: BLE001 (goes back to the student)
            self.channel.to_runner({"op": "raise", "type": type(exc).__name__, "message": str(exc)[:2000]})
        else:
            self.channel.to_runner({"op": "return", "value": tree}, out)


def _student_error(function: str, name: str, message: str, tb: list | None = None) -> BaseException:
    kind = getattr(builtins, name, None)
    exc: BaseException
    if isinstance(kind, type) and issubclass(kind, Exception) and name not in ("StudentStopped",):
        try:
            exc = kind(message)
        except Exception:                                   # noqa: BLE001
            exc = StudentException(f"{name}: {message}")
    else:
        exc = StudentException(f"{name}: {message}")
    exc.student_function = function                        # type: ignore[attr-defined]
    exc.student_type = name                                 # type: ignore[attr-defined]
    exc.student_traceback = list(tb or [])                  # type: ignore[attr-defined]
    return exc


def segments(source: str) -> list[tuple[str, bool, int]]:
    """``(code, hidden, first line)`` runs of ``source``, split at the hidden-test markers."""
    parts: list[tuple[list[str], bool, int]] = [([], False, 1)]
    hidden = False
    for number, line in enumerate(source.splitlines(), start=1):
        if not hidden and HIDDEN_BEGIN.match(line):
            hidden = True
            parts.append(([], True, number + 1))
            continue
        if hidden and HIDDEN_END.match(line):
            hidden = False
            parts.append(([], False, number + 1))
            continue
        parts[-1][0].append(line)
    return [("\n".join(lines), flag, start) for lines, flag, start in parts if any(s.strip() for s in lines)]


def hidden_lines(source: str) -> set[int]:
    """Line numbers (1-based) inside hidden-test blocks, markers included."""
    found, hidden = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if HIDDEN_BEGIN.match(line):
            hidden = True
        if hidden:
            found.add(number)
        if HIDDEN_END.match(line):
            hidden = False
    return found


def _compile(code: str, filename: str, first_line: int):
    from autograder.engine.runner import strip_magics
    tree = ast.parse(strip_magics(code), filename)
    ast.increment_lineno(tree, first_line - 1)
    return compile(tree, filename, "exec")


def _first_lines(text: str, count: int = 6) -> str:
    lines = text.strip().splitlines()
    return "\n".join(lines[:count]) + ("\n[...]" if len(lines) > count else "")


def _from_gradcheck(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and os.sep + "gradcheck" in frames[-1].filename


def checker_diagnosis(exc: BaseException, checker_only: bool = False) -> str:
    """The diagnosis word of an ``AssertionError`` raised by the test's own code (its helpers,
    or with ``checker_only`` ``utils.gradcheck`` itself), one of ``utils.gradcheck.DIAGNOSES``;
    "" for anything else. An exception a student's function raised never counts, whatever its
    text says (``"[passed] ..."`` is just text)."""
    if not isinstance(exc, AssertionError) or getattr(exc, "student_function", None):
        return ""
    match = DIAGNOSIS.match(str(exc))
    if not match or (checker_only and not _from_gradcheck(exc)):
        return ""
    from utils.gradcheck import DIAGNOSES
    return match.group(1) if match.group(1) in DIAGNOSES and match.group(1) != "ok" else ""


def _describe(exc: BaseException, hidden: bool, filename: str, hidden_set: set[int]) -> dict:
    """The student-facing account of a failed test: never hidden code, lines or values."""
    name = getattr(exc, "student_type", None) or type(exc).__name__
    text = str(exc)
    function = getattr(exc, "student_function", None)
    if isinstance(exc, StudentStopped):
        return {"ename": "NotebookStopped", "evalue": text, "message": text, "diagnosis": "", "stopped": True}
    if not hidden:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if f.filename == filename and f.lineno not in hidden_set]
        tb = (["Traceback (most recent call last):\n"] + traceback.format_list(frames)) if frames else []
        tb += list(getattr(exc, "student_traceback", []) or [f"{name}: {text}"])
        if not getattr(exc, "student_traceback", None) or not tb[-1].startswith(name):
            if not tb or not tb[-1].startswith(name):
                tb.append(f"{name}: {text}")
        diagnosis = checker_diagnosis(exc)
        message = _first_lines(text) if diagnosis else f"{name}: {_first_lines(text)}"
        if function and name in ("NameError",):
            message = f"{name}: {text} (your notebook does not define {function})"
        return {"ename": name, "evalue": text, "traceback": tb, "message": message,
                "diagnosis": diagnosis}
    if checker_diagnosis(exc, checker_only=True):
        message = "Hidden test: " + _first_lines(text)
        return {"ename": name, "evalue": message, "message": message,
                "diagnosis": checker_diagnosis(exc, checker_only=True)}
    if function:
        if name in SAFE_STUDENT_ERRORS:
            message = f"Hidden test: your function {function} raised {name}: {_first_lines(text, 2)}"
        else:
            message = (f"Hidden test: your function {function} raised {name} (the message is not "
                       "shown: it could reveal the hidden inputs)")
        return {"ename": name, "evalue": message, "message": message, "diagnosis": ""}
    message = f"A hidden test failed ({name})."
    return {"ename": name, "evalue": message, "message": message, "diagnosis": ""}


class Judge:
    def __init__(self, channel: Channel, exercises: list[str]) -> None:
        self.channel = channel
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        for name in exercises:
            self.namespace[name] = Exercise(name, channel)

    def setup(self, header: dict) -> None:
        error = None
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = io.StringIO()
        try:
            exec(_compile(header["source"], f"<setup {header.get('grade_id', '')}>", 1), self.namespace)
        except BaseException as exc:                        # noqa: BLE001 (ignored, reported)
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        finally:
            sys.stdout, sys.stderr = saved
        self.channel.send({"op": "done", "error": error})

    def test(self, header: dict) -> None:
        source, grade_id = header["source"], header.get("grade_id", "")
        filename = f"<test {grade_id}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        hidden_set = hidden_lines(source)
        try:
            parts = [(_compile(code, filename, start), hidden) for code, hidden, start in segments(source)]
        except SyntaxError:
            parts = None                                    # markers inside a block: run it whole
        if parts is None:
            parts = [(_compile(source, filename, 1), None)]
        visible = io.StringIO()
        error = None
        saved = sys.stdout, sys.stderr
        self.channel.in_test = True
        self.channel.timeout = float(header.get("timeout", 30.0))
        self.channel.deadline = time.monotonic() + self.channel.timeout
        try:
            for code, hidden in parts:
                sink = visible if hidden is False or (hidden is None and not hidden_set) else io.StringIO()
                sys.stdout = sys.stderr = sink
                try:
                    exec(code, self.namespace)
                except BaseException as exc:                # noqa: BLE001 (a failed test)
                    if hidden is None:
                        lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__)
                                 if f.filename == filename]
                        hidden = bool(lines) and lines[-1] in hidden_set
                    error = _describe(exc, bool(hidden), filename, hidden_set)
                    error["hidden"] = bool(hidden)
                    break
        finally:
            sys.stdout, sys.stderr = saved
            self.channel.in_test = False
        output = visible.getvalue()
        if hidden_set and error is None:
            output += "Hidden tests passed.\n"
        elif hidden_set and parts and parts[0][1] is None:
            output = "(output not shown: this test contains hidden checks)\n"
        if self.channel.runner_state == "ok":
            self.channel.to_runner({"op": "end"})
        self.channel.send({"op": "result", "passed": error is None, "output": output[:OUTPUT_CHARS],
                           "error": error, "runner": self.channel.runner_state,
                           "calls": self.channel.calls})

    def serve(self) -> None:
        self.channel.send({"op": "ready"})
        while True:
            try:
                header, _ = self.channel.read()
            except EOFError:
                return
            if header.get("op") == "setup":
                self.setup(header)
            elif header.get("op") == "test":
                self.test(header)
            elif header.get("op") == "quit":
                return


def main() -> None:
    config = json.loads(sys.argv[1])
    serve(config["exercises"], config["runner_in"], config["runner_out"])


def serve(exercises: list[str], runner_in: int, runner_out: int) -> None:
    """Move the protocol off stdin/stdout, then judge until the grader closes the channel."""
    cmd_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    import numpy  # noqa: F401  (warm: tests use it)
    Judge(Channel(cmd_fd, out_fd, runner_in, runner_out), exercises).serve()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
