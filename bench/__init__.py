"""Benchmarks: run by hand or with `make bench`; they print figures, they assert nothing."""
