"""``switchboard call`` against the realtime emulator directly: real speech in at real-time
pace, transcripts and reply audio out, latency per turn, barge-in with truncation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from switchboard.cli.audio import read_wav
from switchboard.cli.call import CallOptions, Turn, run_call
from switchboard.cli.endpoint import direct_endpoint
from tests.support.product import EMULATOR_KEY


def test_call_help_explains_itself() -> None:
    """The help text tells a newcomer what to say with and where the call goes."""
    out = subprocess.run(
        [sys.executable, "-m", "switchboard.cli.main", "call", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--wav", "--say", "--text", "--customer", "--out", "--upstream-direct"):
        assert option in out


def test_call_command_speaks_and_writes_reply(emulator_url: str, tmp_path: Path) -> None:
    """The command streams a spoken sentence and a typed one, prints a JSON report with both
    transcripts and latencies, and writes the reply audio to a WAV file."""
    out = tmp_path / "reply.wav"
    proc = subprocess.run(
        [
            sys.executable, "-m", "switchboard.cli.main", "call",
            "--upstream-direct", emulator_url, "--api-key", EMULATOR_KEY,
            "--say", "Hello, what time do you open tomorrow?",
            "--text", "Thank you, goodbye.",
            "--out", str(out), "--json",
        ],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    spoken, typed = report["turns"]
    assert "open tomorrow" in spoken["heard_as"].lower()
    assert spoken["reply"] and typed["reply"]
    assert spoken["latency_ms"] > 0 and typed["latency_ms"] > 0
    assert report["errors"] == [] and report["failure"] is None
    assert read_wav(out).size > 24_000  # more than a second of reply


async def test_barge_in_truncates_what_was_heard(emulator_url: str, say: object) -> None:
    """Talking over the bot stops playback and truncates its item at the heard position, which
    the server accepts (no error) and confirms."""
    endpoint = direct_endpoint(emulator_url, api_key=EMULATOR_KEY)
    turns = [
        Turn("long", say("Hello, could you tell me what time you open tomorrow and on Sunday?")),  # type: ignore[operator]
        Turn("stop", say("Stop please.")),  # type: ignore[operator]
    ]
    result = await run_call(
        CallOptions(endpoint=endpoint, turns=turns, barge_in_ms=700, barge_in_ahead_ms=2500),
        keep_events=True,
    )
    first = result.state.turns[0]
    assert first.interrupted_at_ms is not None and first.interrupted_at_ms >= 700
    truncated = [e for e in result.events if e["type"] == "conversation.item.truncated"]
    assert [e["audio_end_ms"] for e in truncated] == [first.interrupted_at_ms]
    assert result.state.errors == []
    assert result.state.turns[1].user_transcript  # the interruption itself was heard


async def test_server_closing_mid_speech_ends_the_call() -> None:
    """A server that goes away while the caller is still speaking (a gateway draining) ends the
    call with its close code; it does not leave the caller waiting for its speech to go out.
    (This hang stalled the chaos run's 'drain gateway' fault for hours.)"""
    import asyncio

    import numpy as np
    from websockets.asyncio.server import ServerConnection, serve

    from switchboard.cli.audio import SAMPLE_RATE
    from switchboard.cli.stack import free_port

    appends = 0

    async def drain_mid_speech(ws: ServerConnection) -> None:
        nonlocal appends
        await ws.send(json.dumps({"type": "session.created", "event_id": "e1", "session": {}}))
        async for raw in ws:
            appends += json.loads(raw)["type"] == "input_audio_buffer.append"
            if appends == 5:
                await ws.close(1001, "gateway draining")

    port = free_port()
    seconds = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    speech = (8000 * np.sin(2 * np.pi * 220 * seconds)).astype(np.int16)  # 4 s of "speech"
    endpoint = direct_endpoint(f"ws://127.0.0.1:{port}", api_key="k")
    async with serve(drain_mid_speech, "127.0.0.1", port):
        async with asyncio.timeout(60):  # a hang fails here instead of stalling the suite
            result = await run_call(CallOptions(endpoint=endpoint, turns=[Turn("q", speech)]))
    assert appends == 5
    assert result.close_code == 1001
    assert result.failure == "closed by the server: 1001 gateway draining"


async def test_call_resumes_after_a_handover_close() -> None:
    """A gateway that closes the call with 1012 (drained, handed over): the call asks for a
    new endpoint for the session id of session.created, goes on on the second server, and
    the turn gets its reply there; the call counts one resume and ends cleanly."""
    import asyncio

    from websockets.asyncio.server import ServerConnection, serve

    from switchboard.cli.endpoint import Endpoint
    from switchboard.cli.stack import free_port

    def created(session_id: str) -> str:
        return json.dumps(
            {"type": "session.created", "event_id": "e1", "session": {"id": session_id}}
        )

    async def draining(ws: ServerConnection) -> None:
        await ws.send(created("sess_gw_resumable"))
        async for raw in ws:
            if json.loads(raw)["type"] == "conversation.item.create":
                await ws.close(1012, "service restart: resume this session with a resume secret")

    async def taking_over(ws: ServerConnection) -> None:
        await ws.send(created("sess_gw_resumable"))
        for event in (
            {"type": "response.created", "response": {"id": "resp_1"}},
            {"type": "response.output_text.done", "item_id": "item_1", "response_id": "resp_1",
             "text": "Order 100001 has shipped."},
            {"type": "response.done", "response": {"id": "resp_1", "status": "completed"}},
        ):  # fmt: skip
            await ws.send(json.dumps({"event_id": "e", **event}))
        async for _ in ws:
            pass

    first_port, second_port = free_port(), free_port()
    asked: list[str] = []

    async def resume(session_id: str) -> Endpoint:
        asked.append(session_id)
        return Endpoint(url=f"ws://127.0.0.1:{second_port}", headers={}, kind="gateway")

    endpoint = Endpoint(url=f"ws://127.0.0.1:{first_port}", headers={}, kind="gateway")
    options = CallOptions(
        endpoint=endpoint, turns=[Turn("q", text="Where is order 100001?")], resume=resume
    )
    lines: list[tuple[str, str]] = []
    async with (
        serve(draining, "127.0.0.1", first_port),
        serve(taking_over, "127.0.0.1", second_port),
    ):
        async with asyncio.timeout(30):
            result = await run_call(options, on_line=lambda k, t: lines.append((k, t)))
    assert asked == ["sess_gw_resumable"]
    assert result.resumes == 1 and result.failure is None
    assert result.state.turns[0].as_dict()["reply"] == "Order 100001 has shipped."
    assert ("call", "reconnecting… (closed with 1012)") in lines
