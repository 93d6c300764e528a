"""Package-wide guards for signer/evm: no float, no heavy or oracle imports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import signer.evm

PACKAGE_DIR = Path(signer.evm.__file__).parent

SCRIPT = """
import sys
before = sys.getrecursionlimit()
import signer.evm.address, signer.evm.amounts, signer.evm.calldata, signer.evm.chains
import signer.evm.rlp, signer.evm.tokens, signer.evm.tx
assert sys.getrecursionlimit() == before, sys.getrecursionlimit()
banned = {"eth_account", "py_ecc", "rlp", "eth_utils", "eth_abi", "eth_keys", "pydantic", "hexbytes"}
bad = sorted(m for m in sys.modules if m.split(".")[0] in banned)
assert not bad, bad
"""


def test_package_never_uses_float() -> None:
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(PACKAGE_DIR.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bfloat\s*\(", line)
    ]
    assert offenders == []


def test_package_imports_no_oracle_or_heavy_library() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
