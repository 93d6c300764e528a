"""kalshi-python 2.1.4 as a test oracle for Kalshi request signing (compared, never copied).

RSA-PSS is randomised, so signatures cannot be compared byte for byte. For
each generated request the oracle signs with its own code path while its
private key is wrapped by a recorder that captures the exact bytes handed to
``sign()`` and the padding used; the test then checks that

1. the message kalshi-python signs equals the daemon's signed message
   (``kalshi.signed_message``) byte for byte, for the same timestamp, method
   and path (the timestamp is taken from the oracle's header);
2. the daemon's signature verifies with the public key over the oracle's
   message, and the oracle's signature verifies over the daemon's message;
3. kalshi-python's padding is PSS / MGF1-SHA256 with ``DIGEST_LENGTH``
   (= 32 bytes for SHA-256), i.e. the daemon's pinned ``SALT_LENGTH``.

Two oracle code paths are exercised: ``KalshiClient.update_params_for_auth``
reached through the generated ``PortfolioApi``/``CommunicationsApi``
serializers (so the resource paths come from kalshi-python itself), and
``KalshiAuth.create_auth_headers`` given a full URL with a query string.
Nothing touches the network: only request serialization runs, and the REST
client's ``request`` is replaced by a tripwire.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import kalshi_python
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from kalshi_python.api_client import KalshiAuth
from kalshi_python.configuration import Configuration

from signer.domain import HttpRequest
from signer.schemes.rsa_pss import SALT_LENGTH
from signer.venues import kalshi

from .conftest import LIVE, FixedClock
from .test_kalshi import API_KEY, ORDER, V2, kalshi_creds, key_pem, rsa_key

PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH)


class RecordingKey:
    """Wraps an RSA private key; records what kalshi-python asks it to sign."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key
        self.calls: list[tuple[bytes, padding.AsymmetricPadding]] = []

    def sign(
        self, message: bytes, pad: padding.AsymmetricPadding, algorithm: hashes.HashAlgorithm
    ) -> bytes:
        assert isinstance(algorithm, hashes.SHA256)
        self.calls.append((message, pad))
        return self._key.sign(message, pad, algorithm)


def _no_network(*_: object, **__: object) -> None:
    raise AssertionError("kalshi-python tried to use the network")


@pytest.fixture(scope="module")
def client() -> Any:
    config = Configuration(host="https://api.elections.kalshi.com/trade-api/v2")
    config.api_key_id = API_KEY
    config.private_key_pem = key_pem().decode()
    kc = kalshi_python.KalshiClient(config)  # type: ignore[no-untyped-call]
    kc.rest_client.request = _no_network  # type: ignore[method-assign]
    return kc


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> RecordingKey:
    rec = RecordingKey(rsa_key())
    shim = SimpleNamespace(load_pem_private_key=lambda *_a, **_k: rec)
    monkeypatch.setattr(kalshi_python, "serialization", shim)
    return rec


_ids = st.from_regex(r"[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}", fullmatch=True)
_tickers = st.sampled_from(["KXBTCD-25APR1517-T84999.99", "INXD-23DEC29-B4787.5", "KX-1"])
_limits = st.integers(1, 200)


def _case(api: str, fn: str, path: str, **kwargs: Any) -> tuple[str, str, str, dict[str, Any]]:
    return api, fn, path, kwargs


@st.composite
def oracle_calls(draw: st.DrawFn) -> tuple[str, str, str, str, dict[str, Any]]:
    """(api attribute, serializer, our method, our path, serializer kwargs): all 28 endpoints."""
    oid, gid, rid, qid = draw(_ids), draw(_ids), draw(_ids), draw(_ids)
    ticker, limit = draw(_tickers), draw(_limits)
    p, c = "_portfolio_api", "_communications_api"
    cases: dict[str, tuple[str, str, str, dict[str, Any]]] = {
        "POST": _case(p, "_create_order_serialize", "/portfolio/orders", create_order_request=None),
        "DELETE": _case(p, "_cancel_order_serialize", f"/portfolio/orders/{oid}", order_id=oid),
        "POST b": _case(
            p,
            "_batch_create_orders_serialize",
            "/portfolio/orders/batched",
            batch_create_orders_request=None,
        ),
        "DELETE b": _case(
            p,
            "_batch_cancel_orders_serialize",
            "/portfolio/orders/batched",
            batch_cancel_orders_request=None,
        ),
        "POST a": _case(
            p,
            "_amend_order_serialize",
            f"/portfolio/orders/{oid}/amend",
            order_id=oid,
            amend_order_request=None,
        ),
        "POST d": _case(
            p,
            "_decrease_order_serialize",
            f"/portfolio/orders/{oid}/decrease",
            order_id=oid,
            decrease_order_request=None,
        ),
        "POST g": _case(
            p,
            "_create_order_group_serialize",
            "/portfolio/order_groups/create",
            create_order_group_request=None,
        ),
        "POST r": _case(
            p,
            "_reset_order_group_serialize",
            f"/portfolio/order_groups/{gid}/reset",
            order_group_id=gid,
        ),
        "DELETE g": _case(
            p, "_delete_order_group_serialize", f"/portfolio/order_groups/{gid}", order_group_id=gid
        ),
        "POST rfq": _case(
            c, "_create_rfq_serialize", "/communications/rfqs", create_rfq_request=None
        ),
        "DELETE rfq": _case(c, "_delete_rfq_serialize", f"/communications/rfqs/{rid}", rfq_id=rid),
        "POST q": _case(
            c, "_create_quote_serialize", "/communications/quotes", create_quote_request=None
        ),
        "DELETE q": _case(
            c, "_delete_quote_serialize", f"/communications/quotes/{qid}", quote_id=qid
        ),
        "PUT a": _case(
            c,
            "_accept_quote_serialize",
            f"/communications/quotes/{qid}/accept",
            quote_id=qid,
            accept_quote_request=None,
        ),
        "PUT c": _case(
            c, "_confirm_quote_serialize", f"/communications/quotes/{qid}/confirm", quote_id=qid
        ),
        "GET bal": _case(p, "_get_balance_serialize", "/portfolio/balance"),
        "GET pos": _case(
            p,
            "_get_positions_serialize",
            "/portfolio/positions",
            ticker=ticker,
            event_ticker=None,
            count_down=None,
            count_up=None,
            limit=limit,
            cursor=None,
        ),
        "GET fills": _case(
            p,
            "_get_fills_serialize",
            "/portfolio/fills",
            ticker=ticker,
            order_id=oid,
            min_ts=None,
            max_ts=None,
            limit=limit,
            cursor=None,
        ),
        "GET orders": _case(
            p,
            "_get_orders_serialize",
            "/portfolio/orders",
            ticker=ticker,
            event_ticker=None,
            min_ts=None,
            max_ts=None,
            status="resting",
            limit=limit,
            cursor=None,
        ),
        "GET order": _case(p, "_get_order_serialize", f"/portfolio/orders/{oid}", order_id=oid),
        "GET qp": _case(
            p,
            "_get_order_queue_position_serialize",
            f"/portfolio/orders/{oid}/queue_position",
            order_id=oid,
        ),
        "POST qps": _case(
            p,
            "_get_queue_positions_serialize",
            "/portfolio/orders/queue_positions",
            get_queue_positions_request=None,
        ),
        "GET set": _case(
            p, "_get_settlements_serialize", "/portfolio/settlements", limit=limit, cursor=None
        ),
        "GET og": _case(
            p,
            "_get_order_groups_serialize",
            "/portfolio/order_groups",
            status=None,
            limit=None,
            cursor=None,
        ),
        "GET trov": _case(
            p,
            "_get_total_resting_order_value_serialize",
            "/portfolio/summary/total_resting_order_value",
        ),
        "GET rfqs": _case(c, "_get_rfqs_serialize", "/communications/rfqs"),
        "GET quotes": _case(c, "_get_quotes_serialize", "/communications/quotes"),
        "GET id": _case(c, "_get_communications_id_serialize", "/communications/id"),
    }
    assert len(cases) == 28
    label = draw(st.sampled_from(sorted(cases)))
    api, fn, path, kwargs = cases[label]
    return api, fn, label.split(" ")[0], path, kwargs


_BODIES: dict[str, object] = {
    "/portfolio/orders": ORDER,
    "/portfolio/orders/batched": {"orders": [ORDER]},
    "/communications/rfqs": {"market_ticker": "KX-1", "contracts": 1, "rest_remainder": True},
    "/communications/quotes": {
        "rfq_id": "r",
        "yes_bid": "0.1",
        "no_bid": "0.2",
        "rest_remainder": False,
    },
    "/portfolio/order_groups/create": {"contracts_limit": 5},
    "/portfolio/orders/queue_positions": {"order_ids": ["x"]},
}


def _our_request(method: str, path: str, query: str) -> HttpRequest:
    """The same endpoint as the caller would send it to the daemon (minimal valid body)."""
    if method == "DELETE" and path.endswith("/batched"):
        body: object = {"ids": ["x"]}
    elif path.endswith("/amend"):
        body = {"ticker": "KX-1", "side": "yes", "action": "buy", "yes_price": 3}
    elif path.endswith("/decrease"):
        body = {"reduce_by": 1}
    elif path.endswith("/accept"):
        body = {"accepted_side": "yes"}
    else:
        body = _BODIES.get(path) if method in ("POST", "PUT") else None
    data = b"" if body is None else json.dumps(body).encode()
    return HttpRequest(method, V2 + path, query=query, body=data)


def _check(
    rec: RecordingKey, method: str, path: str, oracle_headers: dict[str, str], query: str
) -> None:
    ts = oracle_headers["KALSHI-ACCESS-TIMESTAMP"]
    (theirs_message, theirs_padding) = rec.calls[-1]
    # 3. the oracle's padding parameters
    assert isinstance(theirs_padding, padding.PSS)
    assert theirs_padding._salt_length is padding.PSS.DIGEST_LENGTH
    assert hashes.SHA256.digest_size == SALT_LENGTH
    parsed = kalshi.VENUE.parse(LIVE, _our_request(method, path, query))
    assert parsed.intent.violations == ()
    ours = kalshi.VENUE.sign(parsed, kalshi_creds(), FixedClock(now_ms=int(ts)))
    ours_headers = dict(ours.auth_headers)
    # 1. byte-identical signed message
    assert (
        kalshi.signed_message(ours_headers["KALSHI-ACCESS-TIMESTAMP"], method, V2 + path)
        == theirs_message
    )
    # 2. cross-verification with the public key
    public = rsa_key().public_key()
    public.verify(
        base64.b64decode(ours_headers["KALSHI-ACCESS-SIGNATURE"]),
        theirs_message,
        PSS,
        hashes.SHA256(),
    )
    public.verify(
        base64.b64decode(oracle_headers["KALSHI-ACCESS-SIGNATURE"]),
        theirs_message,
        PSS,
        hashes.SHA256(),
    )
    assert ours_headers["KALSHI-ACCESS-KEY"] == oracle_headers["KALSHI-ACCESS-KEY"] == API_KEY


def _pin_time(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    monkeypatch.setattr(time, "time", lambda: seconds)


@settings(max_examples=80, deadline=None)
@given(oracle_calls(), st.floats(1.6e9, 2.0e9))
def test_client_serializers(
    client: Any, call: tuple[str, str, str, str, dict[str, Any]], now: float
) -> None:
    api_name, fn, method, path, kwargs = call
    with pytest.MonkeyPatch.context() as mp:
        rec = RecordingKey(rsa_key())
        mp.setattr(
            kalshi_python,
            "serialization",
            SimpleNamespace(load_pem_private_key=lambda *_a, **_k: rec),
        )
        _pin_time(mp, now)
        serialize: Callable[..., Any] = getattr(getattr(client, api_name), fn)
        their_method, url, headers, _body, _post = serialize(
            **kwargs, _request_auth=None, _content_type=None, _headers=None, _host_index=0
        )
    assert their_method == method
    assert url.split("?")[0] == "https://api.elections.kalshi.com" + V2 + path
    query = url.partition("?")[2]
    _check(rec, method, path, headers, query if method == "GET" else "")


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        ["/portfolio/fills", "/portfolio/orders", "/portfolio/settlements", "/portfolio/positions"]
    ),
    _tickers,
    _limits,
    st.floats(1.6e9, 2.0e9),
)
def test_kalshi_auth_strips_the_query(path: str, ticker: str, limit: int, now: float) -> None:
    auth = KalshiAuth.__new__(KalshiAuth)
    auth.key_id = API_KEY
    rec = RecordingKey(rsa_key())
    auth.private_key = rec  # type: ignore[assignment]
    query = urlencode({"ticker": ticker, "limit": limit})
    with pytest.MonkeyPatch.context() as mp:
        _pin_time(mp, now)
        headers = auth.create_auth_headers(
            "get", f"https://api.elections.kalshi.com{V2}{path}?{query}"
        )
    _check(rec, "GET", path, headers, query)


def test_recorder_sees_every_call(
    client: Any, recorder: RecordingKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shim really replaces the oracle's key loading (guards against a vacuous oracle)."""
    _pin_time(monkeypatch, 1703123456.789)
    _m, _u, headers, _b, _p = client._portfolio_api._get_balance_serialize(
        _request_auth=None, _content_type=None, _headers=None, _host_index=0
    )
    assert (
        recorder.calls
        and recorder.calls[0][0]
        == f"{headers['KALSHI-ACCESS-TIMESTAMP']}GET{V2}/portfolio/balance".encode()
    )
