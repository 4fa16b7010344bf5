"""The speech-free load mode (``EMULATOR_SPEECH=text``): no speech engine loaded, streamed audio
still VAD-checked, each audio turn heard as the words typed before it, replies as synthetic
audio of speech length; it says so in ``session.created`` and is refused in production."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from switchboard.emulator.settings import EmulatorSettings
from switchboard.emulator.speech import Speech
from switchboard.emulator.synthetic import SyntheticVoice, typed_words_before
from tests.emulator.conftest import TEXT_API_KEY as API_KEY
from tests.support.clients import EventLog
from tests.support.realtime import ORDER_TOOLS, stream


def _typed(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def test_the_mode_is_not_the_default_and_is_refused_in_production() -> None:
    """Speech engines are the default; EMULATOR_SPEECH=text with SWITCHBOARD_ENV=production fails."""
    assert EmulatorSettings(EMULATOR_API_KEY=API_KEY).speech == "engines"
    with pytest.raises(ValidationError, match="EMULATOR_SPEECH=text"):
        EmulatorSettings(
            EMULATOR_API_KEY="a-real-secret", EMULATOR_SPEECH="text", SWITCHBOARD_ENV="production"
        )


def test_no_speech_engine_is_loaded() -> None:
    """In a fresh process, the mode loads the VAD only: no recogniser, synthesiser or worker."""
    script = (
        "import sys, time\n"
        "from switchboard.emulator.settings import EmulatorSettings\n"
        "from switchboard.emulator.speech import Speech\n"
        "t = time.perf_counter()\n"
        "s = Speech(EmulatorSettings(EMULATOR_API_KEY='k', EMULATOR_SPEECH='text'))\n"
        "took = time.perf_counter() - t\n"
        "loaded = sorted({'piper', 'faster_whisper', 'pocketsphinx', 'ctranslate2'} & set(sys.modules))\n"
        "print(loaded, s.workers, s.hears, round(took, 2))\n"
        "s.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out[:3] == ["[]", "None", "False"], out


async def test_session_created_and_the_info_page_say_so(
    text_ga: EventLog, text_emulator: str
) -> None:
    """session.created carries the mode in its instructions; GET / names it."""
    created = await text_ga.until("session.created")
    assert "EMULATOR_SPEECH=text" in created["session"]["instructions"]
    assert "does not recognise speech" in created["session"]["instructions"]
    async with httpx.AsyncClient() as http:
        info = (await http.get(f"http://{text_emulator}/")).json()
    assert info["speech"] == "text" and "load" in info["notice"]


async def test_an_audio_turn_is_heard_as_the_words_typed_before_it(
    text_ga: EventLog, say: Any
) -> None:
    """Typed words then streamed speech: VAD finds the turn, its transcript is the typed text,
    and the reply is the tool call those words ask for."""
    await text_ga.until("session.created")
    await text_ga.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tools": ORDER_TOOLS,
                "audio": {"input": {"transcription": {"model": "whisper-1"}}},
            },
        }
    )
    await text_ga.until("session.updated")
    await text_ga.send(_typed("What is the status of order 100001?"))
    typed = (await text_ga.until("conversation.item.done"))["item"]
    await stream(text_ga, say("Hello there, how are you?"))  # not what the words say: not heard
    started = await text_ga.until("input_audio_buffer.speech_started")
    await text_ga.until("input_audio_buffer.speech_stopped")
    committed = await text_ga.until("input_audio_buffer.committed")
    assert committed["item_id"] == started["item_id"]
    assert committed["previous_item_id"] == typed["id"]
    heard = await text_ga.until("conversation.item.input_audio_transcription.completed")
    assert heard["transcript"] == "What is the status of order 100001?"
    done = (await text_ga.until("response.done"))["response"]
    assert [(o["name"], json.loads(o["arguments"])) for o in done["output"]] == [
        ("check_order_status", {"order_id": 100001})
    ]
    assert not text_ga.of("response.created")[1:]  # one turn, one response


async def test_an_audio_turn_without_typed_words_is_not_understood(
    text_ga: EventLog, say: Any
) -> None:
    """Speech with no typed message before it is heard as nothing, as unintelligible speech is."""
    await text_ga.until("session.created")
    await stream(text_ga, say("What is the status of order one zero zero zero zero one?"))
    heard = await text_ga.until("input_audio_buffer.committed")
    done = (await text_ga.until("response.done"))["response"]
    assert heard["item_id"]
    assert "didn't catch that" in done["output"][0]["content"][0]["transcript"]


async def test_the_reply_is_synthetic_audio_as_long_as_its_words(text_ga: EventLog) -> None:
    """A typed turn's spoken reply: audio deltas adding up to the words' speaking time, with
    the transcript beside them; the samples are not silence."""
    await text_ga.until("session.created")
    await text_ga.send(_typed("Hello"))
    await text_ga.send({"type": "response.create"})
    events = await text_ga.collect_until("response.done")
    audio = np.concatenate(
        [
            np.frombuffer(base64.b64decode(e["delta"]), dtype="<i2")
            for e in events
            if e["type"] == "response.output_audio.delta"
        ]
    )
    transcript = text_ga.of("response.output_audio_transcript.done")[-1]["transcript"]
    sentences = [s for s in transcript.replace("?", ".").split(".") if s.strip()]
    expected_s = sum(SyntheticVoice.duration_s(s) for s in sentences)
    assert transcript
    assert abs(audio.size / 24000 - expected_s) < 0.2 * len(sentences) + 0.5
    assert np.abs(audio).max() > 1000


def test_typed_words_are_those_of_the_user_message_directly_before() -> None:
    """Only a typed user message right before the audio item counts; anything between forgets it."""
    typed = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    audio = {"type": "message", "role": "user", "content": [{"type": "input_audio"}]}
    reply = {"type": "message", "role": "assistant", "content": []}
    assert typed_words_before([typed, audio], audio) == "hi"
    assert typed_words_before([typed, reply, audio], audio) == ""
    assert typed_words_before([audio], audio) == ""


async def test_a_load_test_caller_types_then_says_each_turn(text_emulator: str, say: Any) -> None:
    """``switchboard loadtest``'s call with typed words and speech: the turn is found by the
    VAD, heard as the typed words, and answered with reply audio."""
    from switchboard.cli.call import CallOptions, Turn, run_call
    from switchboard.cli.endpoint import direct_endpoint

    endpoint = direct_endpoint(f"ws://{text_emulator}", api_key=API_KEY)
    words = "Hello, can you hear me?"
    turn = Turn(words, say("Hello there, how are you?"), words)
    result = await run_call(CallOptions(endpoint=endpoint, turns=[turn], turn_timeout_s=20))
    record = result.state.turns[0]
    assert result.failure is None and not result.state.errors
    assert record.user_transcript == [words]
    assert record.vad_stopped_at is not None and record.latency_ms is not None
    assert record.bot_transcript and not record.timed_out


async def test_the_backlog_of_a_client_that_left_is_dropped() -> None:
    """A session behind on its audio stops when its client closes: the queued appends are not
    worked through for nobody (a soak found hung-up sessions outnumbering callers five to one)."""
    from switchboard.emulator.dialect import GaDialect
    from switchboard.emulator.session import RealtimeSession, SessionClosed

    speech = Speech(EmulatorSettings(EMULATOR_API_KEY=API_KEY, EMULATOR_SPEECH="text"))
    chunk = json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(1920)).decode()}
    )
    queued = [chunk] * 300
    taken_in = 0

    async def receive() -> str:
        if not queued:
            raise SessionClosed
        return queued.pop()

    async def send(text: str) -> None:
        return None

    session = RealtimeSession(
        model="m", dialect=GaDialect(), speech=speech, receive=receive, send=send
    )

    async def slow_append(samples: np.ndarray) -> None:
        nonlocal taken_in
        taken_in += 1
        await asyncio.sleep(0.01)  # a busy emulator

    session.input.append = slow_append  # type: ignore[method-assign]
    try:
        async with asyncio.timeout(2.0):  # all 300 (in batches) would take several seconds
            await session.run()
    finally:
        speech.close()
    assert not queued and taken_in < 10
