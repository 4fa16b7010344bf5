"""Switchboard benchmarks (``make bench``)."""
