"""Polymarket CLOB V2 (VENUES.md section 11).

Invariants (tests: tests/unit/venues/test_polymarket.py, tests/vectors/test_polymarket.py,
tests/security/test_expfail_polymarket.py):

1. Only the L2 endpoints of VENUES.md 11.4 below match (RFQ is not
   implemented, so it is denied by default). The ``/auth/*`` key endpoints
   match only ``GET /auth/derive-api-key`` and ``POST /auth/api-key``, and
   only when the venue was built with ``allow_key_provisioning=True``
   (ClobAuth L1 headers, nonce 0); by default they are not allowlisted. The
   daemon builds it so and leaves the decision to the policy document: such a
   request carries the feature ``polymarket.key-provisioning``, which the
   document grants only with ``key_provisioning = true`` (default false).
2. ``POST /order`` takes ``{"order": {...}, "owner", "orderType", "exchange",
   "chainId"?, "deferExec"?, "postOnly"?}``; ``POST /orders`` a JSON array of
   1-15 such objects. ``order`` holds exactly the V2 fields the SDK posts
   (py-clob-client-v2 ``order_to_json_v2``): ``salt`` (JSON integer),
   ``maker``, ``signer``, ``tokenId``/``makerAmount``/``takerAmount``/
   ``expiration`` (decimal strings), ``side`` ("BUY"/"SELL"),
   ``signatureType`` (0-3; 3 is POLY_1271), ``metadata``/
   ``builder`` (bytes32, default zero). ``timestamp`` and ``signature`` are
   stamped by the daemon; ``taker``/``nonce``/``feeRateBps`` (V1) are refused.
3. ``exchange`` (ours, not forwarded) picks the verifying contract: exactly
   the V2 CTF Exchange or the V2 Neg Risk exchange. The chain comes from the
   principal's mode (137 live, 80002 sandbox); an explicit ``chainId`` must
   agree. V1 exchanges, V3 and any other contract are violations. Each order
   names its exchange as a policy feature (``polymarket.exchange.ctf`` /
   ``.neg-risk``); the document's ``exchanges`` list grants them.
4. Checks that need the credentials run in ``sign()`` and raise
   ``PolicyDeniedError``: ``signer`` is the address of
   ``extra.signer_private_key`` and ``maker`` is the signer (type 0) or
   ``extra.proxy_address`` (types 1-2); for type 3 (POLY_1271) ``maker`` =
   ``signer`` = ``extra.proxy_address`` (the deposit wallet the key owns);
   ``owner`` is ``api_key``; ``builder``
   is zero or ``extra.builder`` and ``metadata`` is zero unless a builder is
   configured.
5. ``sign()`` stamps ``order.timestamp`` = ``clock.now_ms()``, signs the
   EIP-712 V2 order, inserts ``signature``, re-encodes the body as compact
   JSON and adds the L2 headers over exactly those bytes. GET signatures cover
   the path only (the query is not part of the L2 message).
6. Live host ``clob.polymarket.com``; sandbox (Amoy) needs ``sandbox_host``,
   otherwise sandbox principals get ``ModeMismatchError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from policy.intents import EndpointClass
from policy.venue_options import POLYMARKET_EXCHANGES, POLYMARKET_KEY_PROVISIONING
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import NoCredentialsError, PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.hmac import header_secret
from signer.schemes.polymarket import (
    CHAIN_AMOY,
    CHAIN_POLYGON,
    CTF_EXCHANGE_V2,
    EXCHANGES_V2,
    NEG_RISK_EXCHANGE_V2,
    POLY_1271,
    ZERO_BYTES32,
    L2Hmac,
    OrderV2,
    PolymarketSigner,
    extra_address,
    extra_bytes32,
    order_domain,
)
from signer.schemes.secp256k1 import InvalidAddressError, parse_address
from signer.venues import _params as P
from signer.venues._params import Kind, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "polymarket"
HOST = "clob.polymarket.com"
JSON = "application/json"
CHAIN_BY_MODE: Mapping[Mode, int] = {Mode.LIVE: CHAIN_POLYGON, Mode.SANDBOX: CHAIN_AMOY}
MAX_BATCH = 15
MAX_IDS = 500
STAMPED = frozenset({"timestamp", "signature", "nonce"})
_HOST_RE = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)


class Body(Enum):
    """How an endpoint carries its parameters."""

    QUERY = "query"  # GET (and DELETE /notifications): query only, no body
    NONE = "none"  # nothing at all
    OBJECT = "object"  # a JSON object checked with the endpoint schema
    IDS = "ids"  # a JSON array of order ids
    ORDER = "order"  # POST /order
    ORDERS = "orders"  # POST /orders


# --- value checks -----------------------------------------------------------------
_rx = re.compile
ORDER_ID = _rx(r"0x[0-9a-fA-F]{64}")
CONDITION_ID = _rx(r"0x[0-9a-fA-F]{64}")
BYTES32 = _rx(r"0x[0-9a-fA-F]{64}")
TOKEN_ID = _rx(r"[1-9][0-9]{0,77}")
CURSOR = _rx(r"[A-Za-z0-9+/=_-]{1,128}")
TIME_S = _rx(r"[0-9]{1,12}")
SALT = _rx(r"[1-9][0-9]{0,14}|0")  # < 2**53: a JSON integer every client keeps exact
EXPIRATION = _rx(r"0|[1-9][0-9]{0,11}")
API_KEY = _rx(r"[\x21-\x7e]{1,512}")
HEARTBEAT_ID = _rx(r"[A-Za-z0-9_-]{0,128}")
NOTIFICATION_IDS = _rx(r"[A-Za-z0-9_-]{1,64}(?:,[A-Za-z0-9_-]{1,64}){0,99}")
SIG_TYPE = frozenset({"0", "1", "2", "3"})
BOOL = frozenset({"true", "false"})
ORDER_TYPES = frozenset({"GTC", "GTD", "FOK", "FAK"})
_U256 = 1 << 256


def _address(value: object) -> list[str]:
    try:
        parse_address(value if isinstance(value, str) else "")
    except InvalidAddressError:
        return ["must be a 0x address (EIP-55 checksum if mixed case)"]
    return []


def _uint256(positive: bool) -> P.Validator:
    def check(value: object) -> list[str]:
        if not isinstance(value, str) or not TOKEN_ID.fullmatch(value) or int(value) >= _U256:
            return ["must be a decimal uint256 string" + (" above zero" if positive else "")]
        return []

    return check


def _schema(*params: P.Param, one_of: Sequence[tuple[str, ...]] = ()) -> Schema:
    return Schema(tuple(params), one_of=tuple(one_of), stamped=STAMPED)


ORDER_FIELDS = Schema(
    (
        param("salt", SALT, required=True, kind=Kind.INT),
        param("maker", _address, required=True),
        param("signer", _address, required=True),
        param("tokenId", _uint256(True), required=True),
        param("makerAmount", _uint256(True), required=True),
        param("takerAmount", _uint256(True), required=True),
        param("side", frozenset({"BUY", "SELL"}), required=True),
        param("expiration", EXPIRATION, required=True),
        param("signatureType", SIG_TYPE, required=True, kind=Kind.INT),
        param("metadata", BYTES32),
        param("builder", BYTES32),
    ),
    stamped=STAMPED,
)


def _order_object(value: object) -> list[str]:
    if not isinstance(value, dict):
        return ["order must be a JSON object"]
    return [f"order: {v}" for v in ORDER_FIELDS.validate(list(value.items()))]


POST_ORDER = _schema(
    param("order", _order_object, required=True, kind=Kind.OBJECT),
    param("owner", API_KEY, required=True),
    param("orderType", ORDER_TYPES, required=True),
    param("exchange", _address, required=True),
    param("chainId", _rx(r"137|80002"), kind=Kind.INT),
    param("deferExec", BOOL, kind=Kind.BOOL),
    param("postOnly", BOOL, kind=Kind.BOOL),
)
_MARKET = (param("market", CONDITION_ID), param("asset_id", TOKEN_ID))
_ORDERS_QUERY = (param("id", ORDER_ID), *_MARKET, param("next_cursor", CURSOR))
_BALANCE = (
    param("asset_type", frozenset({"COLLATERAL", "CONDITIONAL"}), required=True),
    param("token_id", TOKEN_ID),
    param("signature_type", SIG_TYPE),
)
EMPTY = _schema()

# (method, path) -> (class, body kind, schema)
TABLE: Mapping[str, tuple[EndpointClass, Body, Schema]] = {
    "POST /order": (EndpointClass.TRADE, Body.ORDER, POST_ORDER),
    "POST /orders": (EndpointClass.TRADE, Body.ORDERS, POST_ORDER),
    "POST /v1/heartbeats": (
        EndpointClass.TRADE,
        Body.OBJECT,
        _schema(param("heartbeat_id", HEARTBEAT_ID)),
    ),
    "DELETE /order": (
        EndpointClass.CANCEL,
        Body.OBJECT,
        _schema(param("orderID", ORDER_ID, required=True)),
    ),
    "DELETE /orders": (EndpointClass.CANCEL, Body.IDS, EMPTY),
    "DELETE /cancel-all": (EndpointClass.CANCEL, Body.NONE, EMPTY),
    "DELETE /cancel-market-orders": (
        EndpointClass.CANCEL,
        Body.OBJECT,
        _schema(*_MARKET, one_of=(("market", "asset_id"),)),
    ),
    "GET /data/orders": (EndpointClass.READ, Body.QUERY, _schema(*_ORDERS_QUERY)),
    "GET /data/order/{order_id}": (EndpointClass.READ, Body.QUERY, EMPTY),
    "GET /data/trades": (
        EndpointClass.READ,
        Body.QUERY,
        _schema(
            param("id", _rx(r"[A-Za-z0-9_-]{1,128}")),
            param("maker_address", _address),
            *_MARKET,
            param("before", TIME_S),
            param("after", TIME_S),
            param("next_cursor", CURSOR),
        ),
    ),
    "GET /data/pre-migration-orders": (EndpointClass.READ, Body.QUERY, _schema(*_ORDERS_QUERY)),
    "GET /balance-allowance": (EndpointClass.READ, Body.QUERY, _schema(*_BALANCE)),
    "GET /balance-allowance/update": (EndpointClass.READ, Body.QUERY, _schema(*_BALANCE)),
    "GET /order-scoring": (
        EndpointClass.READ,
        Body.QUERY,
        _schema(param("order_id", ORDER_ID, required=True)),
    ),
    "POST /orders-scoring": (EndpointClass.READ, Body.IDS, EMPTY),
    "GET /notifications": (
        EndpointClass.READ,
        Body.QUERY,
        _schema(param("signature_type", SIG_TYPE)),
    ),
    "DELETE /notifications": (
        EndpointClass.READ,
        Body.QUERY,
        _schema(param("ids", NOTIFICATION_IDS, required=True)),
    ),
}
# SECURITY: key provisioning (ClobAuth L1); matched only with allow_key_provisioning.
AUTH_TABLE: Mapping[str, tuple[EndpointClass, Body, Schema]] = {
    "GET /auth/derive-api-key": (EndpointClass.TRADE, Body.NONE, EMPTY),
    "POST /auth/api-key": (EndpointClass.TRADE, Body.NONE, EMPTY),
}


def _endpoints(table: Mapping[str, tuple[EndpointClass, Body, Schema]]) -> tuple[Endpoint, ...]:
    return tuple(
        Endpoint(key.split(" ", 1)[0], key.split(" ", 1)[1], cls)
        for key, (cls, _, _) in table.items()
    )


ENDPOINTS = _endpoints(TABLE)
AUTH_ENDPOINTS = _endpoints(AUTH_TABLE)


@dataclass(frozen=True, slots=True)
class PolymarketDetail:
    """What ``sign()`` needs: the validated parameters and the chain."""

    key: str
    method: str
    path: str
    kind: Body
    query: tuple[tuple[str, str], ...]
    body: object
    chain_id: int
    passthrough: tuple[tuple[str, str], ...]


def _order_rules(item: Mapping[str, object], chain_id: int, where: str) -> list[str]:
    """Cross-field rules of one order request (schema already checked).

    SECURITY: ``Kind.INT``/``Kind.BOOL`` params also admit their text form
    ("0", "false"); JSON types are pinned here so the posted body carries
    exactly the types the SDK sends.
    """
    out: list[str] = []
    for name, want in (("chainId", int), ("deferExec", bool), ("postOnly", bool)):
        if name in item and type(item[name]) is not want:
            out.append(f"{where}parameter {name!r} must be a JSON {want.__name__}")
    exchange = item.get("exchange")
    if (
        isinstance(exchange, str)
        and not _address(exchange)
        and parse_address(exchange) not in {parse_address(a) for a in EXCHANGES_V2}
    ):
        out.append(f"{where}exchange must be the V2 CTF Exchange or the V2 Neg Risk exchange")
    if "chainId" in item and item["chainId"] != chain_id:
        out.append(f"{where}chainId does not match the principal's mode ({chain_id})")
    order = item.get("order")
    if not isinstance(order, dict):
        return out
    for name in ("salt", "signatureType"):
        if name in order and type(order[name]) is not int:
            out.append(f"{where}order: parameter {name!r} must be a JSON integer")
    kind = order.get("signatureType")
    maker, signer = order.get("maker"), order.get("signer")
    if (
        isinstance(maker, str)
        and isinstance(signer, str)
        and not (_address(maker) + _address(signer))
    ):
        same = parse_address(maker) == parse_address(signer)
        if kind == 0 and not same:
            out.append(f"{where}order.maker must equal order.signer for signatureType 0")
        if kind in (1, 2) and same:
            out.append(f"{where}order.maker must be the proxy/safe funder for signatureType 1-2")
        if kind == POLY_1271 and not same:
            out.append(
                f"{where}order.maker must equal order.signer (the deposit wallet) for type 3"
            )
    order_type, expiration = item.get("orderType"), order.get("expiration")
    if order_type == "GTD" and expiration == "0":
        out.append(f"{where}GTD orders need a non-zero order.expiration")
    if order_type in ("GTC", "FOK", "FAK") and expiration not in (None, "0"):
        out.append(f"{where}only GTD orders may carry an order.expiration")
    if item.get("postOnly") is True and order_type in ("FOK", "FAK"):
        out.append(f"{where}postOnly is only valid with GTC or GTD")
    return out


def _order_request(item: object, chain_id: int, where: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"{where}must be a JSON object"]
    out = [f"{where}{v}" for v in POST_ORDER.validate(list(item.items()))]
    return out + _order_rules(item, chain_id, where)


def _ids(value: object) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_IDS:
        return [f"request.body must be a JSON array of 1 to {MAX_IDS} order ids"]
    if not all(isinstance(v, str) and ORDER_ID.fullmatch(v) for v in value):
        return ["request.body: every order id must be 0x followed by 64 hex digits"]
    if len(set(value)) != len(value):
        return ["request.body: an order id appears more than once"]
    return []


def _body_violations(kind: Body, schema: Schema, body: object, chain_id: int) -> list[str]:
    if kind is Body.ORDER:
        return _order_request(body, chain_id, "")
    if kind is Body.ORDERS:
        if not isinstance(body, list) or not 1 <= len(body) <= MAX_BATCH:
            return [f"request.body must be a JSON array of 1 to {MAX_BATCH} orders"]
        return [v for i, item in enumerate(body) for v in _order_request(item, chain_id, f"[{i}] ")]
    if kind is Body.IDS:
        return _ids(body)
    if not isinstance(body, dict):
        return ["this endpoint takes a JSON object body"]
    return schema.validate(list(body.items()))


_EXCHANGE_FEATURES = {
    parse_address(CTF_EXCHANGE_V2): POLYMARKET_EXCHANGES["ctf"],
    parse_address(NEG_RISK_EXCHANGE_V2): POLYMARKET_EXCHANGES["neg-risk"],
}


def _features(key: str, kind: Body, body: object) -> tuple[str, ...]:
    """The policy features this request uses (``policy.venue_options``).

    SECURITY: the document must grant each one: key provisioning, and the
    exchange every order in the body is signed for.
    """
    if key in AUTH_TABLE:
        return (POLYMARKET_KEY_PROVISIONING,)
    items = [body] if kind is Body.ORDER else body if kind is Body.ORDERS else []
    found = set()
    for item in items if isinstance(items, list) else []:
        exchange = item.get("exchange") if isinstance(item, dict) else None
        if isinstance(exchange, str) and not _address(exchange):
            feature = _EXCHANGE_FEATURES.get(parse_address(exchange))
            if feature is not None:
                found.add(feature)
    return tuple(sorted(found))


class PolymarketVenue:
    """The Polymarket CLOB V2 venue (see the module docstring).

    Args:
        sandbox_host: the CLOB host sandbox (Amoy, chain 80002) principals sign
            for; None (default) refuses sandbox principals.
        allow_key_provisioning: allowlist ``GET /auth/derive-api-key`` and
            ``POST /auth/api-key`` (ClobAuth L1). SECURITY: a ClobAuth signature
            yields the account's L2 credentials; off by default.
    """

    name = NAME

    def __init__(
        self, sandbox_host: str | None = None, *, allow_key_provisioning: bool = False
    ) -> None:
        if sandbox_host is not None and (
            not _HOST_RE.fullmatch(sandbox_host) or sandbox_host == HOST
        ):
            raise ValueError("sandbox_host must be a lower-case DNS name other than the live host")
        self.hosts: dict[Mode, str | None] = {Mode.LIVE: HOST, Mode.SANDBOX: sandbox_host}
        self.allow_key_provisioning = allow_key_provisioning
        self._table = {**TABLE, **(AUTH_TABLE if allow_key_provisioning else {})}
        self._endpoints = ENDPOINTS + (AUTH_ENDPOINTS if allow_key_provisioning else ())

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        """Strictly parse ``request`` into an intent (``Venue.parse``)."""
        method, path = P.check_method(request.method), P.check_path(request.path)
        host = P.resolve_host(NAME, self.hosts, principal.mode, request.host)
        headers = P.check_headers(request.headers)
        violations = list(headers.violations)
        query = P.parse_form(request.query, where="request.query")
        violations += P.duplicate_violations((k for k, _ in query), "request.query")
        endpoint = next(
            (e for e in self._endpoints if e.method == method and P.match_template(path, e.path)),
            None,
        )
        if endpoint is None:
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, violations), host, None
            )
        _, kind, schema = self._table[endpoint.key]
        chain_id = CHAIN_BY_MODE[principal.mode]
        body: object = None
        if kind in (Body.QUERY, Body.NONE):
            if request.body:
                violations.append("this endpoint takes no request body")
            if kind is Body.NONE and query:
                violations.append("this endpoint takes no query parameters")
            if kind is Body.QUERY:
                violations += schema.validate(query)
        else:
            if query:
                violations.append("this endpoint takes a JSON body; request.query must be empty")
            violations += P.content_type_violations(headers.content_type, JSON)
            body, duplicates = P.parse_json_body(request.body)
            violations += duplicates
            violations += _body_violations(kind, schema, body, chain_id)
            if b"'" in request.body:
                # SECURITY: the reference client HMACs the body with ' replaced by
                # "; which bytes the venue verifies is unknown, so refuse the case.
                violations.append("request.body must not contain an apostrophe (')")
        detail = PolymarketDetail(
            endpoint.key, method, path, kind, query, body, chain_id, headers.passthrough
        )
        matched = (endpoint.key, endpoint.endpoint_class)
        intent = P.make_intent(principal, NAME, request, matched, violations)
        features = _features(endpoint.key, kind, body)
        return ParsedRequest(replace(intent, features=features), host, detail)

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp, sign orders and add L2 (or ClobAuth L1) headers (``Venue.sign``)."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, PolymarketDetail)
            or detail.key not in self._table
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        key_secret = creds.extra.get("signer_private_key")
        if key_secret is None:
            raise PolicyDeniedError("polymarket credentials carry no signer key")
        signer = creds.derived(
            "polymarket:signer", lambda: PolymarketSigner.from_secret(key_secret)
        )
        now = clock.now_ms()
        timestamp = str(now // 1000)
        query = P.encode_form(detail.query) if detail.query else ""
        if detail.key in AUTH_TABLE:
            auth: tuple[tuple[str, str], ...] = (
                ("POLY_ADDRESS", signer.address),
                ("POLY_SIGNATURE", signer.sign_clob_auth(detail.chain_id, timestamp, 0)),
                ("POLY_TIMESTAMP", timestamp),
                ("POLY_NONCE", "0"),
            )
            text = ""
        else:
            if not creds.api_key:
                # The trading wallet alone has no L2 key: derive one (ClobAuth) and
                # store it, or store the account's L2 credentials.
                raise NoCredentialsError(
                    "no Polymarket L2 API credentials are stored for this principal"
                )
            api_key = P.header_safe_api_key(creds.api_key)
            if detail.kind is Body.ORDER:
                text = P.canonical_json(self._signed_order(detail.body, detail, creds, signer, now))
            elif detail.kind is Body.ORDERS:
                assert isinstance(detail.body, list)
                items = [self._signed_order(i, detail, creds, signer, now) for i in detail.body]
                text = P.canonical_json(items)
            elif detail.kind in (Body.OBJECT, Body.IDS):
                text = P.canonical_json(detail.body)
            else:
                text = ""
            mac = creds.derived("polymarket:l2-hmac", lambda: L2Hmac(creds.secret))
            passphrase = creds.derived(
                "polymarket:passphrase", lambda: header_secret(creds.passphrase)
            )
            auth = (
                ("POLY_ADDRESS", signer.address),
                ("POLY_SIGNATURE", mac.sign(timestamp, detail.method, detail.path, text)),
                ("POLY_TIMESTAMP", timestamp),
                ("POLY_API_KEY", api_key),
                ("POLY_PASSPHRASE", passphrase),
            )
        headers = [*auth]
        if text:
            headers.append(("Content-Type", JSON))
        headers += detail.passthrough
        request = HttpRequest(
            detail.method, detail.path, query, text.encode("ascii"), tuple(headers), parsed.host
        )
        return SignedRequest(request=request, auth_headers=auth)

    @staticmethod
    def _signed_order(
        item: object,
        detail: PolymarketDetail,
        creds: VenueCredentials,
        signer: PolymarketSigner,
        now_ms: int,
    ) -> dict[str, object]:
        """The posted form of one order request, signed (invariants 4 and 5)."""
        if not isinstance(item, dict) or not isinstance(item.get("order"), dict):
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        order: dict[str, object] = item["order"]
        if item["owner"] != creds.api_key:
            raise PolicyDeniedError("owner is not this account's L2 API key")
        maker, order_signer = str(order["maker"]), str(order["signer"])
        kind = order["signatureType"]
        if kind == POLY_1271:
            # SECURITY: the key signs only for the deposit wallet stored with it.
            wallet = creds.extra.get("proxy_address")
            if wallet is None:
                raise PolicyDeniedError("signatureType 3 needs a configured proxy_address")
            if not parse_address(maker) == parse_address(order_signer) == extra_address(wallet):
                raise PolicyDeniedError("order.maker/signer is not this account's deposit wallet")
        elif parse_address(order_signer) != parse_address(signer.address):
            raise PolicyDeniedError("order.signer is not the address of this account's key")
        if kind in (1, 2):
            proxy = creds.extra.get("proxy_address")
            if proxy is None:
                raise PolicyDeniedError("signatureType 1-2 needs a configured proxy_address")
            if parse_address(maker) != extra_address(proxy):
                raise PolicyDeniedError("order.maker is not this account's proxy/safe funder")
        elif kind == 0 and parse_address(maker) != parse_address(signer.address):
            raise PolicyDeniedError("order.maker must be the signer for signatureType 0")
        builder = str(order.get("builder", ZERO_BYTES32)).lower()
        metadata = str(order.get("metadata", ZERO_BYTES32)).lower()
        allowed = creds.extra.get("builder")
        allowed_text = extra_bytes32(allowed) if allowed is not None else None
        if builder != ZERO_BYTES32 and builder != allowed_text:
            raise PolicyDeniedError("order.builder is not this account's allowed builder code")
        if metadata != ZERO_BYTES32 and allowed_text is None:
            raise PolicyDeniedError("order.metadata must be zero without a configured builder")
        exchange = str(item["exchange"])
        domain = order_domain(detail.chain_id, exchange)
        signed = OrderV2(
            salt=int(str(order["salt"])),
            maker=maker,
            signer=order_signer,
            token_id=int(str(order["tokenId"])),
            maker_amount=int(str(order["makerAmount"])),
            taker_amount=int(str(order["takerAmount"])),
            side=0 if order["side"] == "BUY" else 1,
            signature_type=int(str(kind)),
            timestamp=now_ms,
            metadata=metadata,
            builder=builder,
        )
        posted_order: dict[str, object] = {
            "salt": signed.salt,
            "maker": maker,
            "signer": order_signer,
            "tokenId": order["tokenId"],
            "makerAmount": order["makerAmount"],
            "takerAmount": order["takerAmount"],
            "side": order["side"],
            "expiration": order["expiration"],
            "signatureType": signed.signature_type,
            "timestamp": str(now_ms),
            "metadata": metadata,
            "builder": builder,
            "signature": (
                signer.sign_order_1271(signed, domain)
                if kind == POLY_1271
                else signer.sign_order(signed, domain)
            ),
        }
        out: dict[str, object] = {
            "order": posted_order,
            "owner": item["owner"],
            "orderType": item["orderType"],
            "deferExec": item.get("deferExec", False),
        }
        if "postOnly" in item:
            out["postOnly"] = item["postOnly"]
        return out


VENUE = PolymarketVenue()
