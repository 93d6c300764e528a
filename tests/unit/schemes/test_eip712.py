"""signer/schemes/eip712.py: known answers, schema validation, strict values.

Vectors (copied here with their sources; checked against
``shared/venues/test_vectors.json`` when it is beside the repository):
- EIP-712 itself: the ``Mail`` example of the specification (eips.ethereum.org/EIPS/eip-712,
  "Test cases"; key ``keccak256("cow")``).
- Hyperliquid: hyperliquid-python-sdk 0.24.0 ``tests/signing_test.py`` @7ee976d (L1 phantom
  agent and user-signed actions), plus digests derived with that SDK.
- Polymarket: python-order-utils ``tests/test_order_builder.py`` @2f173a3 (V1 orders),
  py-clob-client ``tests/signing/test_eip712.py`` @f1a8807 (ClobAuth), py-clob-client-v2
  ``tests/order_utils/test_exchange_order_builder_v2.py`` @b0a97fa (POLY_1271 / ERC-7739),
  plus V2 orders and ClobAuth derived with py-clob-client-v2 1.2.1.

The Hyperliquid L1 vectors give the action, not the connection id, so a minimal
msgpack encoder (VENUES.md 9.1) is written here; it is itself checked against
the SDK's msgpack bytes and connection ids.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from signer.errors import SignerError
from signer.keystore.handles import Secret
from signer.schemes.eip712 import (
    MAX_DEPTH,
    Domain,
    TypedDataError,
    TypedDataSchema,
    sign_typed_data,
    typed_data_digest,
)
from signer.schemes.secp256k1 import Secp256k1Key, Signature, keccak256, recover_address

SHARED = Path(__file__).resolve().parents[4] / "shared" / "venues" / "test_vectors.json"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ZERO32 = "0x" + "00" * 32

HL_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
HL_ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
PM_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PM_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

# --- schemas ---------------------------------------------------------------------------

AGENT = TypedDataSchema.compile(
    {"Agent": [("source", "string"), ("connectionId", "bytes32")]}, "Agent"
)
HL_EXCHANGE = Domain(name="Exchange", version="1", chain_id=1337, verifying_contract=ZERO_ADDRESS)
HL_SEND_FIELDS = [
    ("hyperliquidChain", "string"),
    ("destination", "string"),
    ("amount", "string"),
    ("time", "uint64"),
]
PM_V1_ORDER = [
    ("salt", "uint256"),
    ("maker", "address"),
    ("signer", "address"),
    ("taker", "address"),
    ("tokenId", "uint256"),
    ("makerAmount", "uint256"),
    ("takerAmount", "uint256"),
    ("expiration", "uint256"),
    ("nonce", "uint256"),
    ("feeRateBps", "uint256"),
    ("side", "uint8"),
    ("signatureType", "uint8"),
]
PM_V2_ORDER = [
    ("salt", "uint256"),
    ("maker", "address"),
    ("signer", "address"),
    ("tokenId", "uint256"),
    ("makerAmount", "uint256"),
    ("takerAmount", "uint256"),
    ("side", "uint8"),
    ("signatureType", "uint8"),
    ("timestamp", "uint256"),
    ("metadata", "bytes32"),
    ("builder", "bytes32"),
]
CLOB_AUTH = TypedDataSchema.compile(
    {
        "ClobAuth": [
            ("address", "address"),
            ("timestamp", "string"),
            ("nonce", "uint256"),
            ("message", "string"),
        ]
    },
    "ClobAuth",
)
CLOB_AUTH_TEXT = "This message attests that I control the given wallet"
V1 = TypedDataSchema.compile({"Order": PM_V1_ORDER}, "Order")
V2 = TypedDataSchema.compile({"Order": PM_V2_ORDER}, "Order")
TYPED_DATA_SIGN = TypedDataSchema.compile(
    {
        "TypedDataSign": [
            ("contents", "Order"), ("name", "string"), ("version", "string"),
            ("chainId", "uint256"), ("verifyingContract", "address"), ("salt", "bytes32"),
        ],
        "Order": PM_V2_ORDER,
    },
    "TypedDataSign",
)  # fmt: skip

# --- vectors ---------------------------------------------------------------------------

HL_L1: list[tuple[str, dict[str, Any], str | None, tuple[str, str, int], tuple[str, str, int]]] = [
    ("l1_dummy", {"type": "dummy", "num": 100000000000}, None, ("0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298", "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8", 27), ("0x542af61ef1f429707e3c76c5293c80d01f74ef853e34b76efffcb57e574f9510", "0x17b8b32f086e8cdede991f1e2c529f5dd5297cbe8128500e00cbaf766204a613", 28)),
    ("l1_order_gtc", {"type": "order", "orders": [{"a": 1, "b": True, "p": "100", "s": "100", "r": False, "t": {"limit": {"tif": "Gtc"}}}], "grouping": "na"}, None, ("0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e", "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e", 28), ("0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54", "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5", 27)),
    ("l1_order_with_cloid", {"type": "order", "orders": [{"a": 1, "b": True, "p": "100", "s": "100", "r": False, "t": {"limit": {"tif": "Gtc"}}, "c": "0x00000000000000000000000000000001"}], "grouping": "na"}, None, ("0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3", "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da", 27), ("0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d", "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988", 28)),
    ("l1_dummy_with_vault", {"type": "dummy", "num": 100000000000}, "0x1719884eb866cb12b2287399b15f7db5e7d775ea", ("0x3c548db75e479f8012acf3000ca3a6b05606bc2ec0c29c50c515066a326239", "0x4d402be7396ce74fbba3795769cda45aec00dc3125a984f2a9f23177b190da2c", 28), ("0xe281d2fb5c6e25ca01601f878e4d69c965bb598b88fac58e475dd1f5e56c362b", "0x7ddad27e9a238d045c035bc606349d075d5c5cd00a6cd1da23ab5c39d4ef0f60", 27)),
    ("l1_tpsl_trigger_order", {"type": "order", "orders": [{"a": 1, "b": True, "p": "100", "s": "100", "r": False, "t": {"trigger": {"isMarket": True, "triggerPx": "103", "tpsl": "sl"}}}], "grouping": "na"}, None, ("0x98343f2b5ae8e26bb2587daad3863bc70d8792b09af1841b6fdd530a2065a3f9", "0x6b5bb6bb0633b710aa22b721dd9dee6d083646a5f8e581a20b545be6c1feb405", 27), ("0x971c554d917c44e0e1b6cc45d8f9404f32172a9d3b3566262347d0302896a2e4", "0x206257b104788f80450f8e786c329daa589aa0b32ba96948201ae556d5637eac", 28)),
    ("l1_create_sub_account", {"type": "createSubAccount", "name": "example"}, None, ("0x51096fe3239421d16b671e192f574ae24ae14329099b6db28e479b86cdd6caa7", "0xb71f7d293af92d3772572afb8b102d167a7cef7473388286bc01f52a5c5b423", 27), ("0xa699e3ed5c2b89628c746d3298b5dc1cca604694c2c855da8bb8250ec8014a5b", "0x53f1b8153a301c72ecc655b1c315d64e1dcea3ee58921fd7507e35818fcc1584", 28)),
    ("l1_sub_account_transfer", {"type": "subAccountTransfer", "subAccountUser": "0x1d9470d4b963f552e6f671a81619d395877bf409", "isDeposit": True, "usd": 10}, None, ("0x43592d7c6c7d816ece2e206f174be61249d651944932b13343f4d13f306ae602", "0x71a926cb5c9a7c01c3359ec4c4c34c16ff8107d610994d4de0e6430e5cc0f4c9", 28), ("0xe26574013395ad55ee2f4e0575310f003c5bb3351b5425482e2969fa51543927", "0xefb08999196366871f919fd0e138b3a7f30ee33e678df7cfaf203e25f0a4278", 28)),
    ("l1_schedule_cancel_no_time", {"type": "scheduleCancel"}, None, ("0x6cdfb286702f5917e76cd9b3b8bf678fcc49aec194c02a73e6d4f16891195df9", "0x6557ac307fa05d25b8d61f21fb8a938e703b3d9bf575f6717ba21ec61261b2a0", 27), ("0xc75bb195c3f6a4e06b7d395acc20bbb224f6d23ccff7c6a26d327304e6efaeed", "0x342f8ede109a29f2c0723bd5efb9e9100e3bbb493f8fb5164ee3d385908233df", 28)),
    ("l1_schedule_cancel_with_time", {"type": "scheduleCancel", "time": 123456789}, None, ("0x609cb20c737945d070716dcc696ba030e9976fcf5edad87afa7d877493109d55", "0x16c685d63b5c7a04512d73f183b3d7a00da5406ff1f8aad33f8ae2163bab758b", 28), ("0x4e4f2dbd4107c69783e251b7e1057d9f2b9d11cee213441ccfa2be63516dc5bc", "0x706c656b23428c8ba356d68db207e11139ede1670481a9e01ae2dfcdb0e1a678", 27)),
]  # fmt: skip

# (name, primaryType suffix, hyperliquidChain, expected digest or None, r, s, v); message below.
HL_USER_SIGNED = [
    ("user_signed_usd_send_testnet", "UsdSend", "Testnet", None, "0x637b37dd731507cdd24f46532ca8ba6eec616952c56218baeff04144e4a77073", "0x11a6a24900e6e314136d2592e2f8d502cd89b7c15b198e1bee043c9589f9fad7", 27),
    ("user_signed_withdraw3_testnet", "Withdraw", "Testnet", "0x8080d06f566813165cec60d85300445133b3439e9c92e10b93ed510372608899", "0x8363524c799e90ce9bc41022f7c39b4e9bdba786e5f9c72b20e43e1462c37cf9", "0x58b1411a775938b83e29182e8ef74975f9054c8e97ebf5ec2dc8d51bfc893881", 28),
    ("user_signed_withdraw3_mainnet", "Withdraw", "Mainnet", "0xa839ad8096ec1d2ea72ed4a323af626c1bf55525a211058a644506fc0daa5c86", "0xa155eccb6deecc343d5ce1d69ca20a6b8959cc3f21ffff6b82790e2e9f7fe888", "0x6e78708de0806beceab552e1a97378fa80090d902bfffa8b6ee6b35d713f58c4", 28),
    ("user_signed_usdSend_mainnet", "UsdSend", "Mainnet", "0x943b1369bb51cea410b9fdd71b6fbf7baa14a5ba7476166b877bd56315732643", "0x9adbd066e8ae671f06b5d18e51fd2ec11b5443d64b13718028c7ff06905c71fb", "0x1eba4172075f8a8037481400ae86ed56c5e5f672e3db084528a8e3b2daeff976", 28),
    ("user_signed_usdSend_testnet", "UsdSend", "Testnet", "0xcacf7585cc49ca60c6c5fb3001e226c0ca03c46252c893eea574c78907b7cebe", "0x637b37dd731507cdd24f46532ca8ba6eec616952c56218baeff04144e4a77073", "0x11a6a24900e6e314136d2592e2f8d502cd89b7c15b198e1bee043c9589f9fad7", 27),
]  # fmt: skip
HL_USER_MESSAGE = {
    "destination": "0x5e9ee1089755c3435139848e47e6635505d5a13a",
    "amount": "1",
    "time": 1687816341423,
}

PM_ORDER_V1: dict[str, Any] = {
    "salt": 479249096354, "maker": PM_ADDRESS, "signer": PM_ADDRESS, "taker": ZERO_ADDRESS,
    "tokenId": 1234, "makerAmount": 100000000, "takerAmount": 50000000, "expiration": 0,
    "nonce": 0, "feeRateBps": 100, "side": 0, "signatureType": 0,
}  # fmt: skip
PM_ORDER_V2: dict[str, Any] = {
    "salt": 479249096354, "maker": PM_ADDRESS, "signer": PM_ADDRESS, "tokenId": 1234,
    "makerAmount": 100000000, "takerAmount": 50000000, "side": 0, "signatureType": 0,
    "timestamp": 1710000000000, "metadata": ZERO32, "builder": ZERO32,
}  # fmt: skip
# (name, schema, order, chainId, verifyingContract, digest, signature)
PM_ORDERS = [
    ("v1_order_ctf_exchange_amoy", "1", PM_ORDER_V1, 80002, "0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40", "0x02ca1d1aa31103804173ad1acd70066cb6c1258a4be6dada055111f9a7ea4e55", "0x302cd9abd0b5fcaa202a344437ec0b6660da984e24ae9ad915a592a90facf5a51bb8a873cd8d270f070217fea1986531d5eec66f1162a81f66e026db653bf7ce1c"),
    ("v1_order_negrisk_exchange_amoy", "1", PM_ORDER_V1, 80002, "0xC5d563A36AE78145C45a50134d48A1215220f80a", "0xf15790d3edc4b5aed427b0b543a9206fcf4b1a13dfed016d33bfb313076263b8", "0x1b3646ef347e5bd144c65bd3357ba19c12c12abaeedae733cf8579bc51a2752c0454c3bc6b236957e393637982c769b8dc0706c0f5c399983d933850afd1cbcd1c"),
    ("v2_eoa_order_ctf_exchange_v2_polygon", "2", PM_ORDER_V2, 137, "0xE111180000d2663C0091e4f400237545B87B996B", "0x10124949f84e9f7438c88d02bfd546ceb27ed6eb1fdb0175137af535b6e2513d", "0x42c7b4857d51e344045fcfde17b37cf1290d784471ffe618c22aa56ea5ddcf0009015b87ffb299813f5597e86d4ad56f40d634558d915edb719e6fc71dbc0d891c"),
    ("v2_eoa_order_neg_risk_exchange_v2_polygon", "2", PM_ORDER_V2, 137, "0xe2222d279d744050d28e00520010520000310F59", "0x9c2976657c4b229cc8e467a32ce9e3281ef40a70aee31cdc4619ebf51e4a7274", "0x79d82a92bd020329c6b9afad40b742c8cfaebdd992219b57e4282b6cfd53a66f2c97471d3297fa001f3eac2ead5f709c6e266893f19cef37633511420542a63b1b"),
]  # fmt: skip
CLOB_AUTH_VECTORS = [
    ("clob_auth_amoy", 80002, "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1682518e0af677d5260366425f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b"),
    ("clob_auth_polygon", 137, "0x1a7118db6100dfd8efd102be36f472b59475dcac56eb4c9a2a94748d3655ba7c3c89deb8c19ee79eceb0a531122fbfbe88ed118034f9d8212e2b725e7b296b9d1c"),
]  # fmt: skip
TYPE_HASHES = [
    ("clob_auth_typehash", CLOB_AUTH, "0x52578c5c725a28a84fedc8c22aa47947822942f35b4dc350db028e45320e035c"),
    ("v1_order_typehash", V1, "0xa852566c4e14d00869b6db0220888a9090a13eccdaea03713ff0a3d27bf9767c"),
    ("v2_order_typehash", V2, "0xbb86318a2138f5fa8ae32fbe8e659f8fcf13cc6ae4014a707893055433818589"),
]  # fmt: skip
POLY_1271_SIGNATURE = "0xa3a093c83b6c20c83355c16ce94c92e6e9fcbdeb840618cc74f6c57a42ad145b2b98db73d2c73cbf1f2b6af288566ae81960ddbc3a13921027358a8bff3be6ff1ca440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148d23d42d3ad94e65d78258cecaf8dcbaddac0f73dc085040f2c12bb595dd838044f726465722875696e743235362073616c742c61646472657373206d616b65722c61646472657373207369676e65722c75696e7432353620746f6b656e49642c75696e74323536206d616b6572416d6f756e742c75696e743235362074616b6572416d6f756e742c75696e743820736964652c75696e7438207369676e6174757265547970652c75696e743235362074696d657374616d702c62797465733332206d657461646174612c62797465733332206275696c6465722900ba"


def _sig(r: str, s: str, v: int) -> Signature:
    """The SDK prints r/s without leading zeros; as ints the padding is irrelevant."""
    return Signature(v=v, r=int(r, 16), s=int(s, 16))


def _key(hex_key: str) -> Secp256k1Key:
    return Secp256k1Key.from_secret(Secret(hex_key))


# --- minimal msgpack (only what Hyperliquid actions use) -------------------------------


def msgpack(obj: Any) -> bytes:
    if obj is None:
        return b"\xc0"
    if obj is True or obj is False:
        return b"\xc3" if obj else b"\xc2"
    if isinstance(obj, int):
        assert obj >= 0
        for limit, head, size in ((0x7F, b"", 1), (0xFF, b"\xcc", 1), (0xFFFF, b"\xcd", 2), (0xFFFFFFFF, b"\xce", 4)):  # fmt: skip
            if obj <= limit:
                return head + obj.to_bytes(size, "big")
        return b"\xcf" + obj.to_bytes(8, "big")
    if isinstance(obj, str):
        raw = obj.encode()
        if len(raw) < 32:
            return bytes((0xA0 | len(raw),)) + raw
        assert len(raw) < 256
        return b"\xd9" + bytes((len(raw),)) + raw
    if isinstance(obj, list):
        assert len(obj) < 16
        return bytes((0x90 | len(obj),)) + b"".join(msgpack(x) for x in obj)
    assert isinstance(obj, dict) and len(obj) < 16
    return bytes((0x80 | len(obj),)) + b"".join(msgpack(k) + msgpack(v) for k, v in obj.items())


def connection_id(action: dict[str, Any], nonce: int, vault: str | None, expires_after: int | None = None) -> bytes:  # fmt: skip
    data = msgpack(action) + nonce.to_bytes(8, "big")
    data += b"\x00" if vault is None else b"\x01" + bytes.fromhex(vault[2:])
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return keccak256(data)


def test_msgpack_and_connection_ids_match_the_sdk() -> None:
    dummy = {"type": "dummy", "num": 100000000000}
    assert msgpack(dummy).hex() == "82a474797065a564756d6d79a36e756dcf000000174876e800"
    assert connection_id(dummy, 0, None).hex() == "f528daee6a0bd11407b483cfcd9a48c56884180b70ee86f124053e5fc1bf4d57"  # fmt: skip
    order = {"type": "order", "orders": [{"a": 4, "b": True, "p": "1670.1", "s": "0.0147", "r": False, "t": {"limit": {"tif": "Ioc"}}}], "grouping": "na"}  # fmt: skip
    assert connection_id(order, 1677777606040, None).hex() == "0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"  # fmt: skip
    vault = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
    got = connection_id({"type": "scheduleCancel"}, 0, vault, 1700000000000)
    assert got.hex() == "d44015f9fd9913065da76a2c938c95890452c413046a919292cd41c0e28bfac8"


# --- known answers ---------------------------------------------------------------------


def test_eip712_specification_mail_example() -> None:
    schema = TypedDataSchema.compile(
        {
            "Mail": [("from", "Person"), ("to", "Person"), ("contents", "string")],
            "Person": [("name", "string"), ("wallet", "address")],
        },
        "Mail",
    )
    domain = Domain(
        name="Ether Mail",
        version="1",
        chain_id=1,
        verifying_contract="0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    )
    message = {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
        "contents": "Hello, Bob!",
    }
    assert schema.encode_type == "Mail(Person from,Person to,string contents)Person(string name,address wallet)"  # fmt: skip
    assert (
        schema.type_hash.hex() == "a0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2"
    )
    assert (
        domain.separator.hex() == "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f"
    )
    assert schema.hash_struct(message).hex() == "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e"  # fmt: skip
    digest = typed_data_digest(domain, schema, message)
    assert digest.hex() == "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
    key = Secp256k1Key.from_secret(Secret(keccak256(b"cow")))
    assert key.address == "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
    assert sign_typed_data(key, domain, schema, message) == Signature(
        v=28,
        r=0x4355C47D63924E8A72E509B65029052EB6C299D53A04E167C5775FD466751C9D,
        s=0x07299936D304C153F6443DFA05F40FF007D72911B6F72307F996231605B91562,
    )


@pytest.mark.parametrize(
    ("name", "action", "vault", "mainnet", "testnet"), HL_L1, ids=[v[0] for v in HL_L1]
)
def test_hyperliquid_l1_phantom_agent(
    name: str, action: dict[str, Any], vault: str | None, mainnet: tuple[str, str, int], testnet: tuple[str, str, int]
) -> None:  # fmt: skip
    key = _key(HL_KEY)
    assert key.address == HL_ADDRESS
    cid = connection_id(action, 0, vault)
    for source, expected in (("a", mainnet), ("b", testnet)):
        signature = sign_typed_data(
            key, HL_EXCHANGE, AGENT, {"source": source, "connectionId": cid}
        )
        assert signature == _sig(*expected), (name, source)
        digest = typed_data_digest(HL_EXCHANGE, AGENT, {"source": source, "connectionId": "0x" + cid.hex()})  # fmt: skip
        assert recover_address(digest, signature.to_bytes65()) == HL_ADDRESS


def test_hyperliquid_l1_derived_digests() -> None:
    cid = connection_id({"type": "dummy", "num": 100000000000}, 0, None)
    assert typed_data_digest(HL_EXCHANGE, AGENT, {"source": "a", "connectionId": cid}).hex() == "e0aabfac88a47d3e7028b6ba6a94b30c8afcfffac26cbce788cf362b1312eafa"  # fmt: skip
    assert typed_data_digest(HL_EXCHANGE, AGENT, {"source": "b", "connectionId": cid}).hex() == "c05ce2df9d9d18fab3570746cc27e1136a4020a28561171a24f60c2258989224"  # fmt: skip


@pytest.mark.parametrize("vector", HL_USER_SIGNED, ids=[v[0] for v in HL_USER_SIGNED])
def test_hyperliquid_user_signed(vector: tuple[Any, ...]) -> None:
    _, kind, chain, digest, r, s, v = vector
    schema = TypedDataSchema.compile({f"HyperliquidTransaction:{kind}": HL_SEND_FIELDS}, f"HyperliquidTransaction:{kind}")  # fmt: skip
    domain = Domain(name="HyperliquidSignTransaction", version="1", chain_id=int("0x66eee", 16), verifying_contract=ZERO_ADDRESS)  # fmt: skip
    message = {"hyperliquidChain": chain, **HL_USER_MESSAGE}
    if digest is not None:
        assert "0x" + typed_data_digest(domain, schema, message).hex() == digest
    assert sign_typed_data(_key(HL_KEY), domain, schema, message) == _sig(r, s, v)


@pytest.mark.parametrize("vector", PM_ORDERS, ids=[v[0] for v in PM_ORDERS])
def test_polymarket_orders(vector: tuple[Any, ...]) -> None:
    _, version, order, chain_id, contract, digest, signature = vector
    schema = V1 if version == "1" else V2
    domain = Domain(name="Polymarket CTF Exchange", version=version, chain_id=chain_id, verifying_contract=contract)  # fmt: skip
    assert "0x" + typed_data_digest(domain, schema, order).hex() == digest
    assert sign_typed_data(_key(PM_KEY), domain, schema, order).to_hex() == signature


@pytest.mark.parametrize("vector", CLOB_AUTH_VECTORS, ids=[v[0] for v in CLOB_AUTH_VECTORS])
def test_polymarket_clob_auth(vector: tuple[str, int, str]) -> None:
    _, chain_id, signature = vector
    key = _key(PM_KEY)
    domain = Domain(name="ClobAuthDomain", version="1", chain_id=chain_id)
    message = {
        "address": key.address,
        "timestamp": "10000000",
        "nonce": 23,
        "message": CLOB_AUTH_TEXT,
    }
    assert key.address == PM_ADDRESS
    assert sign_typed_data(key, domain, CLOB_AUTH, message).to_hex() == signature


@pytest.mark.parametrize(
    ("name", "schema", "expected"), TYPE_HASHES, ids=[v[0] for v in TYPE_HASHES]
)
def test_polymarket_type_hashes(name: str, schema: TypedDataSchema, expected: str) -> None:
    assert "0x" + schema.type_hash.hex() == expected


def test_polymarket_poly_1271_erc7739_nested_signature() -> None:
    """V2 POLY_1271: ECDSA over TypedDataSign(Order contents, ...) under the exchange domain."""
    order = {
        **PM_ORDER_V2,
        "maker": "0x" + "11" * 20,
        "signer": "0x" + "11" * 20,
        "signatureType": 3,
    }
    exchange = Domain(name="Polymarket CTF Exchange", version="2", chain_id=80002, verifying_contract="0xE111180000d2663C0091e4f400237545B87B996B")  # fmt: skip
    wrapper = {"contents": order, "name": "DepositWallet", "version": "1", "chainId": 80002, "verifyingContract": order["maker"], "salt": ZERO32}  # fmt: skip
    signature = sign_typed_data(_key(PM_KEY), exchange, TYPED_DATA_SIGN, wrapper).to_bytes65()
    type_string = V2.encode_type.encode()
    blob = signature + exchange.separator + V2.hash_struct(order) + type_string + len(type_string).to_bytes(2, "big")  # fmt: skip
    assert "0x" + blob.hex() == POLY_1271_SIGNATURE


def test_copies_match_shared_vectors() -> None:
    shared = json.loads(SHARED.read_text())
    published = {v["name"]: v for v in shared["hyperliquid"]}
    for name, action, vault, mainnet, testnet in HL_L1:
        v = published[name]
        assert v["input"] == {"private_key": HL_KEY, "action": action, "nonce": 0, "vaultAddress": vault, "expiresAfter": None}  # fmt: skip
        for net, sig in (("mainnet", mainnet), ("testnet", testnet)):
            assert (
                v["expected"][net]["r"],
                v["expected"][net]["s"],
                v["expected"][net]["v"],
            ) == sig
    derived = {v["name"]: v for v in shared["derived"]["hyperliquid"]}
    for name, kind, chain, digest, r, s, sv in HL_USER_SIGNED:
        copies = [v for v in (published.get(name), derived.get(name)) if v is not None]
        assert copies and digest == next((c["expected"]["eip712_digest"] for c in copies if "eip712_digest" in c["expected"]), None)  # fmt: skip
        for v in copies:
            assert v["input"] == {"private_key": HL_KEY, "message": HL_USER_MESSAGE, "signatureChainId": "0x66eee", "hyperliquidChain": chain, "primaryType": f"HyperliquidTransaction:{kind}"}  # fmt: skip
            sig = v["expected"].get("signature", v["expected"])
            assert (sig["r"], sig["s"], sig["v"]) == (r, s, sv)
    pm = {v["name"]: v for v in shared["polymarket"] + shared["derived"]["polymarket"]}
    for name, version, order, chain_id, contract, digest, signature in PM_ORDERS:
        v = pm[name]
        assert v["domain"] == {"name": "Polymarket CTF Exchange", "version": version, "chainId": chain_id, "verifyingContract": contract}  # fmt: skip
        assert v["input"] == {"private_key": PM_KEY, "order": order}
        assert digest in v["expected"].values() and v["expected"]["signature"] == signature
    for name, chain_id, signature in CLOB_AUTH_VECTORS:
        assert pm[name]["domain"] == {"name": "ClobAuthDomain", "version": "1", "chainId": chain_id}
        assert pm[name]["input"]["timestamp"] == "10000000" and pm[name]["input"]["nonce"] == 23
        assert pm[name]["expected"]["signature"] == signature
    for name, schema, expected in TYPE_HASHES:
        assert pm[name]["input"] == schema.encode_type and pm[name]["expected"] == expected
    assert pm["v2_order_poly_1271_amoy"]["expected"]["signature"] == POLY_1271_SIGNATURE


# --- schema validation -----------------------------------------------------------------

BAD_SCHEMAS: list[tuple[str, Any, str, str, str]] = [
    # (id, types, primary, error path, problem substring)
    ("expfail_unknown_type", {"T": [("a", "Foo")]}, "T", "types.T.a", "unknown type"),
    ("expfail_bare_uint", {"T": [("a", "uint")]}, "T", "types.T.a", "unknown type"),
    ("expfail_bare_int", {"T": [("a", "int")]}, "T", "types.T.a", "unknown type"),
    ("expfail_uint7", {"T": [("a", "uint7")]}, "T", "types.T.a", "unknown type"),
    ("expfail_uint264", {"T": [("a", "uint264")]}, "T", "types.T.a", "unknown type"),
    ("expfail_bytes0", {"T": [("a", "bytes0")]}, "T", "types.T.a", "unknown type"),
    ("expfail_bytes33", {"T": [("a", "bytes33")]}, "T", "types.T.a", "unknown type"),
    ("expfail_address_payable", {"T": [("a", "address payable")]}, "T", "types.T.a", "unknown type"),
    ("expfail_case", {"T": [("a", "Uint256")]}, "T", "types.T.a", "unknown type"),
    ("expfail_zero_length_array", {"T": [("a", "uint8[0]")]}, "T", "types.T.a", "malformed type"),
    ("expfail_leading_zero_length", {"T": [("a", "uint8[01]")]}, "T", "types.T.a", "malformed type"),
    ("expfail_huge_fixed_array", {"T": [("a", "uint8[1025]")]}, "T", "types.T.a", "malformed type"),
    ("expfail_unclosed_bracket", {"T": [("a", "uint8[")]}, "T", "types.T.a", "malformed type"),
    ("expfail_too_many_dims", {"T": [("a", "uint8" + "[]" * 9)]}, "T", "types.T.a", "malformed type"),
    ("expfail_duplicate_field", {"T": [("a", "uint8"), ("a", "bool")]}, "T", "types.T.a", "duplicate field"),
    ("expfail_bad_field_name", {"T": [("a b", "uint8")]}, "T", "types.T", "bad field name"),
    ("expfail_empty_field_name", {"T": [("", "uint8")]}, "T", "types.T", "bad field name"),
    ("expfail_bad_struct_name", {"T(x)": [("a", "uint8")]}, "T(x)", "types", "bad struct name"),
    ("expfail_struct_named_like_array", {"T[]": [("a", "uint8")]}, "T[]", "types", "bad struct name"),
    ("expfail_struct_named_atomic", {"uint256": [("a", "uint8")]}, "uint256", "types.uint256", "atomic type name"),
    ("expfail_empty_struct", {"T": []}, "T", "types.T", "no fields"),
    ("expfail_unreachable_type", {"T": [("a", "uint8")], "U": [("b", "bool")]}, "T", "types.U", "not used"),
    ("expfail_domain_declared", {"T": [("a", "uint8")], "EIP712Domain": [("name", "string")]}, "T", "types.EIP712Domain", "comes from Domain"),
    ("expfail_domain_primary", {"EIP712Domain": [("name", "string")]}, "EIP712Domain", "types.EIP712Domain", "comes from Domain"),
    ("expfail_domain_as_field", {"T": [("d", "EIP712Domain")]}, "T", "types.T.d", "EIP712Domain"),
    ("expfail_primary_missing", {"T": [("a", "uint8")]}, "U", "primaryType", "not a declared struct"),
    ("expfail_self_cycle", {"T": [("t", "T")]}, "T", "types.T", "recursive"),
    ("expfail_two_cycle", {"A": [("b", "B")], "B": [("a", "A")]}, "A", "types.", "recursive"),
    ("expfail_fixed_array_cycle", {"T": [("t", "T[2]")]}, "T", "types.T", "recursive"),
    ("expfail_types_not_mapping", [("T", [("a", "uint8")])], "T", "types", "mapping"),
    ("expfail_fields_not_list", {"T": "uint8 a"}, "T", "types.T", "list"),
    ("expfail_field_not_pair", {"T": [("a", "uint8", "x")]}, "T", "types.T", "pairs"),
    ("expfail_field_type_not_str", {"T": [("a", 8)]}, "T", "types.T", "pairs"),
]  # fmt: skip


@pytest.mark.parametrize(("types", "primary", "path", "problem"), [v[1:] for v in BAD_SCHEMAS], ids=[v[0] for v in BAD_SCHEMAS])  # fmt: skip
def test_schema_refused(types: Any, primary: str, path: str, problem: str) -> None:
    with pytest.raises(TypedDataError) as info:
        TypedDataSchema.compile(types, primary)
    assert info.value.path.startswith(path), str(info.value)
    assert problem in info.value.problem, str(info.value)


def test_schema_primary_type_not_str() -> None:
    with pytest.raises(TypedDataError, match="primaryType"):
        TypedDataSchema.compile({"T": [("a", "uint8")]}, 5)  # type: ignore[arg-type]


def test_schema_accepts_every_atomic_type_and_hyperliquid_colon_names() -> None:
    fields = [(f"u{i}", f"uint{8 * i}") for i in range(1, 33)]
    fields += [(f"i{i}", f"int{8 * i}") for i in range(1, 33)]
    fields += [(f"b{i}", f"bytes{i}") for i in range(1, 33)]
    fields += [
        ("a", "address"),
        ("o", "bool"),
        ("s", "string"),
        ("d", "bytes"),
        ("x", "uint8[2][][3]"),
    ]
    schema = TypedDataSchema.compile(
        {"HyperliquidTransaction:All": fields}, "HyperliquidTransaction:All"
    )
    assert schema.encode_type.startswith("HyperliquidTransaction:All(uint8 u1,uint16 u2,")
    assert schema.primary_type == "HyperliquidTransaction:All"
    assert isinstance(schema.types, MappingProxyType)


def test_schema_compile_is_cached_and_accepts_lists() -> None:
    a = TypedDataSchema.compile(
        {"Agent": [("source", "string"), ("connectionId", "bytes32")]}, "Agent"
    )
    as_lists: Any = {"Agent": [["source", "string"], ["connectionId", "bytes32"]]}
    b = TypedDataSchema.compile(as_lists, "Agent")
    assert a is AGENT and b is AGENT
    assert repr(AGENT) == "TypedDataSchema('Agent(string source,bytes32 connectionId)')"


def test_encode_type_sorts_dependencies_and_lists_each_once() -> None:
    schema = TypedDataSchema.compile(
        {
            "Z": [("c", "C"), ("b", "B[]"), ("b2", "B[2]")],
            "C": [("b", "B"), ("z", "uint8")],
            "B": [("x", "string")],
        },
        "Z",
    )
    assert schema.encode_type == "Z(C c,B[] b,B[2] b2)B(string x)C(B b,uint8 z)"
    assert list(schema.types) == ["B", "C", "Z"]


def test_recursion_through_a_dynamic_array_is_allowed_but_bounded() -> None:
    tree = TypedDataSchema.compile({"Node": [("v", "uint8"), ("kids", "Node[]")]}, "Node")
    assert tree.encode_type == "Node(uint8 v,Node[] kids)"
    leaf = {"v": 1, "kids": []}
    assert len(tree.hash_struct({"v": 0, "kids": [leaf, leaf]})) == 32
    deep: dict[str, Any] = leaf
    for _ in range(MAX_DEPTH):
        deep = {"v": 2, "kids": [deep]}
    with pytest.raises(TypedDataError, match="nested too deeply"):
        tree.hash_struct(deep)


# --- domain ----------------------------------------------------------------------------


def test_domain_type_follows_the_fields_present() -> None:
    d = Domain(name="ClobAuthDomain", version="1", chain_id=137)
    assert d.eip712_type() == (("name", "string"), ("version", "string"), ("chainId", "uint256"))
    assert d.as_dict() == {"name": "ClobAuthDomain", "version": "1", "chainId": 137}
    salted = Domain(chain_id=1, salt=b"\x01" * 32)
    assert salted.eip712_type() == (("chainId", "uint256"), ("salt", "bytes32"))
    assert salted.separator == Domain(chain_id=1, salt="0x" + "01" * 32).separator
    assert d == Domain(name="ClobAuthDomain", version="1", chain_id=137)
    assert "separator" not in repr(d)


BAD_DOMAINS: list[tuple[str, dict[str, Any], str, str]] = [
    ("expfail_empty", {}, "domain", "at least one field"),
    ("expfail_chain_id_bool", {"chain_id": True}, "domain.chainId", "expected uint256 int, got bool"),
    ("expfail_chain_id_str", {"chain_id": "137"}, "domain.chainId", "expected uint256 int, got str"),
    ("expfail_chain_id_negative", {"chain_id": -1}, "domain.chainId", "out of range"),
    ("expfail_name_bytes", {"name": b"Exchange"}, "domain.name", "expected string str"),
    ("expfail_contract_checksum", {"verifying_contract": "0xe111180000d2663C0091e4f400237545B87B996B"}, "domain.verifyingContract", "checksum"),
    ("expfail_contract_short", {"verifying_contract": "0xE11118"}, "domain.verifyingContract", "40 hex digits"),
    ("expfail_salt_short", {"salt": b"\x00" * 31}, "domain.salt", "expected bytes32"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "path", "problem"), [v[1:] for v in BAD_DOMAINS], ids=[v[0] for v in BAD_DOMAINS])  # fmt: skip
def test_domain_refused(fields: dict[str, Any], path: str, problem: str) -> None:
    with pytest.raises(TypedDataError) as info:
        Domain(**fields)
    assert info.value.path == path and problem in info.value.problem, str(info.value)


def test_domain_cache_does_not_conflate_true_and_one() -> None:
    assert Domain(chain_id=1).separator
    with pytest.raises(TypedDataError, match=r"^domain\.chainId: "):
        Domain(chain_id=True)


# --- strict values ---------------------------------------------------------------------

EVERY = TypedDataSchema.compile(
    {
        "Every": [
            ("u8", "uint8"), ("u256", "uint256"), ("i8", "int8"), ("addr", "address"),
            ("flag", "bool"), ("text", "string"), ("blob", "bytes"), ("b32", "bytes32"),
            ("b1", "bytes1"), ("list", "uint8[]"), ("pair", "uint8[2]"), ("inner", "Inner"),
            ("inners", "Inner[]"),
        ],
        "Inner": [("makerAmount", "uint256")],
    },
    "Every",
)  # fmt: skip
GOOD: dict[str, Any] = {
    "u8": 255, "u256": 2**256 - 1, "i8": -128, "addr": PM_ADDRESS, "flag": True, "text": "héllo",
    "blob": b"\x00\x01", "b32": b"\x07" * 32, "b1": "0xAb", "list": [1, 2], "pair": (3, 4),
    "inner": {"makerAmount": 0}, "inners": [{"makerAmount": 1}, {"makerAmount": 2}],
}  # fmt: skip


class _Side(IntEnum):
    BUY = 0


def test_good_message_and_equivalent_spellings() -> None:
    digest = EVERY.hash_struct(GOOD)
    same = {**GOOD, "addr": PM_ADDRESS.lower(), "blob": "0x0001", "b32": "0x" + "07" * 32, "b1": b"\xab", "list": (1, 2), "pair": [3, 4]}  # fmt: skip
    assert EVERY.hash_struct(same) == digest
    assert EVERY.hash_struct(MappingProxyType(GOOD)) == digest
    assert EVERY.hash_struct({**GOOD, "addr": "0x" + PM_ADDRESS[2:].upper()}) == digest
    assert EVERY.hash_struct({**GOOD, "blob": "0x", "list": []}) != digest


BAD_VALUES: list[tuple[str, str, Any, str, str]] = [
    # (id, field, value, error path, problem substring)
    ("expfail_uint_decimal_str", "u256", "1", "message.u256", "expected uint256 int, got str"),
    ("expfail_uint_hex_str", "u256", "0x1", "message.u256", "expected uint256 int, got str"),
    ("expfail_uint_bool", "u8", True, "message.u8", "expected uint8 int, got bool"),
    ("expfail_uint_float", "u256", 1.0, "message.u256", "expected uint256 int, got float"),
    ("expfail_uint_decimal", "u256", Decimal(1), "message.u256", "got Decimal"),
    ("expfail_uint_intenum", "u8", _Side.BUY, "message.u8", "got _Side"),
    ("expfail_uint_none", "u8", None, "message.u8", "got NoneType"),
    ("expfail_uint_negative", "u256", -1, "message.u256", "uint256 out of range"),
    ("expfail_uint_overflow", "u8", 256, "message.u8", "uint8 out of range"),
    ("expfail_uint256_overflow", "u256", 2**256, "message.u256", "uint256 out of range"),
    ("expfail_int_overflow", "i8", 128, "message.i8", "int8 out of range"),
    ("expfail_int_underflow", "i8", -129, "message.i8", "int8 out of range"),
    ("expfail_int_bool", "i8", False, "message.i8", "expected int8 int, got bool"),
    ("expfail_address_short", "addr", "0xABC", "message.addr", "40 hex digits"),
    ("expfail_address_bad_checksum", "addr", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267", "message.addr", "EIP-55"),
    ("expfail_address_case_flip", "addr", "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "message.addr", "EIP-55"),
    ("expfail_address_no_prefix", "addr", PM_ADDRESS[2:], "message.addr", "40 hex digits"),
    ("expfail_address_upper_prefix", "addr", "0X" + PM_ADDRESS[2:], "message.addr", "40 hex digits"),
    ("expfail_address_whitespace", "addr", PM_ADDRESS + " ", "message.addr", "40 hex digits"),
    ("expfail_address_bytes", "addr", bytes(20), "message.addr", "expected address str, got bytes"),
    ("expfail_address_int", "addr", 0, "message.addr", "expected address str, got int"),
    ("expfail_bool_int", "flag", 1, "message.flag", "expected bool, got int"),
    ("expfail_bool_zero", "flag", 0, "message.flag", "expected bool, got int"),
    ("expfail_bool_str", "flag", "false", "message.flag", "expected bool, got str"),
    ("expfail_bool_none", "flag", None, "message.flag", "expected bool, got NoneType"),
    ("expfail_string_bytes", "text", b"abc", "message.text", "expected string str, got bytes"),
    ("expfail_string_int", "text", 5, "message.text", "expected string str, got int"),
    ("expfail_string_none", "text", None, "message.text", "got NoneType"),
    ("expfail_string_surrogate", "text", "\ud800", "message.text", "UTF-8"),
    ("expfail_bytes_text", "blob", "hello", "message.blob", "expected bytes"),
    ("expfail_bytes_int", "blob", 5, "message.blob", "got int"),
    ("expfail_bytes_odd_hex", "blob", "0x0", "message.blob", "expected bytes"),
    ("expfail_bytes_spaced_hex", "blob", "0x00 11", "message.blob", "expected bytes"),
    ("expfail_bytes_bytearray", "blob", bytearray(b"\x00"), "message.blob", "got bytearray"),
    ("expfail_bytes32_of_31", "b32", b"\x07" * 31, "message.b32", "expected bytes32"),
    ("expfail_bytes32_of_33", "b32", b"\x07" * 33, "message.b32", "expected bytes32"),
    ("expfail_bytes32_short_hex", "b32", "0x" + "07" * 31, "message.b32", "expected bytes32"),
    ("expfail_bytes32_spaced_hex", "b32", "0x" + "07" * 31 + " 7", "message.b32", "expected bytes32"),
    ("expfail_bytes32_text", "b32", "a" * 32, "message.b32", "expected bytes32"),
    ("expfail_bytes32_int", "b32", 0, "message.b32", "got int"),
    ("expfail_bytes1_no_prefix", "b1", "ab", "message.b1", "expected bytes1"),
    ("expfail_array_str", "list", "ab", "message.list", "expected uint8[] list or tuple, got str"),
    ("expfail_array_set", "list", {1, 2}, "message.list", "got set"),
    ("expfail_array_item", "list", [1, "2"], "message.list[1]", "expected uint8 int, got str"),
    ("expfail_fixed_array_short", "pair", [1], "message.pair", "expected 2 elements, got 1"),
    ("expfail_fixed_array_long", "pair", [1, 2, 3], "message.pair", "expected 2 elements, got 3"),
    ("expfail_struct_none", "inner", None, "message.inner", "expected struct Inner mapping, got NoneType"),
    ("expfail_struct_list", "inner", [("makerAmount", 0)], "message.inner", "got list"),
    ("expfail_struct_missing_key", "inner", {}, "message.inner", "missing 'makerAmount'"),
    ("expfail_struct_extra_key", "inner", {"makerAmount": 0, "taker": PM_ADDRESS}, "message.inner", "unexpected 'taker'"),
    ("expfail_struct_renamed_key", "inner", {"makeramount": 0}, "message.inner", "missing 'makerAmount'; unexpected 'makeramount'"),
    ("expfail_struct_non_str_key", "inner", {"makerAmount": 0, 1: 0}, "message.inner", "unexpected <key>"),
    ("expfail_nested_value", "inner", {"makerAmount": "100"}, "message.inner.makerAmount", "expected uint256 int, got str"),
    ("expfail_nested_array_struct", "inners", [{"makerAmount": 1}, {"makerAmount": 1.5}], "message.inners[1].makerAmount", "got float"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "path", "problem"), [v[1:] for v in BAD_VALUES], ids=[v[0] for v in BAD_VALUES])  # fmt: skip
def test_value_refused_with_field_path(field: str, value: Any, path: str, problem: str) -> None:
    with pytest.raises(TypedDataError) as info:
        EVERY.hash_struct({**GOOD, field: value})
    assert info.value.path == path, str(info.value)
    assert problem in info.value.problem, str(info.value)
    assert str(info.value) == f"{path}: {info.value.problem}"
    assert isinstance(info.value, ValueError) and isinstance(info.value, SignerError)
    assert info.value.code == "INVALID_ARGUMENT" and info.value.metadata == {"field": path}
    assert info.value.public_message == str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_top_level_keys_and_type() -> None:
    with pytest.raises(TypedDataError, match=r"^message: struct keys: missing 'u8'$"):
        EVERY.hash_struct({k: v for k, v in GOOD.items() if k != "u8"})
    with pytest.raises(TypedDataError, match=r"^message: expected struct Every mapping, got list$"):
        EVERY.hash_struct([])  # type: ignore[arg-type]


def test_errors_never_echo_values() -> None:
    secretish = "S3CR3T" * 50
    cases: list[dict[str, Any]] = [
        {**GOOD, "u8": secretish},
        {**GOOD, "addr": "0x" + secretish},
        {**GOOD, "b32": secretish},
        {**GOOD, "inner": {"makerAmount": 0, secretish: 1}},
        {**GOOD, "inner": {"makerAmount": 0, "S3CR3T": 1}},
    ]
    for message in cases:
        with pytest.raises(TypedDataError) as info:
            EVERY.hash_struct(message)
        assert secretish not in str(info.value) and len(str(info.value)) < 200
    with pytest.raises(TypedDataError) as info:
        EVERY.hash_struct({**GOOD, "text": 7, "extra" * 30: 1})
    assert "extra" not in str(info.value)


class _Exotic(Mapping[str, Any]):
    """A Mapping that is not a dict: accepted like one."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_any_mapping_is_a_struct() -> None:
    assert EVERY.hash_struct(_Exotic(GOOD)) == EVERY.hash_struct(GOOD)


def test_digest_and_signature_are_deterministic_and_recoverable() -> None:
    key = _key(PM_KEY)
    domain = Domain(name="Polymarket CTF Exchange", version="2", chain_id=137, verifying_contract="0xE111180000d2663C0091e4f400237545B87B996B")  # fmt: skip
    first = sign_typed_data(key, domain, V2, PM_ORDER_V2)
    assert first == sign_typed_data(key, domain, V2, dict(PM_ORDER_V2))
    digest = typed_data_digest(domain, V2, PM_ORDER_V2)
    assert recover_address(digest, first.to_bytes65()) == PM_ADDRESS
    other = {**PM_ORDER_V2, "makerAmount": PM_ORDER_V2["makerAmount"] + 1}
    assert typed_data_digest(domain, V2, other) != digest


def test_importing_the_schemes_pulls_in_no_eth_account() -> None:
    """py_ecc (via eth_account) raises the recursion limit; the daemon must not import it."""
    script = (
        "import sys; before = sys.getrecursionlimit()\n"
        "import signer.schemes.eip712, signer.schemes.secp256k1\n"
        "assert sys.getrecursionlimit() == before\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'eth_account', 'py_ecc', 'eth_utils', 'eth_abi'}]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
