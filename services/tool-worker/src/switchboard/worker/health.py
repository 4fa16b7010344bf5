"""The worker's HTTP side: ``/healthz`` (the process answers), ``/readyz`` (consuming, Postgres
reachable, catalog announced) and ``/metrics``; its lifespan owns the :class:`WorkerService`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from switchboard.observability import CONTENT_TYPE_LATEST, metrics_payload
from switchboard.worker.service import WorkerService
from switchboard.worker.settings import WorkerSettings

__all__ = ["create_app"]


def _service(request: Request) -> WorkerService:
    service: WorkerService = request.state.worker
    return service


ServiceDep = Annotated[WorkerService, Depends(_service)]


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

    @app.get("/healthz")
    async def healthz(worker: ServiceDep) -> dict[str, str]:
        return {"status": "ok", "worker": worker.settings.worker_id, "state": str(worker.state)}

    @app.get("/readyz")
    async def readyz(worker: ServiceDep) -> JSONResponse:
        checks = await worker.readiness()
        return JSONResponse(checks, status_code=200 if checks["ready"] else 503)

    @app.get("/metrics")
    async def metrics(worker: ServiceDep) -> Response:
        return Response(metrics_payload(worker.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
