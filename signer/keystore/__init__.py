"""Sealed keystore: AES-256-GCM envelope, SQLite store, lazy-unsealing ``Keystore``."""

from signer.keystore.keystore import Keystore
from signer.keystore.sealing import MasterKey, RecordAad, SealedRecord
from signer.keystore.store import Store

__all__ = ["Keystore", "MasterKey", "RecordAad", "SealedRecord", "Store"]
