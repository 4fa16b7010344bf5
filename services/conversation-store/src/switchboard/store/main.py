"""``switchboard-store``: run the conversation store (settings from the environment; see
docs/configuration.md and docs/store.md). SIGTERM/SIGINT stop consuming, write what was
received and exit."""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import sys
from collections.abc import Iterator

import uvicorn

from switchboard.observability import configure_logging
from switchboard.store.app import create_app
from switchboard.store.settings import StoreSettings

__all__ = ["main"]

log = logging.getLogger("switchboard.store")


class _Server(uvicorn.Server):
    """Exit 0 after a clean shutdown on SIGTERM/SIGINT (uvicorn would re-raise the signal)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()


def serve(settings: StoreSettings) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.http_host, settings.http_port))
    port = sock.getsockname()[1]
    log.info(
        "http listening",
        extra={"instance_id": settings.instance_id, "host": settings.http_host, "port": port},
    )
    config = uvicorn.Config(
        create_app(settings),
        log_config=None,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )
    _Server(config).run(sockets=[sock])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard-store", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the store: ingest, API and web UI (the default)")
    args = parser.parse_args(argv)
    settings = StoreSettings()
    configure_logging("store", level=settings.log_level, fmt=settings.log_format)
    if args.command in (None, "serve"):
        return serve(settings)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
