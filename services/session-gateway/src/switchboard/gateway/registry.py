"""The Redis session registry (which gateway holds which conversation, for which customer,
since when) with heartbeats, the per-customer concurrency limit, and the control channel
that lets anyone end a conversation held by any gateway (``end`` on
``RedisKeys.session_control(session_id)``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from switchboard.keys import RedisKeys

__all__ = ["SessionRegistry", "TooManySessions"]

log = logging.getLogger(__name__)

# Add the session to the customer's set unless the set (pruned of sessions whose registry entry
# expired, e.g. after a gateway crash) already holds the limit. Returns 1 if added.
_CLAIM = """
local members = redis.call('SMEMBERS', KEYS[1])
local live = 0
for _, sid in ipairs(members) do
  if redis.call('EXISTS', ARGV[3] .. sid) == 1 then live = live + 1
  else redis.call('SREM', KEYS[1], sid) end
end
if live >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


class TooManySessions(Exception):
    pass


class SessionRegistry:
    """One gateway's view of the registry; ``run()`` heartbeats its sessions and listens for
    control commands until cancelled."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: RedisKeys,
        *,
        gateway_id: str,
        ttl_s: float,
        heartbeat_s: float,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.gateway_id = gateway_id
        self._ttl_ms = int(ttl_s * 1000)
        self._heartbeat_s = heartbeat_s
        self._claim = redis.register_script(_CLAIM)
        #: session id -> customer id, for the sessions this gateway holds
        self.local: dict[str, str] = {}
        self._on_control: dict[str, Callable[[str], None]] = {}
        self.listening = asyncio.Event()

    async def register(
        self,
        session_id: str,
        *,
        customer_id: str,
        upstream: str,
        model: str,
        max_per_customer: int,
        on_control: Callable[[str], None],
    ) -> None:
        """Claim a slot for the customer and record the session; raises :class:`TooManySessions`."""
        session_prefix = self._keys.session("")
        claimed = await self._claim(
            keys=[self._keys.customer_sessions(customer_id)],
            args=[session_id, max_per_customer, session_prefix, self._ttl_ms],
        )
        if not claimed:
            raise TooManySessions(customer_id)
        started = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._keys.session(session_id),
                mapping={
                    "customer_id": customer_id,
                    "gateway": self.gateway_id,
                    "started_at": f"{started:.3f}",
                    "upstream": upstream,
                    "model": model,
                },
            )
            pipe.pexpire(self._keys.session(session_id), self._ttl_ms)
            pipe.zadd(self._keys.sessions_index, {session_id: started})
            await pipe.execute()
        self.local[session_id] = customer_id
        self._on_control[session_id] = on_control

    async def unregister(
        self,
        session_id: str,
        on_control: Callable[[str], None] | None = None,
        *,
        shared: bool = True,
    ) -> None:
        """Forget the session here (only if *on_control* is still the registered handler: a
        resumed session with the same id may have replaced it on this gateway) and, when
        *shared*, remove its registry entry (not when another holder has taken it over)."""
        if on_control is not None and self._on_control.get(session_id) != on_control:
            return
        customer_id = self.local.pop(session_id, None)
        self._on_control.pop(session_id, None)
        if not shared:
            return
        with contextlib.suppress(Exception):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._keys.session(session_id))
                pipe.zrem(self._keys.sessions_index, session_id)
                if customer_id is not None:
                    pipe.srem(self._keys.customer_sessions(customer_id), session_id)
                await pipe.execute()

    async def end(self, session_id: str, command: str = "end") -> int:
        """Ask the gateway holding *session_id* to end it; returns how many gateways heard."""
        return int(await self._redis.publish(self._keys.session_control(session_id), command))

    async def exists(self, session_id: str) -> bool:
        return bool(await self._redis.exists(self._keys.session(session_id)))

    async def beat(self) -> None:
        """Refresh the TTL of this gateway's entry and of every session it holds."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._keys.gateway(self.gateway_id), f"{time.time():.3f}", px=self._ttl_ms)
            for session_id, customer_id in self.local.items():
                pipe.pexpire(self._keys.session(session_id), self._ttl_ms)
                pipe.pexpire(self._keys.customer_sessions(customer_id), self._ttl_ms)
            await pipe.execute()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._heartbeat())
            tg.create_task(self._listen())

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self.beat()
                # drop index entries whose session expired (a crashed gateway's)
                stale = await self._redis.zrangebyscore(
                    self._keys.sessions_index,
                    0,
                    time.time() - self._ttl_ms / 1000,
                    start=0,
                    num=200,
                )
                for sid in stale:
                    sid = str(sid)
                    if not await self._redis.exists(self._keys.session(sid)):
                        await self._redis.zrem(self._keys.sessions_index, sid)
            except Exception as exc:
                log.warning("registry heartbeat failed", extra={"error": repr(exc)})
            await asyncio.sleep(self._heartbeat_s)

    async def _listen(self) -> None:
        prefix = self._keys.session_control("")
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.psubscribe(f"{prefix}*")
                self.listening.set()
                try:
                    async for message in pubsub.listen():
                        if message.get("type") != "pmessage":
                            continue
                        channel = message["channel"]
                        data = message["data"]
                        session_id = str(channel)[len(prefix) :]
                        handler = self._on_control.get(session_id)
                        if handler is not None:
                            handler(str(data))
                finally:
                    self.listening.clear()
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("control channel lost; resubscribing", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)
