"""Venue features (policy/venue_options.py): the document's Polymarket keys, strictly
loaded, and the engine's ``venue.feature-disabled`` rule against real parsed requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy.document import PolicyDocumentError, default_document_bytes, load_document
from policy.engine import decide
from policy.intents import EndpointClass, VenueRequestIntent
from policy.venue_options import POLYMARKET_KEY_PROVISIONING
from signer.config import dev_config
from signer.domain import HttpRequest
from signer.schemes import polymarket as pm
from signer.venues import build_venues, polymarket
from tests.unit.venues.test_polymarket import LIVE, order_body, post

BASE = b"""version = 2
[venues.polymarket]
enabled = true
modes = ["live"]
classes = ["trade", "cancel", "read"]
"""


def doc(extra: bytes = b"") -> bytes:
    return BASE + extra


def test_defaults_grant_both_exchanges_and_no_key_provisioning() -> None:
    venue = load_document(doc()).venue("polymarket")
    assert venue is not None
    assert venue.features == {"polymarket.exchange.ctf", "polymarket.exchange.neg-risk"}
    shipped = load_document(default_document_bytes()).venue("polymarket")
    assert shipped is not None and shipped.features == venue.features
    granted = load_document(doc(b"exchanges = []\nkey_provisioning = true\n")).venue("polymarket")
    assert granted is not None and granted.features == {POLYMARKET_KEY_PROVISIONING}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (b'exchanges = ["v1"]\n', 'venues.polymarket.exchanges[0]: unknown exchange "v1" (line 6)'),
        (b'exchanges = ["ctf", "ctf"]\n', "exchanges[1]: duplicate exchange"),
        (b'exchanges = "ctf"\n', "exchanges: must be a list of exchange names (line 6)"),
        (b'key_provisioning = "yes"\n', "key_provisioning: must be true or false (line 6)"),
        (b"key_provisioning = 1\n", "key_provisioning: must be true or false"),
        (b"rfq = true\n", 'venues.polymarket.rfq: unknown key "rfq" (line 6)'),
    ],
)
def test_polymarket_keys_are_strict(extra: bytes, message: str) -> None:
    with pytest.raises(PolicyDocumentError) as err:
        load_document(doc(extra))
    assert message in str(err.value)


def test_options_belong_to_their_venue_only() -> None:
    other = b'version = 2\n[venues.binance]\nenabled = true\nmodes = ["live"]\n'
    with pytest.raises(PolicyDocumentError, match=r"venues\.binance\.key_provisioning.*line 6"):
        load_document(other + b'classes = ["trade"]\nkey_provisioning = true\n')


def parsed(request: HttpRequest) -> VenueRequestIntent:
    venue = build_venues(dev_config(Path("/nonexistent"), None))["polymarket"]
    return venue.parse(LIVE, request).intent


def test_orders_name_their_exchange() -> None:
    assert parsed(post("/order", order_body())).features == ("polymarket.exchange.ctf",)
    neg = order_body(exchange=pm.NEG_RISK_EXCHANGE_V2.lower())
    assert parsed(post("/order", neg)).features == ("polymarket.exchange.neg-risk",)
    both = parsed(post("/orders", [order_body(), neg, order_body()])).features
    assert both == ("polymarket.exchange.ctf", "polymarket.exchange.neg-risk")
    assert (
        parsed(
            HttpRequest("DELETE", "/order", body=b'{"orderID": "0x' + b"12" * 32 + b'"}')
        ).features
        == ()
    )


def test_narrowed_exchanges_deny_the_other_one() -> None:
    only_ctf = load_document(doc(b'exchanges = ["ctf"]\n'))
    assert decide(only_ctf, parsed(post("/order", order_body()))).allowed
    neg = order_body(exchange=pm.NEG_RISK_EXCHANGE_V2)
    for request in (post("/order", neg), post("/orders", [order_body(), neg])):
        decision = decide(only_ctf, parsed(request))
        assert (decision.allowed, decision.rule_id) == (False, "venue.feature-disabled")
        assert "polymarket.exchange.neg-risk" in decision.reasons[0]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/auth/derive-api-key"), ("POST", "/auth/api-key")]
)
def test_key_provisioning_is_the_documents_decision(method: str, path: str) -> None:
    intent = parsed(HttpRequest(method, path))
    assert intent.endpoint == f"{method} {path}" and intent.features == (
        POLYMARKET_KEY_PROVISIONING,
    )
    shipped = decide(load_document(default_document_bytes()), intent)
    assert (shipped.allowed, shipped.rule_id) == (False, "venue.feature-disabled")
    granted = load_document(doc(b"key_provisioning = true\n"))
    assert decide(granted, intent).allowed
    # The module's default venue (not the daemon's) still does not know the endpoints.
    assert polymarket.VENUE.parse(LIVE, HttpRequest(method, path)).intent.endpoint is None


def test_malformed_features_are_an_engine_error() -> None:
    intent = VenueRequestIntent(
        "c", "live", "polymarket", "POST", "/order", "POST /order", EndpointClass.TRADE,
        features=["polymarket.exchange.ctf"],  # type: ignore[arg-type]
    )  # fmt: skip
    decision = decide(load_document(doc()), intent)
    assert (decision.allowed, decision.rule_id) == (False, "engine.error")
