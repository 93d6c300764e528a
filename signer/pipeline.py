"""The signing path, top to bottom (DESIGN.md section 2).

    venue.parse(request)            strict; refuses ambiguity        -> ParsedRequest
    policy.decide(document, intent) pure, no I/O, no keys            -> Decision
    rate.consume(principal, venue)  one token, only after allow      -> or RATE_LIMITED
    keystore.credentials(...)       only after allow                 -> VenueCredentials
    spend.consume(...)              withdraw-home: 24 h cap, durable -> or RATE_LIMITED
    venue.sign(parsed, creds)       daemon-built bytes, daemon nonce -> SignedRequest
                                    (RSA on a bounded thread pool: signer.signing_pool)
    audit.append(record)            before anything is returned

SECURITY: the policy decides before any key is looked up, so an unknown
principal or venue cannot be told apart from a denied one by timing or error.
Every outcome after envelope validation (refused, denied, no credentials,
signed) is audited; if the audit append fails, nothing is returned but
AUDIT_UNAVAILABLE. ``evaluate`` is the same path stopped after the decision
(``evaluate_request``: venue selection, strict parse, ``decide``; no key, no
audit record), shared with ``sequence-signer policy test``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from policy.decision import Decision
from policy.document import PolicyDocument
from policy.engine import decide, venue_spend
from policy.intents import EndpointClass
from policy.limits import RULE_ERROR
from signer.audit import AuditHead, AuditLog
from signer.domain import Caller, SignedRequest, SignRequest
from signer.errors import (
    BrowserSignatureRequiredError,
    InvalidRequestError,
    NoCredentialsError,
    NotImplementedYetError,
    NoTradingWalletError,
    PolicyDeniedError,
    RateLimitedError,
    SignerError,
    UnknownVenueError,
)
from signer.keystore import Keystore
from signer.keystore.handles import VenueCredentials
from signer.keystore.wallets import CONNECTED, WalletStore
from signer.limits.rate import RateLimiter, RateScope
from signer.limits.spend import Spend, SpendLedger
from signer.observability.hooks import DecisionObserver
from signer.schemes.secp256k1 import parse_address
from signer.signing_pool import SigningPool
from signer.stamp_order import StampTurn
from signer.venues.base import Binding, ParsedRequest, Venue

DEX_VENUES = frozenset({"hyperliquid", "polymarket"})
RULE_AGENT_NOT_HELD = "venue.agent-not-held"


class PolicyHolder:
    """The policy document in force (replaced as a whole, never mutated)."""

    def __init__(self, document: PolicyDocument) -> None:
        self.document = document
        self.loaded_at = time.time()


class DaemonClock:
    """Wall-clock time and durable, strictly increasing nonces per key scope."""

    def __init__(self, keystore: Keystore) -> None:
        self._keystore = keystore

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def next_nonce(self, scope: str) -> int:
        return self._keystore.next_nonce(scope, floor=self.now_ms())


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one sign request came to, as audited: ``signed`` or ``error``."""

    parsed: ParsedRequest | None
    decision: str  # allow | deny | refused | no-credentials
    rule_id: str
    reasons: tuple[str, ...] = ()
    signed: SignedRequest | None = None
    error: SignerError | None = None
    spend: Spend | None = None  # a withdraw-home reservation, refunded if never returned


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Decision
    parsed: ParsedRequest


class Pipeline:
    """Parse, decide, unseal, sign, audit. Composed in ``signer.app``."""

    def __init__(
        self,
        venues: Mapping[str, Venue],
        known_venues: tuple[str, ...],
        policy: PolicyHolder,
        keystore: Keystore,
        audit: AuditLog,
        clock: DaemonClock,
        wallets: WalletStore | None = None,
        *,
        rate: RateLimiter,
        spend: SpendLedger | None = None,
        observer: DecisionObserver | None = None,
        signing: SigningPool | None = None,
    ) -> None:
        self._venues = dict(venues)
        self._known = frozenset(known_venues)
        self._policy = policy
        self._keystore = keystore
        self._audit = audit
        self._clock = clock
        self._wallets = wallets
        self._rate = rate
        self._spend = spend
        self._observer = observer
        self._signing = signing

    async def sign(
        self, caller: Caller, req: SignRequest, turn: StampTurn | None = None
    ) -> SignedRequest:
        """Sign one venue request or raise a ``SignerError``.

        ``turn`` (stream items): ``venue.sign`` waits for the stream's earlier
        items to stamp first (``signer.stamp_order``).
        """
        # SECURITY: fail closed early: no key is unsealed or used while the log is broken.
        self._audit.check_available()
        venue = self._venue(req)
        try:
            outcome = await self._decide_and_sign(venue, req, turn)
        finally:
            if turn is not None:
                turn.done()
        # SECURITY: every outcome is audited before anything is returned; a
        # signature whose record is not durable is never returned.
        try:
            head = await self._record(caller, req, outcome)
        except BaseException:
            self._refund(outcome.spend)  # the signature is never returned
            raise
        if outcome.error is not None:
            raise outcome.error
        assert outcome.signed is not None
        return outcome.signed.with_audit_id(str(head.seq))

    async def _decide_and_sign(
        self, venue: Venue, req: SignRequest, turn: StampTurn | None
    ) -> _Outcome:
        try:
            evaluation = self._evaluate(venue, req)
        except SignerError as exc:
            return _Outcome(None, "refused", exc.reason or "", (exc.public_message,), error=exc)
        decision, parsed = evaluation.decision, evaluation.parsed
        if not decision.allowed:
            denied = PolicyDeniedError(_deny_message(decision), rule_id=decision.rule_id)
            return _Outcome(parsed, "deny", decision.rule_id, decision.reasons, error=denied)
        # SECURITY: the rate counts signatures the policy allowed, so it is taken
        # after the decision (a denied request costs no token: flooding denials
        # cannot starve the principal's real orders, and they are audited anyway)
        # and before any key is unsealed (a limited request touches no key).
        # A token is spent whatever happens next (no credentials, a refusal in
        # venue.sign); nothing is refunded. ``evaluate`` never takes one.
        try:
            await self._rate.consume(
                RateScope(req.principal.client_id, req.principal.mode.value, venue.name),
                self._policy.document.limits.rate_for(venue.name),
            )
        except RateLimitedError as exc:
            rule = exc.metadata.get("rule_id", "")
            return _Outcome(parsed, "deny", rule, (exc.public_message,), error=exc)
        binding = parsed.binding or Binding()
        try:
            self._check_agent(req, binding)
        except PolicyDeniedError as exc:
            return _Outcome(parsed, "deny", RULE_AGENT_NOT_HELD, (exc.public_message,), error=exc)
        except SignerError as exc:
            return _Outcome(parsed, "no-credentials", exc.reason or "", error=exc)
        try:
            creds = self._signer_for(req, venue.name, binding.trading_wallet)
        except SignerError as exc:
            return _Outcome(parsed, "no-credentials", exc.reason or "", error=exc)
        try:
            spend = self._reserve(req, parsed)
        except RateLimitedError as exc:
            rule = exc.metadata.get("rule_id", "")
            return _Outcome(parsed, "deny", rule, (exc.public_message,), error=exc)
        if turn is not None:
            await turn.wait()
        try:
            if self._signing is not None:  # RSA runs on the bounded pool (signer.signing_pool)
                signed = await self._signing.sign(venue, parsed, creds, self._clock)
            else:
                signed = venue.sign(parsed, creds, self._clock)
        except SignerError as exc:
            self._refund(spend)
            # Checks that need the key's own data (Polymarket: signer/maker/owner
            # must match the stored credentials) refuse here; audited like a deny.
            rule = exc.metadata.get("rule_id", exc.reason or "")
            return _Outcome(parsed, "deny", rule, (exc.public_message,), error=exc)
        except BaseException:
            self._refund(spend)  # cancelled or crashed: no signature left
            raise
        return _Outcome(parsed, "allow", decision.rule_id, signed=signed, spend=spend)

    def _reserve(self, req: SignRequest, parsed: ParsedRequest) -> Spend | None:
        """Count a ``withdraw-home`` amount against its durable 24-hour window.

        SECURITY: the policy already refused a pair without a cap and an amount
        over ``per_tx``; this is the rolling total, checked and added in one
        transaction (two racing requests cannot both fit). Taken after the key
        lookup (no credentials costs nothing) and before the signature exists.
        """
        intent = parsed.intent
        if intent.endpoint_class is not EndpointClass.WITHDRAW_HOME:
            return None
        found = venue_spend(self._policy.document, intent)
        if isinstance(found, Decision):  # the document changed since the decision
            raise RateLimitedError(found.reasons[0] if found.reasons else "", rule_id=found.rule_id)
        if self._spend is None:
            raise RateLimitedError("no withdraw ledger is configured", rule_id=RULE_ERROR)
        return self._spend.consume(req.principal, *found)

    def _refund(self, spend: Spend | None) -> None:
        if spend is not None and self._spend is not None:
            self._spend.refund(spend)

    def _check_agent(self, req: SignRequest, binding: Binding) -> None:
        """``binding.held_agent`` must be the address of the venue credentials stored
        for this principal (an agent key the daemon holds), checked after the allow."""
        if not binding.held_agent:
            return
        creds = self._keystore.credentials(req.principal, req.venue)
        if creds is None:
            raise NoCredentialsError(f"no {req.venue} agent key is stored for this principal")
        try:
            held = parse_address(creds.api_key) == parse_address(binding.held_agent)
        except ValueError:
            held = False
        if not held:
            # SECURITY: approving an agent the daemon does not hold would hand
            # trading authority over the trading wallet to an outside key.
            raise PolicyDeniedError(
                "the agent is not the key stored with this principal's credentials",
                rule_id=RULE_AGENT_NOT_HELD,
            )

    def _signer_for(
        self, req: SignRequest, venue: str, trading_wallet: bool = False
    ) -> VenueCredentials:
        """The key this (allowed) request is signed with (DESIGN.md ``wallet_id`` routing).

        Omitted: the venue's stored credentials, else (on-chain venues) the
        trading wallet. ``turnkey:<address>``: the principal's trading wallet,
        which must have that address. ``trading_wallet``: the trading wallet
        whatever is stored (a binding of the request).
        """
        if not req.wallet_id and not trading_wallet:
            creds = self._keystore.credentials(req.principal, venue)
            if creds is not None or venue not in DEX_VENUES:
                if creds is None:
                    raise NoCredentialsError(f"no {venue} credentials stored for this principal")
                return creds
        wallet = self._wallets.trading(req.principal) if self._wallets else None
        if wallet is None:
            raise NoTradingWalletError("no trading wallet exists for this principal")
        if req.wallet_id and req.wallet_id != wallet.wallet_id:
            raise InvalidRequestError(
                "wallet_id does not name this principal's trading wallet", field="wallet_id"
            )
        handle = self._wallets.trading_handle(req.principal, venue) if self._wallets else None
        if handle is None:
            raise NoTradingWalletError("no trading wallet exists for this principal")
        return handle

    def evaluate(self, req: SignRequest) -> Decision:
        """The decision ``sign`` would take, without touching a key or the audit log."""
        evaluation = evaluate_request(
            self._venues, self._known, self._policy.document, req, self._is_connected
        )
        if self._observer is not None:
            self._observer.evaluated(req, evaluation)
        return evaluation.decision

    def _venue(self, req: SignRequest) -> Venue:
        return select_venue(self._venues, self._known, req)

    def _evaluate(self, venue: Venue, req: SignRequest) -> Evaluation:
        return _decide(venue, self._policy.document, req, self._is_connected)

    def _is_connected(self, req: SignRequest, address: str) -> bool:
        if self._wallets is None:
            return False
        try:
            wanted = parse_address(address)
        except ValueError:
            return False
        return any(
            w.role == CONNECTED and parse_address(w.address) == wanted
            for w in self._wallets.wallets(req.principal)
        )

    async def _record(self, caller: Caller, req: SignRequest, outcome: _Outcome) -> AuditHead:
        intent = outcome.parsed.intent if outcome.parsed else None
        return await self._audit.append(
            {
                "action": "sign_venue_request",
                "caller": caller.identity,
                "client_id": req.principal.client_id,
                "mode": req.principal.mode.value,
                "venue": req.venue,
                # str(): a malformed intent (already denied) must still be recordable.
                "endpoint": str(intent.endpoint) if intent and intent.endpoint else "",
                "class": str(intent.endpoint_class) if intent and intent.endpoint_class else "",
                "decision": outcome.decision,
                "rule": outcome.rule_id,
                "reasons": list(outcome.reasons[:8]),
                "request_sha256": _request_digest(req),
                "policy_sha256": self._policy.document.sha256,
            }
        )


def select_venue(venues: Mapping[str, Venue], known: frozenset[str], req: SignRequest) -> Venue:
    """The venue module for ``req``; refuses unknown venues and misrouted ``wallet_id``."""
    if req.venue not in known:
        raise UnknownVenueError("unknown venue", venue=_safe_token(req.venue))
    if req.wallet_id:
        _check_wallet_id(req.venue, req.wallet_id)
    venue = venues.get(req.venue)
    if venue is None:
        raise NotImplementedYetError(f"signing for {req.venue} is not available in this build")
    return venue


def evaluate_request(
    venues: Mapping[str, Venue],
    known: frozenset[str],
    document: PolicyDocument,
    req: SignRequest,
    is_connected: Callable[[SignRequest, str], bool] | None = None,
) -> Evaluation:
    """Select the venue, parse strictly, decide. No key, no audit; the only
    stored data read is ``is_connected`` (public wallet rows), if given.

    Raises:
        SignerError: the envelope refusals ``sign`` raises before deciding
            (unknown venue, MODE_MISMATCH host, invalid request, wallet_id routing).
    """
    return _decide(select_venue(venues, known, req), document, req, is_connected)


def _decide(
    venue: Venue,
    document: PolicyDocument,
    req: SignRequest,
    is_connected: Callable[[SignRequest, str], bool] | None = None,
) -> Evaluation:
    parsed = venue.parse(req.principal, req.request)
    intent = parsed.intent
    if intent.endpoint_class is EndpointClass.WITHDRAW_HOME and intent.recipient:
        # Public wallet rows only: no key is unsealed before the decision.
        # Without a wallet store (the offline case runner) nothing is linked.
        linked = is_connected is not None and is_connected(req, intent.recipient)
        parsed = replace(parsed, intent=replace(intent, recipient_linked=linked))
    return Evaluation(decide(document, parsed.intent), parsed)


def _request_digest(req: SignRequest) -> str:
    """SHA-256 over the request as asked (method, host, path, query, body).

    SECURITY: a digest, never the body itself: bodies can carry client order
    ids and amounts that need not sit in the audit log in clear.
    """
    r = req.request
    h = hashlib.sha256()
    for part in (r.method.encode(), r.host.encode(), r.path.encode(), r.query.encode(), r.body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _check_wallet_id(venue: str, wallet_id: str) -> None:
    if wallet_id.startswith("connected:"):
        raise BrowserSignatureRequiredError(
            "connected wallets are signed in the browser, not by the daemon"
        )
    if venue not in DEX_VENUES:
        raise InvalidRequestError(
            f"wallet_id applies only to on-chain venues; {venue} signs with its stored credentials",
            field="wallet_id",
        )
    if not wallet_id.startswith("turnkey:"):
        raise InvalidRequestError("wallet_id must be turnkey:<address> or connected:<address>")


def _deny_message(decision: Decision) -> str:
    reason = decision.reasons[0] if decision.reasons else "not allowed by policy"
    return f"denied by policy rule {decision.rule_id}: {reason}"


def _safe_token(value: str) -> str:
    return value if value.isascii() and value.isidentifier() and len(value) <= 32 else "?"
