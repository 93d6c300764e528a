"""EVM building blocks for the withdraw and on-chain trading paths.

Pure, network-free code: the chain and token registries, strict decimal
amounts, ERC-20 calldata encoding and decoding, a strict RLP codec and
EIP-1559 transaction building and signing. Nothing here imports
``eth_account`` (see ``tests/unit/test_imports.py``); eth-account and eth-abi
are test oracles only.
"""
