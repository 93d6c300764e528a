"""Published known-answer vectors for Kraken and Binance (sources in README.md).

Each vector runs through the scheme function and end to end through
``VENUE.parse`` + ``VENUE.sign`` with a fixed clock. The vectors are copied
here with their sources; when ``shared/venues/test_vectors.json`` is beside the
repository the copy is checked against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest

from signer.domain import HttpRequest, Mode, Principal
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes.hmac import HmacSha256, HmacSha512, kraken_sign
from signer.venues import binance, kraken

SHARED = Path(__file__).resolve().parents[3] / "shared" / "venues" / "test_vectors.json"
LIVE = Principal("vector-client", Mode.LIVE)

KRAKEN = {
    "name": "spot_rest_addorder",
    "source": "https://docs.kraken.com/api/docs/guides/spot-rest-auth (Examples)",
    "secret": "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==",
    "nonce": "1616492376594",
    "uri_path": "/0/private/AddOrder",
    "postdata": "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
    "API-Sign": "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==",
}  # fmt: skip
_SOURCE = (
    "binance/binance-spot-api-docs rest-api.md @a5e0bc3, "
    "'SIGNED Endpoint Examples for POST /api/v3/order' -> HMAC Keys"
)
_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
_REST = "&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"  # fmt: skip
BINANCE = [
    {
        "name": "hmac_ascii",
        "source": _SOURCE,
        "payload": "symbol=LTCBTC" + _REST,
        "signature": "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
    },
    {
        "name": "hmac_non_ascii_percent_encoded",
        "source": _SOURCE,
        "payload": "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96" + _REST,
        "signature": "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3",
    },
]


class _Clock:
    def __init__(self, now_ms: int, nonce: int) -> None:
        self._now, self._nonce = now_ms, nonce

    def now_ms(self) -> int:
        return self._now

    def next_nonce(self, scope: str) -> int:
        return self._nonce


def _creds(venue: str, api_key: str, secret: str) -> VenueCredentials:
    return VenueCredentials(venue, api_key, Secret(secret), Secret(b""), {})


def test_copies_match_shared_vectors() -> None:
    shared = json.loads(SHARED.read_text())
    (k,) = shared["kraken"]
    assert k["input"] == {key: KRAKEN[key] for key in ("secret", "nonce", "uri_path", "postdata")}
    assert k["expected"]["API-Sign"] == KRAKEN["API-Sign"]
    published = [(v["name"], v["input"]["payload"], v["expected"]["signature"]) for v in shared["binance"]]  # fmt: skip
    assert published == [(v["name"], v["payload"], v["signature"]) for v in BINANCE]
    assert all(v["input"]["secretKey"] == _SECRET for v in shared["binance"])


# --- Kraken ----------------------------------------------------------------------------


def test_kraken_scheme() -> None:
    key = HmacSha512.from_base64_secret(Secret(KRAKEN["secret"]))
    got = kraken_sign(
        key, KRAKEN["uri_path"].encode(), KRAKEN["nonce"], KRAKEN["postdata"].encode()
    )
    assert got == KRAKEN["API-Sign"]


def test_kraken_end_to_end() -> None:
    body = KRAKEN["postdata"].split("&", 1)[1].encode()  # the caller sends no nonce
    parsed = kraken.VENUE.parse(LIVE, HttpRequest("POST", KRAKEN["uri_path"], body=body))
    assert parsed.intent.violations == ()
    clock = _Clock(now_ms=0, nonce=int(KRAKEN["nonce"]))
    signed = kraken.VENUE.sign(parsed, _creds("kraken", "key", KRAKEN["secret"]), clock)
    assert signed.request.body == KRAKEN["postdata"].encode()
    assert dict(signed.auth_headers)["API-Sign"] == KRAKEN["API-Sign"]


# --- Binance ---------------------------------------------------------------------------


@pytest.mark.parametrize("vector", BINANCE, ids=lambda v: v["name"])
def test_binance_scheme(vector: dict[str, str]) -> None:
    mac = HmacSha256(Secret(_SECRET))
    assert mac.hex(vector["payload"].encode()) == vector["signature"]


@pytest.mark.parametrize("vector", BINANCE, ids=lambda v: v["name"])
def test_binance_end_to_end(vector: dict[str, str]) -> None:
    # The caller sends the order parameters; the daemon stamps recvWindow and timestamp.
    params = vector["payload"].split("&recvWindow=")[0]
    request = HttpRequest("POST", "/api/v3/order", body=params.encode())
    parsed = binance.VENUE.parse(LIVE, request)
    assert parsed.intent.violations == ()  # the fullwidth-digit symbol is admitted (NFC, Nd)
    clock = _Clock(now_ms=1499827319559, nonce=0)
    signed = binance.VENUE.sign(parsed, _creds("binance", _API_KEY, _SECRET), clock)
    assert signed.request.body == f"{vector['payload']}&signature={vector['signature']}".encode()
    assert signed.auth_headers == (("X-MBX-APIKEY", _API_KEY),)


def test_binance_non_ascii_vector_symbol_is_fullwidth_digits() -> None:
    symbol = unquote_to_bytes(BINANCE[1]["payload"].split("&")[0].split("=")[1]).decode()
    assert symbol == "\uff11\uff12\uff13\uff14\uff15\uff16"
