"""``switchboard-worker``: run one tool worker (settings from the environment; see
docs/configuration.md). SIGTERM/SIGINT stop consuming, finish in-flight calls and exit 0."""

from __future__ import annotations

from switchboard.observability import configure_logging
from switchboard.runtime.server import serve
from switchboard.worker.health import create_app
from switchboard.worker.settings import WorkerSettings

__all__ = ["main"]


def main() -> None:
    settings = WorkerSettings()
    configure_logging("worker", level=settings.log_level, fmt=settings.log_format)
    serve(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        graceful_timeout_s=settings.shutdown_timeout_s,
        log_extra={"worker_id": settings.worker_id},
    )


if __name__ == "__main__":
    main()
