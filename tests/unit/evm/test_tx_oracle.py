"""signer/evm/tx.py against eth-account as the oracle, for hypothesis-generated transactions.

Every signed transaction is read back by eth-account (``TypedTransaction.from_bytes``
and ``Account.recover_transaction``) and compared field by field; the signing hash
is compared with ``TypedTransaction.from_dict(...).hash()``; and since both sides
use RFC 6979 deterministic nonces, the raw bytes equal ``Account.sign_transaction``.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st

from signer.evm import chains
from signer.evm.tx import SECP256K1_N, Eip1559Fields, decode_signed, recover_sender, sign
from tests.unit.evm._tx_helpers import coincurve_signer, oracle_dict


@st.composite
def fields_strategy(draw: st.DrawFn) -> Eip1559Fields:
    max_fee = draw(st.integers(0, 2**256 - 1))
    return Eip1559Fields(
        chain_id=draw(
            st.one_of(
                st.sampled_from([c.chain_id for c in chains.CHAINS]), st.integers(1, 2**64 - 1)
            )
        ),
        nonce=draw(st.integers(0, 2**64 - 2)),
        max_priority_fee_per_gas=draw(st.integers(0, max_fee)),
        max_fee_per_gas=max_fee,
        gas_limit=draw(st.integers(21_000, 2**64 - 1)),
        to=draw(st.binary(min_size=20, max_size=20)),
        value=draw(st.integers(0, 2**256 - 1)),
        data=draw(st.binary(max_size=300)),
    )


secrets = st.integers(1, SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))


@settings(max_examples=200, deadline=None)
@given(fields_strategy(), secrets)
def test_signed_transactions_agree_with_eth_account(fields: Eip1559Fields, secret: bytes) -> None:
    address = Account.from_key(secret).address
    signed = sign(fields, coincurve_signer(secret), expected_from=address)

    assert signed.from_address == address
    assert Account.recover_transaction(signed.raw) == address
    oracle = TypedTransaction.from_bytes(HexBytes(signed.raw)).as_dict()
    assert oracle == {
        **oracle_dict(fields),
        "to": HexBytes(fields.to),
        "data": HexBytes(fields.data),
        "accessList": (),
        "v": signed.y_parity,
        "r": signed.r,
        "s": signed.s,
    }
    assert fields.signing_hash() == TypedTransaction.from_dict(oracle_dict(fields)).hash()
    reference = Account.sign_transaction(oracle_dict(fields), secret)
    assert signed.raw == bytes(reference.raw_transaction)
    assert signed.tx_hash == "0x" + bytes(reference.hash).hex()

    decoded = decode_signed(signed.raw)
    assert decoded == (fields, signed.y_parity, signed.r, signed.s)
    assert recover_sender(decoded) == address
