"""Confinement the student's runner applies to itself before any student code runs.

Used inside the sandbox (and alone in the fallback): resource limits, an empty network
namespace when bwrap did not provide one, and a seccomp filter that refuses new processes.
"""

from __future__ import annotations

import ctypes
import os


def isolate_network() -> str:
    """Without bwrap: try to enter an empty network namespace (works as root, or with
    unprivileged user namespaces). Returns how it went."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for flags in (0x40000000, 0x10000000 | 0x40000000):    # CLONE_NEWNET, +CLONE_NEWUSER
            if libc.unshare(flags) == 0:
                return "network isolated"
        return f"network NOT isolated ({os.strerror(ctypes.get_errno())})"
    except OSError as err:
        return f"network NOT isolated ({err})"


def forbid_new_processes() -> str:
    """Install a seccomp filter: no fork, vfork or process-making clone from here on (threads
    are still allowed). RLIMIT_NPROC is no defence when the grader runs as root (the kernel
    exempts root's processes, even in a user namespace), this is. The same filter refuses
    memory that the address-space limit does not count: ``memfd_create``, ``memfd_secret``
    and System V shared memory (``shmget``). Returns how it went."""
    import platform
    import struct
    arch = {"x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435,
                                    "memfd_create": 319, "memfd_secret": 447, "shmget": 29}),
            "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435, "memfd_create": 279,
                                     "memfd_secret": 447, "shmget": 194})}.get(platform.machine())
    if arch is None:
        return f"new processes NOT blocked (no filter for {platform.machine()})"
    audit_arch, numbers = arch
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    allow, deny, nosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38     # ALLOW, ERRNO(EPERM/ENOSYS)
    program: list[tuple[int, int, int, int]] = [(ld, 0, 0, 4)]          # seccomp_data.arch
    blocked = [numbers[n] for n in ("fork", "vfork", "memfd_create", "memfd_secret", "shmget")
               if n in numbers]
    body: list[tuple] = [("jeq", numbers["clone3"], "nosys", None)]
    body += [("jeq", nr, "deny", None) for nr in blocked]
    body += [("jeq", numbers["clone"], None, "allow"), ("ld", 16), ("jset", 0x10000, "allow", "deny")]
    # layout: 0 ld arch, 1 jeq arch, 2 ld nr, body..., allow, deny, nosys
    start = 3
    labels = {"allow": start + len(body), "deny": start + len(body) + 1, "nosys": start + len(body) + 2}
    program.append((jeq, 0, labels["allow"] - 2, audit_arch))
    program.append((ld, 0, 0, 0))                                        # seccomp_data.nr
    for index, item in enumerate(body, start=start):
        def offset(label):
            return 0 if label is None else labels[label] - index - 1
        if item[0] == "ld":
            program.append((ld, 0, 0, item[1]))
        else:
            program.append((jeq if item[0] == "jeq" else jset, offset(item[2]), offset(item[3]), item[1]))
    program += [(ret, 0, 0, allow), (ret, 0, 0, deny), (ret, 0, 0, nosys)]
    raw = b"".join(struct.pack("HBBI", code, jt, jf, k) for code, jt, jf, k in program)
    buffer = ctypes.create_string_buffer(raw)

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Program(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(38, 1, None, 0, 0) != 0:                               # PR_SET_NO_NEW_PRIVS
        return f"new processes NOT blocked ({os.strerror(ctypes.get_errno())})"
    if libc.prctl(22, 2, ctypes.addressof(fprog), 0, 0) != 0:            # PR_SET_SECCOMP, FILTER
        return f"new processes NOT blocked ({os.strerror(ctypes.get_errno())})"
    return "new processes blocked"


def apply_limits(limits: dict) -> dict[str, str]:
    """Set the run's resource limits (soft = hard); returns the ones that could not be set."""
    import resource
    failed: dict[str, str] = {}
    mb = 2**20
    for name, value in (("RLIMIT_AS", limits["memory_mb"] * mb), ("RLIMIT_CPU", limits["cpu_seconds"]),
                        ("RLIMIT_FSIZE", limits["file_mb"] * mb), ("RLIMIT_NPROC", limits["processes"]),
                        ("RLIMIT_CORE", 0)):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError) as err:
            failed[name] = f"not set ({err})"
    return failed
