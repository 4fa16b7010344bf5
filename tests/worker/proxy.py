"""Kept for the tests that import it from here; the proxy lives in :mod:`chaos.proxy`."""

from chaos.proxy import TcpProxy

__all__ = ["TcpProxy"]
