"""Resume snapshots in Redis, the lease that lets one gateway at a time hold a conversation, and
the per-session keeper that writes the snapshot off the audio path.

Each snapshot is a hash ``RedisKeys.session_snapshot(id)``: ``holder`` (the lease: a token of
the one session object allowed to write it), ``refreshed_at`` (epoch seconds of the last write
or refresh: when a gateway dies, the loss is counted from here) and ``data`` (the
:class:`~switchboard.gateway.snapshot.Snapshot` as JSON). Writes are compare-and-set on the
holder (a Lua script), so a gateway that lost the lease (a resume took the conversation over)
can never overwrite the new holder's snapshot. A resume **takes over**: the newest redeemed
resume secret wins, and the previous holder, if alive, is told to let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable

import redis.asyncio as aioredis

from switchboard.gateway.snapshot import Snapshot, SnapshotState
from switchboard.keys import RedisKeys

__all__ = ["ResumeRefused", "SnapshotKeeper", "SnapshotStore", "new_holder"]

log = logging.getLogger(__name__)

#: How often a live session refreshes its snapshot's lease and TTL without changes.
REFRESH_S = 5.0

# Write the snapshot if the lease is ours (or free). ARGV: holder, data, now, ttl_ms.
_SAVE = """
local h = redis.call('HGET', KEYS[1], 'holder')
if h and h ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'data', ARGV[2], 'refreshed_at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""
# Refresh the lease if it is ours. ARGV: holder, now, ttl_ms.
_REFRESH = """
if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'refreshed_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
# Move the lease from the holder that was read to a new one. ARGV: expected, new.
_CLAIM = """
if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'holder', ARGV[2])
return 1
"""


def new_holder(gateway_id: str) -> str:
    """A lease token for one session object on *gateway_id*."""
    return f"{gateway_id}/{uuid.uuid4().hex[:12]}"


class ResumeRefused(Exception):
    """A resume that cannot be granted; ``status`` and ``code`` are the HTTP answer's."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class SnapshotStore:
    """The snapshots of every conversation in one namespace."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, *, window_s: float) -> None:
        self._redis = redis
        self._keys = keys
        self.window_s = window_s
        self._save = redis.register_script(_SAVE)
        self._refresh = redis.register_script(_REFRESH)
        self._claim = redis.register_script(_CLAIM)

    def _ttl_ms(self, state: SnapshotState) -> int:
        # an ended one stays for one window (so a resume is told "ended", not "unknown"); a
        # live or lost one for two (the refusal after the window says so rather than expiring)
        return int(self.window_s * (1000 if state is SnapshotState.ENDED else 2000)) + 10_000

    async def save(self, snapshot: Snapshot, holder: str) -> bool:
        """Write *snapshot* if *holder* has the lease; False when another holder took it."""
        saved = await self._save(
            keys=[self._keys.session_snapshot(snapshot.session_id)],
            args=[
                holder,
                snapshot.model_dump_json(),
                f"{time.time():.3f}",
                self._ttl_ms(snapshot.state),
            ],
        )
        return bool(saved)

    async def refresh(self, session_id: str, holder: str) -> bool:
        refreshed = await self._refresh(
            keys=[self._keys.session_snapshot(session_id)],
            args=[holder, f"{time.time():.3f}", self._ttl_ms(SnapshotState.LIVE)],
        )
        return bool(refreshed)

    async def load(self, session_id: str) -> tuple[Snapshot, str, float] | None:
        """The snapshot, its holder and when it was last written or refreshed; None if none."""
        entry = await self._redis.hgetall(self._keys.session_snapshot(session_id))
        if not entry or "data" not in entry:
            return None
        snapshot = Snapshot.model_validate_json(entry["data"])
        return snapshot, str(entry.get("holder", "")), float(entry.get("refreshed_at") or 0)

    async def check(self, session_id: str, customer_id: str) -> tuple[Snapshot, str]:
        """The snapshot of a conversation *customer_id* may resume now, and its holder; raises
        :class:`ResumeRefused` (unknown, another customer's, ended, window passed)."""
        found = await self.load(session_id)
        if found is None:
            raise ResumeRefused(
                "session_not_found", "No conversation with that id can be resumed.", 404
            )
        snapshot, holder, refreshed_at = found
        if snapshot.customer_id != customer_id:
            # the same answer as an unknown id would leak that it exists: say what is wrong
            # without saying whose it is
            raise ResumeRefused(
                "session_customer_mismatch", "That conversation belongs to another customer.", 403
            )
        if snapshot.state is SnapshotState.ENDED:
            raise ResumeRefused(
                "session_ended", "That conversation has ended and cannot be resumed.", 409
            )
        lost_at = snapshot.lost_at if snapshot.state is SnapshotState.LOST else refreshed_at
        if lost_at is not None and time.time() - lost_at > self.window_s:
            raise ResumeRefused(
                "resume_window_passed",
                f"The conversation was lost more than {self.window_s:g} seconds ago.",
                410,
            )
        return snapshot, holder

    async def claim(self, session_id: str, customer_id: str, holder: str) -> Snapshot:
        """Take the lease for *holder* (a takeover if another holds it) after the same checks
        as :meth:`check`; returns the snapshot to resume from."""
        for _ in range(3):
            snapshot, previous = await self.check(session_id, customer_id)
            if await self._claim(
                keys=[self._keys.session_snapshot(session_id)], args=[previous, holder]
            ):
                return snapshot
        raise ResumeRefused(
            "session_busy", "The conversation is being resumed elsewhere; try again.", 409
        )


class SnapshotKeeper:
    """Writes one session's snapshot in the background: :meth:`touch` (a control event changed
    something) only sets a flag and wakes the loop, which writes at most every *interval_s*
    and refreshes the lease every :data:`REFRESH_S` otherwise. Never on the audio path, never
    awaited by a pump.

    A conversation event (``touch(prompt=True)``) cuts the interval short: the snapshot, which
    carries the events the broker has not confirmed yet, is written at once, so a gateway
    killed before the confirm loses an event only if it dies within that write's round trip
    (rather than within the interval). Events come in bursts of a few per turn, and a burst is
    one write; control events alone (transcript deltas, items) still wait for the interval."""

    def __init__(
        self,
        store: SnapshotStore,
        *,
        session_id: str,
        holder: str,
        build: Callable[[], Snapshot],
        interval_s: float,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.holder = holder
        self._build = build
        self._interval_s = interval_s
        self._dirty = True
        self._wake = asyncio.Event()
        self._wake.set()
        self._prompt = asyncio.Event()
        #: False once another holder took the lease (the session is taken over)
        self.holding = True
        self.writes = 0
        self.on_lost_lease: Callable[[], None] | None = None

    def touch(self, *, prompt: bool = False) -> None:
        """Mark the snapshot for writing; *prompt*: without waiting for the interval (an event
        was published that the broker has not confirmed yet)."""
        if prompt:
            self._prompt.set()
        if not self._dirty:
            self._dirty = True
            self._wake.set()

    async def run(self) -> None:
        """Until cancelled: the session runs it beside its task group and stops it before its
        last write (in the group, a cancellation during a Redis call was seen to be lost and
        the session never ended)."""
        while self.holding:
            # asyncio.timeout, not wait_for: wait_for (3.11) can swallow the task group's
            # cancellation when the event is set at the same moment
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_S):
                    await self._wake.wait()
            self._wake.clear()
            self._prompt.clear()
            try:
                if self._dirty:
                    await self.flush()
                elif not await self.store.refresh(self.session_id, self.holder):
                    self._lost_lease()
            except Exception as exc:  # Redis away: the next change or refresh tries again
                log.warning("snapshot write failed", extra={"error": repr(exc)})
                await asyncio.sleep(self._interval_s)  # not prompted again at once
            # the interval, cut short by an event published meanwhile (see the class)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._prompt.wait()

    async def flush(self, **changes: object) -> bool:
        """Write the snapshot now (with *changes* to its fields); False without the lease."""
        if not self.holding:
            return False
        self._dirty = False
        snapshot = self._build()
        if changes:
            snapshot = snapshot.model_copy(update=changes)
        if await self.store.save(snapshot, self.holder):
            self.writes += 1
            return True
        self._lost_lease()
        return False

    def _lost_lease(self) -> None:
        self.holding = False
        if self.on_lost_lease is not None:
            self.on_lost_lease()
