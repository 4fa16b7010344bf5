"""``switchboard-gateway``: run the session gateway (settings from the environment; see
docs/configuration.md).

SIGTERM/SIGINT drain: new conversations are refused (HTTP 503, ``/readyz`` 503), running ones
may finish for up to ``GATEWAY_DRAIN_TIMEOUT_S``, the rest are ended with an ``error``
(``server_shutting_down``) and close code 1001, buffered events are flushed, and the process
exits 0. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from types import FrameType

import uvicorn

from switchboard.gateway.app import Gateway, create_app
from switchboard.gateway.settings import GatewaySettings
from switchboard.observability import configure_logging

__all__ = ["DrainingServer", "main"]

log = logging.getLogger("switchboard.gateway")


class DrainingServer(uvicorn.Server):
    """uvicorn closes every websocket with 1012 as soon as it is told to stop; this server
    drains conversations first, then stops, and exits 0 after a clean drain."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._drain_task: asyncio.Task[None] | None = None
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining or self.should_exit:
            super().handle_exit(sig, frame)  # second signal: stop now
            return
        self._draining = True
        # called from a signal handler: hand over to the loop thread-safely (it wakes the loop)
        loop = asyncio.get_event_loop()
        loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        if self._drain_task is None:
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        app = self.config.loaded_app
        gateway: Gateway | None = None
        with contextlib.suppress(AttributeError):
            gateway = _find_gateway(app)
        if gateway is not None:
            await gateway.drain()
        self.should_exit = True

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()


def _find_gateway(app: object) -> Gateway | None:
    # uvicorn wraps the app in middleware; walk down to the FastAPI app's state
    seen = 0
    while app is not None and seen < 10:
        state = getattr(app, "state", None)
        gateway = getattr(state, "gateway", None) if state is not None else None
        if isinstance(gateway, Gateway):
            return gateway
        app = getattr(app, "app", None)
        seen += 1
    return None


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", level=settings.log_level, fmt=settings.log_format)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        server_header=False,
        headers=[("server", "switchboard-gateway")],
        # the gateway enforces GATEWAY_MAX_MESSAGE_BYTES itself, with an error event
        ws_max_size=max(16 * 1024 * 1024, settings.max_message_bytes * 2),
        # off by default: base64 audio barely compresses and deflate costs CPU per chunk
        ws_per_message_deflate=settings.ws_compression,
        timeout_graceful_shutdown=5,
    )
    server = DrainingServer(config)
    log.info(
        "gateway starting",
        extra={"host": settings.host, "port": settings.port, "upstream": settings.upstream_kind},
    )
    server.run()


if __name__ == "__main__":
    main()
