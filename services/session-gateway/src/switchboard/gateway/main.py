"""``switchboard-gateway``: run the session gateway (settings from the environment; see
docs/configuration.md).

SIGTERM/SIGINT drain: new conversations are refused (HTTP 503, ``/readyz`` 503), running ones
may finish for up to ``GATEWAY_DRAIN_TIMEOUT_S``, the rest are handed over, each at its next quiet
moment within ``GATEWAY_DRAIN_HANDOVER_S`` (snapshot written as resumable, close code 1012 with
a reason saying to resume), buffered events are flushed, and the
process exits 0. A second signal exits at once.
"""

from __future__ import annotations

import logging

from switchboard.gateway.app import Gateway, create_app
from switchboard.gateway.settings import GatewaySettings
from switchboard.observability import configure_logging
from switchboard.runtime.server import serve

__all__ = ["main"]

log = logging.getLogger("switchboard.gateway")


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", level=settings.log_level, fmt=settings.log_format)
    gateway = Gateway(settings)  # opened and closed by the app's lifespan
    log.info(
        "gateway starting",
        extra={"host": settings.host, "port": settings.port, "upstream": settings.upstream_kind},
    )
    serve(
        create_app(settings, gateway=gateway),
        host=settings.host,
        port=settings.port,
        drain=gateway.drain,
        graceful_timeout_s=5,
        headers=[("server", "switchboard-gateway")],
        # the gateway enforces GATEWAY_MAX_MESSAGE_BYTES itself, with an error event
        ws_max_size=max(16 * 1024 * 1024, settings.max_message_bytes * 2),
        # off by default: base64 audio barely compresses and deflate costs CPU per chunk
        ws_per_message_deflate=settings.ws_compression,
    )


if __name__ == "__main__":
    main()
