"""The student's side of grading: runs inside the sandbox and executes the student's cells.

Started as ``python -m autograder.engine.runner '<limits json>'`` with the protocol on
stdin/stdout (moved to private descriptors at once; the student's own prints are captured
per cell, and raw writes to descriptors 1/2 go to the grader's capped stderr pipe).

Commands (frames, see :mod:`autograder.engine.record`):

* ``exec``: run one cell in the notebook namespace; answer ``done`` with its outputs.
* ``call``: call an exercise function with the judge's arguments; answer ``return`` (the
  value, the arguments if the function changed them, what it printed) or ``raise``. While
  it runs, the function may call a function argument, which goes back as ``callback``.
* ``check``: before a test, report tampering seen in this process (patched numpy,
  ``utils.gradcheck`` or builtins) and, as notes, redefined helpers of locked cells.
* ``serve``: during a test, take ``call`` commands straight from the judge (its own pipes)
  until it sends ``end``; then answer ``served`` to the grader.

Test cells never run here: the student's process never sees a test's code.
"""

from __future__ import annotations

import ast
import builtins
import dis
import io
import json
import linecache
import os
import re
import signal
import sys
import time
import traceback
import types

from autograder.engine.confine import apply_limits, forbid_new_processes, isolate_network

CELL_OUTPUT_CHARS = 100_000
CELL_OUTPUT_LINES = 2_000
TOTAL_OUTPUT_CHARS = 1_000_000
_MAGIC = re.compile(r"^(\s*)([%!].*)$")


_ISOLATION: dict = {}        # what could not be confined, reported to the grader
_KEPT: list = []


class CellTimeout(BaseException):
    """Raised into student code when its time is up (not an Exception: harder to swallow)."""


class _State:
    armed = False
    limit = 0.0
    total_output = 0


def _alarm(signum: int, frame: object) -> None:
    if _State.armed:
        raise CellTimeout(f"the code did not finish within the time limit ({_State.limit:g} s) "
                          "and was interrupted")


def _arm(seconds: float, limit: float | None = None) -> None:
    _State.limit = limit if limit is not None else seconds
    _State.armed = True
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01), 0.5)


def _disarm() -> None:
    _State.armed = False
    signal.setitimer(signal.ITIMER_REAL, 0)


class Capture(io.TextIOBase):
    """A stream that keeps the first lines/characters written to it and counts the rest."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.parts: list[str] = []
        self.chars = self.lines = self.dropped_chars = self.dropped_lines = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            text = str(text)
        newlines = text.count("\n")
        room = min(CELL_OUTPUT_CHARS - self.chars, TOTAL_OUTPUT_CHARS - _State.total_output)
        if room > 0 and self.lines < CELL_OUTPUT_LINES:
            kept = text[:room]
            if self.lines + kept.count("\n") > CELL_OUTPUT_LINES:
                cut = CELL_OUTPUT_LINES - self.lines
                kept = "".join(kept.splitlines(True)[:cut])
            self.parts.append(kept)
            self.chars += len(kept)
            self.lines += kept.count("\n")
            _State.total_output += len(kept)
            self.dropped_chars += len(text) - len(kept)
            self.dropped_lines += newlines - kept.count("\n")
        else:
            self.dropped_chars += len(text)
            self.dropped_lines += newlines
        return len(text)

    def text(self) -> str:
        out = "".join(self.parts)
        if self.dropped_chars:
            out += (f"\n[... output truncated: {self.dropped_lines} more lines "
                    f"({self.dropped_chars} characters) were not kept]\n")
        return out


class Streams:
    """Swap ``sys.stdout``/``sys.stderr`` for captures while student code runs."""

    def __enter__(self) -> "Streams":
        self.out, self.err = Capture("stdout"), Capture("stderr")
        self.saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.out, self.err
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout, sys.stderr = self.saved

    def outputs(self) -> list[dict]:
        return [{"output_type": "stream", "name": s.name, "text": s.text()}
                for s in (self.out, self.err) if s.parts or s.dropped_chars]


def _safe_str(value: object, limit: int = 2000) -> str:
    try:
        text = str(value)
    except BaseException:                                  # noqa: BLE001 (student's __str__)
        text = f"<{type(value).__name__} that cannot be printed>"
    return text if len(text) <= limit else text[:limit] + " [...]"


def _error(exc: BaseException) -> dict:
    if isinstance(exc, CellTimeout):
        name, message = "TimeoutError", str(exc)
    else:
        name, message = type(exc).__name__, _safe_str(exc)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)[-20:]
    if isinstance(exc, SyntaxError) and not frames:
        lines += [f"  {exc.filename}, line {exc.lineno}\n    {(exc.text or '').rstrip()}\n"]
    lines.append(f"{name}: {message}")
    return {"output_type": "error", "ename": name, "evalue": message, "traceback": lines}


def strip_magics(source: str) -> str:
    """Notebook magics and shell escapes (``%matplotlib``, ``!pip``) are skipped, not run."""
    out = []
    for line in source.splitlines():
        match = _MAGIC.match(line)
        out.append(f"{match.group(1)}pass  # skipped by the grader: {match.group(2)[:60]}"
                   if match else line)
    return "\n".join(out)


class Tamper:
    """Snapshots of what a student could patch to fool tests in their own kernel."""

    WATCHED = ("builtins", "numpy", "numpy.linalg", "numpy.testing", "numpy.random", "math",
               "utils.gradcheck", "utils.testing")

    def __init__(self, watch: list[str]) -> None:
        self.watch = set(watch)
        self.modules = {name: (sys.modules[name], dict(vars(sys.modules[name])))
                        for name in self.WATCHED if name in sys.modules}
        self.helpers: dict[str, tuple[object, str]] = {}
        self.reported: set[str] = set()

    def remember(self, namespace: dict, before: dict, grade_id: str) -> None:
        """Remember the helpers (functions, classes, modules) a locked cell defined."""
        for name, obj in namespace.items():
            if name in self.watch and before.get(name) is not obj and isinstance(
                    obj, (types.FunctionType, type, types.ModuleType)):
                self.helpers[name] = (obj, grade_id)

    def check(self, namespace: dict) -> tuple[list[str], list[str]]:
        """``(findings, notes)`` not reported before: a patched module that tests rely on is
        tampering; a redefined helper of a locked cell is only a note, since tests run in the
        judge with the original helpers (a student's own ``show`` changes nothing they see)."""
        found, notes = [], []
        for name, (module, attrs) in self.modules.items():
            if sys.modules.get(name) is not module:
                found.append(f"sys.modules['{name}'] was replaced")
                continue
            now = vars(module)
            for attr, obj in attrs.items():
                if attr.startswith("_") and name != "builtins" or attr == "_":
                    continue
                if attr not in now:
                    found.append(f"{name}.{attr} was deleted")
                elif now[attr] is not obj:
                    found.append(f"{name}.{attr} was replaced")
        for name, (obj, grade_id) in self.helpers.items():
            now = namespace.get(name)
            if now is obj:
                continue
            if ignores_its_inputs(now):
                found.append(f"the test helper '{name}' from the locked cell '{grade_id}' was redefined "
                             "to ignore what it checks")
            else:
                notes.append(f"the notebook defines its own '{name}', the name of a helper from the "
                             f"locked cell '{grade_id}' (the tests used the original; this changed nothing)")
        fresh = [f for f in found if f not in self.reported]
        fresh_notes = [n for n in notes if n not in self.reported]
        self.reported.update(fresh + fresh_notes)
        return fresh, fresh_notes


def student_module() -> types.ModuleType:
    """A fresh ``__main__`` module for the student's cells, registered as ``sys.modules
    ['__main__']`` in place of this runner: ``import __main__`` in a notebook finds the
    notebook's own names, not the runner's machinery (what the runner sends is still treated
    as hostile by the grader: :mod:`autograder.engine.untrusted`)."""
    module = types.ModuleType("__main__", "The student's notebook.")
    module.__dict__["__builtins__"] = builtins
    _KEPT.append(sys.modules.get("__main__"))      # the runner's own module stays alive
    sys.modules["__main__"] = module
    return module


def ignores_its_inputs(obj: object) -> bool:
    """Whether ``obj``, put where a test helper was, looks made to pass whatever it is given:
    a lambda, or a function that never reads one of its parameters. A student's own function
    that happens to share a helper's name uses its arguments (an honest collision)."""
    if not isinstance(obj, types.FunctionType):
        return False
    code = obj.__code__
    if code.co_name == "<lambda>":
        return True
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)    # *args, **kwargs
    parameters = set(code.co_varnames[:count])
    used = {i.argval for i in dis.get_instructions(code)
            if i.opname.startswith(("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE", "DELETE_FAST"))}
    return bool(parameters) and not parameters <= used | set(code.co_cellvars)


class Runner:
    def __init__(self, cmd_fd: int, out_fd: int, judge_in: int, judge_out: int,
                 watch: list[str]) -> None:
        from autograder.engine import record
        self.record = record
        self.grader = (record.FrameReader(cmd_fd), out_fd)
        self.judge = (record.FrameReader(judge_in), judge_out)
        self.reader, self.out_fd = self.grader
        self.namespace = student_module().__dict__
        self.count = 0
        self.tamper = Tamper(watch)
        self.pid = os.getpid()

    def _only_me(self) -> None:
        """A process the student forked must not come back into the runner and answer."""
        if os.getpid() != self.pid:
            os._exit(0)

    def send(self, header: dict, blobs: list[bytes] = ()) -> None:
        self.record.write_frame(self.out_fd, header, blobs)

    # --- cells --------------------------------------------------------------------------
    def exec_cell(self, header: dict) -> None:
        index, kind = header["cell"], header.get("kind", "")
        filename = f"<cell {index + 1}>"
        source = strip_magics(header["source"])
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        outputs: list[dict] = []
        error = None
        self.count += 1
        before = dict(self.namespace)
        started = time.monotonic()
        with Streams() as streams:
            try:
                tree = ast.parse(source, filename)
                last = None
                if tree.body and isinstance(tree.body[-1], ast.Expr):
                    last = ast.Expression(tree.body.pop().value)
                body = compile(tree, filename, "exec")
                tail = compile(last, filename, "eval") if last else None
                _arm(header["timeout"], header.get("limit"))
                try:
                    exec(body, self.namespace)
                    value = eval(tail, self.namespace) if tail else None
                finally:
                    _disarm()
                if value is not None:
                    self.namespace["_"] = value
                    outputs.append({"output_type": "execute_result", "execution_count": self.count,
                                    "data": {"text/plain": _safe_str(value, 10_000)}, "metadata": {}})
            except BaseException as exc:                   # noqa: BLE001 (anything student code does)
                _disarm()
                self._only_me()
                error = _error(exc)
            self._only_me()
        outputs = streams.outputs() + outputs + ([error] if error else [])
        if kind == "setup":
            self.tamper.remember(self.namespace, before, header.get("grade_id", ""))
        self.send({"op": "done", "cell": index, "outputs": outputs, "count": self.count,
                   "error": error["ename"] if error else None,
                   "seconds": round(time.monotonic() - started, 3)})

    # --- calls from the judge -----------------------------------------------------------
    def _callback(self, ident: int, name: str):
        record = self.record

        def callback(*args, **kwargs):
            tree, blobs = record.encode((args, kwargs))
            self.send({"op": "callback", "id": ident, "args": tree}, blobs)
            header, blobs, _ = self.reader.read()
            if header.get("op") == "return":
                return record.decode(header["value"], blobs)
            raise _rebuild(header)
        callback.__name__ = callback.__qualname__ = name
        return callback

    def call(self, header: dict, blobs: list[bytes]) -> None:
        record = self.record
        name = header["name"]
        args, kwargs = record.decode(header["args"], blobs, self._callback)
        before = _digest(*record.encode((args, kwargs)))
        function = self.namespace.get(name)
        reply: dict
        with Streams() as streams:
            if not callable(function):
                reply = {"op": "raise", "type": "NameError", "builtin": True,
                         "message": f"name '{name}' is not defined", "traceback": []}
            else:
                _arm(header["timeout"], header.get("limit"))
                try:
                    try:
                        value = function(*args, **kwargs)
                        tree, out_blobs = record.encode(value)
                        after, after_blobs = record.encode((args, kwargs))
                    finally:
                        _disarm()
                    changed = _digest(after, after_blobs) != before
                    reply = {"op": "return", "value": tree}
                    if changed:
                        base = len(out_blobs)
                        reply["writeback"] = _shift_blobs(after, base)
                        out_blobs = out_blobs + after_blobs
                except BaseException as exc:               # noqa: BLE001
                    _disarm()
                    self._only_me()
                    err = _error(exc)
                    reply = {"op": "raise", "type": err["ename"], "message": err["evalue"],
                             "builtin": isinstance(getattr(builtins, err["ename"], None), type)
                             and type(exc).__module__ == "builtins" or isinstance(exc, CellTimeout),
                             "traceback": err["traceback"]}
                    out_blobs = []
        self._only_me()
        text = "".join(o["text"] for o in streams.outputs())
        reply["output"] = text
        self.send(reply, out_blobs if reply["op"] == "return" else [])

    def serve_judge(self) -> None:
        """During a test: answer the judge's calls directly, until it says ``end``."""
        self.reader, self.out_fd = self.judge
        try:
            while True:
                header, blobs, _ = self.reader.read()
                if header.get("op") == "call":
                    self.call(header, blobs)
                elif header.get("op") == "end":
                    break
        finally:
            self.reader, self.out_fd = self.grader
        self.send({"op": "served"})

    def serve(self) -> None:
        self.send({"op": "ready", "pid": os.getpid(), "isolation": _ISOLATION})
        while True:
            try:
                header, blobs, _ = self.reader.read()
            except EOFError:
                return
            op = header.get("op")
            if op == "exec":
                self.exec_cell(header)
            elif op == "call":
                self.call(header, blobs)
            elif op == "check":
                findings, notes = self.tamper.check(self.namespace)
                self.send({"op": "checked", "findings": findings, "notes": notes})
            elif op == "serve":
                self.serve_judge()
            elif op == "quit":
                return


def _digest(tree, blobs) -> bytes:
    import hashlib
    from autograder.engine.record import fingerprint
    return hashlib.sha256(fingerprint(tree, blobs)).digest()


def _shift_blobs(tree, base: int):
    """``tree`` with every blob reference moved up by ``base`` (blobs are appended)."""
    if isinstance(tree, list):
        return [_shift_blobs(t, base) for t in tree]
    if isinstance(tree, dict):
        return {k: (v + base if k == "b" else _shift_blobs(v, base)) for k, v in tree.items()}
    return tree


def _rebuild(header: dict) -> BaseException:
    kind = getattr(builtins, str(header.get("type")), None)
    message = str(header.get("message", ""))
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except Exception:                                  # noqa: BLE001
            pass
    return RuntimeError(f"{header.get('type')}: {message}")


def main() -> None:
    limits = json.loads(sys.argv[1])
    cmd_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull)
    if limits.get("isolate_network"):
        _ISOLATION["network"] = isolate_network()
    import numpy  # noqa: F401  (imported before the limits: what tests use must be snapshotted)
    import numpy.linalg, numpy.random, numpy.testing  # noqa: F401,E401
    for optional in ("utils.gradcheck", "utils.testing"):
        try:
            __import__(optional)
        except Exception:                                  # noqa: BLE001
            pass
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # a file past its limit fails, not the run
    _ISOLATION.update(apply_limits(limits))
    processes = forbid_new_processes()
    if processes != "new processes blocked":
        _ISOLATION["processes"] = processes
    runner = Runner(cmd_fd, out_fd, limits["judge_in"], limits["judge_out"], limits.get("watch", []))
    try:
        runner.serve()
    finally:
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
