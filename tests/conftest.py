"""Suite-wide test settings.

Hypothesis' per-example deadline is a timing assertion: on a shared, loaded
machine it fails tests that are correct. Unit tests never assert timings
(benchmarks live in bench/), so the deadline is off for the whole suite.
"""

from hypothesis import settings

settings.register_profile("sequence-signer", deadline=None)
settings.load_profile("sequence-signer")
