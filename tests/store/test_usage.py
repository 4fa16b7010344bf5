"""Token usage and resumes through the real broker and database: usage kept once per response
under redelivery, cost equal to the price table applied to the stored usage (Decimal), no price
for an unknown model, and a resumed session open again until a later end."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx
import pytest

from switchboard.contracts.events import ConversationEvent, SessionEnded, SessionResumed
from switchboard.store.service import StoreService
from tests.store.conftest import ACCOUNTS, Publisher, WaitStored
from tests.store.factories import conversation, new_session_id, usage

ANALYST = ("ana", ACCOUNTS["ana"][0])
#: gpt-realtime's default prices (USD per 1M tokens), written out independently of the code
GPT_REALTIME = {
    "text_in": Decimal("4.00"),
    "cached_text_in": Decimal("0.40"),
    "audio_in": Decimal("32.00"),
    "cached_audio_in": Decimal("0.40"),
    "text_out": Decimal("16.00"),
    "audio_out": Decimal("64.00"),
}


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30, auth=ANALYST) as client:
        yield client


async def _expected_cost(db: asyncpg.Pool, sid: str) -> Decimal:
    """gpt-realtime's prices applied to the session's stored usage rows, one row at a time."""
    total = Decimal(0)
    for r in await db.fetch(
        "SELECT * FROM audit.response_usage WHERE session_id = $1 ORDER BY seq", sid
    ):
        assert r["model"] == "gpt-realtime"
        p = GPT_REALTIME
        total += (
            (r["input_text_tokens"] - r["cached_text_tokens"]) * p["text_in"]
            + r["cached_text_tokens"] * p["cached_text_in"]
            + (r["input_audio_tokens"] - r["cached_audio_tokens"]) * p["audio_in"]
            + r["cached_audio_tokens"] * p["cached_audio_in"]
            + r["output_text_tokens"] * p["text_out"]
            + r["output_audio_tokens"] * p["audio_out"]
        ) / Decimal(1_000_000)
    return total


def _usages() -> list:  # type: ignore[type-arg]
    return [
        usage(
            text_in=1234,
            audio_in=567,
            cached_text=1000,
            cached_audio=64,
            text_out=89,
            audio_out=701,
        ),
        usage(
            text_in=2100,
            audio_in=980,
            cached_text=1200,
            cached_audio=512,
            text_out=41,
            audio_out=333,
        ),
    ]


async def test_usage_is_kept_once_per_response_under_redelivery(
    store: StoreService, publisher: Publisher, wait_stored: WaitStored, db: asyncpg.Pool
) -> None:
    """Each response.usage becomes one row with its token counts; publishing it again adds none."""
    events = conversation(usages=_usages())
    sid = events[0].session_id
    await publisher.publish(*events)
    await wait_stored(sid, len(events))
    usage_events = [e for e in events if e.payload.type == "response.usage"]
    await publisher.publish(*usage_events, *usage_events)
    # a marker published after the redeliveries: once it is stored, they were processed
    marker = ConversationEvent(
        session_id=sid, seq=len(events), payload=SessionEnded(reason="client_closed")
    )
    await publisher.publish(marker)
    await wait_stored(sid, len(events) + 1)
    rows = await db.fetch(
        "SELECT seq, model, input_text_tokens, cached_text_tokens, output_audio_tokens, "
        "estimated FROM audit.response_usage WHERE session_id = $1 ORDER BY seq",
        sid,
    )
    assert [tuple(r) for r in rows] == [
        (usage_events[0].seq, "gpt-realtime", 1234, 1000, 701, False),
        (usage_events[1].seq, "gpt-realtime", 2100, 1200, 333, False),
    ]
    assert (
        await db.fetchval("SELECT event_count FROM audit.session WHERE id = $1", sid)
        == len(events) + 1
    )
    sums = await db.fetchrow(
        "SELECT model, estimated, responses, input_text_tokens, cached_text_tokens, "
        "output_audio_tokens FROM audit.session_usage WHERE session_id = $1",
        sid,
    )
    assert tuple(sums) == ("gpt-realtime", False, 2, 1234 + 2100, 1000 + 1200, 701 + 333)


async def test_cost_is_the_price_table_applied_to_stored_usage(
    store: StoreService,
    publisher: Publisher,
    wait_stored: WaitStored,
    db: asyncpg.Pool,
    http: httpx.AsyncClient,
) -> None:
    """The session page, the list, JSON Lines and CSV all show the exact Decimal cost."""
    customer = f"cus_cost_{random.randrange(10**8)}"
    events = conversation(
        customer_id=customer, usages=[*_usages(), usage(estimated=True, text_in=7)]
    )
    sid = events[0].session_id
    await publisher.publish(*events)
    await wait_stored(sid, len(events))
    expected = await _expected_cost(db, sid)
    assert expected > 0

    detail = (await http.get(f"/api/sessions/{sid}")).json()
    assert Decimal(detail["session"]["cost_usd"]) == expected
    assert detail["session"]["cost_estimated"] is True
    assert detail["session"]["unpriced_models"] == []
    assert [u["model"] for u in detail["usage"]] == ["gpt-realtime"]
    assert detail["usage"][0]["responses"] == 3

    listed = (await http.get("/api/sessions", params={"customer_id": customer})).json()
    assert [Decimal(s["cost_usd"]) for s in listed["sessions"]] == [expected]

    lines = (await http.get("/api/export", params={"customer_id": customer})).text.splitlines()
    assert Decimal(json.loads(lines[0])["session"]["cost_usd"]) == expected
    rows = list(
        csv.DictReader(
            io.StringIO(
                (
                    await http.get("/api/export", params={"customer_id": customer, "format": "csv"})
                ).text
            )
        )
    )
    assert {Decimal(r["cost_usd"]) for r in rows} == {expected}
    assert {r["cost_estimated"] for r in rows} == {"True"}


async def test_a_model_without_a_price_costs_null_not_zero(
    store: StoreService, publisher: Publisher, wait_stored: WaitStored, http: httpx.AsyncClient
) -> None:
    """Usage of a model the table does not name leaves the cost null and names the model."""
    events = conversation(usages=[usage(text_in=10), usage("acme-voice-1", audio_out=50)])
    sid = events[0].session_id
    await publisher.publish(*events)
    await wait_stored(sid, len(events))
    s = (await http.get(f"/api/sessions/{sid}")).json()
    assert s["session"]["cost_usd"] is None
    assert s["session"]["unpriced_models"] == ["acme-voice-1"]
    by_model = {u["model"]: u["cost_usd"] for u in s["usage"]}
    assert by_model["acme-voice-1"] is None and Decimal(by_model["gpt-realtime"]) > 0


def _resumed_conversation(sid: str) -> list[ConversationEvent]:
    """Start, a turn, a lost client, the resume on another gateway, more turns (no end yet)."""
    events = conversation(sid, interrupted=False)[:-1]  # without its end
    t = events[-1].occurred_at
    n = len(events)
    return [
        *events,
        ConversationEvent(
            session_id=sid,
            seq=n,
            occurred_at=t + timedelta(seconds=1),
            payload=SessionEnded(reason="client_lost"),
        ),
        ConversationEvent(
            session_id=sid,
            seq=n + 1,
            occurred_at=t + timedelta(seconds=4),
            payload=SessionResumed(
                gateway="gw-2",
                previous_gateway="gw-1",
                reason="client_reconnect",
                items_replayed=3,
                gap_ms=2900.0,
            ),
        ),
    ]


async def test_a_resume_reopens_the_session_until_a_later_end(
    store: StoreService,
    publisher: Publisher,
    wait_stored: WaitStored,
    db: asyncpg.Pool,
    http: httpx.AsyncClient,
) -> None:
    """After session.resumed the session is open (the earlier end shown as superseded, the resume
    on the timeline), whatever the arrival order and however often it is redelivered; a later
    session.ended closes it again."""
    sid = new_session_id("resume")
    events = _resumed_conversation(sid)
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    for event in shuffled:
        await publisher.publish(event, event)  # each twice: a redelivery
    await wait_stored(sid, len(events))

    detail = (await http.get(f"/api/sessions/{sid}")).json()
    assert detail["session"]["ended_at"] is None and detail["session"]["end_reason"] is None
    assert detail["session"]["resumes"] == 1
    kinds = [(e["kind"], e.get("superseded")) for e in detail["timeline"]]
    assert kinds[-2:] == [("session.ended", True), ("session.resumed", None)]
    resumed = detail["timeline"][-1]
    assert (resumed["gateway"], resumed["previous_gateway"], resumed["items_replayed"]) == (
        "gw-2",
        "gw-1",
        3,
    )
    ended = (await http.get("/api/sessions", params={"end_reason": "client_lost"})).json()
    assert sid not in [s["id"] for s in ended["sessions"]]

    end = ConversationEvent(
        session_id=sid,
        seq=len(events),
        occurred_at=datetime.now(UTC),
        payload=SessionEnded(reason="client_closed"),
    )
    await publisher.publish(end)
    await wait_stored(sid, len(events) + 1)
    s = (await http.get(f"/api/sessions/{sid}")).json()["session"]
    assert s["end_reason"] == "client_closed" and s["ended_at"] is not None
    row = await db.fetchrow(
        "SELECT resumes, resume_seq, end_seq FROM audit.session WHERE id = $1", sid
    )
    assert tuple(row) == (1, len(events) - 1, len(events))
