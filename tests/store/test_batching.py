"""The writer loop's batching, alone (no broker, no database)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from switchboard.amqp import Topology
from switchboard.store.ingest import Ingest, IngestState
from switchboard.store.metrics import StoreMetrics
from switchboard.store.redaction import Redactor


def _ingest() -> Ingest:
    stub: Any = None  # neither the writer nor the broker is reached by _take
    ingest = Ingest(
        amqp_url="amqp://guest:guest@127.0.0.1:5672/",
        connection_name="batching-test",
        topology=Topology("batching"),
        writer=stub,
        redactor=Redactor(()),
        metrics=StoreMetrics(),
        prefetch=10,
        batch_size=10,
        batch_wait_s=0.5,
        retry_max_s=1.0,
        reconnect_s=1.0,
    )
    ingest.state = IngestState.CONSUMING
    return ingest


async def test_a_backlog_dropped_while_a_batch_fills_does_not_end_the_writer_loop() -> None:
    """A lost channel's deliveries are dropped while the loop waits for its batch to fill: the
    loop waits for the next delivery instead of returning the empty batch that means "stop"."""
    ingest = _ingest()
    stale, fresh = object(), object()
    await ingest._on_message(stale)  # type: ignore[arg-type]
    taking = asyncio.create_task(ingest._take())
    await asyncio.sleep(0)  # _take is now waiting for the batch to fill
    ingest._pending = deque()  # what _detach does with a closed channel's deliveries
    await asyncio.sleep(0.6)  # past batch_wait_s
    assert not taking.done()
    await ingest._on_message(fresh)  # type: ignore[arg-type]
    assert await asyncio.wait_for(taking, 5) == [fresh]
