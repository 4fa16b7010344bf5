"""A spoken question through the whole product: the gateway, the emulator's speech, a tool
worker reading Postgres, and the conversation store, seen from a caller and from an analyst."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.cli.call import CallOptions, Turn, run_call
from switchboard.cli.endpoint import gateway_endpoint
from tests.support.product import SERVER_KEY, Product, order_status

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _entries(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in doc["timeline"] if e["kind"] == kind]


async def test_spoken_order_question_answered_from_postgres_and_stored(
    product: Product, say: Any
) -> None:
    """Asking aloud about a seeded order gets a spoken answer with the order's real status from
    Postgres, and the store then shows both transcripts and the tool call of that session."""
    status = await order_status(product.database_url, 100001)
    endpoint = await gateway_endpoint(product.gateway, "cus_0001", server_key=SERVER_KEY)
    result = await run_call(
        CallOptions(endpoint=endpoint, turns=[Turn("q", say("Where is my order 100001?"))])
    )
    assert result.failure is None and result.state.errors == []
    turn = result.state.turns[0]
    assert "100001" in " ".join(turn.user_transcript)
    [tool] = turn.tools
    assert (tool.tool, tool.ok) == ("check_order_status", True)
    assert tool.card is not None and (tool.card["order_id"], tool.card["status"]) == (
        100001,
        status,
    )
    reply = " ".join(turn.bot_transcript).lower()
    assert status.replace("_", " ") in reply and "100001" in reply
    assert result.state.reply_audio().size > 24_000  # over a second of spoken answer
    assert turn.latency_ms is not None and turn.latency_ms > 0
    assert result.state.customer_id == "cus_0001"

    session_id = result.state.session_id
    assert session_id is not None
    stored = await product.stored_session(
        session_id,
        until=lambda d: d["session"]["ended_at"] is not None and _entries(d, "assistant"),
    )
    assert stored["session"]["customer_id"] == "cus_0001"
    users = [e["text"] or "" for e in _entries(stored, "user")]
    assistants = [e["text"] or "" for e in _entries(stored, "assistant")]
    assert any("100001" in text for text in users)
    assert any(status.replace("_", " ") in text.lower() for text in assistants)
    [stored_tool] = _entries(stored, "tool")
    assert stored_tool["tool"] == "check_order_status"
    assert stored_tool["outcome"] == "ok"
    assert stored_tool["arguments"] == {"order_id": 100001}
    assert stored_tool["output"]["status"] == status


async def test_barge_in_stops_the_bot_and_the_store_marks_the_interruption(
    product: Product, say: Any
) -> None:
    """Talking over the bot's answer stops playback, the item is truncated at the position heard,
    and the stored transcript marks the answer interrupted with what the caller actually heard."""
    endpoint = await gateway_endpoint(product.gateway, "cus_0002")
    turns = [Turn("q", say("Where is my order 100004?")), Turn("stop", say("Stop please."))]
    result = await run_call(
        CallOptions(endpoint=endpoint, turns=turns, barge_in_ms=1000, barge_in_ahead_ms=2500),
        keep_events=True,
    )
    first = result.state.turns[0]
    assert first.interrupted_at_ms is not None and first.interrupted_at_ms >= 1000
    truncated = [e for e in result.events if e["type"] == "conversation.item.truncated"]
    assert [e["audio_end_ms"] for e in truncated] == [first.interrupted_at_ms]
    assert result.state.errors == []

    session_id = result.state.session_id
    assert session_id is not None
    stored = await product.stored_session(
        session_id,
        until=lambda d: (
            d["session"]["ended_at"] is not None
            and any(e.get("interrupted") for e in _entries(d, "assistant"))
        ),
    )
    assert stored["session"]["interruptions"] >= 1
    [cut] = [e for e in _entries(stored, "assistant") if e["interrupted"]]
    assert cut["heard_ms"] == first.interrupted_at_ms
    assert cut["heard_text"] is not None and len(cut["heard_text"]) < len(cut["text"] or "")
