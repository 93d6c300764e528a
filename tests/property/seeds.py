"""Valid requests for every venue: the seeds the abuse property tests mutate.

The requests are the unit tests' own ``VALID`` tables (one valid request per
allowlisted endpoint, tests/unit/venues/), plus Hyperliquid user-signed actions
and a Polymarket order. ``allowed_seeds`` keeps the ones the default policy
allows, so a mutation starts from a request that would be signed; a test
checks that every venue has some.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

from policy.document import PolicyDocument, default_document_bytes, load_document
from signer.config import Config
from signer.domain import CredentialFields, HttpRequest, Mode, Principal, SignRequest
from signer.errors import SignerError
from signer.keystore.handles import Secret, VenueCredentials
from signer.pipeline import evaluate_request
from signer.venues import build_venues
from signer.venues.base import Venue
from signer.venues.credentials import validate_credentials
from tests.security.canary_world import build_accounts
from tests.unit.venues import (
    test_binance,
    test_bitget,
    test_bitmart,
    test_bybit,
    test_coinbase,
    test_cryptocom,
    test_hyperliquid,
    test_kalshi,
    test_kraken,
    test_okx,
    test_polymarket,
)

Seed = tuple[Principal, str, HttpRequest]


def _json(method: str, path: str, body: object) -> HttpRequest:
    return HttpRequest(method, path, body=json.dumps(body).encode())


def _hyperliquid() -> list[HttpRequest]:
    to = test_hyperliquid.ADDRESS
    user = [
        {"type": "withdraw3", "destination": to, "amount": "12.5"},
        {"type": "usdSend", "destination": to, "amount": "1"},
        {"type": "approveAgent", "agentAddress": to, "agentName": "bot"},
    ]
    actions = [*test_hyperliquid.ACTIONS.values(), *user]
    return [_json("POST", "/exchange", {"action": action}) for action in actions]


def _requests() -> dict[str, list[HttpRequest]]:
    kalshi_v2 = "/trade-api/v2"
    return {
        "binance": [test_binance.req(k, v) for k, v in test_binance.VALID.items()],
        "bitget": [test_bitget.req(k, v) for k, v in test_bitget.VALID.items()],
        "bitmart": [test_bitmart.req(k, v) for k, v in test_bitmart.VALID.items()],
        "bybit": [test_bybit.req(k, v) for k, v in test_bybit.VALID.items()],
        "coinbase": [test_coinbase.req(k) for k in test_coinbase.VALID],
        "cryptocom": [test_cryptocom.req(k, v) for k, v in test_cryptocom.VALID.items()],
        "hyperliquid": _hyperliquid(),
        "kalshi": [
            HttpRequest(
                k.split(" ")[0], kalshi_v2 + p, q, b"" if b is None else json.dumps(b).encode()
            )
            for k, (p, q, b) in test_kalshi.VALID.items()
        ],
        "kraken": [test_kraken.post(k, v) for k, v in test_kraken.VALID.items()],
        "okx": [test_okx.req(k, v) for k, v in test_okx.VALID.items()],
        "polymarket": [
            _json("POST", "/order", test_polymarket.order_body()),
            _json("POST", "/orders", [test_polymarket.order_body()]),
            HttpRequest("GET", "/data/orders"),
            _json("DELETE", "/order", {"orderID": test_polymarket.ORDER_ID}),
        ],
    }


@cache
def venues() -> dict[str, Venue]:
    """The daemon's venue registry (default settings)."""
    return build_venues(Config(state_dir=Path("/nonexistent"), listeners=()))


@cache
def document() -> PolicyDocument:
    """The shipped default policy."""
    return load_document(default_document_bytes())


def linked(_req: SignRequest, _recipient: str) -> bool:
    """Every recipient counts as a connected wallet (funds-home seeds are allowed)."""
    return True


def evaluate(
    principal: Principal, venue: str, request: HttpRequest, is_connected: Callable[..., bool]
) -> bool:
    """True when the default policy allows the request; SignerError propagates."""
    req = SignRequest(principal, venue, request)
    return evaluate_request(
        venues(), frozenset(venues()), document(), req, is_connected
    ).decision.allowed


@cache
def allowed_seeds() -> tuple[Seed, ...]:
    """Every seed request the default policy allows, with a principal it is valid for."""
    out: list[Seed] = []
    for venue, requests in sorted(_requests().items()):
        for request in requests:
            for mode in (Mode.LIVE, Mode.SANDBOX):
                principal = Principal("client-1", mode)
                try:
                    if evaluate(principal, venue, request, linked):
                        out.append((principal, venue, request))
                        break
                except SignerError:
                    continue
    return tuple(out)


@cache
def credential_fields() -> dict[str, CredentialFields]:
    """Valid SetCredentials material per venue, matching the seeds' keys and addresses."""
    out = {
        acct.venue: CredentialFields(
            acct.api_key, acct.api_secret, acct.passphrase, acct.extra_json
        )
        for acct in reversed(build_accounts())
    }
    out["hyperliquid"] = CredentialFields(test_hyperliquid.ADDRESS, test_hyperliquid.KEY)
    signer = json.dumps({"signer_private_key": test_polymarket.KEY})
    out["polymarket"] = CredentialFields(
        test_polymarket.API_KEY, test_polymarket.L2_SECRET, "pp", signer
    )
    return out


@cache
def credentials() -> dict[str, VenueCredentials]:
    """A valid credential handle per venue, as the keystore would hand it to ``sign``."""
    out: dict[str, VenueCredentials] = {}
    for venue, fields in credential_fields().items():
        doc = validate_credentials(venue, fields)
        extra = doc["extra"]
        assert isinstance(extra, dict)
        out[venue] = VenueCredentials(
            venue,
            str(doc["api_key"]),
            Secret(str(doc["api_secret"])),
            Secret(str(doc["passphrase"])),
            {k: Secret(v) for k, v in extra.items()},
        )
    return out
