"""``switchboard-phone``: run the phone bridge (settings from the environment; see
docs/configuration.md and docs/phone.md)."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from switchboard.observability import configure_logging
from switchboard.phone.app import create_app
from switchboard.phone.settings import PhoneSettings

__all__ = ["main"]

log = logging.getLogger("switchboard.phone")


class _Server(uvicorn.Server):
    """Exit 0 after a clean shutdown on SIGTERM/SIGINT (uvicorn would re-raise the signal)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()


def main() -> None:
    settings = PhoneSettings()
    configure_logging("phone", level=settings.log_level, fmt=settings.log_format)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    log.info("http listening", extra={"host": settings.host, "port": sock.getsockname()[1]})
    config = uvicorn.Config(
        create_app(settings),
        log_config=None,
        lifespan="on",
        server_header=False,
        headers=[("server", "switchboard-phone")],
        ws_max_size=1024 * 1024,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=max(1, int(settings.drain_timeout_s)),
    )
    _Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
