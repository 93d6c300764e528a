"""Must-fail corpus for Kraken: every request here must be refused.

"Refused" means: ``parse`` raises ``InvalidRequestError``/``ModeMismatchError``
(envelope), or the intent has no endpoint or carries violations, and the
shipped default policy denies it. ``sign()`` is replaced by a tripwire for the
whole module, so no case can reach it. Positive controls prove the default
policy allows the undisguised requests, so the denials are not vacuous.
"""

from __future__ import annotations

import json

import pytest

from policy.document import default_document_bytes, load_document
from policy.engine import decide
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidRequestError, ModeMismatchError
from signer.venues import kraken

LIVE = Principal("attacker-client", Mode.LIVE)
SANDBOX = Principal("attacker-client", Mode.SANDBOX)
POLICY = load_document(default_document_bytes())
ORDER = b"ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
WITHDRAW = b"asset=XBT&key=my-wallet&address=bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh&amount=1"

# venue_endpoints.json "kraken" deny list.
DENY = [
    "Withdraw", "WithdrawCancel", "WithdrawInfo", "WithdrawMethods", "WithdrawAddresses",
    "WithdrawStatus", "WalletTransfer", "AccountTransfer", "CreateSubaccount",
    "DepositAddresses", "DepositMethods", "DepositStatus", "Earn/Allocate", "Earn/Deallocate",
    "Earn/AllocateStatus", "Earn/DeallocateStatus",
]  # fmt: skip


def post(path: str, body: bytes = b"", **kw: object) -> HttpRequest:
    return HttpRequest("POST", path, body=body, **kw)  # type: ignore[arg-type]


CASES: dict[str, tuple[Principal, HttpRequest]] = {
    **{f"deny_{n.replace('/', '_')}": (LIVE, post("/0/private/" + n, WITHDRAW)) for n in DENY},
    # Path disguises.
    "case_lower": (LIVE, post("/0/private/addorder", ORDER)),
    "case_upper_segment": (LIVE, post("/0/PRIVATE/AddOrder", ORDER)),
    "case_withdraw": (LIVE, post("/0/private/withdraw", WITHDRAW)),
    "pct_letter": (LIVE, post("/0/private/%41ddOrder", ORDER)),
    "pct_withdraw_letter": (LIVE, post("/0/private/%57ithdraw", WITHDRAW)),
    "pct_slash": (LIVE, post("/0/private%2FAddOrder", ORDER)),
    "pct_slash_prefix": (LIVE, post("/0%2Fprivate/Withdraw", WITHDRAW)),
    "dotdot_to_withdraw": (LIVE, post("/0/private/AddOrder/../Withdraw", WITHDRAW)),
    "dotdot_from_withdraw": (LIVE, post("/0/private/Withdraw/../AddOrder", ORDER)),
    "pct_dotdot": (LIVE, post("/0/private/%2E%2E/private/Withdraw", WITHDRAW)),
    "dot_segment": (LIVE, post("/0/private/./AddOrder", ORDER)),
    "trailing_slash": (LIVE, post("/0/private/AddOrder/", ORDER)),
    "double_slash": (LIVE, post("/0/private//AddOrder", ORDER)),
    "leading_double_slash": (LIVE, post("//0/private/AddOrder", ORDER)),
    "public_prefix": (LIVE, post("/0/public/AddOrder", ORDER)),
    "version_1": (LIVE, post("/1/private/AddOrder", ORDER)),
    "lookalike_cyrillic_raw": (LIVE, post("/0/private/\u0410ddOrder", ORDER)),
    "lookalike_cyrillic_pct": (LIVE, post("/0/private/%D0%90ddOrder", ORDER)),
    "path_with_query": (LIVE, post("/0/private/AddOrder?method=Withdraw", ORDER)),
    "get_method": (LIVE, HttpRequest("GET", "/0/private/AddOrder", query=ORDER.decode())),
    "lowercase_method": (LIVE, HttpRequest("post", "/0/private/AddOrder", body=ORDER)),
    # Parameter disguises.
    "duplicate_key": (LIVE, post("/0/private/AddOrder", ORDER + b"&pair=XBTEUR")),
    "extra_param": (LIVE, post("/0/private/AddOrder", ORDER + b"&foo=bar")),
    "withdraw_set_on_addorder": (LIVE, post("/0/private/AddOrder", ORDER + b"&" + WITHDRAW)),
    "withdraw_set_alone_on_addorder": (LIVE, post("/0/private/AddOrder", WITHDRAW)),
    "withdraw_set_on_balance": (LIVE, post("/0/private/Balance", WITHDRAW)),
    "caller_nonce": (LIVE, post("/0/private/AddOrder", b"nonce=99999999999999&" + ORDER)),
    "caller_nonce_json": (
        LIVE,
        post("/0/private/CancelOrderBatch", b'{"nonce":1,"orders":["OA-BB"]}'),
    ),
    "json_duplicate_key": (
        LIVE,
        post("/0/private/CancelOrderBatch", b'{"orders":["OA-BB"],"orders":["OC-DD"]}'),
    ),
    "json_extra_key": (
        LIVE,
        post(
            "/0/private/AddOrderBatch",
            json.dumps({"pair": "XBTUSD", "orders": [{}, {}], "address": "x"}).encode(),
        ),
    ),
    "params_in_query": (
        LIVE,
        HttpRequest("POST", "/0/private/AddOrder", query=WITHDRAW.decode(), body=ORDER),
    ),
    "pct_encoded_key": (LIVE, post("/0/private/AddOrder", ORDER + b"&%61ddress=x")),
    "plus_in_value": (LIVE, post("/0/private/AddOrder", ORDER.replace(b"37500", b"+5"))),
    "semicolon_separator": (LIVE, post("/0/private/AddOrder", ORDER + b";address=x")),
    "nul_in_value": (LIVE, post("/0/private/AddOrder", ORDER + b"&userref=%00")),
    "auth_header_api_sign": (
        LIVE,
        post("/0/private/AddOrder", ORDER, headers=(("API-Sign", "x"),)),
    ),
    "auth_header_api_key": (
        LIVE,
        post("/0/private/AddOrder", ORDER, headers=(("API-Key", "k"),)),
    ),
    "auth_header_authorization": (
        LIVE,
        post("/0/private/AddOrder", ORDER, headers=(("Authorization", "x"),)),
    ),
    # Host / mode.
    "foreign_host": (LIVE, post("/0/private/AddOrder", ORDER, host="api.kraken.com.evil.example")),
    "sandbox_principal": (SANDBOX, post("/0/private/AddOrder", ORDER)),
}


@pytest.fixture(autouse=True)
def _sign_is_a_tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*_: object) -> None:
        raise AssertionError("sign() reached for a must-fail request")

    monkeypatch.setattr(kraken.VENUE, "sign", tripwire)


@pytest.mark.parametrize(("principal", "request_"), CASES.values(), ids=[f"expfail_{n}" for n in CASES])  # fmt: skip
def test_refused(principal: Principal, request_: HttpRequest) -> None:
    try:
        parsed = kraken.VENUE.parse(principal, request_)
    except (InvalidRequestError, ModeMismatchError):
        return
    intent = parsed.intent
    assert intent.endpoint is None or intent.violations
    assert not decide(POLICY, intent).allowed


@pytest.mark.parametrize(
    "request_",
    [post("/0/private/AddOrder", ORDER), post("/0/private/CancelAll")],
    ids=["control_addorder", "control_cancelall"],
)
def test_controls_are_allowed(request_: HttpRequest) -> None:
    intent = kraken.VENUE.parse(LIVE, request_).intent
    assert intent.violations == ()
    assert decide(POLICY, intent).allowed
