"""Observability without leaks: decision log lines and Prometheus metrics.

``hooks`` (what the core calls; imports nothing from ``signer``), ``events``
(a decision as a bounded, secret-free record), ``logs`` (JSON and text
formats), ``metrics`` (the series), ``observer`` (hooks -> lines and series),
``interceptor`` (RPC timing), ``settings`` (config), ``runtime`` (wiring, the
metrics endpoint). Submodules are imported explicitly, so importing
``signer.audit`` (which needs ``hooks`` only) does not load prometheus-client.
"""
