"""The signing path's order: parse, decide, then (only on allow) unseal, sign, audit."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from policy.document import load_document
from policy.intents import EndpointClass, VenueRequestIntent
from signer.app import default_policy_bytes
from signer.audit import AuditLog
from signer.domain import Caller, HttpRequest, Mode, Principal, Role, SignedRequest, SignRequest
from signer.errors import (
    AuditUnavailableError,
    BrowserSignatureRequiredError,
    InvalidRequestError,
    NoCredentialsError,
    NotImplementedYetError,
    NoTradingWalletError,
    PolicyDeniedError,
    RateLimitedError,
    UnknownVenueError,
)
from signer.keystore.handles import Secret, VenueCredentials
from signer.limits.rate import RateLimiter
from signer.pipeline import Pipeline, PolicyHolder
from signer.schemes.daemon_keys import AuditSigner
from signer.signing_pool import SigningPool
from signer.venues.base import Clock, ParsedRequest

CALLER = Caller("test", frozenset({Role.API}))
P = Principal("alice", Mode.LIVE)


class FakeVenue:
    name = "binance"

    def __init__(self, intent: VenueRequestIntent | Exception) -> None:
        self.hosts = {Mode.LIVE: "h", Mode.SANDBOX: "h"}
        self.intent = intent
        self.signed_with: list[VenueCredentials] = []

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        if isinstance(self.intent, Exception):
            raise self.intent
        return ParsedRequest(self.intent, "h", None)

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        self.signed_with.append(creds)
        return SignedRequest(HttpRequest("GET", "/signed"), (("X-Sig", "s"),))


class MemoryMarks:
    """In-memory stand-in for the store's durable counters (rate marks)."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def counter_get(self, name: str) -> int | None:
        return self.counters.get(name)

    def counters_set_max(self, values: Mapping[str, int]) -> dict[str, int]:
        for name, value in values.items():
            self.counters[name] = max(self.counters.get(name, value), value)
        return {name: self.counters[name] for name in values}


def limiter() -> RateLimiter:
    return RateLimiter(MemoryMarks())


class SpyKeystore:
    def __init__(self, creds: VenueCredentials | None) -> None:
        self.creds = creds
        self.lookups = 0

    def credentials(self, principal: Principal, venue: str) -> VenueCredentials | None:
        self.lookups += 1
        return self.creds


def intent(endpoint: str | None = "GET /api/v3/account", violations: tuple[str, ...] = ()) -> VenueRequestIntent:  # fmt: skip
    return VenueRequestIntent(
        "alice", "live", "binance", "GET", "/api/v3/account", endpoint,
        EndpointClass.READ if endpoint else None, violations,
    )  # fmt: skip


def run(
    tmp_path: Path,
    venue_intent: VenueRequestIntent | Exception,
    creds: VenueCredentials | None = None,
    *,
    venue: str = "binance",
    wallet_id: str = "",
    audit_broken: bool = False,
    rate: RateLimiter | None = None,
) -> tuple[Any, SpyKeystore, FakeVenue, list[dict[str, Any]]]:
    fake = FakeVenue(venue_intent)
    keystore = SpyKeystore(creds)
    audit = AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x03" * 32)))
    if audit_broken:

        def broken(data: bytes) -> None:
            raise OSError("full")

        audit._write = broken  # type: ignore[method-assign]
    pipeline = Pipeline(
        {"binance": fake},  # type: ignore[dict-item]
        ("binance", "kraken", "hyperliquid"),
        PolicyHolder(load_document(default_policy_bytes())),
        keystore,  # type: ignore[arg-type]
        audit,
        None,  # type: ignore[arg-type]
        rate=rate or limiter(),
    )
    req = SignRequest(P, venue, HttpRequest("GET", "/api/v3/account"), wallet_id)
    try:
        result: Any = asyncio.run(pipeline.sign(CALLER, req))
    except Exception as exc:  # noqa: BLE001 - returned for the assertions
        result = exc
    path = tmp_path / "audit.log"
    records = [json.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []
    return result, keystore, fake, records


def creds() -> VenueCredentials:
    return VenueCredentials("binance", "k", Secret(b"s"), Secret(b""), {})


def test_allowed_request_is_unsealed_signed_and_audited(tmp_path: Path) -> None:
    handle = creds()
    result, keystore, fake, records = run(tmp_path, intent(), handle)
    assert isinstance(result, SignedRequest)
    assert fake.signed_with == [handle] and keystore.lookups == 1
    assert result.audit_id == "1"
    assert records[-1]["decision"] == "allow" and records[-1]["rule"] == "venue.endpoint-allowed"


@pytest.mark.parametrize(
    ("venue_intent", "rule"),
    [
        (intent(endpoint=None), "endpoint.not-allowlisted"),
        (intent(violations=("query: unknown parameter address",)), "request.strict-parse"),
    ],
)
def test_denied_request_never_reaches_the_keystore(
    tmp_path: Path, venue_intent: VenueRequestIntent, rule: str
) -> None:
    result, keystore, fake, records = run(tmp_path, venue_intent, creds())
    assert isinstance(result, PolicyDeniedError)
    assert result.metadata["rule_id"] == rule
    assert keystore.lookups == 0 and fake.signed_with == []
    assert records[-1]["decision"] == "deny" and records[-1]["rule"] == rule


def test_policy_evaluation_error_is_a_deny(tmp_path: Path) -> None:
    broken = VenueRequestIntent("alice", "live", "binance", "GET", "/", "GET /x", "not-a-class", ())  # type: ignore[arg-type]
    result, keystore, _, records = run(tmp_path, broken, creds())
    assert isinstance(result, PolicyDeniedError)
    assert keystore.lookups == 0
    assert records[-1]["decision"] == "deny"


def test_parse_refusal_is_audited_without_key_lookup(tmp_path: Path) -> None:
    result, keystore, _, records = run(tmp_path, InvalidRequestError("request.method: bad"))
    assert isinstance(result, InvalidRequestError)
    assert keystore.lookups == 0
    assert records[-1]["decision"] == "refused" and records[-1]["rule"] == "INVALID_REQUEST"


def test_no_credentials_after_allow(tmp_path: Path) -> None:
    result, keystore, fake, records = run(tmp_path, intent(), None)
    assert isinstance(result, NoCredentialsError)
    assert keystore.lookups == 1 and fake.signed_with == []
    assert records[-1]["decision"] == "no-credentials"


def test_audit_failure_returns_no_signature(tmp_path: Path) -> None:
    result, _, fake, _ = run(tmp_path, intent(), creds(), audit_broken=True)
    assert isinstance(result, AuditUnavailableError)
    assert len(fake.signed_with) == 1  # signed, then withheld: nothing leaves without a record


@pytest.mark.parametrize(
    ("venue", "wallet_id", "error"),
    [
        ("binance", "connected:0xabc", BrowserSignatureRequiredError),
        ("hyperliquid", "connected:0xabc", BrowserSignatureRequiredError),
        ("binance", "turnkey:0xabc", InvalidRequestError),
        ("hyperliquid", "0xabc", InvalidRequestError),
        ("hyperliquid", "turnkey:0xabc", NotImplementedYetError),
        ("ftx", "", UnknownVenueError),
        ("kraken", "", NotImplementedYetError),
    ],
)
def test_routing_errors_before_any_parse(
    tmp_path: Path, venue: str, wallet_id: str, error: type[Exception]
) -> None:
    result, keystore, fake, _ = run(tmp_path, intent(), creds(), venue=venue, wallet_id=wallet_id)
    assert isinstance(result, error)
    assert keystore.lookups == 0 and fake.signed_with == []


class FakeWallets:
    def __init__(self, address: str | None) -> None:
        self.address = address
        self.handles = 0

    def trading(self, principal: Principal) -> Any:
        if self.address is None:
            return None
        return type("W", (), {"wallet_id": f"turnkey:{self.address}", "address": self.address})()

    def trading_handle(self, principal: Principal, venue: str) -> VenueCredentials | None:
        self.handles += 1
        return VenueCredentials(venue, self.address or "", Secret(b"k"), Secret(b""), {})


def run_dex(
    tmp_path: Path, stored: VenueCredentials | None, wallet: str | None, wallet_id: str = ""
) -> tuple[Any, FakeVenue, FakeWallets]:
    fake = FakeVenue(intent())
    fake.name = "hyperliquid"
    wallets = FakeWallets(wallet)
    pipeline = Pipeline(
        {"hyperliquid": fake},  # type: ignore[dict-item]
        ("hyperliquid",),
        PolicyHolder(load_document(default_policy_bytes())),
        SpyKeystore(stored),  # type: ignore[arg-type]
        AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x03" * 32))),
        None,  # type: ignore[arg-type]
        wallets,  # type: ignore[arg-type]
        rate=limiter(),
    )
    # The fake venue's intent is an allowed binance read, so only the routing differs.
    req = SignRequest(P, "hyperliquid", HttpRequest("GET", "/api/v3/account"), wallet_id)
    try:
        result: Any = asyncio.run(pipeline.sign(CALLER, req))
    except Exception as exc:  # noqa: BLE001 - returned for the assertions
        result = exc
    return result, fake, wallets


def test_dex_prefers_stored_credentials(tmp_path: Path) -> None:
    stored = creds()
    result, fake, wallets = run_dex(tmp_path, stored, "0xW")
    assert isinstance(result, SignedRequest) and fake.signed_with == [stored]
    assert wallets.handles == 0


def test_dex_falls_back_to_the_trading_wallet(tmp_path: Path) -> None:
    result, fake, wallets = run_dex(tmp_path, None, "0xW")
    assert isinstance(result, SignedRequest)
    assert [c.api_key for c in fake.signed_with] == ["0xW"] and wallets.handles == 1


def test_dex_turnkey_wallet_id_must_be_the_principals(tmp_path: Path) -> None:
    ok, fake, _ = run_dex(tmp_path, creds(), "0xW", wallet_id="turnkey:0xW")
    assert isinstance(ok, SignedRequest) and fake.signed_with[0].api_key == "0xW"
    other, fake, _ = run_dex(tmp_path, None, "0xW", wallet_id="turnkey:0xOther")
    assert isinstance(other, InvalidRequestError) and fake.signed_with == []


def test_dex_without_credentials_or_wallet(tmp_path: Path) -> None:
    result, fake, _ = run_dex(tmp_path, None, None)
    assert isinstance(result, NoTradingWalletError) and fake.signed_with == []


def test_refusal_inside_sign_is_audited(tmp_path: Path) -> None:
    class Refusing(FakeVenue):
        def sign(
            self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock
        ) -> SignedRequest:
            raise PolicyDeniedError(
                "order.signer is not this key", rule_id="venue.credential-mismatch"
            )

    fake = Refusing(intent())
    audit = AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x03" * 32)))
    pipeline = Pipeline(
        {"binance": fake},  # type: ignore[dict-item]
        ("binance",),
        PolicyHolder(load_document(default_policy_bytes())),
        SpyKeystore(creds()),  # type: ignore[arg-type]
        audit,
        None,  # type: ignore[arg-type]
        rate=limiter(),
    )
    req = SignRequest(P, "binance", HttpRequest("GET", "/api/v3/account"))
    with pytest.raises(PolicyDeniedError):
        asyncio.run(pipeline.sign(CALLER, req))
    record = json.loads((tmp_path / "audit.log").read_bytes().splitlines()[-1])
    assert (record["decision"], record["rule"]) == ("deny", "venue.credential-mismatch")


def test_broken_audit_log_refuses_before_any_key_is_touched(tmp_path: Path) -> None:
    fake, keystore = FakeVenue(intent()), SpyKeystore(creds())
    audit = AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x03" * 32)))

    def broken(data: bytes) -> None:
        raise OSError("full")

    audit._write = broken  # type: ignore[method-assign]
    pipeline = Pipeline(
        {"binance": fake},  # type: ignore[dict-item]
        ("binance",),
        PolicyHolder(load_document(default_policy_bytes())),
        keystore,  # type: ignore[arg-type]
        audit,
        None,  # type: ignore[arg-type]
        rate=RateLimiter(MemoryMarks(), lambda: 1_700_000_000 * 10**9),
    )
    req = SignRequest(P, "binance", HttpRequest("GET", "/api/v3/account"))
    with pytest.raises(AuditUnavailableError):
        asyncio.run(pipeline.sign(CALLER, req))  # breaks the log (signed, then withheld)
    assert (keystore.lookups, len(fake.signed_with)) == (1, 1)
    with pytest.raises(AuditUnavailableError):
        asyncio.run(pipeline.sign(CALLER, req))
    assert (keystore.lookups, len(fake.signed_with)) == (1, 1)  # fail closed before the key


# --- the signing rate (signer.limits.rate) -----------------------------------------

ONE_PER_SECOND = (
    default_policy_bytes() + b"\n[limits.rate.binance]\nrate_per_second = 1\nburst = 1\n"
)


def rate_pipeline(
    tmp_path: Path, stored: VenueCredentials | None
) -> tuple[Pipeline, FakeVenue, SpyKeystore]:
    fake, keystore = FakeVenue(intent()), SpyKeystore(stored)
    pipeline = Pipeline(
        {"binance": fake},  # type: ignore[dict-item]
        ("binance",),
        PolicyHolder(load_document(ONE_PER_SECOND)),
        keystore,  # type: ignore[arg-type]
        AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x03" * 32))),
        None,  # type: ignore[arg-type]
        rate=RateLimiter(MemoryMarks(), lambda: 1_700_000_000 * 10**9),  # a frozen clock
    )
    return pipeline, fake, keystore


def sign_all(pipeline: Pipeline, n: int) -> list[Any]:
    async def go() -> list[Any]:
        out: list[Any] = []
        for _ in range(n):
            try:
                out.append(
                    await pipeline.sign(
                        CALLER, SignRequest(P, "binance", HttpRequest("GET", "/api/v3/account"))
                    )
                )
            except Exception as exc:  # noqa: BLE001 - returned for the assertions
                out.append(exc)
        return out

    return asyncio.run(go())


def audit_records(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (tmp_path / "audit.log").read_bytes().splitlines()]


def test_rate_limited_request_touches_no_key_and_is_audited(tmp_path: Path) -> None:
    pipeline, fake, keystore = rate_pipeline(tmp_path, creds())
    first, second = sign_all(pipeline, 2)
    assert isinstance(first, SignedRequest)
    assert isinstance(second, RateLimitedError) and second.metadata["rule_id"] == "limit.rate"
    assert keystore.lookups == 1 and len(fake.signed_with) == 1
    record = audit_records(tmp_path)[-1]
    assert (record["decision"], record["rule"]) == ("deny", "limit.rate")
    assert "binance" in record["reasons"][0]


def test_denied_and_evaluated_requests_take_no_token(tmp_path: Path) -> None:
    pipeline, fake, _ = rate_pipeline(tmp_path, creds())
    fake.intent = intent(endpoint=None)
    assert all(isinstance(r, PolicyDeniedError) for r in sign_all(pipeline, 3))
    fake.intent = intent()
    for _ in range(3):
        assert pipeline.evaluate(SignRequest(P, "binance", HttpRequest("GET", "/x"))).allowed
    assert isinstance(sign_all(pipeline, 1)[0], SignedRequest)


def test_a_token_is_spent_once_the_policy_allowed(tmp_path: Path) -> None:
    pipeline, _, _ = rate_pipeline(tmp_path, None)
    first, second = sign_all(pipeline, 2)
    assert isinstance(first, NoCredentialsError) and isinstance(second, RateLimitedError)


HOME = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


class HomeWallets(FakeWallets):
    """A trading wallet plus one connected wallet (HOME)."""

    def wallets(self, principal: Principal) -> list[Any]:
        row = type("W", (), {"role": "connected", "address": HOME})()
        return [row]


def home_intent(amount: str) -> VenueRequestIntent:
    return VenueRequestIntent(
        "alice", "live", "hyperliquid", "POST", "/exchange", "POST /exchange#withdraw3",
        EndpointClass.WITHDRAW_HOME, recipient=HOME, spend_chain="hyperliquid",
        spend_token="USDC", spend_amount=amount,
    )  # fmt: skip


@pytest.mark.parametrize("failure", ["sign", "audit", "none"])
def test_withdraw_home_reservation_is_refunded_when_no_signature_leaves(
    tmp_path: Path, failure: str
) -> None:
    from signer.keystore.store import Store
    from signer.limits.spend import SpendLedger

    class Venue(FakeVenue):
        def sign(
            self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock
        ) -> SignedRequest:
            if failure == "sign":
                raise PolicyDeniedError("the signing key does not belong to api_key")
            return super().sign(parsed, creds, clock)

    fake = Venue(home_intent("25000"))
    fake.name = "hyperliquid"
    audit = AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x03" * 32)))
    ledger = SpendLedger(Store(tmp_path / "state.db"))
    pipeline = Pipeline(
        {"hyperliquid": fake},  # type: ignore[dict-item]
        ("hyperliquid",),
        PolicyHolder(load_document(default_policy_bytes())),
        SpyKeystore(None),  # type: ignore[arg-type]
        audit,
        None,  # type: ignore[arg-type]
        HomeWallets("0xW"),  # type: ignore[arg-type]
        rate=limiter(),
        spend=ledger,
    )
    if failure == "audit":
        appended: list[int] = []
        original = audit.append

        async def fail_on_allow(record: dict[str, Any]) -> Any:
            if record["decision"] == "allow":
                appended.append(1)
                raise AuditUnavailableError("audit log unavailable")
            return await original(record)

        audit.append = fail_on_allow  # type: ignore[method-assign,assignment]
    req = SignRequest(P, "hyperliquid", HttpRequest("POST", "/exchange"))
    try:
        result: Any = asyncio.run(pipeline.sign(CALLER, req))
    except Exception as exc:  # noqa: BLE001 - asserted below
        result = exc
    spent = ledger.spent(P, "hyperliquid/USDC")
    if failure == "none":
        assert isinstance(result, SignedRequest) and spent == 25_000 * 10**8
    else:
        assert isinstance(result, PolicyDeniedError | AuditUnavailableError)
        assert spent == 0  # the reservation was given back: no signature left the daemon


def test_with_audit_id_carries_every_field() -> None:
    # with_audit_id copies fields by hand (replace() is slow on the hot path):
    # a new field must be added there too, and this list is the reminder.
    assert [f.name for f in dataclasses.fields(SignedRequest)] == [
        "request", "auth_headers", "audit_id",
    ]  # fmt: skip
    signed = SignedRequest(HttpRequest("GET", "/x"), (("A", "b"),))
    assert signed.with_audit_id("7") == dataclasses.replace(signed, audit_id="7")


def test_a_slow_signature_runs_on_the_signing_pool_and_is_audited(tmp_path: Path) -> None:
    class SlowFake(FakeVenue):
        def __init__(self) -> None:
            super().__init__(intent())
            self.thread = ""

        def slow_signer(self, creds: VenueCredentials) -> bool:
            return True

        def sign(
            self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock
        ) -> SignedRequest:
            self.thread = threading.current_thread().name
            return super().sign(parsed, creds, clock)

    fake, pool = SlowFake(), SigningPool(1)
    pipeline = Pipeline(
        {"binance": fake},  # type: ignore[dict-item]
        ("binance",),
        PolicyHolder(load_document(default_policy_bytes())),
        SpyKeystore(creds()),  # type: ignore[arg-type]
        AuditLog(tmp_path / "audit.log", AuditSigner(Secret(b"\x03" * 32))),
        None,  # type: ignore[arg-type]
        rate=limiter(),
        signing=pool,
    )
    try:
        signed = asyncio.run(
            pipeline.sign(CALLER, SignRequest(P, "binance", HttpRequest("GET", "/api/v3/account")))
        )
    finally:
        pool.close()
    assert fake.thread.startswith("signing")
    assert signed.audit_id == "1" and audit_records(tmp_path)[-1]["decision"] == "allow"
