"""Pure decision library: typed intents in, a Decision with its reasons out.

SECURITY: this package imports neither grpc, cryptography nor ``signer``
(tests/unit/policy/test_purity.py proves it), performs no I/O beyond parsing a
document handed to it, and never sees key material. Evaluation errors deny.
"""

from policy.decision import Decision
from policy.document import (
    KNOWN_VENUES,
    MODES,
    PolicyDocument,
    PolicyDocumentError,
    VenuePolicy,
    load_document,
)
from policy.engine import RULE_IDS, decide
from policy.intents import EndpointClass, VenueRequestIntent

__all__ = [
    "KNOWN_VENUES",
    "MODES",
    "RULE_IDS",
    "Decision",
    "EndpointClass",
    "PolicyDocument",
    "PolicyDocumentError",
    "VenuePolicy",
    "VenueRequestIntent",
    "decide",
    "load_document",
]
