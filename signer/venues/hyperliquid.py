"""Hyperliquid exchange L1 actions (VENUES.md section 9).

Invariants (tests: tests/unit/venues/test_hyperliquid.py,
tests/security/test_expfail_hyperliquid.py, tests/vectors/test_hyperliquid.py):

1. Only ``POST /exchange`` on the mode's host matches, and only for an
   ``action.type`` on the 9.4 ALLOW L1 list; the intent endpoint is
   ``POST /exchange#<type>``. The user-signed withdraw3, usdSend, spotSend
   (class withdraw-home) and approveAgent (class approve-agent) are parsed by
   ``hyperliquid_user`` under its own invariants. Every other type
   (agentSendAsset, vaultTransfer, usdClassTransfer, multiSig, a case
   variant...) gives ``endpoint=None``, so the policy denies it.
2. The action must follow its type's schema exactly, in the SDK's key order
   (msgpack hashes insertion order): unknown, missing, reordered or mistyped
   keys, floats (parsed as Decimal), a ``builder`` not in the constructor's
   allowlist are violations. Prices and sizes are decimal strings.
3. The caller sends ``{"action": ...}`` and optionally ``"vaultAddress"``;
   ``nonce``, ``signature`` and ``expiresAfter`` are stamped by the daemon and
   are violations when sent. A caller ``vaultAddress`` must be an address in
   parse and equal the stored vault (credentials ``passphrase``) in ``sign()``;
   the stored vault is always the one hashed and sent.
4. ``sign()`` refuses a key whose address is not ``creds.api_key``; it stamps
   ``nonce = clock.next_nonce("hyperliquid:" + address)`` and ``expiresAfter =
   now + expires_window_ms`` (None: omitted from the hash, null in the body),
   hashes and signs the validated action (source "a" live, "b" sandbox) and
   returns the compact JSON body ``{action, nonce, signature, vaultAddress,
   expiresAfter}``; no auth headers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import InvalidCredentialsError, PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.hyperliquid import signature_json, vault_from_secret
from signer.schemes.secp256k1 import parse_address
from signer.venues import _params as P
from signer.venues.base import Clock, Endpoint, ParsedRequest
from signer.venues.hyperliquid_user import (
    USER_CLASSES,
    UserActionDetail,
    checked_signer,
    parse_user_action,
    sign_user_action,
    spend_of,
)

NAME = "hyperliquid"
HOSTS: dict[Mode, str | None] = {
    Mode.LIVE: "api.hyperliquid.xyz",
    Mode.SANDBOX: "api.hyperliquid-testnet.xyz",
}
PATH = "/exchange"
JSON = "application/json"
STAMPED = frozenset({"nonce", "signature", "expiresAfter"})
TOP_LEVEL = ("action", "vaultAddress")
MAX_ITEMS = 64  # orders / cancels / modifies per action

CLASSES: Mapping[str, EndpointClass] = {
    "order": EndpointClass.TRADE,
    "cancel": EndpointClass.CANCEL,
    "cancelByCloid": EndpointClass.CANCEL,
    "modify": EndpointClass.TRADE,
    "batchModify": EndpointClass.TRADE,
    "scheduleCancel": EndpointClass.CANCEL,
    "twapOrder": EndpointClass.TRADE,
    "twapCancel": EndpointClass.CANCEL,
    "updateLeverage": EndpointClass.TRADE,
    "updateIsolatedMargin": EndpointClass.TRADE,
    "topUpIsolatedOnlyMargin": EndpointClass.TRADE,
    "noop": EndpointClass.TRADE,
}
ENDPOINTS: tuple[Endpoint, ...] = tuple(
    Endpoint("POST", f"{PATH}#{action}", cls)
    for action, cls in (*CLASSES.items(), *USER_CLASSES.items())
)
"""The allowlist as endpoints (``POST /exchange#<action.type>``, venue_endpoints.json style)."""

_DEC = re.compile(r"(?:0|[1-9][0-9]{0,19})(?:\.[0-9]{1,20})?")
_CLOID = re.compile(r"0x[0-9a-f]{32}")
_ADDRESS_LOWER = re.compile(r"0x[0-9a-f]{40}")
_U64 = 1 << 64
_I64 = 1 << 63
_MAX_ASSET = 1 << 32

Check = Callable[[object, str], list[str]]


# --- value checks ---------------------------------------------------------------------


def _int_in(low: int, high: int) -> Check:
    def check(value: object, where: str) -> list[str]:
        if type(value) is not int or not low <= value <= high:
            return [f"{where} must be an integer from {low} to {high}"]
        return []

    return check


def _boolean(value: object, where: str) -> list[str]:
    return [] if type(value) is bool else [f"{where} must be true or false"]


def _text(pattern: re.Pattern[str], what: str) -> Check:
    def check(value: object, where: str) -> list[str]:
        if type(value) is not str or not pattern.fullmatch(value):
            return [f"{where} must be {what}"]
        return []

    return check


def _enum(*values: str) -> Check:
    def check(value: object, where: str) -> list[str]:
        if type(value) is not str or value not in values:
            return [f"{where} must be one of: {', '.join(values)}"]
        return []

    return check


ASSET = _int_in(0, _MAX_ASSET - 1)
U64 = _int_in(0, _U64 - 1)
I64 = _int_in(-_I64, _I64 - 1)
DEC = _text(_DEC, "a decimal string")
CLOID = _text(_CLOID, "0x + 32 lower-case hex digits")
LEVERAGE = _int_in(1, 1000)


def _fields(spec: Sequence[tuple[str, bool, Check]]) -> Check:
    """A JSON object with exactly the keys of ``spec`` (name, required, check), in order."""
    order = [name for name, _, _ in spec]
    checks = {name: (required, check) for name, required, check in spec}

    def check(value: object, where: str) -> list[str]:
        if type(value) is not dict:
            return [f"{where} must be a JSON object"]
        out: list[str] = []
        keys = list(value)
        for key in keys:
            if key not in checks:
                out.append(f"{where}.{P.describe(key)} is not allowed")
            else:
                out.extend(checks[key][1](value[key], f"{where}.{key}"))
        out.extend(
            f"{where}.{name} is required"
            for name, (required, _) in checks.items()
            if required and name not in value
        )
        known = [k for k in keys if k in checks]
        if known != [name for name in order if name in value]:
            out.append(f"{where}: keys must be in the order {', '.join(order)}")
        return out

    return check


def _list_of(item: Check, most: int = MAX_ITEMS) -> Check:
    def check(value: object, where: str) -> list[str]:
        if type(value) is not list or not 1 <= len(value) <= most:
            return [f"{where} must be a JSON array of 1 to {most} items"]
        out: list[str] = []
        for index, element in enumerate(value):
            out.extend(item(element, f"{where}[{index}]"))
        return out

    return check


def _one_key(options: Mapping[str, Check]) -> Check:
    """An object with exactly one key, one of ``options`` (a tagged union)."""

    def check(value: object, where: str) -> list[str]:
        if type(value) is not dict or len(value) != 1:
            return [f"{where} must be an object with one of: {', '.join(options)}"]
        ((key, inner),) = value.items()
        if key not in options:
            return [f"{where} must be an object with one of: {', '.join(options)}"]
        return options[key](inner, f"{where}.{key}")

    return check


ORDER_TYPE = _one_key({
    "limit": _fields((("tif", True, _enum("Alo", "Ioc", "Gtc")),)),
    "trigger": _fields((
        ("isMarket", True, _boolean), ("triggerPx", True, DEC), ("tpsl", True, _enum("tp", "sl")),
    )),
})  # fmt: skip
ORDER_WIRE = _fields((
    ("a", True, ASSET), ("b", True, _boolean), ("p", True, DEC), ("s", True, DEC),
    ("r", True, _boolean), ("t", True, ORDER_TYPE), ("c", False, CLOID),
))  # fmt: skip


def _oid(value: object, where: str) -> list[str]:
    if type(value) is int:
        return U64(value, where)
    return CLOID(value, where) and [f"{where} must be an order id or a cloid"]


MODIFY = _fields((("oid", True, _oid), ("order", True, ORDER_WIRE)))


class HyperliquidVenue:
    """The Hyperliquid venue (see the module docstring).

    Args:
        expires_window_ms: ``expiresAfter`` = now + this (1-3_600_000 ms), or
            None to send no ``expiresAfter``.
        builders: builder addresses an order may name (default: none).
        max_builder_fee: largest builder fee ``f`` (tenths of a basis point).
    """

    name = NAME
    hosts = HOSTS

    def __init__(
        self,
        expires_window_ms: int | None = 60_000,
        builders: Iterable[str] = (),
        max_builder_fee: int = 100,
    ) -> None:
        if expires_window_ms is not None and not 1 <= expires_window_ms <= 3_600_000:
            raise ValueError("expires_window_ms must be None or between 1 and 3600000")
        if not 0 <= max_builder_fee <= 1000:
            raise ValueError("max_builder_fee must be between 0 and 1000")
        self.expires_window_ms = expires_window_ms
        self.builders = frozenset("0x" + parse_address(b).hex() for b in builders)
        self.max_builder_fee = max_builder_fee
        self.schemas = self._schemas()

    def _builder(self, value: object, where: str) -> list[str]:
        out = _fields((
            ("b", True, _text(_ADDRESS_LOWER, "a lower-case address")),
            ("f", True, _int_in(0, self.max_builder_fee)),
        ))(value, where)  # fmt: skip
        if not out and isinstance(value, dict) and value["b"] not in self.builders:
            out.append(f"{where}.b is not an allowlisted builder")
        return out

    def _schemas(self) -> Mapping[str, Check]:
        t = ("type", True, _enum(*CLASSES))
        return {
            "order": _fields((
                t, ("orders", True, _list_of(ORDER_WIRE)),
                ("grouping", True, _enum("na", "normalTpsl", "positionTpsl")),
                ("builder", False, self._builder),
            )),
            "cancel": _fields((
                t, ("cancels", True, _list_of(_fields((("a", True, ASSET), ("o", True, U64))))),
            )),
            "cancelByCloid": _fields((
                t, ("cancels", True, _list_of(
                    _fields((("asset", True, ASSET), ("cloid", True, CLOID)))
                )),
            )),
            "modify": _fields((t, ("oid", True, _oid), ("order", True, ORDER_WIRE))),
            "batchModify": _fields((t, ("modifies", True, _list_of(MODIFY)))),
            "scheduleCancel": _fields((t, ("time", False, U64))),
            "twapOrder": _fields((t, ("twap", True, _fields((
                ("a", True, ASSET), ("b", True, _boolean), ("s", True, DEC),
                ("r", True, _boolean), ("m", True, _int_in(1, 100_000)), ("t", True, _boolean),
            ))))),
            "twapCancel": _fields((t, ("a", True, ASSET), ("t", True, U64))),
            "updateLeverage": _fields((
                t, ("asset", True, ASSET), ("isCross", True, _boolean),
                ("leverage", True, LEVERAGE),
            )),
            "updateIsolatedMargin": _fields((
                t, ("asset", True, ASSET), ("isBuy", True, _boolean), ("ntli", True, I64),
            )),
            "topUpIsolatedOnlyMargin": _fields((
                t, ("asset", True, ASSET), ("leverage", True, DEC),
            )),
            "noop": _fields((t,)),
        }  # fmt: skip

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        """Strictly parse ``request`` into an intent (``Venue.parse``)."""
        method, path = P.check_method(request.method), P.check_path(request.path)
        host = P.resolve_host(NAME, HOSTS, principal.mode, request.host)
        headers = P.check_headers(request.headers)
        violations = list(headers.violations)
        if method != "POST" or path != PATH:
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, violations), host, None
            )
        if request.query:
            violations.append("request.query must be empty; the action goes in the JSON body")
        violations += P.content_type_violations(headers.content_type, JSON)
        body, duplicates = P.parse_json_object(request.body)
        violations += duplicates
        for key in body:
            if key in STAMPED:
                violations.append(f"{key!r} is stamped by the daemon and must not be sent")
            elif key not in TOP_LEVEL:
                violations.append(f"request.body.{P.describe(key)} is not allowed")
        vault = body.get("vaultAddress")
        if "vaultAddress" in body and (
            type(vault) is not str or not _ADDRESS_LOWER.fullmatch(vault.lower())
        ):
            violations.append("vaultAddress must be an address (or be left out)")
            vault = None
        action = body.get("action")
        kind = action.get("type") if type(action) is dict else None
        if type(kind) is str and kind in USER_CLASSES and type(action) is dict:
            found, user, recipient, binding = parse_user_action(
                kind, action, principal.mode, list(body), headers.passthrough
            )
            intent = P.make_intent(
                principal, NAME, request, (f"POST {PATH}#{kind}", USER_CLASSES[kind]),
                violations + found,
            )  # fmt: skip
            chain, token, amount = spend_of(kind, action)
            intent = replace(
                intent,
                recipient=recipient,
                spend_chain=chain,
                spend_token=token,
                spend_amount=amount,
            )
            return ParsedRequest(intent, host, user, binding)
        if type(kind) is not str or kind not in CLASSES:
            # SECURITY: denied types (withdraw3, agentSendAsset...) never match.
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, violations), host, None
            )
        violations += self.schemas[kind](action, "action")
        matched = (f"POST {PATH}#{kind}", CLASSES[kind])
        detail = HyperliquidDetail(
            action=action,  # type: ignore[arg-type]
            vault=None if vault is None else str(vault).lower(),
            mainnet=principal.mode is Mode.LIVE,
            passthrough=headers.passthrough,
        )
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp nonce/expiresAfter, hash and sign the validated action (``Venue.sign``)."""
        detail = parsed.detail
        if isinstance(detail, UserActionDetail) and not parsed.intent.violations:
            return sign_user_action(detail, parsed.host, creds, clock)
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, HyperliquidDetail)
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        signer = checked_signer(creds)
        try:
            stored = creds.derived("hyperliquid:vault", lambda: vault_from_secret(creds.passphrase))
        except ValueError:
            raise InvalidCredentialsError(
                "passphrase: not a vault address", field="passphrase"
            ) from None
        if detail.vault is not None and detail.vault != stored:
            raise PolicyDeniedError("vaultAddress is not the vault stored with these credentials")
        now = clock.now_ms()
        nonce = clock.next_nonce(f"{NAME}:{signer.address}")
        expires = None if self.expires_window_ms is None else now + self.expires_window_ms
        sig = signer.sign_l1(detail.action, nonce, stored, expires, mainnet=detail.mainnet)
        body = P.canonical_json({
            "action": detail.action, "nonce": nonce, "signature": signature_json(sig),
            "vaultAddress": stored, "expiresAfter": expires,
        })  # fmt: skip
        headers = (("Content-Type", JSON), *detail.passthrough)
        request = HttpRequest("POST", PATH, "", body.encode("ascii"), headers, parsed.host)
        return SignedRequest(request=request, auth_headers=())


@dataclass(frozen=True, slots=True)
class HyperliquidDetail:
    """What ``sign()`` needs: the validated action, the caller's vault, the network."""

    action: dict[str, Any]
    vault: str | None
    mainnet: bool
    passthrough: tuple[tuple[str, str], ...]


VENUE = HyperliquidVenue()
