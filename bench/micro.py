"""In-process micro-benchmarks: each signing scheme vs the raw primitive it wraps.

"ours" is the ``signer.schemes`` call a venue makes per request (signer built
once, as the venue caches it per credential handle); "raw" is the bare
primitive on the same key and message (``hmac``/``hashlib`` or the
``cryptography``/``coincurve`` sign call), so the ratio ours/raw is the cost
of the wrapper: encoding, template copies, JSON of a JWT, DER to raw r||s.
There is no floor for these; the ratios are printed for information.
Before timing, each pair is checked to produce the same bytes where the
primitive is deterministic, and the ours/raw rounds alternate.

Also here: ``rsa_raw_ops``, the single-threaded raw RSA-PSS loop that the
Kalshi concurrency scenario of ``bench/run.py`` compares the daemon with.

Run: ``python -m bench.micro [--quick]``.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from coincurve import PrivateKey
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from bench.common import median
from signer.keystore.handles import Secret
from signer.schemes.asymmetric import load_pem_signer
from signer.schemes.hmac import HmacSha256, HmacSha512, kraken_sign
from signer.schemes.jwt import CdpJwtSigner, cdp_rest_jwt
from signer.schemes.memo_hmac import MemoHmacSha256
from signer.schemes.rsa_pss import PSS_PADDING, RsaPssSha256Signer
from signer.schemes.secp256k1 import Secp256k1Key

MESSAGE = (
    b"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=20000"
    b"&recvWindow=5000&timestamp=1700000000000"
)
KALSHI_MESSAGE = b"1700000000000GET/trade-api/v2/portfolio/balance"
URI = "POST api.coinbase.com/api/v3/brokerage/orders"


@dataclass
class Pair:
    name: str
    ours: Callable[[], object]
    raw: Callable[[], object]
    same: bool = False  # deterministic: ours and raw must agree byte for byte


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pairs() -> list[Pair]:
    secret = b"s" * 64
    sha256 = hashlib.sha256
    b64 = base64.b64encode
    h256 = HmacSha256(Secret(secret))
    kraken_key = bytes(range(64))
    h512 = HmacSha512.from_base64_secret(Secret(b64(kraken_key)))
    nonce, body = "1700000000000123", b"nonce=1700000000000123&ordertype=limit&pair=XBTUSD"
    memo = MemoHmacSha256(Secret(secret), Secret(b"memo"))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pss = RsaPssSha256Signer.from_pem(Secret(_pem(rsa_key)))
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed = load_pem_signer(Secret(_pem(ed_key)))
    pk1 = load_pem_signer(Secret(_pem(rsa_key)))
    p256 = ec.generate_private_key(ec.SECP256R1())
    jwt_es = CdpJwtSigner.from_secret(Secret(_pem(p256)))
    jwt_ed = CdpJwtSigner.from_secret(Secret(_pem(ed_key)))
    k1_raw = bytes.fromhex("0123456789012345678901234567890123456789012345678901234567890123")
    k1, cc = Secp256k1Key.from_secret(Secret(k1_raw)), PrivateKey(k1_raw)
    digest = sha256(MESSAGE).digest()
    jwt_input = b"e" * 180 + b"." + b"c" * 160  # about the size of a CDP signing input
    return [
        Pair("HMAC-SHA256 hex (Binance, Bybit...)", lambda: h256.hex(MESSAGE),
             lambda: hmac.new(secret, MESSAGE, sha256).hexdigest(), same=True),
        Pair("HMAC-SHA256 base64 (OKX, Bitget)", lambda: h256.base64(MESSAGE),
             lambda: b64(hmac.new(secret, MESSAGE, sha256).digest()).decode(), same=True),
        Pair("HMAC-SHA512 Kraken API-Sign", lambda: kraken_sign(h512, b"/0/private/AddOrder", nonce, body),
             lambda: b64(hmac.new(kraken_key, b"/0/private/AddOrder" + sha256(nonce.encode() + body).digest(), hashlib.sha512).digest()).decode(),
             same=True),
        Pair("HMAC-SHA256 memo (BitMart)", lambda: memo.sign_hex("1700000000000", MESSAGE),
             lambda: hmac.new(secret, b"1700000000000#memo#" + MESSAGE, sha256).hexdigest(), same=True),
        Pair("RSA-PSS-2048 base64 (Kalshi)", lambda: pss.sign_base64(KALSHI_MESSAGE),
             lambda: rsa_key.sign(KALSHI_MESSAGE, PSS_PADDING, hashes.SHA256())),
        Pair("RSA-PKCS1v15-2048 base64 (Binance RSA)", lambda: pk1.sign_base64(MESSAGE),
             lambda: b64(rsa_key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())).decode(), same=True),
        Pair("Ed25519 base64 (Binance Ed25519)", lambda: ed.sign_base64(MESSAGE),
             lambda: b64(ed_key.sign(MESSAGE)).decode(), same=True),
        Pair("JWT ES256 (Coinbase CDP)", lambda: cdp_rest_jwt(jwt_es, "organizations/o/apiKeys/k", URI, 1700000000),
             lambda: p256.sign(jwt_input, ec.ECDSA(hashes.SHA256()))),
        Pair("JWT EdDSA (Coinbase CDP)", lambda: cdp_rest_jwt(jwt_ed, "organizations/o/apiKeys/k", URI, 1700000000),
             lambda: ed_key.sign(jwt_input)),
        Pair("secp256k1 digest (EVM, Hyperliquid)", lambda: k1.sign_digest(digest).to_bytes65(),
             lambda: cc.sign_recoverable(digest, hasher=None)),
    ]  # fmt: skip


def per_call_us(fn: Callable[[], object], n: int) -> float:
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n / 1000


def calibrate(fn: Callable[[], object], seconds: float) -> int:
    single = max(per_call_us(fn, 20), 0.05)
    return max(20, int(seconds * 1e6 / single))


def check_same(pair: Pair) -> None:
    ours, raw = pair.ours(), pair.raw()
    if pair.name.startswith("secp256k1"):
        assert isinstance(ours, bytes) and isinstance(raw, bytes)
        assert ours[:64] == raw[:64] and ours[64] == raw[64] + 27, pair.name
    elif pair.same:
        assert ours == raw, f"{pair.name}: ours and raw differ"


def run(seconds: float, rounds: int) -> list[tuple[str, float, float]]:
    out = []
    for pair in pairs():
        check_same(pair)
        n_ours, n_raw = calibrate(pair.ours, seconds), calibrate(pair.raw, seconds)
        ours_t, raw_t = [], []
        for _ in range(rounds):
            ours_t.append(per_call_us(pair.ours, n_ours))
            raw_t.append(per_call_us(pair.raw, n_raw))
        out.append((pair.name, median(ours_t), median(raw_t)))
    return out


def print_table(rows: list[tuple[str, float, float]]) -> None:
    print(f"{'scheme':<40} {'ours us':>9} {'raw us':>9} {'ours/raw':>9}")
    for name, ours, raw in rows:
        print(f"{name:<40} {ours:9.2f} {raw:9.2f} {ours / raw:8.2f}x")


def rsa_raw_ops(pem: bytes, seconds: float) -> float:
    """Single-threaded ``cryptography`` RSA-PSS signatures per second on the Kalshi message."""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    for _ in range(20):
        key.sign(KALSHI_MESSAGE, PSS_PADDING, hashes.SHA256())
    n, start = 0, time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(20):
            key.sign(KALSHI_MESSAGE, PSS_PADDING, hashes.SHA256())
        n += 20
        t = time.perf_counter()
        if t >= end:
            return n / (t - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print_table(run(0.05, 3) if args.quick else run(0.2, 7))


if __name__ == "__main__":
    main()
