"""The bridge's ASGI app: the Twilio webhooks (TwiML) and media websocket, the ACS routes
(:mod:`.acs_routes`), health and metrics.
Resources (database engine, HTTP client, carrier clients) belong to a :class:`Bridge` opened
and closed by the lifespan."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from switchboard.db import create_engine
from switchboard.observability import CONTENT_TYPE_LATEST, metrics_payload
from switchboard.phone.acs_routes import AcsCarrier, add_acs_routes
from switchboard.phone.call import CallDeps, PhoneCall
from switchboard.phone.carrier import CallControl
from switchboard.phone.carriers.twilio import TwilioCallControl, TwilioMediaStream, TwilioSignatures
from switchboard.phone.directory import CustomerDirectory
from switchboard.phone.gateway import GatewayLink
from switchboard.phone.identity import binding_token, normalise_e164
from switchboard.phone.metrics import PhoneMetrics
from switchboard.phone.settings import PhoneSettings
from switchboard.phone.twiml import connect_stream

__all__ = ["Bridge", "create_app"]

log = logging.getLogger(__name__)

TWIML = "application/xml"


class Bridge:
    """Everything one bridge process holds; opened by the lifespan."""

    def __init__(self, settings: PhoneSettings, *, control: CallControl | None = None) -> None:
        self.settings = settings
        self.metrics = PhoneMetrics()
        self.engine = create_engine(settings.database_url, pool_size=5)
        self.directory = CustomerDirectory(self.engine)
        self.signatures = TwilioSignatures(settings.twilio_auth_token.get_secret_value())
        self.http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)
        )
        self.gateway = GatewayLink(
            settings.gateway_url,
            settings.gateway_server_key.get_secret_value(),
            http=self.http,
            timeout_s=settings.gateway_connect_timeout_s,
        )
        self.control: CallControl = control or TwilioCallControl(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            base_url=settings.twilio_api_base_url,
        )
        self.deps = CallDeps(
            settings=settings, gateway=self.gateway, control=self.control, metrics=self.metrics
        )
        self.calls: set[asyncio.Task[None]] = set()
        self.acs = AcsCarrier(self) if settings.acs_enabled else None
        #: set by :meth:`drain` (SIGTERM): new calls are refused, calls in progress go on
        self.draining = False

    async def drain(self) -> None:
        """SIGTERM: refuse new calls (readiness fails, so the load balancer stops sending them;
        a new-call webhook that still arrives gets 503 and the carrier tries its fallback) and
        let the calls in progress end, at most ``PHONE_DRAIN_TIMEOUT_S``; what is left then is
        cut when the server stops."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.drain_timeout_s
        log.info(
            "draining", extra={"calls": len(self.calls), "timeout_s": self.settings.drain_timeout_s}
        )
        # a call answered before the drain may still connect its media stream: wait for it too
        while self.calls and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self.calls), timeout=left, return_when=asyncio.FIRST_COMPLETED)
        if self.calls:
            log.warning("drain timed out; cutting calls", extra={"calls": len(self.calls)})
        else:
            log.info("drained")

    def refuse_new_call(self, route: str) -> JSONResponse:
        """A new call while draining: 503, so the carrier tries its fallback (another replica
        behind the same address, once readiness has taken this one out)."""
        self.metrics.webhooks.labels(route, "draining").inc()
        log.info("new call refused: draining", extra={"route": route})
        return JSONResponse(
            {"code": "draining", "message": "This bridge is shutting down; try another."},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    async def close(self) -> None:
        for task in list(self.calls):
            task.cancel()
        await asyncio.gather(*self.calls, return_exceptions=True)
        if self.acs is not None:
            await self.acs.close()
        await self.http.aclose()
        await self.engine.dispose()

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(self.directory.ping(), 2.0)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        checks["gateway"] = "ok" if await self.gateway.ready() else "unreachable"
        checks["calls"] = len(self.calls)
        checks["draining"] = self.draining
        checks["ready"] = (
            checks["database"] == "ok" and checks["gateway"] == "ok" and not self.draining
        )
        return checks

    # -- URLs as the carrier sees them ---------------------------------------------------------
    def public(self, url: str) -> str:
        """*url* (as this process received it) rewritten onto ``PHONE_PUBLIC_URL``."""
        if not self.settings.public_url:
            return url
        parts = urlsplit(url)
        base = urlsplit(self.settings.public_url)
        scheme = base.scheme
        if parts.scheme in ("ws", "wss"):
            scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
        path = base.path.rstrip("/") + parts.path
        return urlunsplit((scheme, base.netloc, path, parts.query, ""))

    def stream_url(self, request: Request) -> str:
        url = self.public(str(request.url_for("twilio_media")))
        parts = urlsplit(url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        return urlunsplit((scheme, parts.netloc, parts.path, "", ""))


def _bridge(request: Request) -> Bridge:
    bridge: Bridge = request.app.state.bridge
    return bridge


BridgeDep = Annotated[Bridge, Depends(_bridge)]


async def _signed_form(request: Request, bridge: Bridge, route: str) -> dict[str, str] | None:
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    url = bridge.public(str(request.url))
    if not bridge.signatures.valid(url, params, request.headers.get("x-twilio-signature")):
        bridge.metrics.webhooks.labels(route, "bad_signature").inc()
        log.warning("webhook refused: bad signature", extra={"route": route, "url": url})
        return None
    bridge.metrics.webhooks.labels(route, "ok").inc()
    return params


def _refused() -> JSONResponse:
    return JSONResponse(
        {"code": "invalid_signature", "message": "X-Twilio-Signature does not match."},
        status_code=403,
    )


def create_app(settings: PhoneSettings, *, control: CallControl | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bridge = Bridge(settings, control=control)
        app.state.bridge = bridge
        try:
            yield
        finally:
            await bridge.close()

    app = FastAPI(
        title="Switchboard phone bridge", lifespan=lifespan, docs_url=None, redoc_url=None
    )

    @app.post("/twilio/voice")
    async def twilio_voice(request: Request, bridge: BridgeDep) -> Response:
        params = await _signed_form(request, bridge, "voice")
        if params is None:
            return _refused()
        if bridge.draining:
            return bridge.refuse_new_call("voice")
        number = normalise_e164(
            params.get("From", ""), default_country_code=settings.default_country_code
        )
        identity = await bridge.directory.identify(number)
        call_sid = params.get("CallSid", "")
        # every call is connected, unverified: to the customer caller ID names, or to the guest
        # (general questions and a transfer only); the workers enforce the rest
        bridge.metrics.callers.labels("known" if identity.known else "unknown").inc()
        log.info(
            "call answered, unverified",
            extra={"call_sid": call_sid, "known_number": identity.known},
        )
        token = binding_token(
            settings.binding_key,
            call_id=call_sid,
            customer_id=identity.customer_id,
            expires_at=int(time.time()) + settings.binding_ttl_s,
        )
        twiml = connect_stream(
            bridge.stream_url(request), {"binding": token}, greeting=settings.greeting or None
        )
        return Response(twiml, media_type=TWIML)

    @app.websocket("/twilio/media", name="twilio_media")
    async def twilio_media(websocket: WebSocket) -> None:
        bridge: Bridge = websocket.app.state.bridge
        url = bridge.public(str(websocket.url))
        if not bridge.signatures.valid(url, {}, websocket.headers.get("x-twilio-signature")):
            bridge.metrics.webhooks.labels("media", "bad_signature").inc()
            log.warning("media stream refused: bad signature")
            await websocket.close(code=1008)
            return
        if len(bridge.calls) >= settings.max_calls:
            bridge.metrics.webhooks.labels("media", "over_capacity").inc()
            await websocket.close(code=1013)
            return
        await websocket.accept()
        call = PhoneCall(TwilioMediaStream(websocket), bridge.deps)
        task = asyncio.current_task()
        assert task is not None
        bridge.calls.add(task)
        try:
            await call.run()
        finally:
            bridge.calls.discard(task)

    if settings.acs_enabled:
        add_acs_routes(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(bridge: BridgeDep) -> JSONResponse:
        checks = await bridge.readiness()
        return JSONResponse(checks, status_code=200 if checks["ready"] else 503)

    @app.get("/metrics")
    async def metrics(bridge: BridgeDep) -> Response:
        return Response(metrics_payload(bridge.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
