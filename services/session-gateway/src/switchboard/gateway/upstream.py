"""The upstream Realtime connection: where to connect for each ``UPSTREAM_KIND``, how to
authenticate (``api-key``, ``Authorization: Bearer``, or a Microsoft Entra ID token), and the
dialect to translate. Upstream secrets stay here: they never reach a client."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

from switchboard.gateway.dialect import GaDialect, PreviewDialect, UpstreamDialect
from switchboard.gateway.settings import GatewaySettings

__all__ = ["Upstream", "UpstreamConnector", "UpstreamError", "entra_token_provider"]

log = logging.getLogger(__name__)

ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
TokenProvider = Callable[[], Awaitable[str]]
#: the largest upstream message taken (either client)
MAX_SIZE = 16 * 1024 * 1024


class UpstreamError(Exception):
    """The upstream could not be reached or refused the connection."""


def entra_token_provider() -> TokenProvider:
    """A bearer-token source from azure-identity's ``DefaultAzureCredential`` (cached by it)."""
    from azure.identity.aio import DefaultAzureCredential

    credential = DefaultAzureCredential()

    async def token() -> str:
        return (await credential.get_token(ENTRA_SCOPE)).token

    return token


def _ws_base(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit(parts._replace(scheme=scheme, path=parts.path.rstrip("/"))).rstrip("/")


class UpstreamConnector:
    """Opens upstream connections as configured, on the ``websockets`` client or on picows
    (``UPSTREAM_WS_CLIENT``, :mod:`~switchboard.gateway.upstream_picows`)."""

    def __init__(
        self, settings: GatewaySettings, *, token_provider: TokenProvider | None = None
    ) -> None:
        self.settings = settings
        self.kind = settings.upstream_kind
        self._token_provider = token_provider
        if self.kind == "azure" and settings.upstream_auth == "entra" and token_provider is None:
            self._token_provider = entra_token_provider()

    @property
    def url(self) -> str:
        s = self.settings
        base = _ws_base(s.upstream_url)
        model = quote(s.upstream_model, safe="")
        if self.kind in ("emulator", "azure"):
            return f"{base}/openai/v1/realtime?model={model}"
        if self.kind == "azure-preview":
            version = quote(s.upstream_api_version, safe="")
            return f"{base}/openai/realtime?api-version={version}&deployment={model}"
        return f"{base}/v1/realtime?model={model}"

    @property
    def dialect(self) -> UpstreamDialect:
        return PreviewDialect() if self.kind == "azure-preview" else GaDialect()

    async def headers(self) -> dict[str, str]:
        s = self.settings
        key = s.upstream_api_key.get_secret_value()
        if self.kind == "openai":
            return {"Authorization": f"Bearer {key}"}
        if self.kind == "azure" and s.upstream_auth == "entra":
            assert self._token_provider is not None
            return {"Authorization": f"Bearer {await self._token_provider()}"}
        if self.kind == "azure-preview" and s.upstream_auth == "entra":
            assert self._token_provider is not None
            return {"Authorization": f"Bearer {await self._token_provider()}"}
        return {"api-key": key}

    async def connect(self) -> Upstream:
        try:
            headers = await self.headers()
            if self.settings.upstream_ws_client == "picows":
                from switchboard.gateway.upstream_picows import connect_picows

                return await connect_picows(
                    self.url,
                    headers=headers,
                    dialect=self.dialect,
                    open_timeout_s=self.settings.upstream_connect_timeout_s,
                    max_size=MAX_SIZE,
                )
            ws = await asyncio.wait_for(
                websockets.connect(
                    self.url,
                    additional_headers=headers,
                    max_size=MAX_SIZE,
                    open_timeout=self.settings.upstream_connect_timeout_s,
                    ping_interval=20,
                    ping_timeout=20,
                    compression="deflate" if self.settings.upstream_ws_compression else None,
                ),
                self.settings.upstream_connect_timeout_s,
            )
        except Exception as exc:
            raise UpstreamError(f"cannot connect to the {self.kind} upstream: {exc!r}") from exc
        return Upstream(ws, self.dialect)


class Upstream:
    """One upstream websocket: GA events in and out, translated by the dialect."""

    def __init__(self, ws: ClientConnection, dialect: UpstreamDialect) -> None:
        self.ws = ws
        self.dialect = dialect
        self.passthrough = isinstance(dialect, GaDialect)

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(self.dialect.client_event(event)))

    async def send_raw(self, raw: str, event: dict[str, Any]) -> None:
        """Forward a client frame: as is for GA and for audio chunks (their *event* does not
        carry the audio), translated otherwise."""
        if self.passthrough or event.get("type") == "input_audio_buffer.append":
            if not self.send_now(raw):
                await self.ws.send(raw)  # appends are the same in both dialects
        else:
            await self.send(event)

    def forward_now(self, raw: str, event: dict[str, Any]) -> bool:
        """:meth:`send_raw` without waiting, when the frame goes as is and :meth:`send_now`
        can take it; False when the caller must await :meth:`send_raw`."""
        if self.passthrough or event.get("type") == "input_audio_buffer.append":
            return self.send_now(raw)
        return False

    def send_now(self, text: str) -> bool:
        """Send *text* as one frame without waiting, when nothing stands in the way: what
        ``ws.send`` does in that case, without its per-call async context manager (a few
        thousand instructions per audio chunk). False when the connection is not open, a
        fragmented message is being sent, the transport is closing or its write buffer is full:
        then the caller uses ``ws.send``, which waits, closes and raises as it should."""
        ws = self.ws
        if (
            ws.protocol.state is not State.OPEN
            or ws.send_in_progress is not None
            or ws.paused
            or ws.transport.is_closing()
        ):
            return False
        ws.protocol.send_text(text.encode())
        ws.send_data()
        return True

    async def recv(self) -> list[tuple[dict[str, Any], str | None]]:
        """The next server event(s) in GA form, each with its raw text when that is unchanged
        (so it can be relayed without serialising again); raises ``ConnectionClosed``."""
        raw = await self.ws.recv()
        event = orjson.loads(raw)
        if not isinstance(event, dict):
            return []
        if self.passthrough:
            return [(event, raw if isinstance(raw, str) else raw.decode())]
        return [(e, None) for e in self.dialect.server_events(event)]

    async def recv_text(self) -> str:
        """The next frame's text as received (GA upstreams: relayed without re-serialising);
        raises ``ConnectionClosed``."""
        raw = await self.ws.recv()
        return raw if isinstance(raw, str) else raw.decode()

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 2)
        except Exception:
            self.ws.transport.abort()
