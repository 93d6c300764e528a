"""Kalshi Trade API v2 (VENUES.md section 10).

Endpoints and parameter lists: venue_endpoints.json (allow list, from
kalshi-python 2.1.4), Kalshi's OpenAPI document "Kalshi Trade API Manual
Endpoints" 3.7.0 (https://docs.kalshi.com/api-reference, request schemas
CreateOrderRequest, BatchCreateOrdersRequest, BatchCancelOrdersRequest,
AmendOrderRequest, DecreaseOrderRequest, CreateOrderGroupRequest,
CreateRFQRequest, CreateQuoteRequest, AcceptQuoteRequest and the query
parameters of each GET) and kalshi-python 2.1.4 ``GetQueuePositionsRequest``.

Invariants (tests: tests/unit/venues/test_kalshi.py, tests/security/test_expfail_kalshi.py):

1. Only the 28 allow-listed (method, path) pairs match, exactly; templates
   (``{order_id}``...) match one ``[A-Za-z0-9_-]`` segment, and literal paths
   win over templates (``DELETE .../orders/batched`` is the batch cancel).
2. SECURITY: Kalshi signs ``timestamp || METHOD || path`` only: neither the
   query nor the body (cross-cutting finding 2). Every endpoint therefore has a
   strict query schema and a strict JSON body schema with exact JSON types (an
   integer is not a string, a boolean not ``"true"``); unknown keys, duplicate
   keys and transfer / key-management names are violations; a body on an
   endpoint that takes none is a violation. ``sign()`` returns exactly the
   validated body, re-encoded.
3. ``subaccount`` (0-32) is admitted where Kalshi documents it: it selects which
   of the user's own subaccounts places, cancels or reads an order. It moves no
   funds; the transfer endpoints are not allow-listed and their parameter
   names (``from_subaccount``, ``to_subaccount``, ``amount``...) are refused.
   ``subtrader_id`` (acting for another FCM user) is not admitted.
4. ``sign()`` stamps ``KALSHI-ACCESS-TIMESTAMP`` from the clock and signs with
   RSA-PSS (``signer/schemes/rsa_pss.py``), the key parsed once per handle.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.rsa_pss import RsaPssSha256Signer
from signer.venues import _params as P
from signer.venues._params import Kind, Param, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "kalshi"
HOSTS: dict[Mode, str | None] = {
    Mode.LIVE: "api.elections.kalshi.com",
    Mode.SANDBOX: "demo-api.kalshi.co",
}
PREFIX = "/trade-api/v2"
JSON = "application/json"
MAX_BATCH = 20  # "the limit is 20 orders per batch" (Batch Create / Batch Cancel docs)
# SECURITY: names of the subaccount/position/intra-exchange transfer and API-key bodies.
FORBIDDEN = frozenset({
    "amount", "amount_cents", "from_subaccount", "to_subaccount", "client_transfer_id",
    "source", "destination", "address", "public_key", "private_key", "scopes", "api_key",
    "api_key_id", "withdrawal", "transfer",
})  # fmt: skip

_rx = re.compile
TICKER = _rx(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
TICKERS = _rx(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}(?:,[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,9}")
ID = _rx(r"[A-Za-z0-9_-]{1,128}")
CLIENT_ID = _rx(r"[A-Za-z0-9_:+=/-]{1,64}")  # FIX ClOrdID rules: ^[\-\w:+=/]*$, max 64
FP_COUNT = _rx(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")
DOLLARS = _rx(r"0(?:\.[0-9]{1,6})?|1(?:\.0{1,6})?")
MONEY = _rx(r"[0-9]{1,12}(?:\.[0-9]{1,6})?")
CURSOR = _rx(r"[\x21-\x7e]{1,1024}")
COUNT_FILTER = _rx(r"(?:position|total_traded)(?:,(?:position|total_traded))?")
_DIGITS = _rx(r"0|[1-9][0-9]{0,17}")
SIDE = frozenset({"yes", "no"})
ACTION = frozenset({"buy", "sell"})
TIF = frozenset({"fill_or_kill", "good_till_canceled", "immediate_or_cancel"})
STP = frozenset({"taker_at_cross", "maker"})


def _int(name: str, lo: int, hi: int, *, required: bool = False, kind: Kind = Kind.INT) -> Param:
    """An integer parameter in [lo, hi] (JSON integer in bodies, digits in queries)."""

    def check(text: object) -> list[str]:
        ok = isinstance(text, str) and bool(_DIGITS.fullmatch(text)) and lo <= int(text) <= hi
        return [] if ok else [f"parameter {name!r} must be an integer from {lo} to {hi}"]

    return param(name, check, required=required, kind=kind)


def _list(name: str, item: Callable[[object], list[str]], *, required: bool = False) -> Param:
    """A JSON array of 1 to MAX_BATCH items, each checked by ``item``."""

    def check(value: object) -> list[str]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_BATCH:
            return [f"parameter {name!r} must hold 1 to {MAX_BATCH} items"]
        return [f"{name}[{i}]: {v}" for i, entry in enumerate(value) for v in item(entry)]

    return param(name, check, required=required, kind=Kind.LIST)


def _id_item(value: object) -> list[str]:
    return [] if isinstance(value, str) and ID.fullmatch(value) else ["must be an id string"]


def _schema(
    *params: Param,
    one_of: tuple[tuple[str, ...], ...] = (),
    at_most_one: tuple[tuple[str, ...], ...] = (),
) -> Schema:
    return Schema(tuple(params), one_of=one_of, at_most_one=at_most_one, forbidden=FORBIDDEN)


def _strict_types(schema: Schema, items: list[tuple[str, object]]) -> list[str]:
    """SECURITY: JSON types must be exact; Param alone would accept "5" for an integer."""
    kinds = {p.name: p.kind for p in schema.params}
    wanted = {Kind.STRING: str, Kind.INT: int, Kind.BOOL: bool, Kind.LIST: list, Kind.OBJECT: dict}
    return [
        f"parameter {P.describe(name)} must be a JSON {kinds[name].value}"
        for name, value in items
        if name in kinds and type(value) is not wanted[kinds[name]]
    ]


def validate_body(schema: Schema, value: object) -> list[str]:
    """Violations of a JSON object against ``schema`` (exact types, then the schema)."""
    if not isinstance(value, dict):
        return ["must be a JSON object"]
    items = list(value.items())
    return _strict_types(schema, items) + schema.validate(items)


def _nested(schema: Schema) -> Callable[[object], list[str]]:
    return lambda value: validate_body(schema, value)


SUBACCOUNT = _int("subaccount", 0, 32)
BOOL = frozenset({"true", "false"})
PRICES = ("yes_price", "no_price", "yes_price_dollars", "no_price_dollars")


def _price_params() -> tuple[Param, ...]:
    return (
        _int("yes_price", 1, 99), _int("no_price", 1, 99),
        param("yes_price_dollars", DOLLARS), param("no_price_dollars", DOLLARS),
    )  # fmt: skip


CREATE_ORDER = _schema(
    param("ticker", TICKER, required=True), param("client_order_id", CLIENT_ID),
    param("side", SIDE, required=True), param("action", ACTION, required=True),
    _int("count", 1, 10**9), param("count_fp", FP_COUNT),
    param("type", frozenset({"limit", "market"})), *_price_params(),
    _int("expiration_ts", 0, 10**11), param("time_in_force", TIF),
    _int("buy_max_cost", 1, 10**12), param("post_only", BOOL, kind=Kind.BOOL),
    param("reduce_only", BOOL, kind=Kind.BOOL), _int("sell_position_floor", 0, 0),
    param("self_trade_prevention_type", STP), param("order_group_id", ID),
    param("cancel_order_on_pause", BOOL, kind=Kind.BOOL), SUBACCOUNT,
    one_of=(("count", "count_fp"),),
)  # fmt: skip
_CANCEL_ITEM = _schema(param("order_id", ID, required=True), SUBACCOUNT)
AMEND_ORDER = _schema(
    SUBACCOUNT, param("ticker", TICKER, required=True), param("side", SIDE, required=True),
    param("action", ACTION, required=True), param("client_order_id", CLIENT_ID),
    param("updated_client_order_id", CLIENT_ID), *_price_params(), _int("count", 1, 10**9),
    param("count_fp", FP_COUNT), one_of=(PRICES,), at_most_one=(PRICES,),
)  # fmt: skip
REDUCE = ("reduce_by", "reduce_by_fp", "reduce_to", "reduce_to_fp")
DECREASE_ORDER = _schema(
    SUBACCOUNT, _int("reduce_by", 1, 10**9), param("reduce_by_fp", FP_COUNT),
    _int("reduce_to", 0, 10**9), param("reduce_to_fp", FP_COUNT), one_of=(REDUCE,),
)  # fmt: skip
EMPTY = _schema()

BODIES: Mapping[str, Schema] = {
    "POST /portfolio/orders": CREATE_ORDER,
    "POST /portfolio/orders/batched": _schema(
        _list("orders", _nested(CREATE_ORDER), required=True)
    ),
    "DELETE /portfolio/orders/batched": _schema(
        _list("ids", _id_item), _list("orders", _nested(_CANCEL_ITEM)),
        one_of=(("ids", "orders"),), at_most_one=(("ids", "orders"),),
    ),
    "POST /portfolio/orders/{order_id}/amend": AMEND_ORDER,
    "POST /portfolio/orders/{order_id}/decrease": DECREASE_ORDER,
    "POST /portfolio/order_groups/create": _schema(
        SUBACCOUNT, _int("contracts_limit", 1, 10**9), param("contracts_limit_fp", FP_COUNT),
        one_of=(("contracts_limit", "contracts_limit_fp"),),
    ),
    "POST /portfolio/order_groups/{order_group_id}/reset": EMPTY,
    "POST /communications/rfqs": _schema(
        param("market_ticker", TICKER, required=True), _int("contracts", 1, 10**9),
        param("contracts_fp", FP_COUNT), _int("target_cost_centi_cents", 1, 10**14),
        param("target_cost_dollars", MONEY),
        param("rest_remainder", BOOL, required=True, kind=Kind.BOOL),
        param("replace_existing", BOOL, kind=Kind.BOOL), SUBACCOUNT,
    ),
    "POST /communications/quotes": _schema(
        param("rfq_id", ID, required=True), param("yes_bid", DOLLARS, required=True),
        param("no_bid", DOLLARS, required=True),
        param("rest_remainder", BOOL, required=True, kind=Kind.BOOL), SUBACCOUNT,
    ),
    "PUT /communications/quotes/{quote_id}/accept": _schema(
        param("accepted_side", SIDE, required=True)
    ),
    "PUT /communications/quotes/{quote_id}/confirm": EMPTY,
    "POST /portfolio/orders/queue_positions": _schema(
        _list("order_ids", _id_item, required=True)
    ),
}  # fmt: skip
# Endpoints whose body may be omitted (an empty object is the documented body).
OPTIONAL_BODY = frozenset(
    {
        "POST /portfolio/order_groups/{order_group_id}/reset",
        "PUT /communications/quotes/{quote_id}/confirm",
    }
)


def _q(*params: Param) -> Schema:
    return _schema(*params)


LIMIT_200 = _int("limit", 1, 200, kind=Kind.STRING)
SUB_Q = _int("subaccount", 0, 32, kind=Kind.STRING)
TIME_Q = (_int("min_ts", 0, 10**13, kind=Kind.STRING), _int("max_ts", 0, 10**13, kind=Kind.STRING))
QUERIES: Mapping[str, Schema] = {
    "DELETE /portfolio/orders/{order_id}": _q(SUB_Q),
    "POST /portfolio/order_groups/{order_group_id}/reset": _q(SUB_Q),
    "DELETE /portfolio/order_groups/{order_group_id}": _q(SUB_Q),
    "GET /portfolio/positions": _q(
        param("cursor", CURSOR), _int("limit", 1, 1000, kind=Kind.STRING),
        param("count_filter", COUNT_FILTER), param("ticker", TICKER),
        param("event_ticker", TICKERS), SUB_Q,
    ),
    "GET /portfolio/fills": _q(
        param("ticker", TICKER), param("order_id", ID), *TIME_Q, LIMIT_200,
        param("cursor", CURSOR), SUB_Q,
    ),
    "GET /portfolio/orders": _q(
        param("ticker", TICKER), param("event_ticker", TICKERS), *TIME_Q,
        param("status", frozenset({"resting", "canceled", "executed"})), LIMIT_200,
        param("cursor", CURSOR), SUB_Q,
    ),
    "GET /portfolio/settlements": _q(
        LIMIT_200, param("cursor", CURSOR), param("ticker", TICKER),
        param("event_ticker", TICKERS), *TIME_Q, SUB_Q,
    ),
    "GET /portfolio/order_groups": _q(SUB_Q),
    "GET /communications/rfqs": _q(
        param("cursor", CURSOR), param("event_ticker", TICKERS), param("market_ticker", TICKER),
        SUB_Q, _int("limit", 1, 100, kind=Kind.STRING),
        param("status", frozenset({"open", "closed"})), param("creator_user_id", ID),
    ),
    "GET /communications/quotes": _q(
        param("cursor", CURSOR), param("event_ticker", TICKERS), param("market_ticker", TICKER),
        _int("limit", 1, 500, kind=Kind.STRING),
        param("status", frozenset({"open", "accepted", "confirmed", "executed", "cancelled"})),
        param("quote_creator_user_id", ID), param("rfq_creator_user_id", ID), param("rfq_id", ID),
    ),
}  # fmt: skip
NO_QUERY = _q()

_OTHERS = (
    "DELETE /communications/rfqs/{rfq_id}",
    "DELETE /communications/quotes/{quote_id}", "GET /portfolio/balance",
    "GET /portfolio/orders/{order_id}", "GET /portfolio/orders/{order_id}/queue_position",
    "GET /portfolio/summary/total_resting_order_value", "GET /communications/id",
)  # fmt: skip


def _endpoint_class(key: str) -> EndpointClass:
    method = key.split(" ", 1)[0]
    if method == "GET" or key == "POST /portfolio/orders/queue_positions":  # a read with a body
        return EndpointClass.READ
    return EndpointClass.CANCEL if method == "DELETE" else EndpointClass.TRADE


def _endpoints() -> tuple[Endpoint, ...]:
    keys = sorted({*BODIES, *QUERIES, *_OTHERS}, key=lambda k: ("{" in k, k))
    out = []
    for key in keys:  # SECURITY: literal paths first, so "batched" never reads as an id
        method, path = key.split(" ", 1)
        out.append(Endpoint(method, PREFIX + path, _endpoint_class(key)))
    return tuple(out)


ENDPOINTS: tuple[Endpoint, ...] = _endpoints()


def _decrease_groups(body: Mapping[str, object]) -> list[str]:
    by, to = (
        body.keys() & {"reduce_by", "reduce_by_fp"},
        body.keys() & {"reduce_to", "reduce_to_fp"},
    )
    return ["give reduce_by(_fp) or reduce_to(_fp), not both"] if by and to else []


def signed_message(timestamp_ms: str, method: str, path: str) -> bytes:
    """Kalshi's signed bytes: ``timestamp_ms || METHOD || path`` (path without query)."""
    return f"{timestamp_ms}{method}{path}".encode("ascii")


@dataclass(frozen=True, slots=True)
class KalshiDetail:
    """What ``sign()`` needs: method, path, validated query pairs and JSON body."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: dict[str, object] | None
    passthrough: tuple[tuple[str, str], ...] = field(default=())


class KalshiVenue:
    """The Kalshi venue (see the module docstring)."""

    name = NAME
    hosts = HOSTS

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        """Strictly parse ``request`` into an intent (``Venue.parse``)."""
        method, path = P.check_method(request.method), P.check_path(request.path)
        host = P.resolve_host(NAME, HOSTS, principal.mode, request.host)
        headers = P.check_headers(request.headers)
        violations = list(headers.violations)
        endpoint = next(
            (e for e in ENDPOINTS if e.method == method and P.match_template(path, e.path)), None
        )
        if endpoint is None:
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, violations), host, None
            )
        key = f"{method} {endpoint.path.removeprefix(PREFIX)}"
        query = P.parse_form(request.query, where="request.query")
        violations += P.duplicate_violations((k for k, _ in query), "request.query")
        violations += QUERIES.get(key, NO_QUERY).validate(query)
        body: dict[str, object] | None = None
        schema = BODIES.get(key)
        if request.body and schema is None:
            violations.append("this endpoint takes no request body")
        elif request.body and schema is not None:
            body, duplicates = P.parse_json_object(request.body)
            violations += duplicates + validate_body(schema, body)
            violations += P.content_type_violations(headers.content_type, JSON)
            if schema is DECREASE_ORDER:
                violations += _decrease_groups(body)
        elif schema is not None and key not in OPTIONAL_BODY:
            violations.append("this endpoint requires a JSON body")
        detail = KalshiDetail(method, path, query, body, headers.passthrough)
        matched = (endpoint.key, endpoint.endpoint_class)
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def slow_signer(self, creds: VenueCredentials) -> bool:
        """RSA-PSS-2048 (about 260 us): signed on the pool (``signer.signing_pool``)."""
        return True

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp the timestamp, sign ``ts || METHOD || path`` with RSA-PSS (``Venue.sign``)."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, KalshiDetail)
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        api_key = P.header_safe_api_key(creds.api_key)
        signer = creds.derived("kalshi:rsa-pss", lambda: RsaPssSha256Signer.from_pem(creds.secret))
        timestamp = str(clock.now_ms())
        signature = signer.sign_base64(signed_message(timestamp, detail.method, detail.path))
        auth = (
            ("KALSHI-ACCESS-KEY", api_key),
            ("KALSHI-ACCESS-TIMESTAMP", timestamp),
            ("KALSHI-ACCESS-SIGNATURE", signature),
        )
        body = b"" if detail.body is None else P.canonical_json(detail.body).encode("ascii")
        content = (("Content-Type", JSON),) if detail.body is not None else ()
        request = HttpRequest(
            detail.method,
            detail.path,
            P.encode_form(detail.query),
            body,
            (*auth, *content, *detail.passthrough),
            parsed.host,
        )
        return SignedRequest(request=request, auth_headers=auth)


VENUE = KalshiVenue()
