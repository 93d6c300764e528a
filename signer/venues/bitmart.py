"""BitMart spot REST (VENUES.md section 6).

Parameter lists: BitMart spot API docs (https://developer-pro.bitmart.com/en/spot/,
"New Order(v2)", "New Batch Order(v4)", "Cancel Order(v3)", "Cancel Batch Order(v4)",
"Cancel All Order(v4)", "Query Order By Id / By clientOrderId / Current Open Orders /
Account Orders / Account Trade List / Order Trade List (v4)", "Get Account Balance",
"Get Spot Wallet Balance", "Get Basic Fee Rate", "Get Actual Trade Fee Rate") as
transcribed by BitMart's own SDKs (bitmartexchange/bitmart-python-sdk-api
``bitmart/api_spot.py``, ``bitmart/api_account.py``; bitmart-go-sdk-api ``api_spot.go``).

Invariants (tests: tests/unit/venues/test_bitmart.py, tests/security/test_expfail_bitmart.py):

1. Only the 15 endpoints of venue_endpoints.json's bitmart allow list match
   (exact method and path); withdraw, sub-account transfers, margin... never match.
2. SECURITY: BitMart signs ``timestamp#memo#payload`` only, never the path or
   the method, so a signature for ``POST /spot/v2/submit_order`` is as valid on
   ``POST /account/v1/withdraw/apply`` if the body were a withdrawal. Every
   endpoint has a strict schema; unknown parameters are violations and no POST
   schema (batch items included) can admit a withdrawal/transfer name. The
   ``type`` of an order admits only order types (a withdrawal's ``type`` is an
   integer account kind, a contract transfer's a direction string). The one
   GET read that takes ``currency`` (``/account/v1/wallet``) signs a query
   string, which can never be the JSON body of a POST.
3. GET parameters come in the query only, POST parameters in a JSON object
   body only. The caller may not send auth headers, ``recvWindow`` or
   timestamps; duplicate keys are violations; JSON floats and nulls are refused.
4. ``sign()`` re-encodes the validated parameters in the caller's order (query
   string or compact JSON), adds ``recvWindow`` (tunable) at the end of the
   body on the v4 endpoints that honour it (batch_orders, cancel_orders,
   query/*), sends exactly the bytes it signs and stamps ``X-BM-TIMESTAMP``
   from the clock. The memo is the credential's passphrase.
5. BitMart spot has no sandbox: a sandbox principal gets ``ModeMismatchError``.

SECURITY: with an empty query the signed string of a GET is ``timestamp#memo#``,
the same for every GET, so a signed GET is replayable on any other GET (or on a
POST sent with an empty body) with the same payload until BitMart's clock check
expires it. BitMart documents no ``recvWindow`` for these GETs, so that window
is BitMart's fixed one (about a minute), not the short v4 ``recvWindow``. The
four allowed GETs are KEYED endpoints (``X-BM-KEY`` alone suffices), so
``sign_keyed_reads=False`` sends them unsigned and closes that replay entirely.

SECURITY: for the same reason endpoint *classes* cannot be fully separated: a
READ-class query body such as ``{"symbol":"BTC_USDT","recvWindow":5000}`` is
also a plausible ``/spot/v4/cancel_all`` body (BitMart's tolerance of the extra
``recvWindow`` there is undocumented), and an empty-payload GET signature fits a
POST sent with an empty body. A policy that enables ``read`` but not ``cancel``
may therefore not stop a cancel; nothing here ever reaches beyond trade-only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.memo_hmac import MemoHmacSha256
from signer.venues import _params as P
from signer.venues._params import Kind, Param, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "bitmart"
HOSTS: dict[Mode, str | None] = {Mode.LIVE: "api-cloud.bitmart.com", Mode.SANDBOX: None}
JSON = "application/json"
STAMPED = frozenset({"recvWindow", "recvwindow", "timestamp", "sign"})
# SECURITY: withdraw / sub-account / margin / contract transfer names (DESIGN.md invariant 3).
FORBIDDEN = frozenset({
    "currency", "amount", "destination", "address", "address_memo", "value", "areaCode",
    "requestNo", "subAccount", "fromAccount", "toAccount", "moveType", "accountName",
    "coin", "network", "chain", "toAccountType", "fromAccountType", "withdrawOrderId",
    "transferId", "tag", "accountType", "operation_type",
})  # fmt: skip
READ_ADMITTED = frozenset({"currency"})  # GET /account/v1/wallet only (invariant 2)

# --- value checks -----------------------------------------------------------------
_rx = re.compile
DEC = _rx(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
SYMBOL = _rx(r"[A-Z0-9]{1,20}_[A-Z0-9]{1,20}")
CURRENCY = _rx(r"[A-Z0-9]{1,20}")
ORDER_ID = _rx(r"[0-9]{1,32}")
CLIENT_ID = _rx(r"[A-Za-z0-9]{1,32}")
TIME_MS = _rx(r"[0-9]{1,16}")
LIMIT = _rx(r"[1-9][0-9]{0,2}")
SIDE = frozenset({"buy", "sell"})
ORDER_TYPE = frozenset({"limit", "market", "limit_maker", "ioc"})
STP = frozenset({"none", "cancel_maker", "cancel_taker", "cancel_both"})
ORDER_MODE = frozenset({"spot", "iso_margin"})
QUERY_STATE = frozenset({"open", "history"})
MAX_ITEMS = 10  # orderParams, orderIds, clientOrderIds


def _limit(value: object) -> list[str]:
    if isinstance(value, str) and LIMIT.fullmatch(value) and int(value) <= 200:
        return []
    return ["parameter 'limit' must be an integer from 1 to 200"]


def _post(*params: Param, one_of: Sequence[tuple[str, ...]] = ()) -> Schema:
    return Schema(tuple(params), one_of=tuple(one_of), stamped=STAMPED, forbidden=FORBIDDEN)


def _get(*params: Param) -> Schema:
    return Schema(tuple(params), stamped=STAMPED, forbidden=FORBIDDEN - READ_ADMITTED)


def _list(name: str, check: Schema | re.Pattern[str], *, required: bool = False) -> Param:
    """A JSON array of 1..10 objects (``Schema``) or strings (pattern)."""

    def validate(value: object) -> list[str]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_ITEMS:
            return [f"parameter {name!r} must hold 1 to {MAX_ITEMS} items"]
        out: list[str] = []
        for index, item in enumerate(value):
            if isinstance(check, Schema) and isinstance(item, dict):
                out += [f"{name}[{index}]: {v}" for v in check.validate(list(item.items()))]
            elif not (isinstance(check, re.Pattern) and isinstance(item, str)):
                out.append(f"{name}[{index}] has the wrong JSON type")
            elif not check.fullmatch(item):
                out.append(f"{name}[{index}] has an invalid value")
        return out

    return param(name, validate, required=required, kind=Kind.LIST)


ORDER_FIELDS = (
    param("side", SIDE, required=True), param("type", ORDER_TYPE, required=True),
    param("stpMode", STP), param("size", DEC), param("price", DEC), param("notional", DEC),
)  # fmt: skip
BATCH_ITEM = _post(param("clientOrderId", CLIENT_ID), *ORDER_FIELDS)
LISTING = (
    param("symbol", SYMBOL), param("orderMode", ORDER_MODE),
    param("startTime", TIME_MS, kind=Kind.INT), param("endTime", TIME_MS, kind=Kind.INT),
    param("limit", _limit, kind=Kind.INT),
)  # fmt: skip
SYMBOL_REQ = param("symbol", SYMBOL, required=True)
QUERY_STATE_OPT = param("queryState", QUERY_STATE)

SCHEMAS: Mapping[str, Schema] = {
    "POST /spot/v2/submit_order": _post(
        SYMBOL_REQ, *ORDER_FIELDS, param("client_order_id", CLIENT_ID)
    ),
    "POST /spot/v4/batch_orders": _post(
        SYMBOL_REQ, _list("orderParams", BATCH_ITEM, required=True)
    ),
    "POST /spot/v3/cancel_order": _post(
        SYMBOL_REQ, param("order_id", ORDER_ID), param("client_order_id", CLIENT_ID),
        one_of=(("order_id", "client_order_id"),),
    ),
    "POST /spot/v4/cancel_orders": _post(
        SYMBOL_REQ, _list("orderIds", ORDER_ID), _list("clientOrderIds", CLIENT_ID),
        one_of=(("orderIds", "clientOrderIds"),),
    ),
    "POST /spot/v4/cancel_all": _post(param("symbol", SYMBOL), param("side", SIDE)),
    "POST /spot/v4/query/order": _post(param("orderId", ORDER_ID, required=True), QUERY_STATE_OPT),
    "POST /spot/v4/query/client-order": _post(
        param("clientOrderId", CLIENT_ID, required=True), QUERY_STATE_OPT
    ),
    "POST /spot/v4/query/open-orders": _post(*LISTING),
    "POST /spot/v4/query/history-orders": _post(*LISTING),
    "POST /spot/v4/query/trades": _post(*LISTING),
    "POST /spot/v4/query/order-trades": _post(param("orderId", ORDER_ID, required=True)),
    "GET /spot/v1/wallet": _get(),
    "GET /account/v1/wallet": _get(param("currency", CURRENCY)),
    "GET /spot/v1/trade_fee": _get(SYMBOL_REQ),
    "GET /spot/v1/user_fee": _get(),
}  # fmt: skip
# v4 endpoints whose body takes the daemon's recvWindow (BitMart docs; cancel_all does not).
RECV_WINDOW = frozenset({
    "/spot/v4/batch_orders", "/spot/v4/cancel_orders", "/spot/v4/query/order",
    "/spot/v4/query/client-order", "/spot/v4/query/open-orders",
    "/spot/v4/query/history-orders", "/spot/v4/query/trades", "/spot/v4/query/order-trades",
})  # fmt: skip
_CLASSES = {"submit_order": EndpointClass.TRADE, "batch_orders": EndpointClass.TRADE}
_CLASSES |= dict.fromkeys(("cancel_order", "cancel_orders", "cancel_all"), EndpointClass.CANCEL)
ENDPOINTS: tuple[Endpoint, ...] = tuple(
    Endpoint(
        key.split(" ", 1)[0],
        key.split(" ", 1)[1],
        _CLASSES.get(key.rsplit("/", 1)[1], EndpointClass.READ),
    )
    for key in SCHEMAS
)


@dataclass(frozen=True, slots=True)
class BitMartDetail:
    """What ``sign()`` needs: method, path and the validated parameters in order."""

    method: str
    path: str
    params: tuple[tuple[str, object], ...]
    passthrough: tuple[tuple[str, str], ...]


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


class BitMartVenue:
    """The BitMart spot venue (see the module docstring).

    Args:
        recv_window_ms: the ``recvWindow`` the daemon puts in v4 bodies (1-60000 ms).
        sign_keyed_reads: sign the four KEYED GETs (as ccxt does). The default, False, sends
            them with ``X-BM-KEY`` alone (see the SECURITY note above).
    """

    name = NAME
    hosts = HOSTS

    def __init__(self, recv_window_ms: int = 5000, *, sign_keyed_reads: bool = False) -> None:
        if not 1 <= recv_window_ms <= 60000:
            raise ValueError("recv_window_ms must be between 1 and 60000")
        self.recv_window_ms = recv_window_ms
        self.sign_keyed_reads = sign_keyed_reads

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
        detail = BitMartDetail(method, path, tuple(params), headers.passthrough)
        matched = (endpoint.key, endpoint.endpoint_class)
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp the timestamp (and recvWindow), sign the exact bytes sent (``Venue.sign``)."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, BitMartDetail)
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        api_key = P.header_safe_api_key(creds.api_key)
        auth: tuple[tuple[str, str], ...] = (("X-BM-KEY", api_key),)
        if detail.method == "GET":
            query = payload = P.encode_form(_text_pairs(detail.params))
            body = b""
        else:
            stamped = [("recvWindow", self.recv_window_ms)] if detail.path in RECV_WINDOW else []
            query, payload = "", P.canonical_json(dict([*detail.params, *stamped]))
            body = payload.encode("ascii")
        if detail.method != "GET" or self.sign_keyed_reads:
            timestamp = str(clock.now_ms())
            signer = creds.derived(
                "bitmart:signer", lambda: MemoHmacSha256(creds.secret, creds.passphrase)
            )
            signature = signer.sign_hex(timestamp, payload.encode("ascii"))
            auth = (*auth, ("X-BM-TIMESTAMP", timestamp), ("X-BM-SIGN", signature))
        headers = (*auth, ("Content-Type", JSON), *detail.passthrough)
        request = HttpRequest(detail.method, detail.path, query, body, headers, parsed.host)
        return SignedRequest(request=request, auth_headers=auth)


VENUE = BitMartVenue()
