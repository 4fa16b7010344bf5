"""The emulator's ASGI app: Realtime websocket endpoints (GA and preview), health and metrics.

Authentication happens before the websocket upgrade: a wrong or missing key gets HTTP 401.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from starlette.websockets import WebSocketState

from switchboard.emulator import EMULATOR_MARKER
from switchboard.emulator.dialect import Dialect, GaDialect, PreviewDialect
from switchboard.emulator.session import RealtimeSession, SessionClosed
from switchboard.emulator.settings import EmulatorSettings
from switchboard.emulator.speech import Speech
from switchboard.observability import CONTENT_TYPE_LATEST, log_context, metrics_payload

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_SUBPROTOCOL_KEY_PREFIX = "openai-insecure-api-key."


def _presented_key(websocket: WebSocket) -> str | None:
    headers = websocket.headers
    if headers.get("api-key"):
        return headers["api-key"]
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    for proto in websocket.scope.get("subprotocols") or []:
        if proto.startswith(_SUBPROTOCOL_KEY_PREFIX):
            return proto[len(_SUBPROTOCOL_KEY_PREFIX) :]
    return None


def create_app(settings: EmulatorSettings, *, speech: Speech | None = None) -> FastAPI:
    """The app; loads the speech engines in its lifespan unless a loaded ``speech`` is given
    (tests share one across apps)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = speech is None
        app.state.speech = speech if speech is not None else Speech(settings)
        try:
            yield
        finally:
            if owned:
                app.state.speech.close()

    app = FastAPI(title="Switchboard realtime emulator", lifespan=lifespan)
    app.state.settings = settings
    expected = settings.api_key.get_secret_value().encode()

    async def _deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
        body = {"error": {"type": "invalid_request_error", "code": code, "message": message}}
        await websocket.send_denial_response(JSONResponse(body, status_code=status))

    async def _serve(websocket: WebSocket, *, model: str | None, dialect: Dialect) -> None:
        key = _presented_key(websocket)
        if key is None or not hmac.compare_digest(key.encode(), expected):
            await _deny(
                websocket,
                401,
                "invalid_api_key",
                "Missing or invalid API key. Send it as 'api-key' or 'Authorization: Bearer'.",
            )
            return
        if not model:
            await _deny(
                websocket,
                400,
                "missing_model",
                "Name the deployment: ?model=DEPLOYMENT (GA) or &deployment=DEPLOYMENT (preview).",
            )
            return
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(
            subprotocol="realtime" if "realtime" in offered else None,
            headers=[(b"x-realtime-emulator", EMULATOR_MARKER.encode())],
        )

        async def receive() -> str | bytes:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise SessionClosed
            return message.get("text") or message.get("bytes") or b""

        async def send(text: str) -> None:
            try:
                await websocket.send_text(text)
            except (WebSocketDisconnect, RuntimeError) as exc:
                raise SessionClosed from exc

        session = RealtimeSession(
            model=model,
            dialect=dialect,
            speech=websocket.app.state.speech,
            max_session_s=settings.max_session_s,
            receive=receive,
            send=send,
        )
        with log_context(session_id=session.id, dialect=dialect.name, model=model):
            log.info("session opened")
            try:
                await session.run()
            except Exception:
                log.exception("session crashed")
            finally:
                if websocket.client_state == WebSocketState.CONNECTED:
                    # the peer may have gone meanwhile (starlette raises WebSocketDisconnect)
                    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                        await websocket.close(code=1000)
                log.info("session closed")

    @app.websocket("/openai/v1/realtime")
    async def azure_ga(websocket: WebSocket, model: Annotated[str | None, Query()] = None) -> None:
        await _serve(websocket, model=model, dialect=GaDialect())

    @app.websocket("/v1/realtime")
    async def openai_ga(websocket: WebSocket, model: Annotated[str | None, Query()] = None) -> None:
        await _serve(websocket, model=model, dialect=GaDialect())

    @app.websocket("/openai/realtime")
    async def azure_preview(
        websocket: WebSocket,
        deployment: Annotated[str | None, Query()] = None,
        api_version: Annotated[str | None, Query(alias="api-version")] = None,
    ) -> None:
        if not api_version:
            await _deny(
                websocket, 400, "missing_api_version", "The preview endpoint needs ?api-version=..."
            )
            return
        await _serve(websocket, model=deployment, dialect=PreviewDialect())

    @app.get("/")
    async def info() -> dict[str, object]:
        speech_mode: Speech = app.state.speech
        return {
            "service": EMULATOR_MARKER,
            "description": "Offline emulator of the Azure/OpenAI Realtime API (not a real model).",
            "speech": speech_mode.mode,
            **({"notice": speech_mode.notice} if speech_mode.notice else {}),
            "endpoints": [
                "/openai/v1/realtime?model=",
                "/v1/realtime?model=",
                "/openai/realtime?api-version=&deployment=",
            ],
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(metrics_payload(), media_type=CONTENT_TYPE_LATEST)

    return app
