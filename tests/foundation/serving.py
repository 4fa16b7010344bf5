"""A tiny service run by ``python -m tests.foundation.serving`` for the server tests: it serves
with :func:`switchboard.runtime.server.serve` on a free port and logs its lifespan and, with
``SERVE_DRAIN=1``, a drain hook that lasts until ``POST /release``."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from switchboard.observability import configure_logging
from switchboard.runtime.server import serve

log = logging.getLogger("serving")


def main() -> None:
    configure_logging("serving", fmt="json")
    released = asyncio.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        log.info("lifespan closed")

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/gc")
    async def frozen() -> dict[str, int]:
        return {"frozen": gc.get_freeze_count()}

    @app.post("/release")
    async def release() -> dict[str, str]:
        released.set()
        return {"status": "released"}

    async def drain() -> None:
        log.info("drain started")
        await released.wait()
        log.info("drain done")

    serve(
        app,
        host="127.0.0.1",
        port=0,
        drain=drain if os.environ.get("SERVE_DRAIN") == "1" else None,
        graceful_timeout_s=2,
    )


if __name__ == "__main__":
    main()
