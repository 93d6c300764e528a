"""ccxt as a test oracle for the Crypto.com Exchange v1 signature (compared, never copied).

ccxt 4.5.x ``cryptocom.sign(path, ["v1", "private"], "POST", params)`` uses
one value for both ``id`` and ``nonce``: ``str(self.nonce())`` (milliseconds).
The test pins ``nonce()`` to N and gives the daemon a clock whose ``now_ms()``
and ``next_nonce()`` both return N, so both sides sign the same pre-image:

* ``sig`` must be byte-identical;
* the bodies must carry the same fields with the same values. ccxt sends
  ``id`` and ``nonce`` as JSON strings, the daemon as JSON numbers (the form
  of Crypto.com's reference "Request Format" table and samples); they are
  compared as decimal text, everything else exactly;
* the URL ccxt builds must be the daemon's host + path.

``fetch`` is replaced by a tripwire and markets are never loaded.
"""

from __future__ import annotations

import json
from typing import Any

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.domain import HttpRequest
from signer.venues import cryptocom

from .conftest import LIVE, SANDBOX, FixedClock, make_creds
from .test_cryptocom import API_KEY, SECRET

SETTINGS = settings(max_examples=80, deadline=None)


def _no_network(*_: object, **__: object) -> None:
    raise AssertionError("ccxt tried to use the network")


@pytest.fixture(scope="module")
def ex() -> Any:
    exchange = ccxt.cryptocom({"apiKey": API_KEY, "secret": SECRET})
    exchange.fetch = _no_network
    return exchange


_decimals = st.builds(
    lambda whole, frac: f"{whole}.{frac}" if frac else str(whole),
    st.integers(0, 10**9),
    st.sampled_from(["", "1", "25", "00000001", "5"]),
)
_instruments = st.sampled_from(["BTC_USDT", "ETH_CRO", "BTCUSD-PERP", "CRO_USD", "1INCH_USDT"])
_oids = st.from_regex(r"[A-Za-z0-9_.:-]{1,36}", fullmatch=True)
_order_ids = st.integers(1, 10**19).map(str)
_nonces = st.integers(10**12, 2 * 10**12)


@st.composite
def orders(draw: st.DrawFn, *, leg: bool = False) -> dict[str, Any]:
    kind = draw(st.sampled_from(["LIMIT", "MARKET", "STOP_LIMIT", "TAKE_PROFIT"]))
    params: dict[str, Any] = {
        "instrument_name": draw(_instruments),
        "side": draw(st.sampled_from(["BUY", "SELL"])),
        "type": kind,
        "quantity": draw(_decimals),
    }
    if kind in ("LIMIT", "STOP_LIMIT"):
        params["price"] = draw(_decimals)
    if kind in ("STOP_LIMIT", "TAKE_PROFIT"):
        params[draw(st.sampled_from(["ref_price", "trigger_price"]))] = draw(_decimals)
    optional: dict[str, st.SearchStrategy[Any]] = {
        "client_oid": _oids,
        "time_in_force": st.sampled_from(
            ["GOOD_TILL_CANCEL", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"]
        ),
        "spot_margin": st.sampled_from(["SPOT", "MARGIN"]),
        "stp_scope": st.sampled_from(["M", "S"]),
        "stp_inst": st.sampled_from(["M", "T", "B"]),
        "stp_id": st.integers(0, 32767).map(str),
        "fee_instrument_name": st.sampled_from(["USD", "USDT", "CRO"]),
    }
    if not leg:
        optional["exec_inst"] = st.sampled_from([[], ["POST_ONLY"], ["SMART_POST_ONLY"]])
    for key, strategy in optional.items():
        if draw(st.booleans()):
            params[key] = draw(strategy)
    keys = draw(st.permutations(list(params)))
    return {key: params[key] for key in keys}


def _pair(ex: Any, method: str, params: dict[str, Any], n: int, *, sandbox: bool = False) -> None:
    """Sign with the daemon and with ccxt for the same id/nonce; compare."""
    body = json.dumps({"method": method, "params": params}).encode()
    principal = SANDBOX if sandbox else LIVE
    parsed = cryptocom.VENUE.parse(
        principal, HttpRequest("POST", "/exchange/v1/" + method, body=body)
    )
    assert parsed.intent.violations == ()
    clock = FixedClock(now_ms=n, nonce=n)
    ours = cryptocom.VENUE.sign(parsed, make_creds("cryptocom", API_KEY, SECRET), clock)
    ex.nonce = lambda: n
    ex.set_sandbox_mode(sandbox)
    try:
        theirs = ex.sign(method, ["v1", "private"], "POST", json.loads(json.dumps(params)))
    finally:
        ex.set_sandbox_mode(False)
    our_body, their_body = json.loads(ours.request.body), json.loads(theirs["body"])
    assert our_body["sig"] == their_body["sig"]
    assert set(our_body) == set(their_body) == {"id", "method", "api_key", "params", "nonce", "sig"}
    assert {k: our_body[k] for k in ("method", "api_key", "params")} == {
        k: their_body[k] for k in ("method", "api_key", "params")
    }
    assert str(our_body["id"]) == their_body["id"] == str(n)
    assert str(our_body["nonce"]) == their_body["nonce"] == str(n)
    assert theirs["url"] == f"https://{ours.request.host}{ours.request.path}"
    assert dict(ours.request.headers)["Content-Type"] == theirs["headers"]["Content-Type"]


@SETTINGS
@given(orders(), _nonces)
def test_create_order(ex: Any, params: dict[str, Any], n: int) -> None:
    _pair(ex, "private/create-order", params, n)


@SETTINGS
@given(st.lists(orders(leg=True), min_size=1, max_size=10), _nonces)
def test_create_order_list(ex: Any, legs: list[dict[str, Any]], n: int) -> None:
    _pair(ex, "private/create-order-list", {"contingency_type": "LIST", "order_list": legs}, n)


@SETTINGS
@given(
    st.one_of(
        st.builds(lambda i: {"order_id": i}, _order_ids),
        st.builds(lambda c: {"client_oid": c}, _oids),
    ),
    st.sampled_from(["private/cancel-order", "private/get-order-detail"]),
    _nonces,
)
def test_cancel_and_detail(ex: Any, params: dict[str, Any], method: str, n: int) -> None:
    _pair(ex, method, params, n)


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries(
            {"order_id": _order_ids},
            optional={"instrument_name": _instruments, "client_oid": _oids},
        ),
        min_size=1,
        max_size=10,
    ),
    _nonces,
)
def test_cancel_order_list(ex: Any, legs: list[dict[str, Any]], n: int) -> None:
    _pair(ex, "private/cancel-order-list", {"contingency_type": "LIST", "order_list": legs}, n)


@SETTINGS
@given(
    st.sampled_from(
        ["private/get-order-history", "private/get-trades", "private/get-transactions"]
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "instrument_name": _instruments,
            "start_time": st.integers(10**12, 10**19 - 1).map(str),
            "end_time": st.integers(10**12, 10**19 - 1).map(str),
            "limit": st.integers(1, 100).map(str),
        },
    ),
    _nonces,
)
def test_history_reads(ex: Any, method: str, params: dict[str, Any], n: int) -> None:
    _pair(ex, method, params, n)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("private/user-balance", {}),
        ("private/get-fee-rate", {}),
        ("private/get-cancel-on-disconnect", {}),
        ("private/set-cancel-on-disconnect", {"scope": "CONNECTION"}),
        (
            "private/amend-order",
            {"orig_client_oid": "53", "new_price": "83000", "new_quantity": "0.0001"},
        ),
        ("private/cancel-all-orders", {"instrument_name": "BTCUSD-PERP"}),
        ("private/close-position", {"instrument_name": "BTCUSD-PERP", "type": "MARKET"}),
        ("private/user-balance-history", {"timeframe": "D1", "limit": "30"}),
        ("private/get-accounts", {"page_size": "30", "page": "2"}),
        (
            "private/get-order-list",
            {
                "contingency_type": "OCO",
                "list_id": "6498090546073120100",
                "instrument_name": "BTCUSD-PERP",
            },
        ),
        (
            "private/cancel-order-list",
            {
                "contingency_type": "OCO",
                "list_id": "4421958062479290999",
                "instrument_name": "BTCUSD-PERP",
            },
        ),
        ("private/get-instrument-fee-rate", {"instrument_name": "BTC_USD"}),
        ("private/get-positions", {}),
        ("private/get-open-orders", {"instrument_name": "BTCUSD-PERP"}),
    ],
)
def test_other_methods(ex: Any, method: str, params: dict[str, Any]) -> None:
    _pair(ex, method, params, 1587846358253)


def test_sandbox_host_matches_ccxt_test_url(ex: Any) -> None:
    _pair(ex, "private/user-balance", {}, 1587846358253, sandbox=True)
