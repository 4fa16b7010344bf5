"""``switchboard-emulator``: run the realtime emulator (settings from ``EMULATOR_*``)."""

from __future__ import annotations

import uvicorn

from switchboard.emulator.app import create_app
from switchboard.emulator.settings import EmulatorSettings
from switchboard.observability import configure_logging

__all__ = ["main"]


def main() -> None:
    settings = EmulatorSettings()
    configure_logging("emulator", level=settings.log_level, fmt=settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        ws_max_size=16 * 1024 * 1024,
        server_header=False,
        headers=[("server", "switchboard-emulator")],
    )


if __name__ == "__main__":
    main()
