"""``switchboard-emulator``: run the realtime emulator (settings from ``EMULATOR_*``)."""

from __future__ import annotations

from switchboard.emulator.app import create_app
from switchboard.emulator.settings import EmulatorSettings
from switchboard.observability import configure_logging
from switchboard.runtime.server import serve

__all__ = ["main"]


def main() -> None:
    settings = EmulatorSettings()
    configure_logging("emulator", level=settings.log_level, fmt=settings.log_format)
    serve(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        headers=[("server", "switchboard-emulator")],
        ws_max_size=16 * 1024 * 1024,
    )


if __name__ == "__main__":
    main()
