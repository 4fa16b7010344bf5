"""The worker's HTTP side: ``/healthz`` (the process answers), ``/readyz`` (consuming, Postgres
reachable, catalog announced) and ``/metrics``; its lifespan owns the :class:`WorkerService`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from switchboard.runtime.probes import probe_routes
from switchboard.worker.service import WorkerService
from switchboard.worker.settings import WorkerSettings

__all__ = ["create_app"]


def _service(request: Request) -> WorkerService:
    service: WorkerService = request.state.worker
    return service


def create_app(settings: WorkerSettings, *, service: WorkerService | None = None) -> FastAPI:
    """The HTTP app; starting it starts the worker, stopping it drains the worker."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        worker = service or WorkerService(settings)
        await worker.start()
        try:
            yield {"worker": worker}
        finally:
            await worker.stop()

    app = FastAPI(title="Switchboard tool worker", lifespan=lifespan, docs_url=None, redoc_url=None)

    app.include_router(probe_routes(_service))
    return app
