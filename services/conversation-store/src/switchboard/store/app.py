"""The store's HTTP app: health, metrics, the analyst API (``/api``) and the web UI (``/``).
Its lifespan owns the :class:`StoreService`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from switchboard.runtime.probes import probe_routes
from switchboard.store.admin_api import admin_router
from switchboard.store.api import router
from switchboard.store.dashboard_api import dashboard_router
from switchboard.store.handoff_api import handoff_router
from switchboard.store.recording_api import recording_router
from switchboard.store.service import StoreService
from switchboard.store.settings import StoreSettings

__all__ = ["WEB_DIR", "create_app"]

#: The web UI (plain HTML, CSS and JS, no build step).
WEB_DIR = Path(__file__).parent / "web"
_NO_STORE = {"Cache-Control": "no-store"}


def _service(request: Request) -> StoreService:
    service: StoreService = request.state.store
    return service


def create_app(
    settings: StoreSettings,
    *,
    service: StoreService | None = None,
    ingest: bool = True,
    assembly: bool | None = None,
    api: bool = True,
) -> FastAPI:
    """The HTTP app; starting it starts the store, stopping it drains the ingest. A *service*
    passed in is the caller's to start and stop. ``api=False`` serves the probes only (the
    ``assemble`` process)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        if service is not None:
            yield {"store": service}
            return
        store = StoreService(settings, ingest=ingest, assembly=assembly)
        await store.start()
        try:
            yield {"store": store}
        finally:
            await store.stop()

    app = FastAPI(
        title="Switchboard conversation store",
        version="1",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )

    app.include_router(probe_routes(_service, include_in_schema=False))
    if not api:
        return app
    app.include_router(router)
    app.include_router(admin_router)
    app.include_router(recording_router)
    app.include_router(handoff_router)
    app.include_router(dashboard_router)

    @app.middleware("http")
    async def count_api_requests(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if request.url.path.startswith("/api/"):
            route = request.scope.get("route")
            name = getattr(route, "path", "unmatched")
            store: StoreService = request.state.store
            store.metrics.http_reads.labels(name, str(response.status_code)).inc()
        return response

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers=_NO_STORE)

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app
