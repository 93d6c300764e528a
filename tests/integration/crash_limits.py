"""Limit counters in the crash stream: signing-rate marks, daemon nonces, the withdraw ledger.

Two more writers run in every round of ``crash_harness`` (each one thread of
sequential calls, through real RPCs, under the policy of ``policy_bytes``):

- ``sign``: ``SignVenueRequest`` (Kraken Balance) for the principal ``rater``,
  whose Kraken rate is 1/s with a burst of 10. It records the wall time each
  call was sent and answered, and the daemon nonce of every signature.
- ``withdraw``: ``Withdraw`` of 0.01 USDC on Arbitrum to the linked home wallet
  of ``spender``, whose cap is 0.5 USDC per 24 hours (50 withdrawals: reached
  early in the 50 kills of CI, so refusals at the cap are crashed too).

Checks after every kill, on the dead daemon's state directory:

1. The rate mark (counter ``rate/live/kraken/rater``) is at least the bucket
   time every acknowledged grant implies (``tat_floor``): durable before granted.
2. No restart gave a fresh burst: ``n`` acknowledged grants since the first
   was sent at ``t1`` and the last answered at ``tn`` satisfy
   ``n <= burst + rate * (tn - t1)``, exactly what one uninterrupted daemon allows.
3. The daemon's Kraken nonces of acknowledged signatures strictly increase
   across every restart.
4. Withdraw ledger: every row is well formed and the spender's, their sum is at
   least the acknowledged amounts, at most the cap, and never decreases from
   one check to the next (no half-written or lost row).
"""

from __future__ import annotations

import base64
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from eth_account import Account
from eth_account.messages import encode_defunct

from policy.document import default_document_bytes
from signer._proto.sequence.signer.v1 import common_pb2, credential_service_pb2
from signer._proto.sequence.signer.v1 import signing_service_pb2 as s
from signer._proto.sequence.signer.v1 import wallet_service_pb2 as w
from signer.client import Stubs
from signer.server.status import error_info

LIVE = common_pb2.MODE_LIVE
RATER, SPENDER = "rater", "spender"
RATE, BURST = 1, 10
MARK = f"rate/live/kraken/{RATER}"
STEP_UNITS = 10_000  # 0.01 USDC (6 decimals)
CAP_UNITS = 500_000  # 0.5 USDC per 24 hours
_NONCE = re.compile(rb'nonce"?[=:]"?(\d+)')


def policy_bytes() -> bytes:
    """The shipped policy with the small Kraken rate and Arbitrum USDC cap above."""
    raw = default_document_bytes()
    usdc = b'[limits.withdraw.arbitrum.USDC]\nper_tx = "25000"\nper_24h = "100000"\n'
    assert usdc in raw
    raw = raw.replace(usdc, b'[limits.withdraw.arbitrum.USDC]\nper_tx = "0.5"\nper_24h = "0.5"\n')
    return raw + f"\n[limits.rate.kraken]\nrate_per_second = {RATE}\nburst = {BURST}\n".encode()


@dataclass
class LimitLedger:
    """What the daemon acknowledged on limit counters (each field has one writer thread)."""

    home: str = ""
    grants: int = 0
    limited: int = 0
    first_sent_ns: int = 0
    last_answered_ns: int = 0
    tat_floor: int = 0
    nonces: list[int] = field(default_factory=list)
    withdrawn: int = 0
    capped: int = 0
    ledger_seen: int = 0

    def grant(self, sent_ns: int, answered_ns: int, nonce: int) -> None:
        interval = 10**9 // RATE
        self.grants += 1
        self.first_sent_ns = self.first_sent_ns or sent_ns
        self.last_answered_ns = answered_ns
        # The daemon's TAT after this grant is max(previous TAT, its now) + interval,
        # and its now is after ``sent_ns``.
        self.tat_floor = max(self.tat_floor, sent_ns) + interval
        self.nonces.append(nonce)


def setup(stubs: Stubs, ledger: LimitLedger) -> None:
    """Kraken credentials for ``rater``; a trading wallet and a linked home for ``spender``."""
    stubs.credentials.SetCredentials(
        credential_service_pb2.SetCredentialsRequest(
            principal=common_pb2.Principal(client_id=RATER, mode=LIVE), venue="kraken",
            api_key="rater-key", api_secret=base64.b64encode(secrets.token_bytes(64)).decode(),
        ),
        timeout=10,
    )  # fmt: skip
    who = common_pb2.Principal(client_id=SPENDER, mode=LIVE)
    stubs.wallets.CreateTradingWallet(w.CreateTradingWalletRequest(principal=who), timeout=10)
    home = Account.create()
    message = stubs.wallets.GetLinkChallenge(
        w.GetLinkChallengeRequest(principal=who, address=home.address, chain_id=42161),
        timeout=10,
    ).message
    signature = bytes(Account.sign_message(encode_defunct(text=message), home.key).signature)
    stubs.wallets.LinkConnectedWallet(
        w.LinkConnectedWalletRequest(principal=who, message=message, signature=signature),
        timeout=10,
    )
    ledger.home = home.address


def _limited(exc: grpc.RpcError) -> bool:
    info = error_info(exc)
    return exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and bool(
        info and info.reason == "RATE_LIMITED"
    )


def sign_writer(stubs: Stubs, ledger: LimitLedger, stop: threading.Event) -> None:
    req = s.SignVenueRequestRequest(
        principal=common_pb2.Principal(client_id=RATER, mode=LIVE), venue="kraken",
        request=common_pb2.HttpRequest(method="POST", path="/0/private/Balance"),
    )  # fmt: skip
    while not stop.is_set():
        sent = time.time_ns()
        try:
            body = stubs.signing.SignVenueRequest(req, timeout=5).request.body
        except grpc.RpcError as exc:
            if not _limited(exc):
                return  # the daemon is gone: nothing after this was acknowledged
            ledger.limited += 1
            time.sleep(0.02)
            continue
        found = _NONCE.search(body)
        assert found is not None, "a signed Kraken request without its nonce"
        ledger.grant(sent, time.time_ns(), int(found.group(1)))


def withdraw_writer(stubs: Stubs, ledger: LimitLedger, stop: threading.Event) -> None:
    nonce = 0
    while not stop.is_set():
        nonce += 1
        req = w.WithdrawRequest(
            principal=common_pb2.Principal(client_id=SPENDER, mode=LIVE), chain="arbitrum",
            token="USDC", amount="0.01", recipient=ledger.home,
            tx=w.TransactionParams(nonce=nonce, max_fee_per_gas="100000000",
                                   max_priority_fee_per_gas="1000000", gas_limit=300_000),
        )  # fmt: skip
        try:
            stubs.wallets.Withdraw(req, timeout=5)
        except grpc.RpcError as exc:
            if not _limited(exc):
                return
            ledger.capped += 1
            time.sleep(0.02)
            continue
        ledger.withdrawn += STEP_UNITS


def verify(db: Path, ledger: LimitLedger) -> None:
    """Checks 1-4 of the module docstring; raise AssertionError."""
    with sqlite3.connect(db) as raw:
        row = raw.execute("SELECT value FROM counters WHERE name = ?", (MARK,)).fetchone()
        spend = raw.execute(
            "SELECT client_id, mode, asset, at_ns, amount FROM limit_spend"
        ).fetchall()
    mark = row[0] if row else 0
    assert mark >= ledger.tat_floor, (
        f"rate mark {mark} behind acknowledged grants ({ledger.tat_floor})"
    )
    allowed = BURST * 10**9 + RATE * (ledger.last_answered_ns - ledger.first_sent_ns)
    assert ledger.grants * 10**9 <= allowed, (
        f"{ledger.grants} grants: more than one uninterrupted daemon allows (a fresh burst)"
    )
    assert all(a < b for a, b in zip(ledger.nonces, ledger.nonces[1:], strict=False)), (
        "nonce reused"
    )
    for client, mode, asset, at_ns, amount in spend:
        assert (client, mode, asset, amount) == (SPENDER, "live", "arbitrum/USDC", str(STEP_UNITS))
        assert isinstance(at_ns, int) and at_ns > 0
    total = STEP_UNITS * len(spend)
    assert ledger.withdrawn <= total <= CAP_UNITS, (
        f"ledger {total}, acknowledged {ledger.withdrawn}"
    )
    assert total >= ledger.ledger_seen, "the withdraw ledger lost rows across a restart"
    ledger.ledger_seen = total
