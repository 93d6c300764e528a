"""Shared helpers for the signer/evm/tx.py tests: a coincurve signing callable and fields."""

from __future__ import annotations

import dataclasses
from typing import Any

import coincurve

from signer.evm.tx import Eip1559Fields, SignDigest

USDC_ARBITRUM = bytes.fromhex("af88d065e77c8cc2239327c5edb3a432268e5831")
SECRET = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


def coincurve_signer(secret: bytes) -> SignDigest:
    """The test's signing callable: (y_parity, r, s) from coincurve."""
    key = coincurve.PrivateKey(secret)

    def sign_digest(digest: bytes) -> tuple[int, int, int]:
        sig = key.sign_recoverable(digest, hasher=None)
        return sig[64], int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")

    return sign_digest


def oracle_dict(fields: Eip1559Fields) -> dict[str, Any]:
    return {
        "type": 2,
        "chainId": fields.chain_id,
        "nonce": fields.nonce,
        "maxPriorityFeePerGas": fields.max_priority_fee_per_gas,
        "maxFeePerGas": fields.max_fee_per_gas,
        "gas": fields.gas_limit,
        "to": fields.to_address,
        "value": fields.value,
        "data": fields.data,
        "accessList": [],
    }


def example_fields(**changes: Any) -> Eip1559Fields:
    base = Eip1559Fields(
        chain_id=42161,
        nonce=7,
        max_priority_fee_per_gas=10**7,
        max_fee_per_gas=10**8,
        gas_limit=90_000,
        to=USDC_ARBITRUM,
        value=0,
        data=bytes.fromhex("a9059cbb") + bytes(64),
    )
    return dataclasses.replace(base, **changes)
