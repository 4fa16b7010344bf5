"""Where a voice client connects and how it authenticates.

Through the gateway: mint a single-use client secret (the dev route, or the server-key route the
shop's backend uses), then open ``/v1/realtime`` with ``Authorization: Bearer SECRET`` and
``?switchboard_events=1``. Directly to a Realtime endpoint (the emulator): its URL and API key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from switchboard.contracts.client_events import session_update
from switchboard.contracts.display import DISPLAY_EVENTS_QUERY_PARAM

__all__ = [
    "DIRECT_SESSION_UPDATE",
    "Endpoint",
    "EndpointError",
    "direct_endpoint",
    "gateway_endpoint",
    "http_base",
    "mint_secret",
]

#: What a direct connection asks of the emulator: transcripts of the caller's speech (through the
#: gateway, the server-side session policy decides this).
DIRECT_SESSION_UPDATE: dict[str, Any] = session_update(
    audio={"input": {"transcription": {"model": "whisper-1"}}}
)


class EndpointError(RuntimeError):
    """The endpoint could not be reached or refused us; the message says why. ``status`` is
    the HTTP status of a refusal (None: not reached at all)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def permanent(self) -> bool:
        """Trying again cannot help: refused for good (4xx other than 408/409/429)."""
        return (
            self.status is not None
            and 400 <= self.status < 500
            and self.status
            not in (
                408,
                409,
                429,
            )
        )


@dataclass(frozen=True)
class Endpoint:
    url: str
    headers: dict[str, str] = field(repr=False)
    kind: str
    session_update: dict[str, Any] | None = None


def http_base(url: str) -> str:
    """The gateway's HTTP base URL from a ws://, wss://, http(s):// URL or a bare host:port."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _ws_url(base: str, path: str, query: dict[str, str]) -> str:
    parts = urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    merged = dict(parse_qsl(parts.query))
    merged.update(query)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, urlencode(merged), ""))


async def mint_secret(
    gateway: str,
    customer_id: str,
    *,
    server_key: str | None = None,
    ttl_s: int = 600,
    client: httpx.AsyncClient | None = None,
) -> str:
    """A single-use client secret for *customer_id*: the server-key route if a key is given,
    else the development route (only open when the gateway runs with SWITCHBOARD_ENV=development)."""
    base = http_base(gateway)
    if server_key:
        url = f"{base}/v1/realtime/client_secrets"
        body: dict[str, Any] = {
            "customer_id": customer_id,
            "expires_after": {"anchor": "created_at", "seconds": ttl_s},
        }
        headers = {"Authorization": f"Bearer {server_key}"}
    else:
        url = f"{base}/dev/client_secrets"
        body = {"customer_id": customer_id}
        headers = {}
    owned = client is None
    http = client or httpx.AsyncClient(timeout=10)
    try:
        response = await http.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise EndpointError(f"cannot reach the gateway at {base}: {exc}") from exc
    finally:
        if owned:
            await http.aclose()
    if response.status_code == 404 and not server_key:
        raise EndpointError(
            f"{url} answered 404: the development route is off (production mode?). "
            "Pass --server-key (or SWITCHBOARD_SERVER_KEY) to mint secrets the production way."
        )
    if response.status_code >= 400:
        raise EndpointError(f"{url} answered {response.status_code}: {response.text[:300]}")
    value = response.json().get("value")
    if not value:
        raise EndpointError(f"{url} answered without a secret: {response.text[:300]}")
    return str(value)


async def gateway_endpoint(
    gateway: str,
    customer_id: str,
    *,
    server_key: str | None = None,
    model: str | None = None,
    client: httpx.AsyncClient | None = None,
) -> Endpoint:
    """The gateway's Realtime websocket with a fresh client secret and display events on."""
    secret = await mint_secret(gateway, customer_id, server_key=server_key, client=client)
    query = {DISPLAY_EVENTS_QUERY_PARAM: "1"}
    if model:
        query["model"] = model
    return Endpoint(
        url=_ws_url(http_base(gateway), "/v1/realtime", query),
        headers={"Authorization": f"Bearer {secret}"},
        kind="gateway",
    )


def direct_endpoint(url: str, *, api_key: str, model: str = "switchboard-cli") -> Endpoint:
    """A Realtime endpoint without the gateway (e.g. the emulator at ws://127.0.0.1:8082).

    A bare host gets the GA Azure path ``/openai/v1/realtime``; ``model`` is added if missing."""
    base = url if "://" in url else f"ws://{url}"
    parts = urlsplit(base)
    path = parts.path.rstrip("/") or "/openai/v1/realtime"
    query = dict(parse_qsl(parts.query))
    query.setdefault("model", model)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return Endpoint(
        url=urlunsplit((scheme, parts.netloc, path, urlencode(query), "")),
        headers={"api-key": api_key},
        kind="direct",
        session_update=DIRECT_SESSION_UPDATE,
    )
