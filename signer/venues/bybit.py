"""Bybit v5 REST (VENUES.md section 8).

Parameter lists: Bybit's v5 API reference (https://bybit-exchange.github.io/docs/v5/,
source bybit-exchange/docs ``docs/v5/order/{create-order,amend-order,cancel-order,
cancel-all,batch-place,batch-amend,batch-cancel,dcp,pre-check-order,open-order,
order-list,execution}.mdx``, ``docs/v5/position/{position,close-pnl,leverage,
trading-stop}.mdx``, ``docs/v5/account/{wallet-balance,fee-rate,transaction-log}.mdx``,
``docs/v5/enum.mdx``).

Invariants (tests: tests/unit/venues/test_bybit.py, tests/security/test_expfail_bybit.py):

1. Only the 20 endpoints of venue_endpoints.json's bybit allow list match
   (exact method and path); /v5/asset, /v5/user, loans... never match.
2. SECURITY: Bybit signs ``timestamp || apiKey || recvWindow || payload`` only,
   never the path or the method, so a signature for ``POST /v5/order/create``
   is as valid on ``POST /v5/asset/withdraw/create`` if the body were a
   withdrawal. Every endpoint has a strict schema; unknown parameters are
   violations and no POST schema (batch items included) can admit a
   withdrawal/transfer name (``Schema`` refuses to be built with one; a test
   iterates every schema). GET reads may admit ``accountType``/``coin``/
   ``currency`` (wallet-balance, transaction-log need them): a GET signs the
   query string, which can never be the JSON body of a POST, and every Bybit
   endpoint that moves funds is a POST.
3. GET parameters come in the query only, POST parameters in a JSON object body
   only. The caller may not send auth headers, ``timestamp``, ``recvWindow`` or
   signatures; duplicate keys are violations; JSON floats and nulls are refused.
4. ``sign()`` re-encodes the validated parameters in the caller's order (query
   string or compact JSON), sends exactly the bytes it signs and stamps
   ``X-BAPI-TIMESTAMP`` from the clock and ``X-BAPI-RECV-WINDOW`` (tunable).
   HMAC secrets sign lower-case hex; an RSA PEM secret signs base64
   RSASSA-PKCS1-v1_5-SHA256. Sandbox principals get the testnet host.

SECURITY: ``/v5/order/pre-check`` takes the body of an order, and its signature
is equally valid on ``/v5/order/create``: it is classed TRADE, not READ. Reads
are all GETs (a query string is never a JSON body), so a READ signature cannot
become a POST; among the POSTs, TRADE and CANCEL bodies are not separable in
principle (the path is unsigned), but neither reaches beyond trade-only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import InvalidCredentialsError, PolicyDeniedError
from signer.keystore.handles import Secret, VenueCredentials
from signer.schemes.asymmetric import (
    RsaPkcs1v15Sha256Signer,
    is_pem_private_key,
    load_pem_signer,
)
from signer.schemes.hmac import HmacSha256
from signer.venues import _params as P
from signer.venues._params import Kind, Param, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "bybit"
HOSTS: dict[Mode, str | None] = {Mode.LIVE: "api.bybit.com", Mode.SANDBOX: "api-testnet.bybit.com"}
JSON = "application/json"
STAMPED = frozenset({"timestamp", "recvWindow", "recv_window", "api_key", "apiKey", "sign"})
# SECURITY: withdraw / transfer / convert / sub-account names (DESIGN.md invariant 3).
FORBIDDEN = frozenset({
    "address", "coin", "amount", "network", "chain", "toAccountType", "fromAccountType",
    "destination", "withdrawOrderId", "currency", "transferId", "toMemberId", "fromMemberId",
    "forceChain", "tag", "accountType", "feeType", "vaspEntityId", "requestId", "fromCoin",
    "toCoin", "requestCoin", "requestAmount", "quoteTxId", "memberId", "subMemberId",
})  # fmt: skip
# GET reads only (invariant 2): never amount, address, chain... so never coin+amount.
READ_ADMITTED = frozenset({"accountType", "coin", "currency"})

# --- value checks -----------------------------------------------------------------
_rx = re.compile
DEC = _rx(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
SYMBOL = _rx(r"[A-Z0-9]{1,30}(?:-[A-Z0-9]{1,20}){0,4}")
COIN = _rx(r"[A-Z0-9]{1,20}")
COINS = _rx(r"[A-Z0-9]{1,20}(?:,[A-Z0-9]{1,20}){0,19}")
ORDER_ID = _rx(r"[A-Za-z0-9-]{1,64}")
LINK_ID = _rx(r"[A-Za-z0-9_-]{1,36}")
TIME_MS = _rx(r"[0-9]{1,16}")
INT = _rx(r"0|[1-9][0-9]{0,5}")
CURSOR = _rx(r"[A-Za-z0-9_=&:,.-]{1,256}")
LOG_TYPE = _rx(r"[A-Z_]{1,64}")
CATEGORY = frozenset({"spot", "linear", "inverse", "option"})
DERIVATIVES = frozenset({"linear", "inverse"})
SIDE = frozenset({"Buy", "Sell"})
ORDER_TYPE = frozenset({"Market", "Limit"})
TIF = frozenset({"GTC", "IOC", "FOK", "PostOnly", "RPI"})
TRIGGER_BY = frozenset({"LastPrice", "IndexPrice", "MarkPrice"})
ORDER_FILTER = frozenset({"Order", "tpslOrder", "StopOrder"})
QUERY_FILTER = ORDER_FILTER | {"OcoOrder", "BidirectionalTpslOrder"}
SMP = frozenset({"None", "CancelMaker", "CancelTaker", "CancelBoth"})
TPSL_MODE = frozenset({"Full", "Partial"})
ORDER_STATUS = frozenset({
    "New", "PartiallyFilled", "Untriggered", "Rejected", "PartiallyFilledCanceled", "Filled",
    "Cancelled", "Triggered", "Deactivated",
})  # fmt: skip
EXEC_TYPE = frozenset({
    "Trade", "AdlTrade", "Funding", "BustTrade", "Delivery", "Settle", "BlockTrade",
    "MovePosition", "FutureSpread",
})  # fmt: skip
BOOL = frozenset({"true", "false"})
POSITION_IDX = frozenset({"0", "1", "2"})


def _int_range(name: str, lo: int, hi: int) -> P.Validator:
    def check(value: object) -> list[str]:
        if isinstance(value, str) and INT.fullmatch(value) and lo <= int(value) <= hi:
            return []
        return [f"parameter {name!r} must be an integer from {lo} to {hi}"]

    return check


def _post(*params: Param, one_of: Sequence[tuple[str, ...]] = ()) -> Schema:
    return Schema(tuple(params), one_of=tuple(one_of), stamped=STAMPED, forbidden=FORBIDDEN)


def _get(*params: Param) -> Schema:
    return Schema(tuple(params), stamped=STAMPED, forbidden=FORBIDDEN - READ_ADMITTED)


def _items(name: str, schema: Schema, most: int) -> Param:
    """A JSON array of 1..``most`` objects, each validated against ``schema``."""

    def check(value: object) -> list[str]:
        if not isinstance(value, list) or not 1 <= len(value) <= most:
            return [f"parameter {name!r} must hold 1 to {most} objects"]
        out: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                out.append(f"{name}[{index}] must be a JSON object")
            else:
                out += [f"{name}[{index}]: {v}" for v in schema.validate(list(item.items()))]
        return out

    return param(name, check, required=True, kind=Kind.LIST)


def _b(name: str) -> Param:
    return param(name, BOOL, kind=Kind.BOOL)


def _i(name: str, values: frozenset[str], *, required: bool = False) -> Param:
    return param(name, values, required=required, kind=Kind.INT)


def _category(values: frozenset[str] = CATEGORY) -> Param:
    return param("category", values, required=True)


REF = (param("orderId", ORDER_ID), param("orderLinkId", LINK_ID))
ONE_REF = (("orderId", "orderLinkId"),)
PAGE = (param("cursor", CURSOR),)
SPAN = (param("startTime", TIME_MS), param("endTime", TIME_MS))
TPSL = (
    param("takeProfit", DEC), param("stopLoss", DEC), param("tpTriggerBy", TRIGGER_BY),
    param("slTriggerBy", TRIGGER_BY), param("tpslMode", TPSL_MODE),
    param("tpLimitPrice", DEC), param("slLimitPrice", DEC),
)  # fmt: skip
ORDER_FIELDS: tuple[Param, ...] = (
    param("symbol", SYMBOL, required=True), _i("isLeverage", frozenset({"0", "1"})),
    param("side", SIDE, required=True), param("orderType", ORDER_TYPE, required=True),
    param("qty", DEC, required=True), param("marketUnit", frozenset({"baseCoin", "quoteCoin"})),
    param("slippageToleranceType", frozenset({"TickSize", "Percent"})),
    param("slippageTolerance", DEC), param("price", DEC),
    _i("triggerDirection", frozenset({"1", "2"})), param("orderFilter", ORDER_FILTER),
    param("triggerPrice", DEC), param("triggerBy", TRIGGER_BY), param("orderIv", DEC),
    param("timeInForce", TIF), _i("positionIdx", POSITION_IDX),
    param("orderLinkId", LINK_ID), *TPSL, _b("reduceOnly"), _b("closeOnTrigger"),
    param("smpType", SMP), _b("mmp"), param("tpOrderType", ORDER_TYPE),
    param("slOrderType", ORDER_TYPE),
)  # fmt: skip
AMEND_FIELDS: tuple[Param, ...] = (
    param("symbol", SYMBOL, required=True), *REF, param("orderIv", DEC),
    param("triggerPrice", DEC), param("qty", DEC), param("price", DEC), *TPSL,
    param("triggerBy", TRIGGER_BY),
)  # fmt: skip
CANCEL_FIELDS = (param("symbol", SYMBOL, required=True), *REF)
BATCH_ORDER = _post(*ORDER_FIELDS)
BATCH_AMEND = _post(*AMEND_FIELDS, one_of=ONE_REF)
BATCH_CANCEL = _post(*CANCEL_FIELDS, one_of=ONE_REF)
SYMBOL_OPT = param("symbol", SYMBOL)
BASE, SETTLE = param("baseCoin", COIN), param("settleCoin", COIN)

SCHEMAS: Mapping[str, Schema] = {
    "POST /v5/order/create": _post(_category(), *ORDER_FIELDS),
    "POST /v5/order/pre-check": _post(_category(), *ORDER_FIELDS),
    "POST /v5/order/amend": _post(_category(), *AMEND_FIELDS, one_of=ONE_REF),
    "POST /v5/order/cancel": _post(
        _category(), *CANCEL_FIELDS, param("orderFilter", ORDER_FILTER), one_of=ONE_REF
    ),
    "POST /v5/order/cancel-all": _post(
        _category(), SYMBOL_OPT, BASE, SETTLE, param("orderFilter", QUERY_FILTER),
        param("stopOrderType", frozenset({"Stop"})),
    ),
    "POST /v5/order/create-batch": _post(_category(), _items("request", BATCH_ORDER, 20)),
    "POST /v5/order/amend-batch": _post(_category(), _items("request", BATCH_AMEND, 20)),
    "POST /v5/order/cancel-batch": _post(_category(), _items("request", BATCH_CANCEL, 20)),
    "POST /v5/order/disconnected-cancel-all": _post(
        param("product", frozenset({"OPTIONS", "DERIVATIVES", "SPOT"})),
        param("timeWindow", _int_range("timeWindow", 3, 300), required=True, kind=Kind.INT),
    ),
    "POST /v5/position/trading-stop": _post(
        _category(DERIVATIVES), param("symbol", SYMBOL, required=True),
        param("tpslMode", TPSL_MODE, required=True), _i("positionIdx", POSITION_IDX, required=True),
        param("takeProfit", DEC), param("stopLoss", DEC), param("trailingStop", DEC),
        param("tpTriggerBy", TRIGGER_BY), param("slTriggerBy", TRIGGER_BY),
        param("activePrice", DEC), param("tpSize", DEC), param("slSize", DEC),
        param("tpLimitPrice", DEC), param("slLimitPrice", DEC), param("tpOrderType", ORDER_TYPE),
        param("slOrderType", ORDER_TYPE),
    ),
    "POST /v5/position/set-leverage": _post(
        _category(DERIVATIVES), param("symbol", SYMBOL, required=True),
        param("buyLeverage", DEC, required=True), param("sellLeverage", DEC, required=True),
    ),
    "GET /v5/order/realtime": _get(
        _category(), SYMBOL_OPT, BASE, SETTLE, *REF, param("openOnly", frozenset({"0", "1", "2"})),
        param("orderFilter", QUERY_FILTER), param("limit", _int_range("limit", 1, 50)), *PAGE,
    ),
    "GET /v5/order/history": _get(
        _category(), SYMBOL_OPT, BASE, SETTLE, *REF, param("orderFilter", QUERY_FILTER),
        param("orderStatus", ORDER_STATUS), *SPAN, param("limit", _int_range("limit", 1, 50)),
        *PAGE,
    ),
    "GET /v5/execution/list": _get(
        _category(), SYMBOL_OPT, *REF, BASE, *SPAN, param("execType", EXEC_TYPE),
        param("limit", _int_range("limit", 1, 100)), *PAGE,
    ),
    "GET /v5/position/list": _get(
        _category(CATEGORY - {"spot"}), SYMBOL_OPT, BASE, SETTLE,
        param("limit", _int_range("limit", 1, 200)), *PAGE,
    ),
    "GET /v5/position/closed-pnl": _get(
        _category(CATEGORY - {"spot"}), SYMBOL_OPT, *SPAN,
        param("limit", _int_range("limit", 1, 200)), *PAGE,
    ),
    "GET /v5/account/wallet-balance": _get(
        param("accountType", frozenset({"UNIFIED", "CONTRACT", "SPOT"}), required=True),
        param("coin", COINS),
    ),
    "GET /v5/account/fee-rate": _get(_category(), SYMBOL_OPT, BASE),
    "GET /v5/account/info": _get(),
    "GET /v5/account/transaction-log": _get(
        param("accountType", frozenset({"UNIFIED"})), param("category", CATEGORY),
        param("currency", COIN), BASE, param("type", LOG_TYPE), *SPAN,
        param("limit", _int_range("limit", 1, 50)), *PAGE,
    ),
}  # fmt: skip

_CANCEL = {"cancel", "cancel-all", "cancel-batch", "disconnected-cancel-all"}


def _endpoint_class(key: str) -> EndpointClass:
    method, path = key.split(" ", 1)
    if method == "GET":
        return EndpointClass.READ
    return EndpointClass.CANCEL if path.rsplit("/", 1)[1] in _CANCEL else EndpointClass.TRADE


ENDPOINTS: tuple[Endpoint, ...] = tuple(
    Endpoint(key.split(" ", 1)[0], key.split(" ", 1)[1], _endpoint_class(key)) for key in SCHEMAS
)


@dataclass(frozen=True, slots=True)
class BybitDetail:
    """What ``sign()`` needs: method, path and the validated parameters in order."""

    method: str
    path: str
    params: tuple[tuple[str, object], ...]
    passthrough: tuple[tuple[str, str], ...]


def build_signer(secret: Secret) -> Callable[[bytes], str]:
    """``X-BAPI-SIGN`` for a pre-hash: HMAC hex, or base64 RSA-SHA256 for an RSA PEM."""
    if is_pem_private_key(secret):
        pem = load_pem_signer(secret)
        if not isinstance(pem, RsaPkcs1v15Sha256Signer):
            raise InvalidCredentialsError(
                "api_secret: Bybit key pairs must be RSA", field="api_secret"
            )
        return pem.sign_base64
    return HmacSha256(secret).hex


def _split_params(method: str, request: HttpRequest) -> tuple[list[tuple[str, object]], list[str]]:
    """Query parameters for GET/DELETE, a JSON object body for POST/PUT (invariant 3)."""
    if method in ("GET", "DELETE"):
        pairs = P.parse_form(request.query, where="request.query")
        violations = P.duplicate_violations((k for k, _ in pairs), "request.query")
        if request.body:
            violations.append(f"{method} requests carry their parameters in the query only")
        return list(pairs), violations
    body, violations = P.parse_json_object(request.body) if request.body else ({}, [])
    if request.query:
        violations.append(f"{method} parameters go in the JSON body; request.query must be empty")
    return list(body.items()), violations


def _text_pairs(params: Sequence[tuple[str, object]]) -> list[tuple[str, str]]:
    pairs = [(k, v) for k, v in params if isinstance(v, str)]
    if len(pairs) != len(params):  # query values are always text; anything else is a bug
        raise TypeError("query parameters must be strings")
    return pairs


class BybitVenue:
    """The Bybit v5 venue (see the module docstring).

    Args:
        recv_window_ms: the ``X-BAPI-RECV-WINDOW`` the daemon stamps (1-60000 ms).
    """

    name = NAME
    hosts = HOSTS

    def __init__(self, recv_window_ms: int = 5000) -> None:
        if not 1 <= recv_window_ms <= 60000:
            raise ValueError("recv_window_ms must be between 1 and 60000")
        self.recv_window_ms = recv_window_ms

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        """Strictly parse ``request`` into an intent (``Venue.parse``)."""
        method, path = P.check_method(request.method), P.check_path(request.path)
        host = P.resolve_host(NAME, HOSTS, principal.mode, request.host)
        headers = P.check_headers(request.headers)
        endpoint = next(
            (e for e in ENDPOINTS if e.method == method and P.match_template(path, e.path)), None
        )
        if endpoint is None:
            # SECURITY: an unlisted endpoint is denied as such (and audited), whatever
            # its parameters look like; its body is not even parsed.
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, list(headers.violations)), host, None
            )
        params, violations = _split_params(method, request)
        violations = [*headers.violations, *violations]
        violations += P.content_type_violations(headers.content_type, JSON)
        violations += SCHEMAS[endpoint.key].validate(params)
        detail = BybitDetail(method, path, tuple(params), headers.passthrough)
        matched = (endpoint.key, endpoint.endpoint_class)
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp time and recv window, sign the exact bytes sent (``Venue.sign``)."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, BybitDetail)
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        api_key = P.header_safe_api_key(creds.api_key)
        timestamp, window = str(clock.now_ms()), str(self.recv_window_ms)
        if detail.method == "GET":
            payload = query = P.encode_form(_text_pairs(detail.params))
        else:
            query, payload = "", P.canonical_json(dict(detail.params))
        signer = creds.derived("bybit:signer", lambda: build_signer(creds.secret))
        signature = signer(f"{timestamp}{api_key}{window}{payload}".encode("ascii"))
        auth = (
            ("X-BAPI-API-KEY", api_key),
            ("X-BAPI-TIMESTAMP", timestamp),
            ("X-BAPI-RECV-WINDOW", window),
            ("X-BAPI-SIGN", signature),
        )
        body = b"" if detail.method == "GET" else payload.encode("ascii")
        headers = (*auth, ("Content-Type", JSON), *detail.passthrough)
        request = HttpRequest(detail.method, detail.path, query, body, headers, parsed.host)
        return SignedRequest(request=request, auth_headers=auth)


VENUE = BybitVenue()
