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
    serve(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        graceful_timeout_s=max(1, int(settings.drain_timeout_s)),
        headers=[("server", "switchboard-phone")],
        ws_max_size=1024 * 1024,
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
