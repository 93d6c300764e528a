"""Benchmarks of the daemon against its floors (DESIGN.md section 7); see bench/README.md."""
