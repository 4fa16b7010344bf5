"""The TCP fault proxy tests put between a service and its broker or database (cut, hang,
restore). Tests import it from here; its code still lives in :mod:`chaos.proxy` (issue 17
moves it here once chaos/ can change)."""

from chaos.proxy import TcpProxy

__all__ = ["TcpProxy"]
