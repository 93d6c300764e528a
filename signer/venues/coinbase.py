"""Coinbase Advanced Trade REST with CDP API keys (VENUES.md section 2).

Invariants (tests: tests/unit/venues/test_coinbase.py, tests/security/test_expfail_coinbase.py):

1. Only the 28 ``/api/v3/brokerage`` endpoints of venue_endpoints.json's
   coinbase allow list match (exact method and path; ``{name}`` segments via
   ``match_template``, then checked as UUIDs / product ids, so
   ``GET .../portfolios/move_funds`` or ``.../historical/..`` never pass).
   Every ``/v2/`` path, convert, portfolio management, sweeps, intx allocate
   and multi-asset collateral have no entry and get ``endpoint=None``.
2. SECURITY: the JWT binds METHOD + host + path but neither body nor query
   (cross-cutting finding 2), so whoever holds the token may send any body to
   that path for 120 s. Every POST body is therefore checked against a strict
   schema at every level (unknown keys, wrong JSON types, ``null`` and
   withdrawal/transfer names are violations; ``order_configuration`` holds
   exactly one known configuration), every GET query against its own, and
   the body/query returned is re-encoded from what was validated. A POST
   carries no query string, a GET no body.
3. ``sign()`` builds a fresh JWT (``signer.schemes.jwt``) whose ``uri`` names
   the host the request goes to: ``api.coinbase.com`` for live principals,
   ``api-sandbox.coinbase.com`` (the Advanced Trade sandbox) for sandbox ones.
   It is sent as ``Authorization: Bearer <jwt>``; the key is loaded once per
   credential handle (``creds.derived``).

Parameter lists: CDP API reference, Advanced Trade REST
(https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/):
orders/create-order, preview-orders, edit-order, edit-order-preview,
cancel-order, close-position, list-orders, list-fills, get-order, accounts,
portfolios, fees (transaction_summary), futures, perpetuals, products and
data-api (key_permissions); cross-checked with coinbase-advanced-py 1.8.4
``coinbase/rest/*.py``. Deliberately not admitted (deny by default): the
``scaled_limit_gtc`` configuration, whose field list is not fully documented,
and the deprecated ``user_native_currency`` query parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.jwt import CdpJwtSigner, cdp_rest_jwt
from signer.venues import _params as P
from signer.venues._params import Kind, Param, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "coinbase"
HOSTS: dict[Mode, str | None] = {
    Mode.LIVE: "api.coinbase.com",
    Mode.SANDBOX: "api-sandbox.coinbase.com",
}
JSON = "application/json"
B = "/api/v3/brokerage"
STAMPED = frozenset({"nonce", "timestamp", "signature", "jwt", "nbf", "exp"})
# SECURITY: names from the v2 send/withdraw/deposit bodies, portfolios/move_funds,
# convert and intx/allocate (DESIGN.md invariant 3).
FORBIDDEN = frozenset({
    "to", "type", "amount", "currency", "address", "destination", "network", "funds",
    "source_portfolio_uuid", "target_portfolio_uuid", "from_account", "to_account", "idem",
    "payment_method", "coin", "chain", "withdrawOrderId", "toAccountType", "commit",
    "description", "trade_id", "portfolio_uuid", "symbol", "two_factor_token",
})  # fmt: skip

# --- value checks -----------------------------------------------------------------
_rx = re.compile
UUID = _rx(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PRODUCT = _rx(r"[A-Z0-9]{1,24}(?:-[A-Z0-9]{1,24}){1,4}")
CLIENT_ID = _rx(r"[A-Za-z0-9_-]{1,128}")
TRADE_ID = _rx(r"[A-Za-z0-9-]{1,64}")
DEC = _rx(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
LEVERAGE = _rx(r"[0-9]{1,4}(?:\.[0-9]{1,8})?")
TIME = _rx(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
UNIX_S = _rx(r"[0-9]{1,12}")
LIMIT = _rx(r"[0-9]{1,5}")
COUNT = _rx(r"[1-9][0-9]{0,5}")
DURATION = _rx(r"[0-9]{1,9}(?:\.[0-9]{1,9})?s")
CURSOR = _rx(r"[A-Za-z0-9_=+/.-]{1,512}")
TOKEN = _rx(r"[A-Z][A-Z0-9_]{0,63}")  # enum-like read filters (ORDER_STATUS values...)
CURRENCY = _rx(r"[A-Z0-9]{1,16}")
BOOL = frozenset({"true", "false"})
# Query booleans: grpc-gateway parses them with Go's strconv.ParseBool, and
# coinbase-advanced-py sends Python's "True"/"False" through requests.
QUERY_BOOL = BOOL | {"True", "False"}
SIDE = frozenset({"BUY", "SELL"})
MARGIN = frozenset({"CROSS", "ISOLATED"})
STOP_DIRECTION = frozenset({"STOP_DIRECTION_STOP_UP", "STOP_DIRECTION_STOP_DOWN"})
GRANULARITY = frozenset({
    "ONE_MINUTE", "FIVE_MINUTE", "FIFTEEN_MINUTE", "THIRTY_MINUTE", "ONE_HOUR", "TWO_HOUR",
    "SIX_HOUR", "ONE_DAY",
})  # fmt: skip
PATH_PARAMS: Mapping[str, re.Pattern[str]] = {
    "order_id": UUID, "account_uuid": UUID, "portfolio_uuid": UUID, "product_id": PRODUCT,
    "symbol": PRODUCT,
}  # fmt: skip
# Query parameters sent repeated (``order_ids=a&order_ids=b``), as grpc-gateway reads arrays.
QUERY_LISTS = frozenset({
    "order_ids", "product_ids", "order_status", "time_in_forces", "order_types", "asset_filters",
    "trade_ids",
})  # fmt: skip
_JSON_TYPES: Mapping[Kind, tuple[type, ...]] = {
    Kind.STRING: (str,), Kind.BOOL: (bool,), Kind.INT: (int,), Kind.LIST: (list,),
    Kind.OBJECT: (dict,),
}  # fmt: skip


def _schema(*params: Param, groups: Sequence[tuple[str, ...]] = ()) -> Schema:
    return Schema(
        tuple(params), one_of=tuple(groups), at_most_one=tuple(groups),
        stamped=STAMPED, forbidden=FORBIDDEN,
    )  # fmt: skip


def check_object(schema: Schema, obj: Mapping[str, object]) -> list[str]:
    """Violations of a JSON object: exact JSON types first, then ``schema``.

    SECURITY: ``Param.check`` accepts the text ``"true"`` for a boolean and
    ``"5"`` for an integer (form values are text); a JSON body must carry the
    documented type itself, and ``null`` is never a value.
    """
    kinds = {p.name: p.kind for p in schema.params}
    out: list[str] = []
    for name, value in obj.items():
        kind = kinds.get(name)
        if kind is not None and type(value) not in _JSON_TYPES[kind]:
            out.append(f"parameter {P.describe(name)} must be a JSON {kind.value}")
    return out + schema.validate(list(obj.items()))


def _nested(where: str, schema: Schema, value: object) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where} must be a JSON object"]
    return [f"{where}: {v}" for v in check_object(schema, value)]


def _exactly_one(where: str, configs: Mapping[str, Schema]) -> P.Validator:
    """``order_configuration``-like objects: exactly one known key, itself checked."""

    def check(value: object) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where} must be a JSON object"]
        out = [] if len(value) == 1 else [f"{where} must hold exactly one of: {', '.join(configs)}"]
        for key, inner in value.items():
            if key in configs:
                out.extend(_nested(f"{where}.{key}", configs[key], inner))
            else:
                out.append(f"{where}: {P.describe(key)} is not an admitted configuration")
        return out

    return check


def _id_list(name: str, pattern: re.Pattern[str], most: int) -> P.Validator:
    def check(value: object) -> list[str]:
        items = value if isinstance(value, list) else []
        ok = 1 <= len(items) <= most and all(
            isinstance(i, str) and pattern.fullmatch(i) for i in items
        )
        return [] if ok else [f"parameter {name!r} must be a list of 1 to {most} valid ids"]

    return check


# --- order configurations (create-order: "order_configuration") -------------------
_SIZES = (("quote_size", "base_size"),)
QUOTE, BASE_OPT = param("quote_size", DEC), param("base_size", DEC)
BASE = param("base_size", DEC, required=True)
RFQ = param("rfq_disabled", BOOL, kind=Kind.BOOL)
POST_ONLY = param("post_only", BOOL, kind=Kind.BOOL)
LIMIT_PRICE, END = param("limit_price", DEC, required=True), param("end_time", TIME, required=True)
STOP = (
    param("stop_price", DEC, required=True),
    param("stop_direction", STOP_DIRECTION, required=True),
)
TRIGGER = param("stop_trigger_price", DEC, required=True)
CONFIGS: Mapping[str, Schema] = {
    "market_market_ioc": _schema(QUOTE, BASE_OPT, RFQ, groups=_SIZES),
    "market_market_fok": _schema(QUOTE, BASE_OPT, RFQ, groups=_SIZES),
    "sor_limit_ioc": _schema(QUOTE, BASE_OPT, LIMIT_PRICE, RFQ, groups=_SIZES),
    "limit_limit_gtc": _schema(QUOTE, BASE_OPT, LIMIT_PRICE, POST_ONLY, RFQ, groups=_SIZES),
    "limit_limit_gtd": _schema(QUOTE, BASE_OPT, LIMIT_PRICE, END, POST_ONLY, groups=_SIZES),
    "limit_limit_fok": _schema(QUOTE, BASE_OPT, LIMIT_PRICE, RFQ, groups=_SIZES),
    "twap_limit_gtd": _schema(
        QUOTE, BASE_OPT, LIMIT_PRICE, param("start_time", TIME), END,
        param("number_buckets", COUNT), param("bucket_size", DEC),
        param("bucket_duration", DURATION), groups=_SIZES,
    ),
    "stop_limit_stop_limit_gtc": _schema(BASE, LIMIT_PRICE, *STOP),
    "stop_limit_stop_limit_gtd": _schema(BASE, LIMIT_PRICE, *STOP, END),
    "trigger_bracket_gtc": _schema(BASE, LIMIT_PRICE, TRIGGER),
    "trigger_bracket_gtd": _schema(BASE, LIMIT_PRICE, TRIGGER, END),
}  # fmt: skip
# "Only TriggerBracketGtc is eligible. Size field must be omitted" (create-order docs).
ATTACHED: Mapping[str, Schema] = {"trigger_bracket_gtc": _schema(LIMIT_PRICE, TRIGGER)}
ATTACHED_PARAM = param(
    "attached_order_configuration", _exactly_one("attached_order_configuration", ATTACHED),
    kind=Kind.OBJECT,
)  # fmt: skip
ORDER_FIELDS = (
    param("product_id", PRODUCT, required=True), param("side", SIDE, required=True),
    param("order_configuration", _exactly_one("order_configuration", CONFIGS), required=True,
          kind=Kind.OBJECT),
    param("leverage", LEVERAGE), param("margin_type", MARGIN),
    param("retail_portfolio_id", UUID), ATTACHED_PARAM,
)  # fmt: skip
EDIT = _schema(
    param("order_id", UUID, required=True), param("price", DEC), param("size", DEC),
    param("stop_price", DEC), ATTACHED_PARAM, param("cancel_attached_order", BOOL, kind=Kind.BOOL),
)  # fmt: skip
BODIES: Mapping[str, Schema] = {
    f"POST {B}/orders": _schema(
        param("client_order_id", CLIENT_ID, required=True), *ORDER_FIELDS,
        param("self_trade_prevention_id", CLIENT_ID), param("preview_id", UUID),
    ),
    f"POST {B}/orders/batch_cancel": _schema(
        param("order_ids", _id_list("order_ids", UUID, 100), required=True, kind=Kind.LIST)
    ),
    f"POST {B}/orders/edit": EDIT,
    f"POST {B}/orders/edit_preview": EDIT,
    f"POST {B}/orders/preview": _schema(*ORDER_FIELDS),
    f"POST {B}/orders/close_position": _schema(
        param("client_order_id", CLIENT_ID, required=True),
        param("product_id", PRODUCT, required=True), param("size", DEC),
    ),
}  # fmt: skip

# --- read endpoints (query strings) -----------------------------------------------
PORTFOLIO = param("retail_portfolio_id", UUID)
PAGE = (param("limit", LIMIT), param("cursor", CURSOR))
PRODUCT_IDS, EXPIRY = param("product_ids", PRODUCT), param("contract_expiry_type", TOKEN)
TRADABILITY = param("get_tradability_status", QUERY_BOOL)
QUERIES: Mapping[str, Schema] = {
    f"GET {B}/orders/historical/batch": _schema(
        param("order_ids", UUID), PRODUCT_IDS, param("product_type", TOKEN),
        param("order_status", TOKEN), param("time_in_forces", TOKEN), param("order_types", TOKEN),
        param("order_side", SIDE), param("start_date", TIME), param("end_date", TIME),
        param("order_placement_source", TOKEN), EXPIRY, param("asset_filters", CURRENCY),
        PORTFOLIO, *PAGE, param("sort_by", TOKEN),
    ),
    f"GET {B}/orders/historical/fills": _schema(
        param("order_ids", UUID), param("trade_ids", TRADE_ID), PRODUCT_IDS,
        param("start_sequence_timestamp", TIME), param("end_sequence_timestamp", TIME),
        PORTFOLIO, *PAGE, param("sort_by", TOKEN),
    ),
    f"GET {B}/orders/historical/{{order_id}}": _schema(),
    f"GET {B}/accounts": _schema(*PAGE, PORTFOLIO),
    f"GET {B}/accounts/{{account_uuid}}": _schema(),
    f"GET {B}/transaction_summary": _schema(
        param("product_type", TOKEN), EXPIRY, param("product_venue", TOKEN)
    ),
    f"GET {B}/portfolios": _schema(param("portfolio_type", TOKEN)),
    f"GET {B}/portfolios/{{portfolio_uuid}}": Schema(
        (param("currency", CURRENCY),), stamped=STAMPED, forbidden=FORBIDDEN - {"currency"}
    ),
    f"GET {B}/cfm/balance_summary": _schema(),
    f"GET {B}/cfm/positions": _schema(),
    f"GET {B}/cfm/positions/{{product_id}}": _schema(),
    f"GET {B}/intx/portfolio/{{portfolio_uuid}}": _schema(),
    f"GET {B}/intx/positions/{{portfolio_uuid}}": _schema(),
    f"GET {B}/intx/positions/{{portfolio_uuid}}/{{symbol}}": _schema(),
    f"GET {B}/intx/balances/{{portfolio_uuid}}": _schema(),
    f"GET {B}/key_permissions": _schema(),
    f"GET {B}/products": _schema(
        param("limit", LIMIT), param("offset", LIMIT), param("product_type", TOKEN), PRODUCT_IDS,
        EXPIRY, param("expiring_contract_status", TOKEN), TRADABILITY,
        param("get_all_products", QUERY_BOOL),
    ),
    f"GET {B}/products/{{product_id}}": _schema(TRADABILITY),
    f"GET {B}/product_book": _schema(
        param("product_id", PRODUCT, required=True), param("limit", LIMIT),
        param("aggregation_price_increment", DEC),
    ),
    f"GET {B}/best_bid_ask": _schema(PRODUCT_IDS),
    f"GET {B}/products/{{product_id}}/candles": _schema(
        param("start", UNIX_S, required=True), param("end", UNIX_S, required=True),
        param("granularity", GRANULARITY, required=True), param("limit", LIMIT),
    ),
    f"GET {B}/products/{{product_id}}/ticker": _schema(
        param("limit", LIMIT, required=True), param("start", UNIX_S), param("end", UNIX_S)
    ),
}  # fmt: skip
SCHEMAS: Mapping[str, Schema] = {**BODIES, **QUERIES}


def _endpoint_class(key: str) -> EndpointClass:
    if key.startswith("GET "):
        return EndpointClass.READ
    return EndpointClass.CANCEL if key.endswith("/batch_cancel") else EndpointClass.TRADE


# Exact paths first, so ``.../historical/batch`` is never taken for ``{order_id}``.
ENDPOINTS: tuple[Endpoint, ...] = tuple(
    Endpoint(key.split(" ", 1)[0], key.split(" ", 1)[1], _endpoint_class(key))
    for key in sorted(SCHEMAS, key=lambda k: "{" in k)
)


def path_violations(template: str, path: str) -> list[str]:
    """Each ``{name}`` segment must be a UUID or product id, not just any segment."""
    out: list[str] = []
    for want, got in zip(template.split("/"), path.split("/"), strict=True):
        if want.startswith("{") and not PATH_PARAMS[want[1:-1]].fullmatch(got):
            out.append(f"path parameter {want[1:-1]!r} has an invalid value")
    return out


@dataclass(frozen=True, slots=True)
class CoinbaseDetail:
    """What ``sign()`` needs: method, path, and the re-encoded query or JSON body."""

    method: str
    path: str
    query: str
    body: bytes
    passthrough: tuple[tuple[str, str], ...]


class CoinbaseVenue:
    """The Coinbase Advanced Trade venue (see the module docstring)."""

    name = NAME
    hosts = HOSTS

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        """Strictly parse ``request`` into an intent (``Venue.parse``)."""
        method, path = P.check_method(request.method), P.check_path(request.path)
        host = P.resolve_host(NAME, HOSTS, principal.mode, request.host)
        headers = P.check_headers(request.headers)
        query = P.parse_form(request.query, where="request.query")
        violations = list(headers.violations)
        endpoint = next(
            (e for e in ENDPOINTS if e.method == method and P.match_template(path, e.path)), None
        )
        if endpoint is None:
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, violations), host, None
            )
        schema = SCHEMAS[endpoint.key]
        violations += path_violations(endpoint.path, path)
        body = b""
        if method == "POST":
            if query:
                violations.append("Coinbase POST endpoints take no query string")
            obj, duplicates = P.parse_json_object(request.body)
            violations += duplicates
            violations += P.content_type_violations(headers.content_type, JSON)
            violations += check_object(schema, obj)
            # SECURITY: re-encoded from the validated object (only str/bool/list/dict
            # survive a violation-free check), never the caller's bytes.
            body = b"" if violations else P.canonical_json(obj).encode("ascii")
        else:
            if request.body:
                violations.append("GET requests carry no body")
            names = [k for k, _ in query if k not in QUERY_LISTS]
            violations += P.duplicate_violations(names, "request.query")
            violations += schema.validate(query)
        detail = CoinbaseDetail(
            method, path, "" if method == "POST" else P.encode_form(query), body,
            headers.passthrough,
        )  # fmt: skip
        matched = (endpoint.key, endpoint.endpoint_class)
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Build a fresh JWT for METHOD host+path and attach it (``Venue.sign``)."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, CoinbaseDetail)
            or parsed.host not in HOSTS.values()
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        key_name = P.header_safe_api_key(creds.api_key)
        signer = creds.derived("coinbase:jwt", lambda: CdpJwtSigner.from_secret(creds.secret))
        uri = f"{detail.method} {parsed.host}{detail.path}"
        token = cdp_rest_jwt(signer, key_name, uri, clock.now_ms() // 1000)
        auth = (("Authorization", f"Bearer {token}"),)
        content = (("Content-Type", JSON),) if detail.method == "POST" else ()
        request = HttpRequest(
            detail.method, detail.path, detail.query, detail.body,
            (*auth, *content, *detail.passthrough), parsed.host,
        )  # fmt: skip
        return SignedRequest(request=request, auth_headers=auth)


VENUE = CoinbaseVenue()
