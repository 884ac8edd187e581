"""A child process of the grader that speaks frames (:mod:`autograder.engine.record`) on its
stdin/stdout, with its stderr kept in a private temporary file for diagnostics."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from pathlib import Path

from . import record
from .untrusted import clean_text, clean_tree


class Process:
    """A child speaking frames on its stdin/stdout, its stderr kept in a private temp file."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, pass_fds: tuple = ()) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, cwd=cwd, start_new_session=True,
                                     pass_fds=pass_fds)
        self.reader = record.FrameReader(self.proc.stdout.fileno())

    def send(self, header: dict, blobs: list[bytes] = ()) -> None:
        self.send_raw(record.pack_frame(header, blobs))

    def send_raw(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise record.ChannelClosed("channel closed") from None

    def read(self, deadline: float) -> tuple[dict, list[bytes], bytes]:
        """The next frame; every string of its header is cleaned here, where text made by
        student code enters the grader (:mod:`autograder.engine.untrusted`)."""
        header, blobs, raw = self.reader.read(deadline)
        return clean_tree(header), blobs, raw

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            try:
                stream.close()
            except OSError:
                pass

    def stderr_text(self, limit: int = 2000) -> str:
        self.stderr.seek(0)
        return clean_text(self.stderr.read(limit).decode("utf-8", "replace").strip())

    def death(self) -> str:
        """How the process ended, in words."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            hint = " (probably out of memory)" if number == signal.SIGKILL else ""
            return f"the notebook's process was killed by {name}{hint}"
        return f"the notebook's process exited with code {code} (os._exit, a crash or a kill)"


def expect(process: Process, op: str, deadline: float, who: str) -> dict:
    try:
        header, _, _ = process.read(deadline)
    except (record.ChannelClosed, record.ChannelTimeout, record.WireError) as err:
        raise RuntimeError(f"{who} failed ({type(err).__name__}): {process.stderr_text()}") from None
    if header.get("op") != op:
        raise RuntimeError(f"{who} sent {header.get('op')!r} instead of {op!r}")
    return header
