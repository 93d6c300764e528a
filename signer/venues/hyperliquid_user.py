"""Hyperliquid user-signed actions (VENUES.md section 9.2): funds home, agent approval.

Invariants (tests: tests/security/test_expfail_hyperliquid_user.py,
tests/vectors/test_hyperliquid.py, tests/integration/test_hyperliquid_home.py):

1. Only ``withdraw3``, ``usdSend``, ``spotSend`` (class ``withdraw-home``) and
   ``approveAgent`` (class ``approve-agent``) are parsed here; every other
   user-signed or fund-moving type stays unmatched (``endpoint=None``).
2. The caller sends what the action means and nothing else: ``type``,
   ``destination``/``amount`` (+ ``token`` for spotSend; amounts are decimal
   strings of at most 8 places, the SDK's wire precision) or ``agentAddress``
   (+ optional ``agentName``), and optionally ``hyperliquidChain`` (must be the
   principal's network: "Mainnet" live, "Testnet" sandbox) and
   ``signatureChainId`` (one of ``SIGNATURE_CHAIN_IDS``, default ``0x66eee``,
   as the Python SDK). ``time`` / ``nonce`` are stamped by the daemon;
   ``vaultAddress`` is refused (these actions act on the signer's own account).
3. SECURITY (DESIGN.md invariant 4): a ``withdraw-home`` intent carries
   ``recipient`` = the lower-case destination (the body keeps the caller's
   valid spelling, as the SDK signs it); the pipeline fills in
   ``recipient_linked`` from the principal's connected wallets and the policy
   denies any other destination. The amount counts against a withdraw cap
   (``spend_of``): the policy denies it without one or over ``per_tx``, the
   pipeline's durable ledger over the rolling 24 hours.
4. ``approveAgent`` binds ``Binding(trading_wallet=True, held_agent=agent)``:
   only the trading wallet signs it, and only for the agent address stored in
   this principal's Hyperliquid credentials.
5. ``sign()`` requires the key's address to be ``creds.api_key``, stamps
   ``time`` (or ``nonce``) = the body nonce = ``clock.next_nonce``, signs the
   EIP-712 struct and returns ``{action, nonce, signature, vaultAddress: null,
   expiresAfter: null}``. An unnamed agent is signed with ``agentName ""`` and
   sent without it, as the venue expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, SignedRequest
from signer.errors import InvalidCredentialsError, PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.hyperliquid import SIGNATURE_CHAIN_IDS, HyperliquidSigner, signature_json
from signer.schemes.secp256k1 import parse_address
from signer.venues import _params as P
from signer.venues.base import Binding, Clock

USER_CLASSES: dict[str, EndpointClass] = {
    "withdraw3": EndpointClass.WITHDRAW_HOME,
    "usdSend": EndpointClass.WITHDRAW_HOME,
    "spotSend": EndpointClass.WITHDRAW_HOME,
    "approveAgent": EndpointClass.APPROVE_AGENT,
}
DEFAULT_CHAIN_ID = "0x66eee"
_AMOUNT = re.compile(r"(?:0|[1-9][0-9]{0,19})(?:\.[0-9]{1,8})?")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_TOKEN = re.compile(r"[A-Za-z0-9]{1,16}:0x[0-9a-f]{32}")
_AGENT_NAME = re.compile(r"[A-Za-z0-9 _.-]{1,32}")
_FIELDS: dict[str, tuple[str, ...]] = {
    "withdraw3": ("destination", "amount"),
    "usdSend": ("destination", "amount"),
    "spotSend": ("destination", "token", "amount"),
    "approveAgent": ("agentAddress",),
}
_OPTIONAL = ("hyperliquidChain", "signatureChainId")
_STAMP = {"withdraw3": "time", "usdSend": "time", "spotSend": "time", "approveAgent": "nonce"}


def network(mode: Mode) -> str:
    """``hyperliquidChain`` for the principal's mode."""
    return "Mainnet" if mode is Mode.LIVE else "Testnet"


@dataclass(frozen=True, slots=True)
class UserActionDetail:
    """The validated user-signed action, without its stamp (``time`` / ``nonce``)."""

    action: dict[str, Any]
    stamp: str
    named: bool
    passthrough: tuple[tuple[str, str], ...]


def _amount(value: object) -> list[str]:
    if type(value) is not str or not _AMOUNT.fullmatch(value) or not value.strip("0."):
        return ["action.amount must be a positive decimal string of at most 8 decimal places"]
    return []


def spend_of(kind: str, action: dict[str, Any]) -> tuple[str, str, str]:
    """(chain, token, amount) a ``withdraw-home`` action counts against its
    withdraw cap (``[limits.withdraw.hyperliquid.USDC]`` for ``withdraw3`` and
    ``usdSend``, ``[limits.withdraw.hyperliquid-spot."NAME:0x.."]`` for
    ``spotSend``); ("", "", "") for other kinds. Malformed values are passed
    as "" (the parser has already reported them).

    SECURITY: the spot token is the exact ``NAME:0x<id>`` signed, never the
    name alone, so a caller cannot count one token against another's cap.
    """
    if kind not in _FIELDS or kind == "approveAgent":
        return "", "", ""
    amount = action.get("amount")
    text = amount if type(amount) is str else ""
    if kind == "spotSend":
        token = action.get("token")
        return "hyperliquid-spot", token if type(token) is str else "", text
    return "hyperliquid", "USDC", text


def _address(value: object, field: str) -> list[str]:
    if type(value) is not str or not _ADDRESS.fullmatch(value):
        return [f"action.{field} must be an address"]
    try:
        parse_address(value)  # mixed case must carry a valid EIP-55 checksum
    except ValueError:
        return [f"action.{field} has a bad EIP-55 checksum"]
    return []


def parse_user_action(
    kind: str,
    action: dict[str, Any],
    mode: Mode,
    body_keys: list[str],
    passthrough: tuple[tuple[str, str], ...] = (),
) -> tuple[list[str], UserActionDetail, str, Binding | None]:
    """Validate a user-signed ``action`` (invariants 1-4).

    Returns:
        (violations, detail, recipient or "", binding or None).
    """
    out: list[str] = []
    if "vaultAddress" in body_keys:
        out.append("vaultAddress is not allowed on user-signed actions")
    stamp, fields = _STAMP[kind], _FIELDS[kind]
    allowed = {"type", *fields, *_OPTIONAL, *(("agentName",) if kind == "approveAgent" else ())}
    for key in action:
        if key == stamp:
            out.append(f"action.{stamp} is stamped by the daemon and must not be sent")
        elif key not in allowed:
            out.append(f"action.{P.describe(key)} is not allowed")
    out.extend(f"action.{name} is required" for name in fields if name not in action)
    chain = action.get("hyperliquidChain", network(mode))
    if chain != network(mode):
        out.append(f"action.hyperliquidChain must be {network(mode)} for a {mode.value} principal")
    chain_id = action.get("signatureChainId", DEFAULT_CHAIN_ID)
    if chain_id not in SIGNATURE_CHAIN_IDS:
        out.append(
            f"action.signatureChainId must be one of {', '.join(sorted(SIGNATURE_CHAIN_IDS))}"
        )
    built: dict[str, Any] = {"type": kind, "signatureChainId": chain_id, "hyperliquidChain": chain}
    recipient, binding, named = "", None, False
    if kind == "approveAgent":
        agent = action.get("agentAddress")
        bad_agent = _address(agent, "agentAddress")
        out += bad_agent
        name = action.get("agentName")
        named = "agentName" in action
        if named and (type(name) is not str or not _AGENT_NAME.fullmatch(name)):
            out.append("action.agentName must be 1-32 letters, digits, space, '_', '.' or '-'")
        if not bad_agent and type(agent) is str:
            built["agentAddress"] = agent  # signed as an address: the case is not hashed
            binding = Binding(trading_wallet=True, held_agent=agent.lower())
        built["agentName"] = name if named and type(name) is str else ""
    else:
        destination = action.get("destination")
        bad_destination = _address(destination, "destination")
        out += bad_destination
        if not bad_destination and type(destination) is str:
            recipient = destination.lower()
        # Signed as a string exactly as sent (the SDK keeps the caller's case);
        # the link check compares the address bytes.
        built["destination"] = destination
        if kind == "spotSend":
            token = action.get("token")
            if type(token) is not str or not _TOKEN.fullmatch(token):
                out.append("action.token must be NAME:0x + 32 lower-case hex digits")
            built["token"] = token
        out += _amount(action.get("amount"))
        built["amount"] = action.get("amount")
    detail = UserActionDetail(built, stamp, named, passthrough)
    return out, detail, recipient, binding


def checked_signer(creds: VenueCredentials) -> HyperliquidSigner:
    """The credentials' key, refused unless its address is ``creds.api_key``
    (L1 and user-signed actions alike)."""
    signer = creds.derived("hyperliquid:key", lambda: HyperliquidSigner.from_secret(creds.secret))
    try:
        matches = parse_address(creds.api_key) == parse_address(signer.address)
    except ValueError:
        raise InvalidCredentialsError("api_key: not an address", field="api_key") from None
    if not matches:
        raise PolicyDeniedError("the signing key does not belong to the address api_key")
    return signer


def sign_user_action(
    detail: UserActionDetail, host: str, creds: VenueCredentials, clock: Clock
) -> SignedRequest:
    """Stamp, sign and build the body (invariant 5)."""
    signer = checked_signer(creds)
    nonce = clock.next_nonce(f"hyperliquid:{signer.address}")
    action = {**detail.action, detail.stamp: nonce}
    sig = signer.sign_user(action)
    if detail.stamp == "nonce" and not detail.named:
        del action["agentName"]
    body = P.canonical_json({
        "action": action, "nonce": nonce, "signature": signature_json(sig),
        "vaultAddress": None, "expiresAfter": None,
    })  # fmt: skip
    headers = (("Content-Type", "application/json"), *detail.passthrough)
    request = HttpRequest("POST", "/exchange", "", body.encode("ascii"), headers, host)
    return SignedRequest(request=request, auth_headers=())
