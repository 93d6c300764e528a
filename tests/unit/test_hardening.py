"""signer/hardening.py: each measure in a child process (the test process is never altered)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from signer import hardening
from signer.config import ConfigError, Hardening, dev_config, parse_config

_STATUS = """
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
"""


def run_child(code: str, prefix: list[str] | None = None) -> Any:
    """Run ``code`` in a fresh interpreter; it prints one JSON document last."""
    proc = subprocess.run(
        [*(prefix or []), sys.executable, "-c", _STATUS + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_apply_sets_core_limit_dumpable_and_umask(tmp_path: Path) -> None:
    out = run_child(f"""
        import json, os, resource
        from signer import hardening
        before = [resource.getrlimit(resource.RLIMIT_CORE), hardening.is_dumpable()]
        outcomes = hardening.apply(lock_memory=False)
        umask = os.umask(0o077)
        path = {str(tmp_path / "made")!r}
        open(path, "w").close()
        print(json.dumps({{
            "before": before,
            "core": resource.getrlimit(resource.RLIMIT_CORE),
            "dumpable": hardening.is_dumpable(),
            "umask": umask,
            "mode": os.stat(path).st_mode & 0o777,
            "outcomes": [[o.measure, o.applied, o.detail] for o in outcomes],
        }}))
    """)
    assert out["before"][1] is True  # the measure changed something
    assert out["core"] == [0, 0]
    assert out["dumpable"] is False
    assert out["umask"] == 0o077
    assert out["mode"] == 0o600
    assert out["outcomes"] == [
        ["RLIMIT_CORE=0", True, ""],
        ["PR_SET_DUMPABLE=0", True, ""],
        ["umask 077", True, ""],
        ["mlockall", False, "disabled"],
    ]


def test_core_limit_cannot_be_raised_again_by_an_unprivileged_process() -> None:
    # The hard limit is 0 too: after dropping CAP_SYS_RESOURCE nothing raises it.
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop CAP_SYS_RESOURCE as root")
    prefix = [setpriv, "--bounding-set=-sys_resource"] if os.geteuid() == 0 and setpriv else []
    out = run_child(
        """
        import json, resource
        from signer import hardening
        hardening.apply(lock_memory=False)
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20))
            raised = True
        except (OSError, ValueError):
            raised = False
        print(json.dumps({"raised": raised, "core": resource.getrlimit(resource.RLIMIT_CORE)}))
        """,
        prefix,
    )
    assert out == {"raised": False, "core": [0, 0]}


def test_mlockall_locks_memory_when_permitted() -> None:
    out = run_child("""
        import json, resource
        from signer import hardening
        permitted = hardening._has_capability(hardening._CAP_IPC_LOCK) or (
            resource.getrlimit(resource.RLIMIT_MEMLOCK)[1] == resource.RLIM_INFINITY)
        (outcome,) = [o for o in hardening.apply() if o.measure == "mlockall"]
        before = int(status("VmLck").split()[0])
        buf = bytearray(8 << 20)  # a future allocation (its own mapping)
        print(json.dumps({"permitted": permitted, "applied": outcome.applied, "before": before,
                          "grown_kb": int(status("VmLck").split()[0]) - before}))
    """)
    if not out["permitted"]:
        pytest.skip("this process may not lock memory (no CAP_IPC_LOCK, finite memlock)")
    assert out["applied"] is True
    assert out["before"] > 0  # MCL_CURRENT
    assert out["grown_kb"] >= 8192  # MCL_FUTURE: the new buffer is locked too


def test_mlockall_not_permitted_is_logged_not_fatal() -> None:
    # A real unprivileged situation: finite RLIMIT_MEMLOCK and no CAP_IPC_LOCK.
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop CAP_IPC_LOCK as root")
    prefix = [setpriv, "--bounding-set=-ipc_lock"] if os.geteuid() == 0 and setpriv else []
    out = run_child(
        """
        import json, logging, resource
        from signer import hardening
        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logging.getLogger("signer.hardening").addHandler(handler)
        logging.getLogger("signer.hardening").setLevel(logging.INFO)
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (65536, 65536))
        outcomes = hardening.apply()
        data = bytearray(32 << 20)  # allocations keep working (no MCL_FUTURE under a limit)
        print(json.dumps({
            "mlock": [[o.applied, o.detail] for o in outcomes if o.measure == "mlockall"],
            "others": [o.applied for o in outcomes if o.measure != "mlockall"],
            "lines": [r.getMessage() for r in records],
            "locked": status("VmLck"),
        }))
        """,
        prefix,
    )
    ((applied, detail),) = out["mlock"]
    assert applied is False and "RLIMIT_MEMLOCK is 65536 bytes" in detail
    assert out["others"] == [True, True, True]
    assert out["locked"] == "0 kB"
    assert len(out["lines"]) == 4  # one line per measure
    assert out["lines"][3].startswith("mlockall not applied: RLIMIT_MEMLOCK")


def test_seccomp_forbids_execve_and_ptrace_in_every_thread() -> None:
    out = run_child("""
        import ctypes, errno, json, os, subprocess, threading
        from signer import hardening
        go, result = threading.Event(), {}
        def early_thread():  # started before the filter: TSYNC must cover it
            go.wait()
            try:
                os.execv("/bin/true", ["true"])
            except OSError as exc:
                result["thread"] = errno.errorcode[exc.errno]
        t = threading.Thread(target=early_thread)
        t.start()
        outcome = hardening.apply_seccomp()
        go.set()
        t.join()
        try:
            subprocess.run(["/bin/true"], check=True)
            result["subprocess"] = "ran"
        except OSError as exc:
            result["subprocess"] = errno.errorcode[exc.errno]
        pid = os.fork()
        if pid == 0:  # a forked child inherits the filter: its execve fails
            try:
                os.execv("/bin/true", ["true"])
            except OSError as exc:
                os._exit(exc.errno)
            os._exit(0)
        result["child_exit"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.ptrace(0, 0, None, None)  # PTRACE_TRACEME
        result["ptrace"] = [rc, errno.errorcode.get(ctypes.get_errno())]
        result["applied"] = outcome.applied
        result["seccomp"] = status("Seccomp")
        result["nnp"] = status("NoNewPrivs")
        print(json.dumps(result))
    """)
    if not out["applied"]:
        pytest.skip("libseccomp.so.2 is not installed here")
    assert out["seccomp"] == "2" and out["nnp"] == "1"
    assert out["thread"] == "EPERM"
    assert out["subprocess"] == "EPERM"
    assert out["child_exit"] == 1  # errno EPERM
    assert out["ptrace"] == [-1, "EPERM"]


def test_seccomp_missing_library_is_logged_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    real = ctypes.CDLL

    def no_seccomp(name: str | None, *args: Any, **kwargs: Any) -> ctypes.CDLL:
        if name == "libseccomp.so.2":
            raise OSError("not found")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", no_seccomp)
    outcome = hardening.apply_seccomp()  # nothing is loaded: safe in the test process
    assert outcome == hardening.Outcome(
        "seccomp (execve, execveat, ptrace -> EPERM)", False, "libseccomp.so.2 is not installed"
    )


@pytest.mark.parametrize(("uid", "euid"), [(0, 0), (1000, 0), (0, 1000)])
def test_root_is_refused_unless_allowed(
    monkeypatch: pytest.MonkeyPatch, uid: int, euid: int
) -> None:
    monkeypatch.setattr(os, "getuid", lambda: uid)
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    with pytest.raises(hardening.RootRefusedError, match="refusing to run as root"):
        hardening.refuse_root(allow_root=False)
    assert hardening.refuse_root(allow_root=True).applied is False


def test_unprivileged_user_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getuid", lambda: 10001)
    monkeypatch.setattr(os, "geteuid", lambda: 10001)
    assert hardening.refuse_root(allow_root=False) == hardening.Outcome(
        "root refusal", True, "uid 10001"
    )


def _raw(**hardening_table: object) -> dict[str, Any]:
    return {
        "state_dir": "s",
        "master_key_file": "k",
        "listeners": [{"kind": "unix", "address": "/tmp/a.sock", "role": "api"}],
        "hardening": hardening_table,
    }


def test_config_hardening_table() -> None:
    assert parse_config(_raw()).hardening == Hardening(False, True, True)
    cfg = parse_config(_raw(allow_root=True, lock_memory=False, seccomp=False))
    assert cfg.hardening == Hardening(allow_root=True, lock_memory=False, seccomp=False)
    assert dev_config(Path("/tmp/x"), None).hardening.allow_root is True


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"allow_roots": True}, "hardening.allow_roots: unknown key"),
        ({"allow_root": "yes"}, "hardening.allow_root: must be true or false"),
        ({"seccomp": 1}, "hardening.seccomp: must be true or false"),
    ],
)
def test_config_hardening_refuses_bad_values(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_raw(**table))
