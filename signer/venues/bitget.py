"""Bitget v2 spot REST (VENUES.md section 4).

Invariants (tests: tests/unit/venues/test_bitget.py, tests/security/test_expfail_bitget.py):

1. Only the 19 ``/api/v2/spot`` endpoints of venue_endpoints.json's bitget allow
   list match (exact method and path); wallet, convert, user, broker, v1 and
   v3 (UTA) paths do not.
2. Every endpoint has a strict schema from Bitget's API reference
   (https://www.bitget.com/api-doc/spot/trade/Place-Order and the sibling
   "Spot > Trade", "Spot > Plan" and "Spot > Account" pages): unknown,
   duplicate or mistyped parameters are violations, ``orderList`` items are
   checked with their own schema, and no trade schema can admit a
   withdrawal/transfer name (``Schema`` refuses to be built with one).
   Bitget's withdrawal body reuses ``size`` and ``clientOid``, so the withdraw
   set is caught by ``coin``/``address``/``chain``/``transferType`` and by the
   missing order fields.
3. GET parameters come in the query only, POST parameters in a JSON object
   body only. Query values must be unreserved characters: Bitget verifies the
   signature over the decoded query while the URL carries the encoded one
   (ccxt signs the raw values for that reason), so only values whose encoding
   is the identity are unambiguous.
4. ``requestTime``/``receiveWindow`` are Bitget's freshness fields. Where the
   docs list them (place-order, orderInfo, unfilled-orders, history-orders) the
   daemon appends them itself (``requestTime`` = ``ACCESS-TIMESTAMP``,
   ``receiveWindow`` from the constructor, default 5000 ms, at most 60000);
   a caller who sends them commits a violation on every endpoint.
5. ``sign()`` signs ``timestamp + METHOD + requestPath + ("?" + query) + body``
   (HMAC-SHA256, base64) over the re-encoded query (caller's order) or the
   compact JSON body (caller's key order). HMAC keys only: the credential
   validator refuses Bitget RSA keys for now.
6. Sandbox principals get the same host with ``paptrading: 1`` (demo
   trading); live requests never carry it, and callers cannot send it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.hmac import HmacSha256, header_secret
from signer.venues import _params as P
from signer.venues._params import Kind, Param, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "bitget"
HOST = "api.bitget.com"
HOSTS: dict[Mode, str | None] = {Mode.LIVE: HOST, Mode.SANDBOX: HOST}
JSON = "application/json"
LOCALE = "en-US"
STAMPED = frozenset({"requestTime", "receiveWindow", "timestamp", "sign"})
# SECURITY: names from Bitget's withdrawal, transfer, sub-transfer and convert
# bodies. ``coin`` is a filter on the account reads, which admit it.
_MOVES = frozenset({
    "address", "chain", "transferType", "innerToType", "areaCode", "tag", "memberCode",
    "identityType", "companyName", "firstName", "lastName", "fromType", "toType", "amount",
    "fromUserId", "toUserId", "network", "destination", "toAccountType", "withdrawOrderId",
    "fromCoin", "toCoin", "fromCoinSize", "toCoinSize", "traceId", "coinList", "remark",
})  # fmt: skip
FORBIDDEN = _MOVES | {"coin"}

# --- value checks -----------------------------------------------------------------
_rx = re.compile
SYMBOL = _rx(r"[A-Z0-9]{2,30}")
COIN = _rx(r"[A-Z0-9]{1,16}")
DEC = _rx(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
ID = _rx(r"[0-9]{1,24}")
CLIENT_OID = _rx(r"[A-Za-z0-9_.-]{1,50}")
TIME_MS = _rx(r"[0-9]{1,16}")
LIMIT = _rx(r"100|[1-9][0-9]?")
SIDE = frozenset({"buy", "sell"})
ORDER_TYPE = frozenset({"limit", "market"})
FORCE = frozenset({"gtc", "post_only", "fok", "ioc"})
STP_MODE = frozenset({"none", "cancel_taker", "cancel_maker", "cancel_both"})
TPSL_TYPE = frozenset({"normal", "tpsl"})
BATCH_MODE = frozenset({"single", "multiple"})
GROUP_TYPE = frozenset({
    "deposit", "withdraw", "transaction", "transfer", "loan", "financial", "fait", "convert",
    "c2c", "pre_c2c", "on_chain", "strategy", "other",
})  # fmt: skip
BUSINESS_TYPE = _rx(r"[A-Za-z_]{1,40}")


def _schema(
    *params: Param,
    one_of: Sequence[tuple[str, ...]] = (),
    forbidden: frozenset[str] = FORBIDDEN,
) -> Schema:
    return Schema(tuple(params), one_of=tuple(one_of), stamped=STAMPED, forbidden=forbidden)


def _objects(name: str, schema: Schema, most: int) -> P.Validator:
    """A JSON array of 1..``most`` objects, each checked with ``schema``."""

    def check(value: object) -> list[str]:
        if not isinstance(value, list) or not 1 <= len(value) <= most:
            return [f"{name} must be a JSON array of 1 to {most} objects"]
        out: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                out.append(f"{name}[{index}] must be a JSON object")
                continue
            out.extend(f"{name}[{index}]: {v}" for v in schema.validate(list(item.items())))
        return out

    return check


def _symbols(value: object) -> list[str]:
    ok = isinstance(value, list) and 1 <= len(value) <= 50
    for item in value if isinstance(value, list) else ():
        ok = ok and isinstance(item, str) and bool(SYMBOL.fullmatch(item))
    return [] if ok else ["parameter 'symbolList' must be a JSON array of 1 to 50 symbols"]


def _list(name: str, schema: Schema, most: int) -> Param:
    return param(name, _objects(name, schema, most), kind=Kind.LIST)


ORDER_REF = (param("orderId", ID), param("clientOid", CLIENT_OID))
ONE_REF = (("orderId", "clientOid"),)
PRESET = (
    param("presetTakeProfitPrice", DEC), param("executeTakeProfitPrice", DEC),
    param("presetStopLossPrice", DEC), param("executeStopLossPrice", DEC),
)  # fmt: skip
ORDER_CORE = (
    param("side", SIDE, required=True), param("orderType", ORDER_TYPE, required=True),
    param("force", FORCE, required=True), param("price", DEC), param("size", DEC, required=True),
    param("clientOid", CLIENT_OID), param("stpMode", STP_MODE), *PRESET,
)  # fmt: skip
BATCH_ITEM = _schema(param("symbol", SYMBOL), *ORDER_CORE)
CANCEL_ITEM = _schema(param("symbol", SYMBOL), *ORDER_REF, one_of=ONE_REF)
PAGE = (param("idLessThan", ID), param("limit", LIMIT))
RANGE = (param("startTime", TIME_MS), param("endTime", TIME_MS))
ORDER_LIST_READ = (
    param("symbol", SYMBOL),
    *RANGE,
    *PAGE,
    param("orderId", ID),
    param("tpslType", TPSL_TYPE),
)

SCHEMAS: Mapping[str, Schema] = {
    "POST /api/v2/spot/trade/place-order": _schema(
        param("symbol", SYMBOL, required=True), *ORDER_CORE, param("triggerPrice", DEC),
        param("tpslType", TPSL_TYPE),
    ),
    "POST /api/v2/spot/trade/cancel-order": _schema(
        param("symbol", SYMBOL, required=True), *ORDER_REF, param("tpslType", TPSL_TYPE),
        one_of=ONE_REF,
    ),
    "POST /api/v2/spot/trade/batch-orders": _schema(
        param("symbol", SYMBOL), param("batchMode", BATCH_MODE),
        param("orderList", _objects("orderList", BATCH_ITEM, 50), required=True, kind=Kind.LIST),
    ),
    "POST /api/v2/spot/trade/batch-cancel-order": _schema(
        param("symbol", SYMBOL), param("batchMode", BATCH_MODE),
        param("orderList", _objects("orderList", CANCEL_ITEM, 50), required=True, kind=Kind.LIST),
    ),
    "POST /api/v2/spot/trade/cancel-symbol-order": _schema(param("symbol", SYMBOL, required=True)),
    "POST /api/v2/spot/trade/cancel-replace-order": _schema(
        param("symbol", SYMBOL, required=True), param("price", DEC, required=True),
        param("size", DEC, required=True), *ORDER_REF, param("newClientOid", CLIENT_OID),
        *PRESET, one_of=ONE_REF,
    ),
    "POST /api/v2/spot/trade/place-plan-order": _schema(
        param("symbol", SYMBOL, required=True), param("side", SIDE, required=True),
        param("triggerPrice", DEC, required=True),
        param("orderType", ORDER_TYPE, required=True), param("executePrice", DEC),
        param("planType", frozenset({"amount", "total"})), param("size", DEC, required=True),
        param("triggerType", frozenset({"fill_price", "mark_price"}), required=True),
        param("clientOid", CLIENT_OID), param("force", FORCE), param("stpMode", STP_MODE),
    ),
    "POST /api/v2/spot/trade/modify-plan-order": _schema(
        *ORDER_REF, param("triggerPrice", DEC, required=True),
        param("orderType", ORDER_TYPE, required=True), param("executePrice", DEC),
        param("size", DEC, required=True), one_of=ONE_REF,
    ),
    "POST /api/v2/spot/trade/cancel-plan-order": _schema(*ORDER_REF, one_of=ONE_REF),
    "POST /api/v2/spot/trade/batch-cancel-plan-order": _schema(
        param("symbolList", _symbols, kind=Kind.LIST)
    ),
    "GET /api/v2/spot/trade/orderInfo": _schema(*ORDER_REF, one_of=ONE_REF),
    "GET /api/v2/spot/trade/unfilled-orders": _schema(*ORDER_LIST_READ),
    "GET /api/v2/spot/trade/history-orders": _schema(*ORDER_LIST_READ),
    "GET /api/v2/spot/trade/fills": _schema(
        param("symbol", SYMBOL, required=True), param("orderId", ID), *RANGE, *PAGE
    ),
    "GET /api/v2/spot/trade/current-plan-order": _schema(
        param("symbol", SYMBOL, required=True), *RANGE, *PAGE
    ),
    "GET /api/v2/spot/trade/history-plan-order": _schema(
        param("symbol", SYMBOL, required=True), param("startTime", TIME_MS, required=True),
        param("endTime", TIME_MS, required=True), *PAGE,
    ),
    "GET /api/v2/spot/account/info": _schema(),
    "GET /api/v2/spot/account/assets": _schema(
        param("coin", COIN), param("assetType", frozenset({"hold_only", "all"})),
        forbidden=_MOVES,
    ),
    "GET /api/v2/spot/account/bills": _schema(
        param("coin", COIN), param("groupType", GROUP_TYPE),
        param("businessType", BUSINESS_TYPE), *RANGE, *PAGE, forbidden=_MOVES,
    ),
}  # fmt: skip
# Endpoints whose docs list requestTime/receiveWindow: the daemon stamps them.
RECEIVE_WINDOW = frozenset({
    "POST /api/v2/spot/trade/place-order", "GET /api/v2/spot/trade/orderInfo",
    "GET /api/v2/spot/trade/unfilled-orders", "GET /api/v2/spot/trade/history-orders",
})  # fmt: skip
_CANCELS = ("cancel-order", "batch-cancel-order", "cancel-symbol-order", "cancel-plan-order",
            "batch-cancel-plan-order")  # fmt: skip


def _endpoint_class(key: str) -> EndpointClass:
    method, path = key.split(" ", 1)
    if method == "GET":
        return EndpointClass.READ
    return EndpointClass.CANCEL if path.rsplit("/", 1)[1] in _CANCELS else EndpointClass.TRADE


ENDPOINTS: tuple[Endpoint, ...] = tuple(
    Endpoint(key.split(" ", 1)[0], key.split(" ", 1)[1], _endpoint_class(key)) for key in SCHEMAS
)


@dataclass(frozen=True, slots=True)
class BitgetDetail:
    """What ``sign()`` needs: the validated query pairs or JSON body, and the mode."""

    key: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: dict[str, object] | None
    demo: bool
    passthrough: tuple[tuple[str, str], ...]


def prehash(timestamp: str, method: str, request_path: str, query: str, body: str) -> bytes:
    """The bytes Bitget signs: ``timestamp + METHOD + requestPath + ["?" + query] + body``."""
    return (timestamp + method + request_path + (f"?{query}" if query else "") + body).encode(
        "ascii"
    )


def _query_violations(query: Sequence[tuple[str, str]]) -> list[str]:
    return [
        f"parameter {P.describe(k)} must use only unreserved characters (A-Z a-z 0-9 - . _ ~)"
        for k, v in query
        if P.encode_value(v) != v
    ]


class BitgetVenue:
    """The Bitget v2 spot venue (see the module docstring).

    Args:
        receive_window_ms: the ``receiveWindow`` the daemon stamps (1-60000 ms).
    """

    name = NAME
    hosts = HOSTS

    def __init__(self, receive_window_ms: int = 5000) -> None:
        if not 1 <= receive_window_ms <= 60000:
            raise ValueError("receive_window_ms must be between 1 and 60000")
        self.receive_window_ms = receive_window_ms

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        """Strictly parse ``request`` into an intent (``Venue.parse``)."""
        method, path = P.check_method(request.method), P.check_path(request.path)
        host = P.resolve_host(NAME, HOSTS, principal.mode, request.host)
        headers = P.check_headers(request.headers)
        violations = list(headers.violations)
        query = P.parse_form(request.query, where="request.query")
        violations += P.duplicate_violations((k for k, _ in query), "request.query")
        endpoint = next(
            (e for e in ENDPOINTS if e.method == method and P.match_template(path, e.path)), None
        )
        if endpoint is None:
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, violations), host, None
            )
        body: dict[str, object] | None = None
        if method == "GET":
            if request.body:
                violations.append("GET requests carry their parameters in the query only")
            violations += _query_violations(query)
            violations += SCHEMAS[endpoint.key].validate(query)
        else:
            if query:
                violations.append(
                    "Bitget POST parameters go in the JSON body; request.query must be empty"
                )
            violations += P.content_type_violations(headers.content_type, JSON)
            body, duplicates = P.parse_json_object(request.body)
            violations += duplicates
            violations += SCHEMAS[endpoint.key].validate(list(body.items()))
        demo = principal.mode is Mode.SANDBOX
        detail = BitgetDetail(endpoint.key, method, path, query, body, demo, headers.passthrough)
        matched = (endpoint.key, endpoint.endpoint_class)
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp the timestamp (and receive window), sign the exact bytes sent."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, BitgetDetail)
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        api_key = P.header_safe_api_key(creds.api_key)
        timestamp = str(clock.now_ms())
        stamped: tuple[tuple[str, str], ...] = ()
        if detail.key in RECEIVE_WINDOW:
            stamped = (("requestTime", timestamp), ("receiveWindow", str(self.receive_window_ms)))
        if detail.method == "GET":
            query, text = P.encode_form((*detail.query, *stamped)), ""
        else:
            query, text = "", P.canonical_json({**(detail.body or {}), **dict(stamped)})
        key = creds.derived("bitget:hmac-sha256", lambda: HmacSha256(creds.secret))
        passphrase = creds.derived("bitget:passphrase", lambda: header_secret(creds.passphrase))
        auth = (
            ("ACCESS-KEY", api_key),
            (
                "ACCESS-SIGN",
                key.base64(prehash(timestamp, detail.method, detail.path, query, text)),
            ),
            ("ACCESS-TIMESTAMP", timestamp),
            ("ACCESS-PASSPHRASE", passphrase),
        )
        headers = [*auth, ("Content-Type", JSON), ("locale", LOCALE)]
        if detail.demo:
            headers.append(("paptrading", "1"))
        headers += detail.passthrough
        request = HttpRequest(
            detail.method, detail.path, query, text.encode("ascii"), tuple(headers), parsed.host
        )
        return SignedRequest(request=request, auth_headers=auth)


VENUE = BitgetVenue()
