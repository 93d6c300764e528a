"""EIP-712 signing: signer.schemes.eip712 vs eth-account, side by side (DESIGN.md section 7).

Payloads (from shared/venues/test_vectors.json; copies below, checked against
the file when it is beside the repository):
- Polymarket V2 order, ``derived.polymarket[v2_eoa_order_ctf_exchange_v2_polygon]``;
- Hyperliquid phantom agent for ``l1_dummy`` (mainnet), connection id from
  ``derived.hyperliquid[l1_dummy_msgpack_and_hash]``, signature from ``hyperliquid[l1_dummy]``.

Before timing, both implementations must produce the published signature byte
for byte. Ours is timed as the daemon uses it: key loaded, schema compiled and
domain built once, then ``sign_typed_data`` per message. eth-account is timed
as ``Account.sign_typed_data(private_key, full_message=...)``. Rounds alternate
between the two; the medians of the per-round means are compared against the
8x floor. Timings are printed, never asserted.

Run: ``python bench/eip712_bench.py [-n ITERATIONS] [-r ROUNDS]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account

from signer.keystore.handles import Secret
from signer.schemes.eip712 import Domain, TypedDataSchema, sign_typed_data
from signer.schemes.secp256k1 import Secp256k1Key

FLOOR = 8.0
SHARED = Path(__file__).resolve().parents[2] / "shared" / "venues" / "test_vectors.json"

PM_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PM_DOMAIN = {
    "name": "Polymarket CTF Exchange",
    "version": "2",
    "chainId": 137,
    "verifyingContract": "0xE111180000d2663C0091e4f400237545B87B996B",
}
PM_ORDER = {
    "salt": 479249096354, "maker": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "signer": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "tokenId": 1234,
    "makerAmount": 100000000, "takerAmount": 50000000, "side": 0, "signatureType": 0,
    "timestamp": 1710000000000, "metadata": "0x" + "00" * 32, "builder": "0x" + "00" * 32,
}  # fmt: skip
PM_TYPES = [
    ("salt", "uint256"), ("maker", "address"), ("signer", "address"), ("tokenId", "uint256"),
    ("makerAmount", "uint256"), ("takerAmount", "uint256"), ("side", "uint8"),
    ("signatureType", "uint8"), ("timestamp", "uint256"), ("metadata", "bytes32"), ("builder", "bytes32"),
]  # fmt: skip
PM_SIGNATURE = "42c7b4857d51e344045fcfde17b37cf1290d784471ffe618c22aa56ea5ddcf0009015b87ffb299813f5597e86d4ad56f40d634558d915edb719e6fc71dbc0d891c"

HL_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
HL_DOMAIN = {
    "name": "Exchange",
    "version": "1",
    "chainId": 1337,
    "verifyingContract": "0x0000000000000000000000000000000000000000",
}
HL_AGENT = {
    "source": "a",
    "connectionId": "0xf528daee6a0bd11407b483cfcd9a48c56884180b70ee86f124053e5fc1bf4d57",
}
HL_TYPES = [("source", "string"), ("connectionId", "bytes32")]
HL_R, HL_S, HL_V = (
    "0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298",
    "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8",
    27,
)
HL_SIGNATURE = (
    int(HL_R, 16).to_bytes(32, "big") + int(HL_S, 16).to_bytes(32, "big") + bytes((HL_V,))
).hex()


def check_copies() -> None:
    if not SHARED.exists():
        print(f"(no {SHARED}; using the embedded copies)")
        return
    shared = json.loads(SHARED.read_text())
    pm = {v["name"]: v for v in shared["derived"]["polymarket"]}[
        "v2_eoa_order_ctf_exchange_v2_polygon"
    ]
    assert pm["domain"] == PM_DOMAIN and pm["input"] == {"private_key": PM_KEY, "order": PM_ORDER}
    assert pm["expected"]["signature"] == "0x" + PM_SIGNATURE
    hl = {v["name"]: v for v in shared["derived"]["hyperliquid"]}["l1_dummy_msgpack_and_hash"]
    assert hl["expected"]["connectionId"] == HL_AGENT["connectionId"]
    sig = {v["name"]: v for v in shared["hyperliquid"]}["l1_dummy"]["expected"]["mainnet"]
    assert (sig["r"], sig["s"], sig["v"]) == (HL_R, HL_S, HL_V)


class Payload:
    def __init__(self, label: str, key: str, domain: dict[str, Any], primary: str, types: list[tuple[str, str]], message: dict[str, Any], expected: str) -> None:  # fmt: skip
        self.label = label
        self.private_key = key
        self.key = Secp256k1Key.from_secret(Secret(key))
        self.domain = Domain(domain.get("name"), domain.get("version"), domain.get("chainId"), domain.get("verifyingContract"))  # fmt: skip
        self.schema = TypedDataSchema.compile({primary: types}, primary)
        self.message = message
        self.full_message = {
            "types": {
                "EIP712Domain": [{"name": n, "type": t} for n, t in self.domain.eip712_type()],
                primary: [{"name": n, "type": t} for n, t in types],
            },
            "primaryType": primary,
            "domain": domain,
            "message": message,
        }
        self.expected = expected

    def ours(self) -> bytes:
        return sign_typed_data(self.key, self.domain, self.schema, self.message).to_bytes65()

    def eth_account(self) -> bytes:
        return bytes(
            Account.sign_typed_data(self.private_key, full_message=self.full_message).signature
        )


def per_call_us(fn: Callable[[], object], n: int) -> float:
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n / 1000


def run(payload: Payload, n: int, rounds: int) -> float:
    ours, theirs = payload.ours(), payload.eth_account()
    assert ours == theirs == bytes.fromhex(payload.expected), f"{payload.label}: signatures differ"
    per_call_us(payload.ours, max(n // 10, 10))  # warm up both
    per_call_us(payload.eth_account, max(n // 10, 10))
    ours_t: list[float] = []
    theirs_t: list[float] = []
    for _ in range(rounds):
        ours_t.append(per_call_us(payload.ours, n))
        theirs_t.append(per_call_us(payload.eth_account, n))
    o, t = statistics.median(ours_t), statistics.median(theirs_t)
    ratio = t / o
    verdict = "PASS" if ratio >= FLOOR else "FAIL"
    print(
        f"{payload.label:<34} ours {o:8.1f} us   eth-account {t:8.1f} us   "
        f"ratio {ratio:5.2f}x (floor {FLOOR:.0f}x) {verdict}"
    )
    print(f"{'':<34} ours rounds [{', '.join(f'{x:.1f}' for x in ours_t)}]")
    print(f"{'':<34} eth  rounds [{', '.join(f'{x:.1f}' for x in theirs_t)}]")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--iterations", type=int, default=1000, help="signatures per round")
    parser.add_argument("-r", "--rounds", type=int, default=7, help="rounds (median is reported)")
    args = parser.parse_args(argv)
    ratios = run_all(args.iterations, args.rounds)
    print(
        f"overall: {'PASS' if min(ratios) >= FLOOR else 'FAIL'} (lowest ratio {min(ratios):.2f}x)"
    )
    return 0


def run_all(iterations: int, rounds: int) -> list[float]:
    """Check the copies, time both payloads, print a line each; the ratios."""
    check_copies()
    payloads = [
        Payload(
            "polymarket v2 order (Order)",
            PM_KEY,
            PM_DOMAIN,
            "Order",
            PM_TYPES,
            PM_ORDER,
            PM_SIGNATURE,
        ),
        Payload(
            "hyperliquid phantom agent (Agent)",
            HL_KEY,
            HL_DOMAIN,
            "Agent",
            HL_TYPES,
            HL_AGENT,
            HL_SIGNATURE,
        ),
    ]
    print(
        f"python {sys.version.split()[0]}, {iterations} signatures x {rounds} rounds each; signatures byte-identical"
    )
    return [run(p, iterations, rounds) for p in payloads]


if __name__ == "__main__":
    sys.exit(main())
