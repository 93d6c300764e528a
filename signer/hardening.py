"""Process hardening, applied by ``sequence-signer serve`` and ``dev`` at start-up.

Invariants (tests in tests/unit/test_hardening.py, each in a child process):

1. ``refuse_root``: a daemon whose real or effective uid is 0 does not start
   unless the deployment said so (``[hardening] allow_root = true`` or
   ``--allow-root``; ``dev`` allows it, see README "Hardening").
2. ``apply`` (before any secret is loaded): RLIMIT_CORE is (0, 0), the process
   is not dumpable (``prctl(PR_SET_DUMPABLE, 0)``: no core dump, no ptrace
   attach or ``/proc/<pid>/mem`` read by other processes of the same uid), the
   umask is 077, and memory is locked with ``mlockall`` where that is safe.
3. ``apply_seccomp`` (after the listeners are up, so nothing later needs it):
   ``execve``, ``execveat`` and ``ptrace`` fail with EPERM in every thread.
4. Nothing here crashes the daemon because a measure is not permitted: each
   measure logs exactly one line, "applied" or "not applied: <why>", and the
   start-up goes on (only the root refusal stops it).

SECURITY: mlockall(MCL_FUTURE) under a finite RLIMIT_MEMLOCK without
CAP_IPC_LOCK would make later allocations fail once the limit is reached
(MemoryError in the middle of a request), so memory is locked only when the
limit is unlimited or the process holds CAP_IPC_LOCK; otherwise the log says so.

Secrets themselves live in ``bytearray`` buffers that are zeroed when a handle
is evicted (``signer/keystore/handles.py``); README "What Python cannot
guarantee" lists the copies no Python code can reach.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import resource
from dataclasses import dataclass

log = logging.getLogger(__name__)

_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4
_MCL_CURRENT, _MCL_FUTURE, _MCL_ONFAULT = 1, 2, 4
_CAP_IPC_LOCK = 14
_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_ERRNO_BASE = 0x00050000
_SCMP_FLTATR_CTL_TSYNC = 4
_SECCOMP_DENIED = ("execve", "execveat", "ptrace")


class RootRefusedError(Exception):
    """The daemon would run as root and the deployment did not allow it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one measure, as logged."""

    measure: str
    applied: bool
    detail: str = ""

    def log(self) -> None:
        if self.applied:
            log.info("%s applied%s", self.measure, _suffix(self.detail))
        else:
            log.warning("%s not applied: %s", self.measure, self.detail)


def refuse_root(allow_root: bool) -> Outcome:
    """Raise RootRefusedError if uid or euid is 0 and ``allow_root`` is false."""
    if os.getuid() != 0 and os.geteuid() != 0:
        return Outcome("root refusal", True, f"uid {os.getuid()}")
    if not allow_root:
        raise RootRefusedError(
            "refusing to run as root (uid 0): run as an unprivileged user, "
            "or set allow_root = true under [hardening] (or pass --allow-root)"
        )
    return Outcome("root refusal", False, "running as root: allow_root is set")


def apply(lock_memory: bool = True) -> list[Outcome]:
    """Apply the start-up measures (invariant 2) and log one line per measure."""
    outcomes = [_no_core(), _not_dumpable(), _umask()]
    outcomes.append(_mlockall() if lock_memory else Outcome("mlockall", False, "disabled"))
    for outcome in outcomes:
        outcome.log()
    return outcomes


def apply_seccomp() -> Outcome:
    """Deny execve/execveat/ptrace (EPERM) in all threads, through libseccomp."""
    outcome = _seccomp()
    outcome.log()
    return outcome


def is_dumpable() -> bool:
    return bool(_libc().prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0))


def _no_core() -> Outcome:
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as exc:
        return Outcome("RLIMIT_CORE=0", False, type(exc).__name__)
    return Outcome("RLIMIT_CORE=0", True)


def _not_dumpable() -> Outcome:
    libc = _libc()
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        return Outcome("PR_SET_DUMPABLE=0", False, errno.errorcode[ctypes.get_errno()])
    return Outcome("PR_SET_DUMPABLE=0", True)


def _umask() -> Outcome:
    os.umask(0o077)
    return Outcome("umask 077", True)


def _mlockall() -> Outcome:
    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft != resource.RLIM_INFINITY and hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and not _has_capability(_CAP_IPC_LOCK):
        return Outcome(
            "mlockall",
            False,
            f"RLIMIT_MEMLOCK is {soft} bytes and CAP_IPC_LOCK is absent "
            "(give the process an unlimited memlock limit or CAP_IPC_LOCK)",
        )
    libc = _libc()
    if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE | _MCL_ONFAULT) == 0:
        return Outcome("mlockall", True, "current and future pages, on fault")
    if ctypes.get_errno() == errno.EINVAL and libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) == 0:
        return Outcome("mlockall", True, "current and future pages")
    return Outcome("mlockall", False, errno.errorcode.get(ctypes.get_errno(), "error"))


def _seccomp() -> Outcome:
    measure = "seccomp (execve, execveat, ptrace -> EPERM)"
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        return Outcome(measure, False, "libseccomp.so.2 is not installed")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        return Outcome(measure, False, "seccomp_init failed")
    try:
        # SECURITY: TSYNC puts the filter on every thread (grpc's are running by now);
        # libseccomp also sets no_new_privs and kills calls from a foreign ABI (x32).
        rc = lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_TSYNC, 1)
        for name in _SECCOMP_DENIED:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            rc = rc or lib.seccomp_rule_add(ctx, _SCMP_ACT_ERRNO_BASE | errno.EPERM, nr, 0)
        rc = rc or lib.seccomp_load(ctx)
    finally:
        lib.seccomp_release(ctx)
    if rc != 0:
        return Outcome(measure, False, errno.errorcode.get(-rc, f"error {rc}"))
    return Outcome(measure, True, "all threads")


def _has_capability(bit: int) -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except (OSError, ValueError):
        pass
    return False


def _libc() -> ctypes.CDLL:
    # SECURITY: CDLL(None) is the already-loaded C library; ctypes.util.find_library
    # would run ldconfig (an execve, which the seccomp filter forbids later).
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]  # fmt: skip
    libc.mlockall.argtypes = [ctypes.c_int]
    return libc


def _suffix(detail: str) -> str:
    return f" ({detail})" if detail else ""
