"""A warm judge server: imports numpy, matplotlib and ``utils`` once per grading process, then
forks one fresh judge per submission.

Starting a judge from scratch costs an interpreter plus numpy, matplotlib and the checker
(about a second of CPU); forking a server that already imported them costs milliseconds. The
server never runs a test or any student code itself, so every forked judge starts as clean as
a new process. Descriptors travel over a Unix socket (``SCM_RIGHTS``). If the server cannot be
used, :func:`spawn` returns None and the caller starts a plain judge process instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading

_lock = threading.Lock()
_server: dict = {}          # {"pid": owner pid, "proc": Popen, "sock": socket}
DISABLE_VARIABLE = "BACKPROP_LAB_JUDGE_POOL"


class ForkedJudge:
    """A judge forked by the server, driven like :class:`autograder.engine.process.Process`."""

    def __init__(self, pid: int, cmd_fd: int, out_fd: int, stderr) -> None:
        from autograder.engine import record
        self.pid = pid
        try:                                # signal the process itself, never a reused pid
            self.pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None
        self.cmd_fd = cmd_fd
        self.reader = record.FrameReader(out_fd)
        self.out_fd = out_fd
        self.stderr = stderr

    def send(self, header: dict, blobs: list[bytes] = ()) -> None:
        from autograder.engine import record
        try:
            record.write_frame(self.cmd_fd, header, blobs)
        except OSError:
            raise record.ChannelClosed("channel closed") from None

    def read(self, deadline: float):
        from autograder.engine.untrusted import clean_tree
        header, blobs, raw = self.reader.read(deadline)
        return clean_tree(header), blobs, raw      # the judge relays student text: clean it here

    def kill(self) -> None:
        if self.pidfd is None:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass

    def close(self) -> None:
        self.kill()
        for fd in (self.cmd_fd, self.out_fd, self.pidfd):
            if fd is None:
                continue
            try:
                os.close(fd)
            except OSError:
                pass
        self.stderr.close()

    def stderr_text(self, limit: int = 2000) -> str:
        self.stderr.seek(0)
        return self.stderr.read(limit).decode("utf-8", "replace").strip()


def _connect(env: dict[str, str]) -> socket.socket | None:
    """The server's socket for this process, starting the server if needed."""
    if _server.get("pid") == os.getpid() and _server["proc"].poll() is None:
        return _server["sock"]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    proc = subprocess.Popen([sys.executable, "-m", "autograder.engine.judgepool", str(theirs.fileno())],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            pass_fds=(theirs.fileno(),), start_new_session=True)
    theirs.close()
    _server.update(pid=os.getpid(), proc=proc, sock=ours)
    return ours


def spawn(exercises: list[str], runner_in: int, runner_out: int, seed: int, cwd: str,
          env: dict[str, str]) -> ForkedJudge | None:
    """A forked judge wired to the runner's pipes, or None when the server is unavailable."""
    if os.environ.get(DISABLE_VARIABLE, "1") == "0":
        return None
    import tempfile
    cmd_r, cmd_w = os.pipe()
    out_r, out_w = os.pipe()
    stderr = tempfile.TemporaryFile()
    request = json.dumps({"exercises": exercises, "seed": seed, "cwd": cwd}).encode()
    try:
        with _lock:
            sock = _connect(env)
            socket.send_fds(sock, [request], [cmd_r, out_w, stderr.fileno(), runner_in, runner_out])
            sock.settimeout(60)
            reply = sock.recv(4096)
        pid = json.loads(reply)["pid"]
    except (OSError, ValueError, KeyError):
        os.close(cmd_w)
        os.close(out_r)
        stderr.close()
        _server.clear()
        return None
    finally:
        os.close(cmd_r)
        os.close(out_w)
    return ForkedJudge(pid, cmd_w, out_r, stderr)


def _warm() -> None:
    import pkgutil

    import numpy  # noqa: F401
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except Exception:                                       # noqa: BLE001 (optional)
        pass
    import utils
    for module in pkgutil.iter_modules(utils.__path__):
        try:
            __import__(f"utils.{module.name}")
        except Exception:                                   # noqa: BLE001 (optional)
            pass
    import autograder.engine.judge  # noqa: F401


def _serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    _warm()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)           # children reap themselves
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 65536, 8)
        except OSError:
            return
        if not message:
            return
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                os.setsid()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                cmd_r, out_w, err_w, runner_in, runner_out = fds
                for target, fd_in in ((0, cmd_r), (1, out_w), (2, err_w)):
                    os.dup2(fd_in, target)
                    os.close(fd_in)
                os.environ["BACKPROP_LAB_SEED"] = str(request["seed"])
                os.chdir(request["cwd"])
                from autograder.engine.judge import serve
                serve(request["exercises"], runner_in, runner_out)
            finally:
                os._exit(1)
        for fd_in in fds:
            os.close(fd_in)
        sock.sendall(json.dumps({"pid": pid}).encode())


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
