"""``switchboard-phone``: run the phone bridge (settings from the environment; see
docs/configuration.md and docs/phone.md)."""

from __future__ import annotations

from switchboard.observability import configure_logging
from switchboard.phone.app import create_app
from switchboard.phone.settings import PhoneSettings
from switchboard.runtime.server import serve

__all__ = ["main"]


def main() -> None:
    settings = PhoneSettings()
    configure_logging("phone", level=settings.log_level, fmt=settings.log_format)
    app = create_app(settings)

    async def drain() -> None:
        await app.state.bridge.drain()

    serve(
        app,
        host=settings.host,
        port=settings.port,
        drain=drain,  # SIGTERM: calls in progress end first (PHONE_DRAIN_TIMEOUT_S)
        graceful_timeout_s=5,
        headers=[("server", "switchboard-phone")],
        ws_max_size=1024 * 1024,
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
