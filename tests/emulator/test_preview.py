"""The preview (beta) dialect at /openai/realtime, through the SDK's Azure client: preview event
names and session shape, each event validated against the SDK's beta types."""

from __future__ import annotations

import json

import pytest
import websockets
from openai import AsyncAzureOpenAI

from tests.support.clients import EventLog
from tests.support.emulator import Emulator
from tests.support.realtime import ORDER_TOOLS


async def test_preview_dialect_tool_round_trip(emulator: Emulator) -> None:
    """The Azure client's preview connection gets beta event names and a working tool round trip."""
    client = AsyncAzureOpenAI(
        api_key=emulator.api_key,
        azure_endpoint=emulator.http,
        api_version="2024-10-01-preview",
        websocket_base_url=f"{emulator.ws}/openai",
    )
    async with client.beta.realtime.connect(
        model="gpt-4o-realtime-preview", websocket_connection_options={}
    ) as connection:
        log = EventLog(connection, dialect="preview")
        created = await log.until("session.created")
        assert created["session"]["input_audio_format"] == "pcm16"
        assert "model" not in created["session"]
        await connection.send(
            {
                "type": "session.update",
                "session": {
                    "tools": ORDER_TOOLS,
                    "modalities": ["text", "audio"],
                    "output_audio_format": "g711_ulaw",
                    "input_audio_transcription": {"model": "whisper-1"},
                },
            }
        )
        updated = await log.until("session.updated")
        assert updated["session"]["output_audio_format"] == "g711_ulaw"
        await connection.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {
                            "type": "input_text",
                            "text": "Where is order one zero zero zero zero one?",
                        }
                    ],
                },
            }
        )
        await log.until("conversation.item.created")
        await connection.send({"type": "response.create"})
        done = (await log.until("response.done"))["response"]
        call = done["output"][0]
        assert json.loads(call["arguments"]) == {"order_id": 100001}
        await connection.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": '{"status": "delivered"}',
                },
            }
        )
        await connection.send({"type": "response.create"})
        events = await log.collect_until("response.done")
        kinds = {e["type"] for e in events}
        assert {
            "response.audio.delta",
            "response.audio_transcript.done",
            "response.audio.done",
        } <= kinds
        assert not any(k.startswith("response.output_audio") for k in kinds)
        assert "conversation.item.done" not in kinds
        assert events[-1]["response"]["modalities"] == ["audio", "text"]
        log.check_all_valid()


async def test_preview_invalid_field_names_the_beta_param(emulator: Emulator) -> None:
    """A bad preview session field is reported with its preview name."""
    url = f"{emulator.ws}/openai/realtime?api-version=2024-10-01-preview&deployment=d"
    async with websockets.connect(url, additional_headers={"api-key": emulator.api_key}) as ws:
        log = EventLog(ws, dialect="preview")
        await log.until("session.created")
        await ws.send(
            json.dumps({"type": "session.update", "session": {"input_audio_format": "mp3"}})
        )
        error = await log.until("error")
        assert error["error"]["param"] == "session.input_audio_format"
        log.check_all_valid()


async def test_preview_without_api_version_is_refused(emulator: Emulator) -> None:
    """The preview path without api-version is refused before the upgrade."""
    with pytest.raises(websockets.exceptions.InvalidStatus) as excinfo:
        async with websockets.connect(
            f"{emulator.ws}/openai/realtime?deployment=d",
            additional_headers={"api-key": emulator.api_key},
        ):
            pass
    assert excinfo.value.response.status_code == 400
