"""The bridge as a client of the session gateway: mint a single-use client secret with the
server key (``POST /v1/realtime/client_secrets``, ``verification: unverified``: caller ID is no
proof, so account tools refuse until the caller passes ``verify_caller``), open ``/v1/realtime`` with display events on
(``switchboard.tool.*`` tell the bridge about escalations), and set the session to
the carrier's format in and out (``audio/pcmu`` for Twilio, ``audio/pcm`` 24 kHz for ACS) so
carrier audio passes without resampling."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from switchboard.contracts.display import DISPLAY_EVENTS_QUERY_PARAM
from switchboard.contracts.tools import Verification

__all__ = [
    "PERMANENT_REFUSALS",
    "SESSION_FORMATS",
    "GatewayError",
    "GatewayLink",
    "pcmu_session_update",
    "session_update",
    "truncate_event",
]

#: Carrier formats the gateway takes as they are: (format, rate) -> (session format, bytes/ms).
SESSION_FORMATS = {
    ("audio/x-mulaw", 8000): ("audio/pcmu", 8),
    ("audio/pcm", 24000): ("audio/pcm", 48),
}


#: HTTP answers to a resume that no retry can change: another customer's (403), unknown (404),
#: the resume window passed (410). A 409 is ``session_busy`` (try again) or ``session_ended``.
PERMANENT_REFUSALS = frozenset({401, 403, 404, 410})


class GatewayError(RuntimeError):
    """The gateway could not be reached or refused the call (*status*: its HTTP answer, if
    any; *code*: the error code in its body, if any)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def permanent(self) -> bool:
        """Trying again cannot help (the conversation cannot be resumed)."""
        return self.status in PERMANENT_REFUSALS or self.code == "session_ended"


def pcmu_session_update() -> dict[str, Any]:
    """G.711 µ-law both ways: Twilio's format, with no resampling anywhere on the path."""
    return session_update("audio/pcmu")


def session_update(audio_format: str) -> dict[str, Any]:
    """The carrier's format both ways (``audio/pcmu``: Twilio; ``audio/pcm`` 24 kHz: ACS)."""
    fmt: dict[str, Any] = {"type": audio_format}
    if audio_format == "audio/pcm":
        fmt["rate"] = 24000
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {"input": {"format": fmt}, "output": {"format": dict(fmt)}},
        },
    }


def truncate_event(item_id: str, heard_ms: int) -> str:
    """``conversation.item.truncate`` of *item_id* at what the caller heard of it."""
    return json.dumps(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": heard_ms,
        }
    )


def _error_code(body: bytes | bytearray) -> str | None:
    """The ``code`` of a gateway error body (``{"error": {...}}`` or FastAPI's ``detail``)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    error = doc.get("error") or doc.get("detail")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _ws_base(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class GatewayLink:
    """Opens gateway conversations for calls (one HTTP client shared by every call)."""

    def __init__(
        self, base_url: str, server_key: str, *, http: httpx.AsyncClient, timeout_s: float
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.server_key = server_key
        self.http = http
        self.timeout_s = timeout_s

    async def mint(self, customer_id: str, *, resume_session_id: str | None = None) -> str:
        """A single-use client secret for *customer_id*; with *resume_session_id*, one that
        resumes that conversation (the gateway keeps the level the conversation reached)."""
        body: dict[str, Any] = {
            "customer_id": customer_id,
            "expires_after": {"anchor": "created_at", "seconds": 60},
            # caller ID is no proof: the workers refuse account tools until the caller
            # passes verify_caller, and the gateway then raises the level
            "verification": Verification.UNVERIFIED.value,
        }
        if resume_session_id is not None:
            body["resume_session_id"] = resume_session_id
        try:
            response = await self.http.post(
                f"{self.base_url}/v1/realtime/client_secrets",
                json=body,
                headers={"Authorization": f"Bearer {self.server_key}"},
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as exc:
            raise GatewayError(f"cannot reach the gateway: {exc}") from exc
        if response.status_code != 200:
            raise GatewayError(
                f"the gateway refused a client secret: {response.status_code} {response.text[:200]}",
                status=response.status_code,
                code=_error_code(response.content),
            )
        return str(response.json()["value"])

    async def open(
        self,
        customer_id: str,
        *,
        audio_format: str = "audio/pcmu",
        resume_session_id: str | None = None,
    ) -> ClientConnection:
        """A Realtime conversation for *customer_id*, already switched to *audio_format*; with
        *resume_session_id*, that conversation resumed (the same ``session.update`` is sent)."""
        secret = await self.mint(customer_id, resume_session_id=resume_session_id)
        url = f"{_ws_base(self.base_url)}/v1/realtime?{DISPLAY_EVENTS_QUERY_PARAM}=1"
        try:
            ws = await websockets.connect(
                url,
                additional_headers={"Authorization": f"Bearer {secret}"},
                open_timeout=self.timeout_s,
                max_size=16 * 1024 * 1024,
                compression=None,
            )
        except websockets.InvalidStatus as exc:
            body = exc.response.body or b""
            raise GatewayError(
                f"the gateway refused the conversation: HTTP {exc.response.status_code}",
                status=exc.response.status_code,
                code=_error_code(body),
            ) from exc
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            # an abort mid-handshake surfaces as ConnectionClosed, not InvalidHandshake
            raise GatewayError(f"the gateway refused the conversation: {exc}") from exc
        try:
            await ws.send(json.dumps(session_update(audio_format)))
        except websockets.ConnectionClosed as exc:
            raise GatewayError(f"the gateway closed the conversation at once: {exc}") from exc
        return ws

    async def ready(self) -> bool:
        try:
            response = await self.http.get(f"{self.base_url}/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
