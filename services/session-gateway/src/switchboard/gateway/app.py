"""The gateway's ASGI app: client secrets, the Realtime websocket, admin and dev routes, health,
metrics and the voice page. Resources (Redis, the broker connection, the event publisher, the
registry) belong to a :class:`Gateway` opened and closed by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from starlette.routing import WebSocketRoute

from switchboard.amqp import Topology
from switchboard.contracts.tools import Verification
from switchboard.demo import demo_customer_listing
from switchboard.gateway.broker import Broker, EventPublisher
from switchboard.gateway.catalog import CatalogReader
from switchboard.gateway.errors import CloseCode
from switchboard.gateway.metrics import GatewayMetrics
from switchboard.gateway.policy import SessionPolicy, load_instructions
from switchboard.gateway.realtime import RealtimeRoute
from switchboard.gateway.recorder import open_store
from switchboard.gateway.registry import SessionRegistry
from switchboard.gateway.resume import ResumeRefused, SnapshotStore
from switchboard.gateway.session import Session, SessionDeps
from switchboard.gateway.settings import GatewaySettings
from switchboard.gateway.tokens import (
    ClientSecretRequest,
    ClientSecrets,
    DevClientSecretRequest,
)
from switchboard.gateway.upstream import TokenProvider, UpstreamConnector
from switchboard.keys import RedisKeys
from switchboard.runtime.probes import probe_routes

__all__ = ["Gateway", "create_app"]

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"


class Gateway:
    """Everything one gateway process holds; opened by the lifespan."""

    def __init__(
        self, settings: GatewaySettings, *, token_provider: TokenProvider | None = None
    ) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics()
        self.keys = RedisKeys(settings.namespace)
        # a blocking pool: a burst of handshakes waits for a connection instead of failing
        self.redis: aioredis.Redis = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                settings.redis_url,
                decode_responses=True,
                socket_connect_timeout=2.0,
                max_connections=settings.redis_max_connections,
                timeout=5.0,
            )
        )
        self.secrets = ClientSecrets(self.redis, self.keys)
        self.broker = Broker(
            amqp_url=settings.amqp_url,
            topology=Topology(settings.namespace),
            connection_name=f"switchboard-gateway:{settings.gateway_id}",
            reconnect_s=settings.amqp_reconnect_s,
        )
        self.publisher = EventPublisher(
            self.broker,
            metrics=self.metrics,
            capacity=settings.event_buffer,
            retry_s=settings.amqp_reconnect_s,
        )
        self.registry = SessionRegistry(
            self.redis,
            self.keys,
            gateway_id=settings.gateway_id,
            ttl_s=settings.registry_ttl_s,
            heartbeat_s=settings.heartbeat_s,
        )
        self.snapshots = SnapshotStore(self.redis, self.keys, window_s=settings.resume_window_s)
        self.catalog = CatalogReader(self.redis, self.keys, refresh_s=settings.catalog_refresh_s)
        self.policy = SessionPolicy(
            instructions=load_instructions(settings.prompt_file, settings.language),
            voice=settings.voice,
            audio_format=settings.audio_format,
            transcription_model=settings.transcription_model,
            vad_silence_ms=settings.vad_silence_ms,
        )
        self.connector = UpstreamConnector(settings, token_provider=token_provider)
        self.deps = SessionDeps(
            settings=settings,
            policy=self.policy,
            connector=self.connector,
            broker=self.broker,
            publisher=self.publisher,
            registry=self.registry,
            catalog=self.catalog,
            metrics=self.metrics,
            snapshots=self.snapshots,
        )
        self.sessions: dict[str, Session] = {}
        self.no_sessions = asyncio.Event()
        self.no_sessions.set()
        self.draining = False
        self._registry_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.settings.recording:
            self.deps.recordings = await open_store(self.settings, self.metrics)
        self.broker.start()
        self.publisher.start()
        self._registry_task = asyncio.create_task(self.registry.run(), name="gateway-registry")

    async def drain(self, timeout_s: float | None = None, handover_s: float | None = None) -> None:
        """Refuse new conversations, let the current ones finish for up to *timeout_s*, then
        hand the rest over, each at its next quiet moment (for up to *handover_s*, then
        anyway): its snapshot is written as resumable and its client closed with 1012 and a
        reason that says to resume (``docs/gateway.md``, "Resume")."""
        self.draining = True
        timeout = self.settings.drain_timeout_s if timeout_s is None else timeout_s
        handover = self.settings.drain_handover_s if handover_s is None else handover_s
        log.info("draining", extra={"sessions": len(self.sessions), "timeout_s": timeout})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.no_sessions.wait()
        latest = time.monotonic() + handover
        for session in list(self.sessions.values()):
            session.request_end(
                "handed_over",
                CloseCode.SERVICE_RESTART,
                error_code=None,
                message=HANDOVER_REASON,
                close_reason=HANDOVER_REASON,
                when_quiet_until=latest,
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(handover + 5):
                await self.no_sessions.wait()

    async def close(self) -> None:
        if self.sessions:
            await self.drain(0, 0)
        flushed = await self.publisher.flush(3.0)
        if not flushed:
            log.warning("events left unpublished at shutdown", extra={"count": len(self.publisher)})
        await self.publisher.close()
        if self._registry_task is not None:
            self._registry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._registry_task
        await self.broker.close()
        if self.deps.recordings is not None:
            with contextlib.suppress(Exception):
                await self.deps.recordings.close()
        with contextlib.suppress(Exception):
            await self.redis.delete(self.keys.gateway(self.settings.gateway_id))
        await self.redis.aclose()

    def health(self) -> dict[str, str]:
        """The body of ``/healthz``."""
        return {"status": "ok"}

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"draining": self.draining, "broker": self.broker.connected}
        try:
            async with asyncio.timeout(1.0):
                checks["redis"] = bool(await self.redis.ping())
        except Exception:
            checks["redis"] = False
        checks["sessions"] = len(self.sessions)
        checks["ready"] = bool(checks["redis"] and checks["broker"] and not self.draining)
        return checks


#: The close reason of a conversation handed over by a draining gateway (close code 1012).
HANDOVER_REASON = "service restart: resume this session with a resume secret"


def gateway_of(request: Request) -> Gateway:
    """The :class:`Gateway` of the lifespan state."""
    gateway: Gateway = request.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(gateway_of)]


def require_server_key(
    gateway: GatewayDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """The shop backend's server key, as ``Authorization: Bearer KEY``."""
    auth = authorization or ""
    presented = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    expected = gateway.settings.server_key.get_secret_value().encode()
    if not presented or not hmac.compare_digest(presented.encode(), expected):
        raise HTTPException(
            status_code=401,
            detail={
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "message": "A valid server key is required (Authorization: Bearer KEY).",
            },
        )


ServerKey = Annotated[None, Depends(require_server_key)]


def require_development(gateway: GatewayDep) -> None:
    """Development routes answer 404 outside development and test environments."""
    env = gateway.settings.environment.lower()
    if gateway.settings.is_production or env not in ("development", "test"):
        raise HTTPException(status_code=404, detail="Not Found")


DevOnly = Annotated[None, Depends(require_development)]


def create_app(
    settings: GatewaySettings,
    *,
    gateway: Gateway | None = None,
    token_provider: TokenProvider | None = None,
    web_dir: Path | None = None,
) -> FastAPI:
    """The app; its lifespan opens the *gateway* (a new :class:`Gateway` when None) and closes
    it, and hands it to the routes as lifespan state (``request.state.gateway``). A caller that
    passes its own keeps a reference, e.g. for the drain on SIGTERM."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        opened = (
            gateway if gateway is not None else Gateway(settings, token_provider=token_provider)
        )
        await opened.start()
        try:
            yield {"gateway": opened}
        finally:
            await opened.close()

    app = FastAPI(
        title="Switchboard session gateway", lifespan=lifespan, docs_url=None, redoc_url=None
    )

    async def _mint(
        gateway: Gateway,
        customer_id: str,
        ttl_s: int,
        verification: Verification | None,
        resume_session_id: str | None = None,
        recording: bool = True,
    ) -> dict[str, Any]:
        if resume_session_id is not None:
            try:
                snapshot, _holder = await gateway.snapshots.check(resume_session_id, customer_id)
            except ResumeRefused as exc:
                raise HTTPException(
                    status_code=exc.status,
                    detail={
                        "type": "invalid_request_error",
                        "code": exc.code,
                        "message": exc.message,
                    },
                ) from None
            # the level the conversation reached (a verify_caller) is kept, not the minted one
            verification = snapshot.verification
            ttl_s = min(ttl_s, max(10, int(settings.resume_window_s)))
        value, expires_at = await gateway.secrets.mint(
            customer_id,
            ttl_s,
            verification=verification,
            resume_session_id=resume_session_id,
            recording=recording,
        )
        answer: dict[str, Any] = {
            "value": value,
            "expires_at": expires_at,
            "customer_id": customer_id,
            "session": {"type": "realtime", "model": settings.upstream_model},
        }
        if verification is not None:
            answer["verification"] = verification.value
        if resume_session_id is not None:
            answer["resume_session_id"] = resume_session_id
        if not recording:
            answer["recording"] = False
        return answer

    @app.post("/v1/realtime/client_secrets")
    async def client_secrets(
        body: ClientSecretRequest, gateway: GatewayDep, _: ServerKey
    ) -> dict[str, Any]:
        ttl = body.expires_after.seconds if body.expires_after else settings.client_secret_ttl_s
        return await _mint(
            gateway,
            body.customer_id,
            ttl,
            body.verification,
            body.resume_session_id,
            body.recording,
        )

    @app.post("/dev/client_secrets")
    async def dev_client_secrets(
        body: DevClientSecretRequest, gateway: GatewayDep, _: DevOnly
    ) -> dict[str, Any]:
        return await _mint(
            gateway,
            body.customer_id,
            settings.client_secret_ttl_s,
            body.verification,
            body.resume_session_id,
            body.recording,
        )

    @app.get("/dev/customers")
    async def dev_customers(_: DevOnly) -> list[dict[str, Any]]:
        return demo_customer_listing()

    @app.post("/admin/sessions/{session_id}/end", status_code=202)
    async def admin_end(session_id: str, gateway: GatewayDep, _: ServerKey) -> dict[str, Any]:
        if not await gateway.registry.exists(session_id):
            raise HTTPException(
                status_code=404,
                detail={"code": "session_not_found", "message": "No live session with that id."},
            )
        delivered = await gateway.registry.end(session_id)
        return {"session_id": session_id, "delivered": delivered}

    @app.get("/admin/sessions")
    async def admin_sessions(gateway: GatewayDep, _: ServerKey) -> list[dict[str, Any]]:
        ids = await gateway.redis.zrange(gateway.keys.sessions_index, 0, 999)
        out = []
        for session_id in ids:
            entry = await gateway.redis.hgetall(gateway.keys.session(session_id))
            if entry:
                out.append({"session_id": session_id, **{str(k): v for k, v in entry.items()}})
        return out

    app.include_router(probe_routes(gateway_of))

    # a plain ASGI app: frames skip the framework's per-message wrapper (realtime.py)
    app.router.routes.append(WebSocketRoute("/v1/realtime", RealtimeRoute()))

    directory = web_dir if web_dir is not None else WEB_DIR
    if (directory / "index.html").is_file():
        app.mount("/", StaticFiles(directory=directory, html=True), name="web")
    else:

        @app.get("/")
        async def info() -> dict[str, Any]:
            return {"service": "switchboard-gateway", "realtime": "/v1/realtime"}

    return app
