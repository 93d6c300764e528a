"""policy.limits (pure decisions) and the ``[limits]`` section loader: one test per invariant."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy.document import PolicyDocumentError, default_document_bytes, load_document
from policy.limits import (
    DEFAULT_RATE,
    RULE_ERROR,
    RULE_PER_24H,
    RULE_PER_TX,
    RULE_WITHIN,
    AmountCap,
    RateLimit,
    decide_spend,
    rate_step,
)
from policy.limits_document import KNOWN_TOKENS, MAX_BURST, MAX_RATE_PER_SECOND
from policy.withdraw import WithdrawIntent, decide_withdraw

S = 10**9
USDC = AmountCap("arbitrum", "USDC", 6, 100 * 10**6, 150 * 10**6)


# --- invariant 2: the token bucket ------------------------------------------------


def run_bucket(limit: RateLimit, times: list[int], tat: int = 0) -> tuple[list[bool], int]:
    out = []
    for now in times:
        step = rate_step(limit, tat, now)
        out.append(step.allowed)
        tat = step.tat_ns
    return out, tat


def test_burst_then_refusal_then_one_token_per_interval() -> None:
    limit = RateLimit(rate_per_second=2, burst=3)
    allowed, tat = run_bucket(limit, [10 * S] * 4)
    assert allowed == [True, True, True, False]
    refused = rate_step(limit, tat, 10 * S)
    assert refused.tat_ns == tat and refused.retry_after_ns == S // 2
    assert not rate_step(limit, tat, 10 * S + S // 2 - 1).allowed
    assert run_bucket(limit, [10 * S + S // 2] * 2, tat)[0] == [True, False]


def test_an_idle_bucket_refills_to_burst_and_no_further() -> None:
    limit = RateLimit(rate_per_second=1, burst=2)
    _, tat = run_bucket(limit, [0, 0])
    assert run_bucket(limit, [1000 * S] * 3, tat)[0] == [True, True, False]


def test_a_clock_set_backwards_refills_nothing() -> None:
    limit = RateLimit(rate_per_second=1, burst=1)
    _, tat = run_bucket(limit, [100 * S])
    assert run_bucket(limit, [50 * S, 100 * S], tat)[0] == [False, False]


def test_interval_rounds_up_so_the_rate_is_never_exceeded() -> None:
    assert RateLimit(3, 1).interval_ns == 333_333_334
    assert RateLimit(MAX_RATE_PER_SECOND, 1).interval_ns == 1000


@given(
    rate=st.integers(1, 50),
    burst=st.integers(1, 20),
    gaps=st.lists(st.integers(0, 2 * S), min_size=1, max_size=60),
)
def test_no_interval_ever_grants_more_than_burst_plus_refill(
    rate: int, burst: int, gaps: list[int]
) -> None:
    limit = RateLimit(rate, burst)
    times, now = [], 0
    for gap in gaps:
        now += gap
        times.append(now)
    allowed, _ = run_bucket(limit, times)
    granted = [t for t, ok in zip(times, allowed, strict=True) if ok]
    for i, start in enumerate(granted):
        for j in range(i, len(granted)):
            span = granted[j] - start
            assert j - i + 1 <= burst + span // limit.interval_ns


# --- invariants 1 and 3: amounts ---------------------------------------------------


@pytest.mark.parametrize(
    ("spent", "amount", "rule"),
    [
        (0, 100 * 10**6, RULE_WITHIN),  # per_tx is inclusive
        (0, 100 * 10**6 + 1, RULE_PER_TX),
        (50 * 10**6, 100 * 10**6, RULE_WITHIN),  # 24 h total exactly at the cap
        (50 * 10**6 + 1, 100 * 10**6, RULE_PER_24H),
        (150 * 10**6, 1, RULE_PER_24H),
        (150 * 10**6, 0, RULE_WITHIN),
        (0, -1, RULE_ERROR),
        (0, True, RULE_ERROR),
        (0, 1.0, RULE_ERROR),
        (-5, 1, RULE_ERROR),
    ],
)
def test_decide_spend(spent: int, amount: int, rule: str) -> None:
    decision = decide_spend(USDC, spent, amount)
    assert (decision.rule_id, decision.allowed) == (rule, rule == RULE_WITHIN)


def test_messages_render_exact_amounts() -> None:
    cap = AmountCap("base", "ETH", 18, 10**18, 25 * 10**17 + 1)
    assert decide_spend(cap, 0, 10**18 + 1).reasons == (
        "withdrawals of ETH on base are capped at 1 ETH per transaction",
    )
    assert decide_spend(cap, 2 * 10**18, 10**18).reasons == (
        "withdrawals of ETH on base are capped at 2.500000000000000001 ETH per 24 hours; "
        "0.500000000000000001 ETH is left in the window",
    )


def test_sums_beyond_64_bits_are_exact() -> None:
    cap = AmountCap("ethereum", "USDC", 6, 2**255, 2**256 - 1)
    assert decide_spend(cap, 2**255, 2**255 - 1).allowed
    assert not decide_spend(cap, 2**255, 2**255).allowed


# --- the [limits] section -------------------------------------------------------


def test_known_tokens_match_the_evm_registry() -> None:
    from signer.evm.tokens import TOKENS  # the test may import signer; policy/ may not

    assert {(c, s): d for c, tokens in KNOWN_TOKENS.items() for s, d in tokens.items()} == {
        (t.chain.name, t.symbol): t.decimals for t in TOKENS
    }


def test_shipped_document_caps_every_token_of_every_enabled_chain() -> None:
    doc = load_document(default_document_bytes())
    assert doc.limits.rate_default == RateLimit(20, 100)
    for chain in (c.chain for c in doc.chains if c.enabled):
        for token, decimals in KNOWN_TOKENS[chain].items():
            cap = doc.limits.withdraw_cap(chain, token)
            assert cap is not None and cap.decimals == decimals, (chain, token)
            assert 0 < cap.per_tx <= cap.per_24h
    usdc = doc.limits.withdraw_cap("arbitrum", "USDC")
    assert usdc is not None and (usdc.per_tx, usdc.per_24h) == (25_000 * 10**6, 100_000 * 10**6)


def _doc(limits: str) -> bytes:
    return b"version = 1\n[venues]\n" + limits.encode()


def test_caps_and_rates_load_exactly() -> None:
    doc = load_document(
        _doc(
            "[limits.rate.default]\nrate_per_second = 5\nburst = 7\n"
            "[limits.rate.kalshi]\nrate_per_second = 1\nburst = 1\n"
            '[limits.withdraw.base.USDC]\nper_tx = "0.000001"\nper_24h = "1.5"\n'
            '[limits.withdraw.base.ETH]\nper_tx = "0.000000000000000001"\nper_24h = "1"\n'
        )
    )
    assert doc.limits.rate_for("kalshi") == RateLimit(1, 1)
    assert doc.limits.rate_for("binance") == RateLimit(5, 7)
    assert doc.limits.withdraw_cap("base", "USDC") == AmountCap("base", "USDC", 6, 1, 1_500_000)
    assert doc.limits.withdraw_cap("base", "ETH") == AmountCap("base", "ETH", 18, 1, 10**18)
    assert doc.limits.withdraw_cap("arbitrum", "USDC") is None


def test_hyperliquid_caps_load_in_units_of_1e_8() -> None:
    spot = "PURR:0xc1fb593aeffbeb02f85e0308e9956a90"
    doc = load_document(
        _doc(
            '[limits.withdraw.hyperliquid.USDC]\nper_tx = "0.5"\nper_24h = "2"\n'
            f'[limits.withdraw.hyperliquid-spot."{spot}"]\nper_tx = "1"\nper_24h = "1"\n'
        )
    )
    usdc = AmountCap("hyperliquid", "USDC", 8, 50_000_000, 200_000_000)
    assert doc.limits.withdraw_cap("hyperliquid", "USDC") == usdc
    assert doc.limits.withdraw_cap("hyperliquid-spot", spot) == AmountCap(
        "hyperliquid-spot", spot, 8, 10**8, 10**8
    )
    assert doc.limits.withdraw_cap("hyperliquid-spot", "PURR") is None


def test_a_document_without_limits_gets_the_code_default_rate_and_no_withdrawals() -> None:
    doc = load_document(
        _doc(
            "[chains.base]\nenabled = true\nmax_fee_per_gas_wei = 10\n"
            "max_priority_fee_per_gas_wei = 1\nmax_gas_limit = 100000\n"
        )
    )
    assert doc.limits.rate_for("binance") == DEFAULT_RATE
    intent = WithdrawIntent(
        "alice", "live", "base", "live", "USDC", 1, "0xR", True, 10, 1, 21000, "transfer"
    )
    assert decide_withdraw(doc, intent).rule_id == "withdraw.no-cap"
    bridge = dataclasses.replace(intent, recipient_linked=False, recipient_is_bridge=True)
    assert decide_withdraw(doc, bridge).rule_id == "withdraw.to-linked-wallet"


_RATE = "[limits.rate.default]\n"
_CAP = "[limits.withdraw.arbitrum.USDC]\n"
INVALID: list[tuple[str, str, int | None]] = [
    ("[limits]\nrates = 1\n", 'limits.rates: unknown key "rates"', 4),
    ("[limits]\nrate = 1\n", "limits.rate: must be a table", 4),
    ("[limits]\nwithdraw = []\n", "limits.withdraw: must be a table", 4),
    ("[limits.withdraw]\nbase = 1\n", "limits.withdraw.base: must be a table", 4),
    ("[limits.rate]\ndefault = 1\n", "limits.rate.default: must be a table", 4),
    (
        "[limits.rate.ftx]\nrate_per_second = 1\nburst = 1\n",
        'limits.rate.ftx: unknown key "ftx"',
        3,
    ),
    (_RATE + "rate_per_second = 1\n", "limits.rate.default.burst: required, an integer", 3),
    (_RATE + "rate_per_second = 1.5\nburst = 1\n", "limits.rate.default.rate_per_second:", 4),
    (_RATE + "rate_per_second = true\nburst = 1\n", "limits.rate.default.rate_per_second:", 4),
    (_RATE + "rate_per_second = 0\nburst = 1\n", "rate_per_second: required, an integer", 4),
    (_RATE + "rate_per_second = 1\nburst = -1\n", "limits.rate.default.burst:", 5),
    (_RATE + f"rate_per_second = {MAX_RATE_PER_SECOND + 1}\nburst = 1\n", "from 1 to 1000000", 4),
    (_RATE + f"rate_per_second = 1\nburst = {MAX_BURST + 1}\n", "limits.rate.default.burst", 5),
    (_RATE + 'rate_per_second = "10"\nburst = 1\n', "rate_per_second: required", 4),
    (_RATE + "rate_per_second = 1\nburst = 1\nunlimited = true\n", 'unknown key "unlimited"', 6),
    (
        '[limits.withdraw.solana.USDC]\nper_tx = "1"\n',
        'limits.withdraw.solana: unknown key "solana"',
        3,
    ),
    ('[limits.withdraw.arbitrum.usdc]\nper_tx = "1"\n', 'unknown key "usdc"', 3),
    ('[limits.withdraw.arbitrum.POL]\nper_tx = "1"\n', 'unknown key "POL"', 3),
    ('[limits.withdraw.arbitrum."USDC.e"]\nper_tx = "1"\n', "unknown key", 3),
    (_CAP + 'per_tx = "1"\n', "limits.withdraw.arbitrum.USDC.per_24h: required, a decimal", 3),
    (_CAP + 'per_tx = "1"\nper_24h = "2"\nper_day = "3"\n', 'unknown key "per_day"', 6),
    (_CAP + 'per_tx = 1\nper_24h = "2"\n', "limits.withdraw.arbitrum.USDC.per_tx: required", 4),
    (_CAP + 'per_tx = 1.5\nper_24h = "2"\n', "USDC.per_tx: required, a decimal string", 4),
    (_CAP + 'per_tx = "1e3"\nper_24h = "2"\n', "USDC.per_tx: required, a decimal", 4),
    (_CAP + 'per_tx = "-1"\nper_24h = "2"\n', "USDC.per_tx", 4),
    (_CAP + 'per_tx = " 1"\nper_24h = "2"\n', "USDC.per_tx", 4),
    (_CAP + 'per_tx = "01"\nper_24h = "2"\n', "USDC.per_tx", 4),
    (_CAP + 'per_tx = "1."\nper_24h = "2"\n', "USDC.per_tx", 4),
    (_CAP + 'per_tx = ".5"\nper_24h = "2"\n', "USDC.per_tx", 4),
    (_CAP + 'per_tx = "1_000"\nper_24h = "2"\n', "USDC.per_tx", 4),
    (_CAP + 'per_tx = "\\u0661"\nper_24h = "2"\n', "USDC.per_tx", 4),
    (_CAP + 'per_tx = "0"\nper_24h = "2"\n', "USDC.per_tx: must be greater than zero", 4),
    (_CAP + 'per_tx = "0.000000"\nper_24h = "2"\n', "must be greater than zero", 4),
    (_CAP + 'per_tx = "0.0000001"\nper_24h = "2"\n', "at most 6 decimal places", 4),
    (_CAP + f'per_tx = "1"\nper_24h = "{2**256}"\n', "USDC.per_24h: must be greater than", 5),
    (_CAP + 'per_tx = "3"\nper_24h = "2"\n', "USDC.per_tx: must not exceed per_24h", 4),
    ('[limits.withdraw.hyperliquid.ETH]\nper_tx = "1"\n', 'unknown key "ETH"', 3),
    ('[limits.withdraw.hyperliquid.USDC]\nper_tx = "1.000000001"\nper_24h = "2"\n', "at most 8", 4),
    ('[limits.withdraw.hyperliquid-spot.USDC]\nper_tx = "1"\n', "NAME:0x + 32 hex", 3),
    (
        '[limits.withdraw.hyperliquid-spot."PURR:0xC1FB593AEFFBEB02F85E0308E9956A90"]\n',
        "NAME:0x",
        3,
    ),
    ('[limits.withdraw.hyperliquid-spot."P:0x00"]\nper_tx = "1"\n', "must be a spot token", 3),
]


@pytest.mark.parametrize(("limits", "message", "line"), INVALID)
def test_invalid_limits_are_refused_naming_key_path_and_line(
    limits: str, message: str, line: int | None
) -> None:
    with pytest.raises(PolicyDocumentError) as caught:
        load_document(_doc(limits))
    assert message in str(caught.value)
    assert caught.value.line == line


def test_limits_must_be_a_table() -> None:
    with pytest.raises(PolicyDocumentError, match=r"^limits: must be a table \(line 2\)"):
        load_document(b"version = 1\nlimits = 1\n[venues]\n")


@pytest.mark.parametrize(
    "limits",
    [
        _RATE + "rate_per_second = 1\nburst = 1\n" + _RATE + "rate_per_second = 2\nburst = 2\n",
        _CAP + 'per_tx = "1"\nper_24h = "2"\n' + _CAP + 'per_tx = "1"\nper_24h = "2"\n',
        _CAP + 'per_tx = "1"\nper_tx = "2"\nper_24h = "2"\n',
    ],
)
def test_duplicate_tables_and_keys_are_refused_with_their_line(limits: str) -> None:
    with pytest.raises(PolicyDocumentError, match=r"invalid TOML: .*line [56]"):
        load_document(_doc(limits))
