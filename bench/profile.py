"""Profile the daemon under load with py-spy and summarise where its interpreter time goes.

``record`` attaches ``py-spy record --gil --format raw`` to a running daemon:
only samples of the thread holding the GIL are kept, i.e. the interpreter
time that every call competes for (grpc.aio's Cython code, the event loop and
the signing path all run on the loop thread under the GIL). Time spent waiting
(the audit fsync in its worker thread, epoll) is not in these samples; the
load figures show its effect on latency.

``summarise`` reads the collapsed stacks and prints:

1. the split of GIL samples: gRPC + event loop (stacks with no frame of
   signer/ or policy/), the daemon's own Python code, and inside it the
   cryptography (signer/schemes/, hmac, hashlib);
2. a ranked list of signer/ and policy/ functions by inclusive samples, with
   an estimate of microseconds per call (samples / rate / calls);
3. the top self-time leaves outside gRPC and cryptography.

Run on a saved file: ``python -m bench.profile FILE --rate 250 --calls N``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")
OURS = ("signer/", "policy/")
CRYPTO = ("signer/schemes/", "hmac.py", "hashlib.py", "cryptography/", "coincurve/")
RATE = 250  # samples per second
ENTRY = ("signer/__main__.py", "signer/cli.py")  # below every stack: not a cost


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def record(pid: int, seconds: int, out: Path, rate: int = RATE) -> subprocess.Popen[bytes]:
    """Start py-spy on ``pid`` for ``seconds``; the caller waits for it."""
    args = [
        py_spy(), "record", "--pid", str(pid), "--duration", str(seconds), "--rate",
        str(rate), "--gil", "--format", "raw", "--output", str(out),
    ]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """Collapsed stacks: [([(func, file), ...] root first, count)]."""
    stacks = []
    for line in path.read_text().splitlines():
        text, _, count = line.rpartition(" ")
        frames = []
        for raw in text.split(";"):
            m = _FRAME.match(raw.strip())
            frames.append((m["func"], m["file"]) if m else (raw.strip(), ""))
        stacks.append((frames, int(count)))
    return stacks


def _ours(file: str) -> bool:
    return file.startswith(OURS) and not file.startswith(("signer/_proto", *ENTRY))


def _crypto(file: str) -> bool:
    return any(part in file for part in CRYPTO)


def summarise(path: Path, rate: int, calls: int, top: int = 20) -> str:
    stacks = parse(path)
    total = sum(n for _, n in stacks)
    if not total:
        return "no samples"
    per_call = 1e6 / rate / max(calls, 1)  # microseconds per sample per call
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    split: Counter[str] = Counter()
    for frames, n in stacks:
        in_ours = {f"{file}:{func}" for func, file in frames if _ours(file)}
        for name in in_ours:
            inclusive[name] += n
        func, file = frames[-1]
        crypto = any(_crypto(f) for _, f in frames)
        if crypto:
            split["cryptography (signer/schemes, hmac, hashlib)"] += n
        elif in_ours:
            split["daemon Python outside crypto (signer/, policy/ frames)"] += n
        else:
            split["gRPC + event loop (no daemon frame)"] += n
        if not crypto:
            leaves[f"{file}:{func}" if file else func] += n
    lines = [
        f"{total} GIL samples at {rate} Hz over {calls} calls ({per_call * total:.0f} us of GIL per call)"
    ]
    for name, n in split.most_common():
        lines.append(f"  {n / total:6.1%}  {n * per_call:7.1f} us/call  {name}")
    lines.append(f"daemon functions by inclusive samples (top {top}):")
    for name, n in inclusive.most_common(top):
        lines.append(f"  {n / total:6.1%}  {n * per_call:7.1f} us/call  {name}")
    lines.append(f"self time outside cryptography (top {top}; Handle._run = gRPC Cython code):")
    for name, n in leaves.most_common(top):
        lines.append(f"  {n / total:6.1%}  {n * per_call:7.1f} us/call  {name}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("file", type=Path)
    parser.add_argument("--rate", type=int, default=RATE)
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    print(summarise(args.file, args.rate, args.calls, args.top))


if __name__ == "__main__":
    main()
