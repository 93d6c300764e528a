"""Binance spot REST (VENUES.md section 3).

Invariants (tests: tests/unit/venues/test_binance.py, tests/security/test_expfail_binance.py):

1. Only the 29 ``/api/v3`` endpoints of venue_endpoints.json's allow list
   match (exact method and path); everything under /sapi, /fapi... does not.
2. SECURITY: Binance signs neither the path nor the method, so a signature
   for ``POST /api/v3/order`` would be as valid on
   ``POST /sapi/v1/capital/withdraw/apply`` if its parameters formed a
   withdrawal. Every endpoint therefore has a strict schema from
   binance-spot-api-docs; unknown parameters are violations, and no schema can
   admit a withdrawal/transfer name (``Schema`` refuses to be built with one,
   and a test iterates every schema).
3. Parameters may come in the query or the form body; a key in both, or
   twice, is a violation; a GET carries no body. The caller may not send
   ``timestamp``, ``recvWindow`` or ``signature``.
4. ``sign()`` re-encodes the parameters in the caller's order, appends
   ``recvWindow`` and ``timestamp`` (this is the order of Binance's own signed
   example), signs the exact bytes sent (all in the query for GET/DELETE, all
   in the form body for POST/PUT) and appends ``signature``.
"""

from __future__ import annotations

import re
import unicodedata
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
from signer.venues._params import Param, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "binance"
HOSTS: dict[Mode, str | None] = {
    Mode.LIVE: "api.binance.com",
    Mode.SANDBOX: "testnet.binance.vision",
}
FORM = "application/x-www-form-urlencoded"
STAMPED = frozenset({"timestamp", "recvWindow", "signature"})
# SECURITY: withdrawal / transfer / convert parameter names (DESIGN.md invariant 3).
FORBIDDEN = frozenset({
    "address", "addressTag", "coin", "amount", "network", "toAccountType", "fromAccountType",
    "destination", "chain", "withdrawOrderId", "asset", "transactionFeeFlag", "walletType",
    "toEmail", "fromEmail", "clientTranId",
})  # fmt: skip

# --- value checks -----------------------------------------------------------------
_rx = re.compile
DEC = _rx(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
LONG = _rx(r"[0-9]{1,19}")
TIME_MS = _rx(r"[0-9]{1,16}")
LIMIT = _rx(r"[1-9][0-9]{0,3}")
STRATEGY_TYPE = _rx(r"[1-9][0-9]{6,9}")  # at least 1000000
CLIENT_ID = _rx(r"[.A-Z:/a-z0-9_-]{1,36}")
PEG_OFFSET = _rx(r"[0-9]|[1-9][0-9]|100")
BOOL = frozenset({"true", "false"})
SIDE = frozenset({"BUY", "SELL"})
ORDER_TYPES = frozenset({
    "LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT",
    "LIMIT_MAKER",
})  # fmt: skip
TIF = frozenset({"GTC", "IOC", "FOK"})
RESP_TYPE = frozenset({"ACK", "RESULT", "FULL"})
# SECURITY: STP mode TRANSFER (matches between accounts of one trade group move
# balances between them) is left out; the other documented modes are admitted.
STP = frozenset({"NONE", "EXPIRE_MAKER", "EXPIRE_TAKER", "EXPIRE_BOTH", "DECREMENT"})
PEG_PRICE = frozenset({"PRIMARY_PEG", "MARKET_PEG"})
PEG_OFFSET_TYPE = frozenset({"PRICE_LEVEL"})
CANCEL_REPLACE_MODE = frozenset({"STOP_ON_FAILURE", "ALLOW_FAILURE"})
CANCEL_RESTRICTIONS = frozenset({"ONLY_NEW", "ONLY_PARTIALLY_FILLED"})
BELOW_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
ABOVE_TYPES = BELOW_TYPES | {"LIMIT_MAKER"}
WORKING_TYPES = frozenset({"LIMIT", "LIMIT_MAKER"})
_ASCII_SYMBOL = _rx(r"[A-Z0-9_.-]{1,20}")


def _symbol(value: object) -> list[str]:
    """ASCII symbols, or (Binance lists some) NFC letters/digits outside ASCII.

    SECURITY: a symbol names an instrument, never a destination; the value is
    percent-encoded when signed. Controls, format characters, punctuation and
    unnormalised text are refused so two spellings cannot name one symbol.
    """
    text = value if isinstance(value, str) else ""
    if _ASCII_SYMBOL.fullmatch(text):
        return []
    ok = 1 <= len(text) <= 20 and unicodedata.is_normalized("NFC", text)
    for ch in text:
        ascii_ok = bool(_ASCII_SYMBOL.fullmatch(ch))
        ok = ok and (ascii_ok or (ord(ch) > 0x7F and unicodedata.category(ch)[0] in "LN"))
    return [] if ok else ["parameter 'symbol' has an invalid value"]


def _schema(*params: Param, one_of: Sequence[tuple[str, ...]] = ()) -> Schema:
    return Schema(tuple(params), one_of=tuple(one_of), stamped=STAMPED, forbidden=FORBIDDEN)


SYMBOL = param("symbol", _symbol, required=True)
RESP_STP = (param("newOrderRespType", RESP_TYPE), param("selfTradePreventionMode", STP))


def _peg(prefix: str = "") -> tuple[Param, ...]:
    def name(n: str) -> str:
        return prefix + n[0].upper() + n[1:] if prefix else n

    return (
        param(name("pegPriceType"), PEG_PRICE),
        param(name("pegOffsetType"), PEG_OFFSET_TYPE),
        param(name("pegOffsetValue"), PEG_OFFSET),
    )


def _leg(
    prefix: str, types: frozenset[str], *, type_required: bool = True, working: bool = False
) -> tuple[Param, ...]:
    """The parameters of one order-list leg (``aboveType``, ``workingPrice``...).

    A working leg (OTO/OTOCO/OPO/OPOCO) has a mandatory price and no trigger.
    """
    stop, trailing = param(f"{prefix}StopPrice", DEC), param(f"{prefix}TrailingDelta", DEC)
    trigger = () if working else (stop, trailing)
    return (
        param(f"{prefix}Type", types, required=type_required),
        param(f"{prefix}ClientOrderId", CLIENT_ID),
        param(f"{prefix}Price", DEC, required=working),
        *trigger,
        param(f"{prefix}IcebergQty", DEC),
        param(f"{prefix}TimeInForce", TIF),
        param(f"{prefix}StrategyId", LONG),
        param(f"{prefix}StrategyType", STRATEGY_TYPE),
        *_peg(prefix),
    )


ORDER: tuple[Param, ...] = (
    SYMBOL, param("side", SIDE, required=True), param("type", ORDER_TYPES, required=True),
    param("timeInForce", TIF), param("quantity", DEC), param("quoteOrderQty", DEC),
    param("price", DEC), param("newClientOrderId", CLIENT_ID), param("strategyId", LONG),
    param("strategyType", STRATEGY_TYPE), param("stopPrice", DEC), param("trailingDelta", LONG),
    param("icebergQty", DEC), *RESP_STP, *_peg(),
)  # fmt: skip
SOR_ORDER: tuple[Param, ...] = (
    SYMBOL, param("side", SIDE, required=True),
    param("type", frozenset({"LIMIT", "MARKET"}), required=True), param("timeInForce", TIF),
    param("quantity", DEC, required=True), param("price", DEC),
    param("newClientOrderId", CLIENT_ID), param("strategyId", LONG),
    param("strategyType", STRATEGY_TYPE), param("icebergQty", DEC), *RESP_STP,
)  # fmt: skip
COMMISSION = param("computeCommissionRates", BOOL)
LIST_HEAD = (SYMBOL, param("listClientOrderId", CLIENT_ID), *RESP_STP)
WORKING = (
    *_leg("working", WORKING_TYPES, working=True), param("workingSide", SIDE, required=True),
    param("workingQuantity", DEC, required=True),
)  # fmt: skip
# OPO/OPOCO: the pending quantity is what the working order received, so no pendingQuantity.
OTO_PENDING = (*_leg("pending", ORDER_TYPES), param("pendingSide", SIDE, required=True))
OTOCO_PENDING = (
    *_leg("pendingAbove", ABOVE_TYPES), *_leg("pendingBelow", BELOW_TYPES, type_required=False),
    param("pendingSide", SIDE, required=True),
)  # fmt: skip
PENDING_QTY = param("pendingQuantity", DEC, required=True)
ORDER_REF = (("orderId", "origClientOrderId"),)

SCHEMAS: Mapping[str, Schema] = {
    "POST /api/v3/order": _schema(*ORDER),
    "POST /api/v3/order/test": _schema(*ORDER, COMMISSION),
    "POST /api/v3/order/cancelReplace": _schema(
        *ORDER, param("cancelReplaceMode", CANCEL_REPLACE_MODE, required=True),
        param("cancelNewClientOrderId", CLIENT_ID), param("cancelOrigClientOrderId", CLIENT_ID),
        param("cancelOrderId", LONG), param("cancelRestrictions", CANCEL_RESTRICTIONS),
        param("orderRateLimitExceededMode", frozenset({"DO_NOTHING", "CANCEL_ONLY"})),
        one_of=(("cancelOrderId", "cancelOrigClientOrderId"),),
    ),
    "POST /api/v3/orderList/oco": _schema(
        *LIST_HEAD, param("side", SIDE, required=True), param("quantity", DEC, required=True),
        *_leg("above", ABOVE_TYPES), *_leg("below", BELOW_TYPES),
    ),
    "POST /api/v3/orderList/oto": _schema(*LIST_HEAD, *WORKING, *OTO_PENDING, PENDING_QTY),
    "POST /api/v3/orderList/otoco": _schema(*LIST_HEAD, *WORKING, *OTOCO_PENDING, PENDING_QTY),
    "POST /api/v3/orderList/opo": _schema(*LIST_HEAD, *WORKING, *OTO_PENDING),
    "POST /api/v3/orderList/opoco": _schema(*LIST_HEAD, *WORKING, *OTOCO_PENDING),
    "POST /api/v3/order/oco": _schema(
        *LIST_HEAD, param("side", SIDE, required=True), param("quantity", DEC, required=True),
        param("limitClientOrderId", CLIENT_ID), param("price", DEC, required=True),
        param("limitStrategyId", LONG), param("limitStrategyType", STRATEGY_TYPE),
        param("limitIcebergQty", DEC), param("trailingDelta", LONG),
        param("stopClientOrderId", CLIENT_ID), param("stopPrice", DEC, required=True),
        param("stopStrategyId", LONG), param("stopStrategyType", STRATEGY_TYPE),
        param("stopLimitPrice", DEC), param("stopIcebergQty", DEC),
        param("stopLimitTimeInForce", TIF),
    ),
    "POST /api/v3/sor/order": _schema(*SOR_ORDER),
    "POST /api/v3/sor/order/test": _schema(*SOR_ORDER, COMMISSION),
    "DELETE /api/v3/order": _schema(
        SYMBOL, param("orderId", LONG), param("origClientOrderId", CLIENT_ID),
        param("newClientOrderId", CLIENT_ID), param("cancelRestrictions", CANCEL_RESTRICTIONS),
        one_of=ORDER_REF,
    ),
    "DELETE /api/v3/openOrders": _schema(SYMBOL),
    "DELETE /api/v3/orderList": _schema(
        SYMBOL, param("orderListId", LONG), param("listClientOrderId", CLIENT_ID),
        param("newClientOrderId", CLIENT_ID), one_of=(("orderListId", "listClientOrderId"),),
    ),
    "PUT /api/v3/order/amend/keepPriority": _schema(
        SYMBOL, param("orderId", LONG), param("origClientOrderId", CLIENT_ID),
        param("newClientOrderId", CLIENT_ID), param("newQty", DEC, required=True),
        one_of=ORDER_REF,
    ),
    "GET /api/v3/order": _schema(
        SYMBOL, param("orderId", LONG), param("origClientOrderId", CLIENT_ID), one_of=ORDER_REF
    ),
    "GET /api/v3/openOrders": _schema(param("symbol", _symbol)),
    "GET /api/v3/allOrders": _schema(
        SYMBOL, param("orderId", LONG), param("startTime", TIME_MS), param("endTime", TIME_MS),
        param("limit", LIMIT),
    ),
    "GET /api/v3/orderList": _schema(
        param("orderListId", LONG), param("origClientOrderId", CLIENT_ID),
        one_of=(("orderListId", "origClientOrderId"),),
    ),
    "GET /api/v3/allOrderList": _schema(
        param("fromId", LONG), param("startTime", TIME_MS), param("endTime", TIME_MS),
        param("limit", LIMIT),
    ),
    "GET /api/v3/openOrderList": _schema(),
    "GET /api/v3/account": _schema(param("omitZeroBalances", BOOL)),
    "GET /api/v3/myTrades": _schema(
        SYMBOL, param("orderId", LONG), param("startTime", TIME_MS), param("endTime", TIME_MS),
        param("fromId", LONG), param("limit", LIMIT),
    ),
    "GET /api/v3/rateLimit/order": _schema(),
    "GET /api/v3/myPreventedMatches": _schema(
        SYMBOL, param("preventedMatchId", LONG), param("orderId", LONG),
        param("fromPreventedMatchId", LONG), param("limit", LIMIT),
    ),
    "GET /api/v3/myAllocations": _schema(
        SYMBOL, param("startTime", TIME_MS), param("endTime", TIME_MS),
        param("fromAllocationId", LONG), param("limit", LIMIT), param("orderId", LONG),
    ),
    "GET /api/v3/account/commission": _schema(SYMBOL),
    "GET /api/v3/order/amendments": _schema(
        SYMBOL, param("orderId", LONG, required=True), param("fromExecutionId", LONG),
        param("limit", LIMIT),
    ),
    "GET /api/v3/myFilters": _schema(SYMBOL),
}  # fmt: skip


def _endpoint_class(key: str) -> EndpointClass:
    method = key.split(" ", 1)[0]
    if method == "GET":
        return EndpointClass.READ
    return EndpointClass.CANCEL if method == "DELETE" else EndpointClass.TRADE


ENDPOINTS: tuple[Endpoint, ...] = tuple(
    Endpoint(key.split(" ", 1)[0], key.split(" ", 1)[1], _endpoint_class(key)) for key in SCHEMAS
)
# Exact (method, path) lookup: no Binance path has a {name} segment, so this is
# the same match as P.match_template over ENDPOINTS (a test compares them).
ROUTES: Mapping[tuple[str, str], Endpoint] = {(e.method, e.path): e for e in ENDPOINTS}
if any("{" in e.path for e in ENDPOINTS):  # pragma: no cover - a table edit, caught at import
    raise ValueError("binance endpoint templates need a template match, not ROUTES")


@dataclass(frozen=True, slots=True)
class BinanceDetail:
    """What ``sign()`` needs: the method, path and validated parameters in order."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    passthrough: tuple[tuple[str, str], ...]


def build_signer(secret: Secret) -> Callable[[bytes], str]:
    """The ``signature`` parameter value for a payload: HMAC hex, or a PEM key's
    base64 signature percent-encoded (Ed25519 / RSASSA-PKCS1-v1_5-SHA256)."""
    if is_pem_private_key(secret):
        pem = load_pem_signer(secret)
        return lambda payload: P.encode_value(pem.sign_base64(payload))
    return HmacSha256(secret).hex


def _is_rsa_key(secret: Secret) -> bool:
    if not is_pem_private_key(secret):
        return False
    try:
        return isinstance(load_pem_signer(secret), RsaPkcs1v15Sha256Signer)
    except InvalidCredentialsError:
        return False  # sign() refuses it, inline, with the same error


class BinanceVenue:
    """The Binance spot venue (see the module docstring).

    Args:
        recv_window_ms: the ``recvWindow`` the daemon stamps (1-60000 ms).
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
        endpoint = ROUTES.get((method, path))
        if endpoint is None:
            # SECURITY: an unlisted endpoint is denied as such (and audited), whatever
            # its parameters look like; its body is not even parsed.
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, list(headers.violations)), host, None
            )
        query = P.parse_form(request.query, where="request.query")
        body = P.parse_form(request.body, where="request.body", limit=P.MAX_BODY_BYTES)
        violations = list(headers.violations)
        violations += P.duplicate_violations((k for k, _ in query), "request.query")
        violations += P.duplicate_violations((k for k, _ in body), "request.body")
        if query and body:
            violations += [
                f"parameter {P.describe(k)} appears in both the query and the body"
                for k in sorted({k for k, _ in query} & {k for k, _ in body})
            ]
        if body and method == "GET":
            violations.append("GET requests carry their parameters in the query only")
        if body:
            violations += P.content_type_violations(headers.content_type, FORM)
        params = query + body
        violations += SCHEMAS[endpoint.key].validate(params)
        detail = BinanceDetail(method, path, params, headers.passthrough)
        matched = (endpoint.key, endpoint.endpoint_class)
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def slow_signer(self, creds: VenueCredentials) -> bool:
        """An RSA API key (about 250 us a signature) signs on the pool
        (``signer.signing_pool``); HMAC and Ed25519 keys sign inline."""
        return creds.derived("binance:rsa", lambda: _is_rsa_key(creds.secret))

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp recvWindow and timestamp, sign the exact bytes sent (``Venue.sign``)."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, BinanceDetail)
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        api_key = P.header_safe_api_key(creds.api_key)
        stamped = (("recvWindow", str(self.recv_window_ms)), ("timestamp", str(clock.now_ms())))
        payload = P.encode_form((*detail.params, *stamped))
        signer = creds.derived("binance:signer", lambda: build_signer(creds.secret))
        signed = f"{payload}&signature={signer(payload.encode('ascii'))}"
        auth = (("X-MBX-APIKEY", api_key),)
        if detail.method in ("GET", "DELETE"):
            request = HttpRequest(
                detail.method, detail.path, signed, b"", (*auth, *detail.passthrough), parsed.host
            )
        else:
            headers = (*auth, ("Content-Type", FORM), *detail.passthrough)
            request = HttpRequest(
                detail.method, detail.path, "", signed.encode("ascii"), headers, parsed.host
            )
        return SignedRequest(request=request, auth_headers=auth)


VENUE = BinanceVenue()
