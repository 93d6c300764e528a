"""Limits that hold across restarts: signing rates and withdraw windows.

``rate``: a token bucket per (principal, venue), in memory behind a durable mark.
``spend``: withdraw amounts per (principal, chain, token) in a durable rolling window.
The decisions themselves are pure (``policy.limits``); these modules keep the state.
"""

from signer.limits.rate import RateLimiter, RateScope
from signer.limits.spend import Spend, SpendLedger

__all__ = ["RateLimiter", "RateScope", "Spend", "SpendLedger"]
