"""The TCP fault proxy tests put between a service and its broker or database (cut, hang,
restore): :mod:`switchboard.cli.faultproxy`, beside the process stack in the CLI package, where
`make chaos` takes it too."""

from switchboard.cli.faultproxy import TcpProxy

__all__ = ["TcpProxy"]
