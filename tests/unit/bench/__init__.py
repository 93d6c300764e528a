"""Tests of the benchmark harness (its wire encoding and profile summary, never timings)."""
