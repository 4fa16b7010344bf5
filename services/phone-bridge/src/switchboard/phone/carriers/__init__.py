"""Carrier adapters: one module per carrier wire format and REST API."""
