"""Hostile input against a running gateway (and the store's analyst API).

- :func:`hostile_events`: thousands of generated malformed/hostile client events
  (:mod:`chaos.hostile`); each must be answered by an ``error`` event while the conversation
  survives (checked with a permitted ``session.update`` after every batch); oversized frames must
  end their connection cleanly. The gateway must still be alive at the end.
- :func:`secrets`: missing, forged, reused and expired client secrets never get an upgrade.
- :func:`cross_customer`: a caller asking about another customer's order learns nothing.
- :func:`analyst_api`: every store endpoint refuses anonymous and wrong-role callers.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets as pysecrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chaos.hostile import HostileFrame, generate
from chaos.report import FaultRow
from switchboard.cli.endpoint import mint_secret
from switchboard.contracts.client_events import session_update
from switchboard.contracts.display import DISPLAY_EVENTS_QUERY_PARAM

__all__ = ["analyst_api", "cross_customer", "hostile_events", "secrets"]


def _ws_url(gateway: str, *, display: bool = False) -> str:
    url = gateway.replace("http://", "ws://", 1) + "/v1/realtime?model=chaos"
    return url + (f"&{DISPLAY_EVENTS_QUERY_PARAM}=1" if display else "")


async def _open(gateway: str, secret: str, *, display: bool = False) -> ClientConnection:
    ws = await connect(
        _ws_url(gateway, display=display),
        subprotocols=["realtime", f"openai-insecure-api-key.{secret}"],  # type: ignore[list-item]
        max_size=None,
        open_timeout=15,
    )
    await _next_of(ws, {"session.created"}, within_s=15)
    return ws


async def _next_of(ws: ClientConnection, types: set[str], within_s: float) -> dict[str, Any]:
    async with asyncio.timeout(within_s):
        while True:
            event = json.loads(await ws.recv())
            if event.get("type") in types:
                return dict(event)


@dataclass
class _Tally:
    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    closed_cleanly: int = 0
    survived_checks: int = 0
    failed_checks: int = 0
    connections: int = 0


async def hostile_events(
    gateway: str,
    server_key: str,
    customer_id: str,
    *,
    count: int,
    max_message_bytes: int,
    batch: int = 50,
) -> FaultRow:
    row = FaultRow(fault="hostile client events", load=f"{count} frames")
    tally = _Tally()
    frames = list(generate(count, seed=20261125, max_message_bytes=max_message_bytes))
    http = httpx.AsyncClient(timeout=10)
    ws: ClientConnection | None = None
    began = time.monotonic()
    try:
        for start in range(0, len(frames), batch):
            for frame in frames[start : start + batch]:
                if ws is None:
                    secret = await mint_secret(
                        gateway, customer_id, server_key=server_key, client=http
                    )
                    ws = await _open(gateway, secret)
                    tally.connections += 1
                ws = await _send_one(ws, frame, tally)
            if ws is not None:
                # the conversation goes on: a permitted change still works
                try:
                    await ws.send(json.dumps(session_update(audio={"output": {"voice": "alloy"}})))
                    await _next_of(ws, {"session.updated"}, within_s=10)
                    tally.survived_checks += 1
                except (TimeoutError, ConnectionClosed):
                    tally.failed_checks += 1
                    ws = None
    finally:
        if ws is not None:
            await ws.close()
        await http.aclose()
    sent = sum(tally.sent.values())
    answered = sum(tally.answered.values())
    row.calls = tally.connections
    row.errors = sum(tally.unanswered.values()) + tally.failed_checks
    row.recovery_s = None
    row.note(
        f"{sent} frames sent, {answered} answered with an error event, {tally.closed_cleanly} oversized frames closed cleanly, in {time.monotonic() - began:.0f}s"
    )
    row.note(f"by category: {dict(tally.sent)}")
    if tally.unanswered:
        row.note(f"unanswered: {dict(tally.unanswered)}")
    row.note(
        f"conversation survived {tally.survived_checks} of {tally.survived_checks + tally.failed_checks} checks over {tally.connections} connections"
    )
    row.passed = not tally.unanswered and tally.failed_checks == 0 and sent == count
    return row


async def _send_one(
    ws: ClientConnection, frame: HostileFrame, tally: _Tally
) -> ClientConnection | None:
    tally.sent[frame.category] += 1
    try:
        await ws.send(frame.data)
        if frame.expect == "close":
            try:
                async with asyncio.timeout(10):
                    while True:
                        await ws.recv()
            except ConnectionClosed as closed:
                if closed.rcvd is not None and closed.rcvd.code in (1008, 1009):
                    tally.closed_cleanly += 1
                    tally.answered[frame.category] += 1
                else:
                    tally.unanswered[frame.category] += 1
            return None
        await _next_of(ws, {"error"}, within_s=10)
        tally.answered[frame.category] += 1
        return ws
    except (TimeoutError, ConnectionClosed):
        tally.unanswered[frame.category] += 1
        await ws.close()
        return None


async def secrets(
    gateway: str, server_key: str, customer_id: str, *, expiry_s: int = 10
) -> FaultRow:
    """Every wrong way in is refused before the upgrade."""
    row = FaultRow(fault="bad client secrets", load="5 attempts")
    outcomes: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=10) as http:

        async def attempt(label: str, subprotocols: list[str] | None) -> None:
            try:
                ws = await connect(_ws_url(gateway), subprotocols=subprotocols, open_timeout=10)  # type: ignore[arg-type]
            except InvalidStatus as exc:
                outcomes[label] = f"refused {exc.response.status_code}"
                return
            await ws.close()
            outcomes[label] = "UPGRADED"

        await attempt("missing", ["realtime"])
        await attempt(
            "forged", ["realtime", f"openai-insecure-api-key.ek_{pysecrets.token_urlsafe(24)}"]
        )
        good = await mint_secret(gateway, customer_id, server_key=server_key, client=http)
        first = await _open(gateway, good)
        await first.close()
        await attempt("reused", ["realtime", f"openai-insecure-api-key.{good}"])
        short = await mint_secret(
            gateway, customer_id, server_key=server_key, ttl_s=expiry_s, client=http
        )
        await asyncio.sleep(expiry_s + 1.5)
        await attempt("expired", ["realtime", f"openai-insecure-api-key.{short}"])
        wrong_key = await http.post(
            f"{gateway}/v1/realtime/client_secrets",
            json={"customer_id": customer_id},
            headers={"Authorization": "Bearer not-the-server-key"},
        )
        outcomes["mint with a wrong server key"] = f"HTTP {wrong_key.status_code}"
    row.calls = len(outcomes)
    row.note(", ".join(f"{k}: {v}" for k, v in outcomes.items()))
    upgraded = [k for k, v in outcomes.items() if v == "UPGRADED"]
    row.errors = len(upgraded) + (
        0 if outcomes["mint with a wrong server key"] in ("HTTP 401", "HTTP 403") else 1
    )
    row.passed = row.errors == 0
    return row


async def cross_customer(
    gateway: str, server_key: str, *, pairs: list[tuple[str, int, list[str]]]
) -> FaultRow:
    """Each (customer, another customer's order id, that order's secrets) pair: the customer
    types a question about the other's order; the tool must answer not_found and the reply must
    hold none of the secrets (e.g. the other customer's tracking number or city)."""
    row = FaultRow(fault="another customer's order", load=f"{len(pairs)} callers")
    leaks: list[str] = []
    refusals = Counter[str]()
    async with httpx.AsyncClient(timeout=10) as http:
        for customer, order_id, secrets_of_other in pairs:
            secret = await mint_secret(gateway, customer, server_key=server_key, client=http)
            ws = await _open(gateway, secret, display=True)
            try:
                await ws.send(
                    json.dumps(
                        {
                            "type": "conversation.item.create",
                            "item": {
                                "type": "message",
                                "role": "user",
                                "content": [
                                    {
                                        "type": "input_text",
                                        "text": f"What is the status of order {order_id}?",
                                    }
                                ],
                            },
                        }
                    )
                )
                await ws.send(json.dumps({"type": "response.create"}))
                heard: list[str] = []
                async with asyncio.timeout(30):
                    done = 0
                    while done < 2:
                        event = json.loads(await ws.recv())
                        kind = event.get("type")
                        if kind == "switchboard.tool.completed":
                            refusals[
                                str(event.get("error_code") if not event.get("ok") else "ANSWERED")
                            ] += 1
                            heard.append(json.dumps(event.get("card") or {}))
                        elif kind in (
                            "response.output_audio_transcript.done",
                            "response.output_text.done",
                        ):
                            heard.append(event.get("transcript") or event.get("text") or "")
                        elif kind == "response.done":
                            done += 1
                        elif kind == "error":
                            refusals["error_event"] += 1
                text = " ".join(heard).lower()
                leaks.extend(s for s in secrets_of_other if s and s.lower() in text)
            except TimeoutError:
                refusals["no_reply"] += 1
            finally:
                await ws.close()
    row.calls = len(pairs)
    row.errors = len(leaks) + refusals["ANSWERED"]
    row.note(f"tool outcomes: {dict(refusals)}")
    if leaks:
        row.note(f"LEAKED: {leaks[:5]}")
    row.passed = not leaks and refusals["ANSWERED"] == 0 and refusals["not_found"] > 0
    return row


#: Store routes an analyst may not use (admin only).
ADMIN_ONLY = (
    ("POST", "/api/live/{id}/end"),
    ("DELETE", "/api/sessions/{id}"),
    ("GET", "/api/view-log"),
)


async def analyst_api(store: str, *, analyst: tuple[str, str]) -> FaultRow:
    """Every path in the store's OpenAPI document without credentials and with a wrong password
    → 401; the admin routes with the analyst role → 403. Nothing answers with data."""
    row = FaultRow(fault="analyst API without rights", load="every endpoint")
    failures: list[str] = []
    checked = 0
    async with httpx.AsyncClient(timeout=10) as http:
        spec = (await http.get(f"{store}/api/openapi.json")).json()
        for path, methods in spec.get("paths", {}).items():
            concrete = re.sub(r"\{[^}]+\}", "chaos-session", path)
            generic = re.sub(r"\{[^}]+\}", "{id}", path)
            for method in (m.upper() for m in methods):
                attempts = [
                    ("anonymous", None, 401),
                    ("wrong password", (analyst[0], "wrong"), 401),
                ]
                if (method, generic) in ADMIN_ONLY:
                    attempts.append(("analyst role", analyst, 403))
                for label, auth, expected in attempts:
                    response = await http.request(method, f"{store}{concrete}", auth=auth)
                    checked += 1
                    if response.status_code != expected:
                        failures.append(f"{method} {path} {label}: {response.status_code}")
    row.calls = checked
    row.errors = len(failures)
    if failures:
        row.note("; ".join(failures[:5]))
    row.note(f"{checked} requests across every documented endpoint")
    row.passed = not failures and checked > 0
    return row
