"""The shared probe routes: health body, readiness status from the checks, the service's own
metrics registry, and whether they appear in the OpenAPI schema."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.db import create_engine
from switchboard.db.engine import database_answers
from switchboard.runtime.probes import probe_routes


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class _Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)


@dataclass
class _Service:
    """A service object as a lifespan would hold it."""

    ready: bool = True
    metrics: _Metrics = field(default_factory=_Metrics)

    def health(self) -> dict[str, str]:
        return {"status": "ok", "state": "serving"}

    async def readiness(self) -> dict[str, Any]:
        return {"database": self.ready, "ready": self.ready}


def _app(service: _Service, *, include_in_schema: bool = True) -> FastAPI:
    app = FastAPI()
    app.state.service = service
    app.include_router(
        probe_routes(lambda request: request.app.state.service, include_in_schema=include_in_schema)
    )
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")


async def test_health_and_readiness_follow_the_service() -> None:
    """``/healthz`` answers the service's health; ``/readyz`` is 200 with the checks when ready
    and 503 with them when not."""
    service = _Service()
    async with _client(_app(service)) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok", "state": "serving"}
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"database": True, "ready": True})
        service.ready = False
        down = await http.get("/readyz")
        assert (down.status_code, down.json()) == (503, {"database": False, "ready": False})


async def test_metrics_expose_the_services_own_registry() -> None:
    """``/metrics`` is the Prometheus text of the service's registry, not the global one."""
    service = _Service()
    Counter("probe_things_total", "Things.", registry=service.metrics.registry).inc(3)
    async with _client(_app(service)) as http:
        response = await http.get("/metrics")
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert "probe_things_total 3.0" in response.text
    assert "python_gc_objects_collected_total" not in response.text


@pytest.mark.parametrize("shown", [True, False])
async def test_probes_in_the_schema_only_when_asked(shown: bool) -> None:
    """With ``include_in_schema=False`` the probes stay out of the OpenAPI document."""
    async with _client(_app(_Service(), include_in_schema=shown)) as http:
        paths = (await http.get("/openapi.json")).json().get("paths", {})
    probes = {"/healthz", "/readyz", "/metrics"}
    assert paths.keys() & probes == (probes if shown else set())


async def test_database_answers_only_when_postgres_does(engine: AsyncEngine) -> None:
    """The readiness check is true against the run's Postgres and false, within its timeout,
    against a port where nothing listens."""
    assert await database_answers(engine, timeout_s=5) is True
    url = engine.url.set(host="127.0.0.1", port=closed_port())
    nowhere = create_engine(url.render_as_string(hide_password=False), pool_size=1, timeout_s=1)
    try:
        assert await database_answers(nowhere, timeout_s=2) is False
    finally:
        await nowhere.dispose()
