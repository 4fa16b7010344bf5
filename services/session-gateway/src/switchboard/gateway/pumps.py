"""The three tasks of a session's ``TaskGroup``: the client pump, the upstream pump and the
watchdog. They read, hand what they read to the core, and carry out its decisions through the
session; the rules themselves live in :mod:`~switchboard.gateway.relay` and
:mod:`~switchboard.gateway.inbound`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from websockets.exceptions import ConnectionClosed

from switchboard.gateway.entries import DELTA
from switchboard.gateway.errors import CloseCode, SessionEnd
from switchboard.gateway.frames import delta_of_event, read_audio_delta
from switchboard.gateway.metrics import DIRECTIONS

if TYPE_CHECKING:
    from switchboard.gateway.session import Session

__all__ = ["QUIET_S", "client_pump", "upstream_pump", "watchdog"]

#: How long a conversation must have been quiet to be ended "at a quiet moment" (a drain's
#: handover): no answer under way or asked for, the caller not speaking, no tool running.
QUIET_S = 0.5

log = logging.getLogger(__name__)
_C2U, _U2C = DIRECTIONS


async def client_pump(session: Session) -> None:
    """Client frames, one at a time, through the client rules and on upstream."""
    from switchboard.gateway.session import ClientGone

    client, rules, apply = session.client, session.rules, session.apply
    counters = session.metrics.relay[_C2U]
    perf_counter = time.perf_counter
    while True:
        try:
            raw = await client.receive()
        except ClientGone as gone:
            raise gone.end() from None
        started = perf_counter()
        await apply(rules.on_frame(raw))
        counters.record(len(raw), perf_counter() - started)


async def upstream_pump(session: Session) -> None:
    """Upstream events through the core to the client; a dropped upstream is replaced."""
    link, core, apply = session.link, session.core, session.apply
    counters = session.metrics.relay[_U2C]
    perf_counter, wall = time.perf_counter, time.time
    record = session.record
    while True:
        upstream = link.upstream
        assert upstream is not None
        try:
            if upstream.passthrough:
                text = await upstream.recv_text()
                if link.upstream is not upstream:
                    continue
                started = perf_counter()
                delta = read_audio_delta(text)
                if delta is not None:  # the hot path, inline: relayed as received
                    await apply(core.on_audio_delta(text, *delta))
                    if record is not None:  # a reference, for the recorder's writer
                        record((DELTA, text, delta, wall()))
                    counters.record(len(text), perf_counter() - started)
                else:
                    await _relay_text(session, text, started)
                continue
            events = await upstream.recv()
        except (ConnectionClosed, OSError) as exc:
            if link.upstream is not upstream:
                continue  # replaced on purpose (renewal)
            log.warning("upstream dropped", extra={"error": repr(exc)})
            await session.swap_upstream("drop", failed=upstream)
            continue
        except ValueError:
            log.warning("unreadable upstream event ignored")
            continue
        if link.upstream is not upstream:
            continue  # late events of a replaced upstream
        for event, _ in events:  # translated from another dialect
            started = time.perf_counter()
            delta = delta_of_event(event)
            if delta is not None:
                text = json.dumps(event)
                await session.apply(session.core.on_audio_delta(text, *delta))
                if record is not None:  # its audio text, at hand here
                    audio = event.get("delta")
                    record((DELTA, audio if isinstance(audio, str) else "", delta, wall()))
            else:
                text = ""
                await session.apply(session.core.on_server_event(event, None))
                _observed(session, event)
                session.tools.wake()
                session.keeper.touch()
            session.metrics.relay[_U2C].record(len(text), time.perf_counter() - started)


async def _relay_text(session: Session, text: str, started: float) -> None:
    """One frame of a GA upstream that is not an audio delta (those are relayed as received
    without being parsed, :func:`~switchboard.gateway.frames.read_audio_delta`): parsed."""
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        log.warning("unreadable upstream event ignored")
        return
    if not isinstance(event, dict):
        return
    await session.apply(session.core.on_server_event(event, text))
    _observed(session, event)
    session.tools.wake()
    session.keeper.touch()  # a control event: the resume snapshot is written off this path
    session.metrics.relay[_U2C].record(len(text), time.perf_counter() - started)


def _observed(session: Session, event: dict[str, Any]) -> None:
    """What the recorder learns from a server event that is not audio (speech turns of the
    user, the session's formats)."""
    recorder = session.recorder
    if recorder is not None:
        core = session.core
        recorder.observe(event, core.input_format, core.conversation.audio_format)


async def watchdog(session: Session) -> None:
    """Limits (duration, idle), external end requests, and renewal before the upstream cap."""
    s, core, link, tools = session.settings, session.core, session.link, session.tools
    quiet_since: float | None = None
    while True:
        now = time.monotonic()
        if session.end_request is not None:
            latest = session.end_when_quiet_until
            if latest is None or now >= latest:
                raise session.end_request
            quiet = not (core.busy or core.response_requested or core.speaking or tools.running)
            if not quiet or not link.ready.is_set():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET_S:
                raise session.end_request
        if now - session.started_at >= s.max_session_s:
            raise SessionEnd(
                "max_duration",
                CloseCode.MAX_DURATION,
                error_code="session_expired",
                message=f"The conversation reached its maximum duration of {s.max_session_s:g} seconds.",
            )
        busy = core.busy or tools.running > 0
        if not busy and now - core.last_activity >= s.idle_timeout_s:
            raise SessionEnd(
                "idle",
                CloseCode.IDLE_TIMEOUT,
                error_code="idle_timeout",
                message=f"No activity for {s.idle_timeout_s:g} seconds.",
            )
        if (
            now - link.opened_at >= s.renew_after_s
            and not busy
            and not core.speaking
            and link.ready.is_set()
        ):
            await session.swap_upstream("renewal")
            continue
        deadlines = [
            session.started_at + s.max_session_s,
            core.last_activity + s.idle_timeout_s,
            link.opened_at + s.renew_after_s,
        ]
        wait = max(0.05, min(deadlines) - now)
        if busy or core.speaking:
            wait = min(wait, 0.5)
        if session.end_request is not None:  # ending at a quiet moment: look often
            wait = min(wait, QUIET_S / 4)
        session.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.wake.wait(), wait)
