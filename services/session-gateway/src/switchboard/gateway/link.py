"""The upstream side of one conversation: opening and configuring an upstream session, and
replacing it (after a drop, or before its duration cap) with the conversation replayed.

:class:`UpstreamLink` owns the current :class:`~switchboard.gateway.upstream.Upstream` and the
only two waits of the relay on it: client events sent during a swap wait for the new upstream,
and one that met a closed socket is sent again once (audio chunks are dropped instead: a lost
chunk is better than a late one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed

from switchboard.contracts.events import ErrorOccurred, EventPayload
from switchboard.gateway.actions import SessionState
from switchboard.gateway.errors import CloseCode, SessionEnd
from switchboard.gateway.metrics import GatewayMetrics
from switchboard.gateway.policy import SessionPolicy
from switchboard.gateway.relay import RelayCore
from switchboard.gateway.settings import GatewaySettings
from switchboard.gateway.upstream import Upstream, UpstreamConnector, UpstreamError

__all__ = ["UpstreamLink"]

log = logging.getLogger(__name__)


class UpstreamLink:
    """The current upstream session of a conversation, and how it is replaced."""

    def __init__(
        self,
        core: RelayCore,
        *,
        settings: GatewaySettings,
        policy: SessionPolicy,
        connector: UpstreamConnector,
        metrics: GatewayMetrics,
        emit: Callable[[EventPayload], None],
    ) -> None:
        self.core = core
        self.settings = settings
        self.policy = policy
        self.connector = connector
        self.metrics = metrics
        self.emit = emit
        self.tools: list[dict[str, Any]] = []
        self.upstream: Upstream | None = None
        #: how many times the upstream session was replaced (drops and renewals)
        self.swaps = 0
        self.opened_at = time.monotonic()
        self.ready = asyncio.Event()
        #: the upstream was lost and is being replaced (not a planned renewal): the caller's
        #: audio meanwhile is dropped rather than held (see :meth:`forward`)
        self.lost = False
        self._changed = asyncio.Event()
        self._swap_lock = asyncio.Lock()
        self._swapped = asyncio.Condition()

    async def open(self, tools: list[dict[str, Any]], *, replay: bool = False) -> dict[str, Any]:
        """The first upstream session (with the conversation so far replayed when *replay*: a
        resumed conversation); returns its session object."""
        self.tools = tools
        self.upstream, session = await self._connect(replay=replay)
        self.ready.set()
        return session

    async def close(self) -> None:
        if self.upstream is not None:
            await self.upstream.close()

    async def wait_swaps(self, count: int) -> None:
        async with self._swapped:
            await self._swapped.wait_for(lambda: self.swaps >= count)

    # -- sending -----------------------------------------------------------------------------------
    async def send(self, event: dict[str, Any]) -> None:
        """Send one of the gateway's own events (it gets an ``sbgw_*`` id)."""
        event = {"event_id": self.core.gw_event_id(), **event}
        await self.ready.wait()
        log.debug("to upstream", extra={"event_type": event["type"], "event_id": event["event_id"]})
        assert self.upstream is not None
        with contextlib.suppress(ConnectionClosed):
            await self.upstream.send(event)

    def forward_now(self, raw: str, data: dict[str, Any]) -> bool:
        """Send a client event at once when the upstream is ready and can take it without
        waiting (nearly always); False when the caller must await :meth:`forward`."""
        upstream = self.upstream
        return upstream is not None and self.ready.is_set() and upstream.forward_now(raw, data)

    async def forward(self, raw: str, data: dict[str, Any], *, audio: bool) -> None:
        """Send a client event; across a swap it waits for the new upstream. Audio does not
        wait while a lost upstream is being replaced (that can take seconds): waiting held the
        client's socket unread, and the audio it then sent all at once went over the client's
        audio rate limit, which ended the conversation (``audio_rate_exceeded``) just as the
        upstream came back. The model never hears that audio either way (the answer it cut is
        told failed, ``upstream_reconnected``, and the caller speaks again); the recording
        keeps it. Across a renewal audio waits: the old upstream is still there."""
        for _ in range(2):
            if not self.ready.is_set():
                if audio and self.lost:
                    self.metrics.audio_dropped.inc()
                    return
                await self.ready.wait()
            upstream = self.upstream
            assert upstream is not None
            try:
                await upstream.send_raw(raw, data)
                return
            except ConnectionClosed:
                if audio:
                    return
                # the upstream pump notices the drop and swaps; wait for that, then retry once
                async with asyncio.timeout(self.settings.upstream_connect_timeout_s * 2):
                    while self.upstream is upstream and self.core.state is not SessionState.ENDING:
                        self._changed.clear()
                        await self._changed.wait()

    # -- opening -----------------------------------------------------------------------------------
    async def _connect(
        self, *, replay: bool, skip_response: str | None = None
    ) -> tuple[Upstream, dict[str, Any]]:
        """Connect, configure with the policy (and the client's accepted changes), and replay
        the conversation so far when asked; returns the upstream and its session object."""
        upstream = await self.connector.connect()
        core = self.core
        try:
            async with asyncio.timeout(self.settings.upstream_connect_timeout_s):
                await _expect(upstream, "session.created")
                await upstream.send(
                    {
                        "type": "session.update",
                        "event_id": core.gw_event_id(),
                        "session": self.policy.session_update(self.tools, core.overrides),
                    }
                )
                updated = await _expect(upstream, "session.updated")
            if replay:
                for item in core.conversation.replay_items(skip_response=skip_response):
                    core.replayed.add(item["id"])
                    await upstream.send(
                        {
                            "type": "conversation.item.create",
                            "event_id": core.gw_event_id(),
                            "item": item,
                        }
                    )
        except (TimeoutError, ConnectionClosed, OSError, ValueError) as exc:
            await upstream.close()
            raise UpstreamError(f"upstream setup failed: {exc!r}") from exc
        except BaseException:
            await upstream.close()
            raise
        self.opened_at = time.monotonic()
        return upstream, updated["session"]

    # -- replacing ---------------------------------------------------------------------------------
    async def swap(self, cause: str, failed: Upstream | None = None) -> tuple[bool, str | None]:
        """Open a new upstream session, replay, and switch to it (*cause*: ``drop`` or
        ``renewal``). Returns whether it swapped (not when another swap won, or when a renewal
        failed and the old session is kept) and the id of the response a drop cut. After a
        swap, client events wait until :meth:`release`. Raises :class:`SessionEnd` when a
        dropped upstream cannot be restored."""
        async with self._swap_lock:
            if failed is not None and self.upstream is not failed:
                return False, None  # someone already replaced it
            core = self.core
            self.ready.clear()
            self.lost = cause == "drop"
            core.become(SessionState.SWAPPING)
            old = self.upstream
            in_response = core.conversation.active_response if cause == "drop" else None
            attempts = self.settings.upstream_reconnect_attempts if cause == "drop" else 1
            delay = self.settings.upstream_reconnect_backoff_s
            last: Exception | None = None
            for attempt in range(max(1, attempts)):
                if attempt:
                    await asyncio.sleep(min(delay * 2 ** (attempt - 1), 5.0))
                try:
                    new, _session = await self._connect(replay=True, skip_response=in_response)
                    break
                except UpstreamError as exc:
                    last = exc
                    log.warning(
                        "upstream reconnect failed",
                        extra={"attempt": attempt + 1, "error": str(exc)},
                    )
            else:
                if cause == "renewal" and old is not None:
                    core.become(SessionState.LIVE)
                    self.lost = False
                    self.ready.set()  # keep the old one; try again later
                    self.opened_at = time.monotonic() - self.settings.renew_after_s + 30
                    return False, None
                self.emit(ErrorOccurred(code="upstream_lost", message=str(last), source="upstream"))
                raise SessionEnd(
                    "upstream_lost",
                    CloseCode.TRY_AGAIN_LATER,
                    error_code="upstream_unavailable",
                    message="The voice service connection was lost and could not be restored.",
                )
            self.upstream = new
            self.swaps += 1
            self._changed.set()
            async with self._swapped:
                self._swapped.notify_all()
            self.metrics.upstream_reconnects.labels(cause).inc()
            log.info("upstream replaced", extra={"cause": cause, "items": len(core.replayed)})
            if old is not None:
                await old.close()
            core.response_requested = False
            core.become(SessionState.LIVE)
            return True, in_response

    def release(self) -> None:
        """Let client events through again (after the swap's follow-up is done)."""
        self.lost = False
        self.ready.set()


async def _expect(upstream: Upstream, kind: str) -> dict[str, Any]:
    while True:
        for event, _raw in await upstream.recv():
            if event.get("type") == kind:
                return event
            if event.get("type") == "error":
                raise UpstreamError(f"upstream refused the session: {event.get('error')}")
