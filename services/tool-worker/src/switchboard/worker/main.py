"""``switchboard-worker``: run one tool worker (settings from the environment; see
docs/configuration.md). SIGTERM/SIGINT stop consuming, finish in-flight calls and exit."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from switchboard.observability import configure_logging
from switchboard.worker.health import create_app
from switchboard.worker.settings import WorkerSettings

__all__ = ["main"]

log = logging.getLogger("switchboard.worker")


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after shutdown (so the exit status is the signal); a
    worker that drained cleanly exits 0 instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()


def main() -> None:
    settings = WorkerSettings()
    configure_logging("worker", level=settings.log_level, fmt=settings.log_format)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.http_host, settings.http_port))
    port = sock.getsockname()[1]
    log.info(
        "http listening",
        extra={"worker_id": settings.worker_id, "host": settings.http_host, "port": port},
    )
    config = uvicorn.Config(
        create_app(settings),
        log_config=None,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )
    _Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
