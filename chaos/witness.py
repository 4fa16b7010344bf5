"""An independent witness of every conversation event the gateways publish.

A durable quorum queue of the runner's own, bound to the events exchange for every routing key,
receives a copy of each event the broker accepted — independently of the conversation store. The
chaos runner compares the witness's event ids with the store's rows: an id the witness saw that
the store does not hold is a lost event. An event a gateway emitted but never had confirmed (it
was killed first) never reaches the witness; when later events of the same conversation did, it
shows as a hole in the conversation's seqs (:meth:`WitnessWindow.seq_holes`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pydantic import ValidationError

from switchboard.amqp import Topology
from switchboard.contracts.events import ConversationEvent, parse_conversation_events

__all__ = ["Witness", "WitnessWindow"]

#: the end reasons a resume supersedes (a dropped client; a drained gateway handing over)
_HANDED_OVER = frozenset({"client_lost", "handed_over"})


@dataclass
class WitnessWindow:
    """What the witness saw between :meth:`Witness.open_window` and now."""

    event_ids: set[str] = field(default_factory=set)
    deliveries: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    started: set[str] = field(default_factory=set)
    ended: dict[str, str] = field(default_factory=dict)  # session id -> reason
    #: session id -> the gateway that started it
    started_on: dict[str, str] = field(default_factory=dict)
    #: session id -> when (time.monotonic) the witness first saw it resumed
    resumed_at: dict[str, float] = field(default_factory=dict)
    #: session id -> seq -> payload type of every event seen
    seqs: dict[str, dict[int, str]] = field(default_factory=dict)
    unparseable: int = 0

    def add(self, event: ConversationEvent) -> None:
        self.deliveries += 1
        self.event_ids.add(event.event_id)
        p = event.payload
        self.seqs.setdefault(event.session_id, {})[event.seq] = p.type
        self.by_type[p.type] += 1
        if p.type == "session.started":
            self.started.add(event.session_id)
            self.started_on[event.session_id] = p.gateway
        elif p.type == "session.ended":
            # the latest end by arrival; a resume after it reopens the conversation
            self.ended[event.session_id] = p.reason
        elif p.type == "session.resumed":
            self.resumed_at.setdefault(event.session_id, time.monotonic())
            if self.ended.get(event.session_id) in _HANDED_OVER:
                del self.ended[event.session_id]

    def seq_holes(self, sessions: Iterable[str]) -> int:
        """Seqs of *sessions* (started in this window) never seen below a seq that was: events
        emitted and never published, a lower bound on those a killed gateway lost unconfirmed
        (any after the last one seen are invisible). The jump before a ``session.resumed``
        (``handover.SEQ_GAP``, seqs skipped on purpose after a holder that did not let go) is
        not a hole."""
        holes = 0
        for sid in sessions:
            seen = self.seqs.get(sid) if sid in self.started else None
            previous = -1
            for seq in sorted(seen or ()):
                if seen is not None and seen[seq] != "session.resumed":
                    holes += seq - previous - 1
                previous = seq
        return holes

    def live(self) -> set[str]:
        """Conversations started and not ended so far."""
        return self.started - set(self.ended)

    @property
    def unended(self) -> set[str]:
        return self.started - set(self.ended)


class Witness:
    def __init__(self, amqp_url: str, topology: Topology) -> None:
        self._url = amqp_url
        self._topology = topology
        self._connection: AbstractRobustConnection | None = None
        self.window = WitnessWindow()
        self.total = WitnessWindow()

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self._url, client_properties={"connection_name": "chaos-witness"}
        )
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=500)
        exchange = await self._topology.declare_events_exchange(channel)
        queue = await channel.declare_queue(
            f"{self._topology.namespace}.chaos.witness",
            durable=True,
            arguments={"x-queue-type": "quorum"},
        )
        await queue.bind(exchange, routing_key="#")
        await queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            events = parse_conversation_events(message.body)
        except ValidationError:
            self.window.unparseable += 1
            self.total.unparseable += 1
        else:
            for event in events:
                self.window.add(event)
                self.total.add(event)
        await message.ack()

    def open_window(self) -> WitnessWindow:
        self.window = WitnessWindow()
        return self.window

    async def quiet(self, *, idle_s: float = 2.0, within_s: float = 60.0) -> None:
        """Wait until no new event arrived for *idle_s* (or *within_s* passed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        last = -1
        while loop.time() < deadline:
            if self.total.deliveries == last:
                return
            last = self.total.deliveries
            await asyncio.sleep(idle_s)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
