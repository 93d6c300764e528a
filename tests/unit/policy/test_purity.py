"""policy/ is a pure library: standard library and itself only (DESIGN.md section 2)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import policy

POLICY_DIR = Path(policy.__file__).resolve().parent
REPO_ROOT = POLICY_DIR.parent
FORBIDDEN = (
    "grpc",
    "cryptography",
    "signer",
    "google.protobuf",
    "nacl",
    "coincurve",
    "eth_account",
)

_PROBE = f"""
import sys
sys.path.insert(0, {str(REPO_ROOT)!r})
import policy, policy.engine, policy.document, policy.cases
loaded = sorted(
    name for name in sys.modules
    for banned in {FORBIDDEN!r}
    if name == banned or name.startswith(banned + ".")
)
assert not loaded, "policy imported: " + ", ".join(loaded)
"""


def test_importing_policy_loads_no_daemon_or_crypto_module() -> None:
    result = subprocess.run(
        [sys.executable, "-I", "-c", _PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def _imported_roots(tree: ast.AST) -> list[tuple[str, int]]:
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.append((node.module.split(".")[0], node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            roots.append(("<__import__>", node.lineno))
    return roots


def test_every_policy_module_imports_only_stdlib_and_policy() -> None:
    files = sorted(POLICY_DIR.rglob("*.py"))
    assert len(files) >= 5
    offending = [
        f"{path.name}:{line}: {root}"
        for path in files
        for root, line in _imported_roots(ast.parse(path.read_text(), str(path)))
        if root != "policy" and root not in sys.stdlib_module_names
    ]
    assert offending == []


def test_the_scan_would_catch_a_third_party_import() -> None:
    tree = ast.parse("import grpc\nfrom signer.domain import VENUES\n__import__('nacl')\n")
    roots = [root for root, _ in _imported_roots(tree)]
    assert roots == ["grpc", "signer", "<__import__>"]
