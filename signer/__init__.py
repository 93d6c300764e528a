"""sequence-signer: a hardened gRPC daemon that holds trading keys for an untrusted front end."""

__version__ = "0.1.0"
