"""Published known-answer vectors for BitMart (sources in README.md).

Both published vectors (REST POST and WebSocket login) run through the scheme
(``MemoHmacSha256``). The REST vector's body is a v1-style order
(``{"symbol","price","count"}``): ``/spot/v2/submit_order``'s strict schema
refuses it (``count`` is unknown, ``side``/``type`` are required), so it cannot
go through ``VENUE.parse``. It is therefore also run through ``VENUE.sign()``
from a hand-built parse result carrying exactly that body, with a fixed clock,
which checks the header assembly and that the signed bytes are the bytes sent;
and ``parse`` is shown to refuse it. The copies are checked against
``shared/venues/test_vectors.json`` when it is beside the repository.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from policy.intents import EndpointClass, VenueRequestIntent
from signer.domain import HttpRequest, Mode, Principal
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes.memo_hmac import MemoHmacSha256
from signer.venues import bitmart
from signer.venues.base import ParsedRequest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "venues" / "test_vectors.json"
LIVE = Principal("vector-client", Mode.LIVE)
_SOURCE_REST = "BitMart spot API docs, Basic Information > Signature > Example (developer-pro.bitmart.com/en/spot/#signature)"  # fmt: skip
_SOURCE_WS = "BitMart spot WebSocket docs, Login example"
ACCESS_KEY = "80618e45710812162b04892c7ee5ead4a3cc3e56"
SECRET = "6c6c98544461bbe71db2bca4c6d7fd0021e0ba9efc215f9c6ad41852df9d9df9"
MEMO = "test001"
VECTORS = [
    {
        "name": "rest_post",
        "source": _SOURCE_REST,
        "timestamp": "1589793796145",
        "payload": '{"symbol":"BTC_USDT","price":"8600","count":"100"}',
        "X-BM-SIGN": "c31dc326bf87f38bfb49a3f8494961abfa291bd549d0d98d9578e87516cee46d",
    },
    {
        "name": "websocket_login",
        "source": _SOURCE_WS,
        "timestamp": "1589267764859",
        "payload": "bitmart.WebSocket",
        "X-BM-SIGN": "3ceeb7e1b8cb165a975e28a2e2dfaca4d30b358873c0351c1a071d8c83314556",
    },
]
REST = VECTORS[0]


class _Clock:
    def __init__(self, now_ms: int) -> None:
        self._now = now_ms

    def now_ms(self) -> int:
        return self._now

    def next_nonce(self, scope: str) -> int:
        raise AssertionError("BitMart uses no nonce")


def _creds() -> VenueCredentials:
    return VenueCredentials("bitmart", ACCESS_KEY, Secret(SECRET), Secret(MEMO), {})


def test_copies_match_shared_vectors() -> None:
    shared = json.loads(SHARED.read_text())["bitmart"]
    assert [v["name"] for v in shared] == [v["name"] for v in VECTORS]
    for published, copy in zip(shared, VECTORS, strict=True):
        assert published["source"] == copy["source"]
        assert published["input"] == {
            "accessKey": ACCESS_KEY,
            "secret": SECRET,
            "memo": MEMO,
            "prehash": f"{copy['timestamp']}#{MEMO}#{copy['payload']}",
        }
        assert published["expected"] == {"X-BM-SIGN": copy["X-BM-SIGN"]}


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_scheme(vector: dict[str, str]) -> None:
    signer = MemoHmacSha256(Secret(SECRET), Secret(MEMO))
    assert signer.sign_hex(vector["timestamp"], vector["payload"].encode()) == vector["X-BM-SIGN"]


def test_rest_vector_through_venue_sign() -> None:
    body = json.loads(REST["payload"])
    intent = VenueRequestIntent(
        client_id=LIVE.client_id, mode="live", venue="bitmart", method="POST",
        path="/spot/v2/submit_order", endpoint="POST /spot/v2/submit_order",
        endpoint_class=EndpointClass.TRADE,
    )  # fmt: skip
    detail = bitmart.BitMartDetail("POST", "/spot/v2/submit_order", tuple(body.items()), ())
    parsed = ParsedRequest(intent, "api-cloud.bitmart.com", detail)
    signed = bitmart.VENUE.sign(parsed, _creds(), _Clock(int(REST["timestamp"])))
    assert signed.request == HttpRequest(
        "POST",
        "/spot/v2/submit_order",
        "",
        REST["payload"].encode(),
        (
            ("X-BM-KEY", ACCESS_KEY),
            ("X-BM-TIMESTAMP", REST["timestamp"]),
            ("X-BM-SIGN", REST["X-BM-SIGN"]),
            ("Content-Type", "application/json"),
        ),
        "api-cloud.bitmart.com",
    )


def test_rest_vector_body_is_refused_by_the_v2_schema() -> None:
    request = HttpRequest("POST", "/spot/v2/submit_order", body=REST["payload"].encode())
    violations = bitmart.VENUE.parse(LIVE, request).intent.violations
    assert violations == (
        "parameter 'count' is not allowed on this endpoint",
        "parameter 'side' is required",
        "parameter 'type' is required",
    )


def test_v2_body_end_to_end_with_the_vector_credentials() -> None:
    # Not a published vector: the same key, memo and clock on a v2-style body,
    # checked against the published formula (timestamp#memo#body).
    body = b'{"symbol":"BTC_USDT","side":"buy","type":"limit","price":"8600","size":"100"}'
    parsed = bitmart.VENUE.parse(LIVE, HttpRequest("POST", "/spot/v2/submit_order", body=body))
    assert parsed.intent.violations == ()
    signed = bitmart.VENUE.sign(parsed, _creds(), _Clock(int(REST["timestamp"])))
    prehash = f"{REST['timestamp']}#{MEMO}#".encode() + body
    expected = hmac.new(SECRET.encode(), prehash, hashlib.sha256).hexdigest()
    assert signed.request.body == body
    assert dict(signed.auth_headers)["X-BM-SIGN"] == expected
