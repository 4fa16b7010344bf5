"""The three routes every service answers the same way, for Kubernetes and Prometheus:

- ``/healthz``: the process answers (liveness), with what :meth:`Probed.health` says;
- ``/readyz``: the checks of :meth:`Probed.readiness`, HTTP 200 when ``ready`` is true, else 503
  (starting, draining, a dependency down);
- ``/metrics``: the service's own Prometheus registry in the text exposition format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from switchboard.observability import CONTENT_TYPE_LATEST, metrics_payload

__all__ = ["Probed", "probe_routes"]


class _Metrics(Protocol):
    @property
    def registry(self) -> CollectorRegistry: ...


class Probed(Protocol):
    """What a service's lifespan object offers the probes."""

    @property
    def metrics(self) -> _Metrics: ...

    def health(self) -> dict[str, str]:
        """The body of ``/healthz`` (at least ``{"status": "ok"}``)."""
        ...

    async def readiness(self) -> dict[str, Any]:
        """The checks behind ``/readyz``, with a boolean ``ready``."""
        ...


def probe_routes(
    service: Callable[[Request], Probed], *, include_in_schema: bool = True
) -> APIRouter:
    """The probe routes of the service that *service* finds for a request (in the app's or the
    lifespan's state)."""
    router = APIRouter(include_in_schema=include_in_schema)

    @router.get("/healthz")
    async def healthz(request: Request) -> dict[str, str]:
        return service(request).health()

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        checks = await service(request).readiness()
        return JSONResponse(checks, status_code=200 if checks["ready"] else 503)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        registry = service(request).metrics.registry
        return Response(metrics_payload(registry), media_type=CONTENT_TYPE_LATEST)

    return router
