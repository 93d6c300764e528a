"""Venue modules: one file per venue. ``build_venues`` is the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signer.config import Config
    from signer.venues.base import Venue


def build_venues(config: Config) -> dict[str, Venue]:
    """The venues this build can sign for, configured."""
    from signer.venues import (
        bitget,
        bitmart,
        bybit,
        coinbase,
        cryptocom,
        hyperliquid,
        kalshi,
        kraken,
        okx,
        polymarket,
    )
    from signer.venues.binance import BinanceVenue

    return {
        "kraken": kraken.VENUE,
        "binance": BinanceVenue(recv_window_ms=config.binance_recv_window_ms),
        "coinbase": coinbase.VENUE,
        "okx": okx.VENUE,
        "bitget": bitget.VENUE,
        "bybit": bybit.VENUE,
        "bitmart": bitmart.VENUE,
        "cryptocom": cryptocom.VENUE,
        "kalshi": kalshi.VENUE,
        "hyperliquid": hyperliquid.VENUE,
        # SECURITY: key provisioning is gated by the policy document
        # (``[venues.polymarket] key_provisioning``, default false).
        "polymarket": polymarket.PolymarketVenue(allow_key_provisioning=True),
    }
