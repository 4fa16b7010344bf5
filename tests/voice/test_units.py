"""Pure pieces of the voice client: audio conversion, digit spelling, the virtual loudspeaker,
the call state built from server events, and endpoint URLs."""

from __future__ import annotations

import base64
import wave
from pathlib import Path

import numpy as np

from switchboard.cli.audio import SAMPLE_RATE, read_wav, speech_end_ms, write_wav
from switchboard.cli.callstate import CallState
from switchboard.cli.endpoint import direct_endpoint
from switchboard.cli.playout import Playout
from switchboard.cli.synth import spell_numbers


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)


def test_read_wav_converts_stereo_44k_to_24k_mono(tmp_path: Path) -> None:
    """A 44.1 kHz stereo recording becomes 24 kHz mono of the same duration and loudness."""
    tone = _tone(1.0, 44_100)
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(44_100)
        wav.writeframes(np.repeat(tone, 2).astype("<i2").tobytes())
    samples = read_wav(path)
    assert abs(samples.size - SAMPLE_RATE) <= 2
    assert 7000 < np.abs(samples).max() < 8500


def test_wav_round_trip_and_speech_end(tmp_path: Path) -> None:
    """Written audio reads back unchanged, and speech end is found before trailing silence."""
    audio = np.concatenate([_tone(0.5, SAMPLE_RATE), np.zeros(SAMPLE_RATE // 2, np.int16)])
    write_wav(tmp_path / "a.wav", audio)
    assert np.array_equal(read_wav(tmp_path / "a.wav"), audio)
    assert speech_end_ms(audio) == 500
    assert speech_end_ms(np.zeros(SAMPLE_RATE, np.int16)) == 0


def test_spell_numbers_reads_long_numbers_digit_by_digit() -> None:
    """Order numbers are spelled out; short numbers and words stay as written."""
    assert spell_numbers("Where is order 100001, 2 items?") == (
        "Where is order one zero zero zero zero one, 2 items?"
    )


def test_playout_runs_at_real_time_and_waits_when_dry() -> None:
    """A second of audio received at once takes a second to hear; a gap in arrival pauses playback."""
    player = Playout()
    player.push("a", 0, SAMPLE_RATE, now=10.0)
    assert player.busy(10.5)
    assert player.remaining_ms(10.5) == 500
    assert not player.busy(11.0)
    player.push("b", 0, SAMPLE_RATE // 2, now=20.0)  # arrives long after "a" finished
    assert player.remaining_ms(20.25) == 250


def test_playout_stop_reports_what_was_heard() -> None:
    """Stopping mid-item reports the heard position of that item, never more than was received."""
    player = Playout()
    player.push("a", 0, SAMPLE_RATE * 2, now=0.0)
    player.push("a", 0, SAMPLE_RATE, now=0.1)
    heard = player.stop(1.2)
    assert heard is not None
    assert (heard.item_id, heard.heard_ms, heard.received_ms) == ("a", 1200, 3000)
    assert not player.busy(1.3)
    assert player.stop(1.4) is None


def _audio_delta(item: str, ms: int) -> dict[str, object]:
    pcm = np.ones(SAMPLE_RATE * ms // 1000, dtype="<i2").tobytes()
    return {
        "type": "response.output_audio.delta",
        "item_id": item,
        "content_index": 0,
        "delta": base64.b64encode(pcm).decode(),
    }


def test_call_state_follows_a_tool_turn() -> None:
    """Transcripts, tool activity, latency and the end of the reply come from the event stream."""
    lines: list[tuple[str, str]] = []
    state = CallState(on_line=lambda kind, text: lines.append((kind, text)))
    turn = state.begin_turn("audio", "q.wav", now=0.0)
    turn.speech_end = 1.0
    events = [
        (1.5, {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1000, "item_id": "u1"}),
        (
            1.6,
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "u1",
                "content_index": 0,
                "transcript": "Where is order 100001?",
            },
        ),
        (
            1.7,
            {
                "type": "switchboard.tool.started",
                "call_id": "c1",
                "tool": "check_order_status",
                "summary": "Looking up order 100001",
            },
        ),
        (
            1.9,
            {
                "type": "switchboard.tool.completed",
                "call_id": "c1",
                "tool": "check_order_status",
                "ok": True,
                "summary": "Order 100001: shipped",
                "card": {"order_id": 100001, "status": "shipped"},
                "duration_ms": 12.5,
            },
        ),
        (2.0, {"type": "response.created", "response": {"id": "r1"}}),
        (2.2, _audio_delta("a1", 500)),
        (
            2.3,
            {
                "type": "response.output_audio_transcript.done",
                "item_id": "a1",
                "transcript": "Order 100001 has shipped.",
            },
        ),
        (2.3, {"type": "response.done", "response": {"id": "r1", "status": "completed"}}),
    ]
    for now, event in events:
        assert state.handle(event, now) == []
    assert turn.latency_ms is not None and round(turn.latency_ms) == 1200
    assert turn.after_vad_ms is not None and round(turn.after_vad_ms) == 700
    assert turn.user_transcript == ["Where is order 100001?"]
    assert turn.bot_transcript == ["Order 100001 has shipped."]
    assert [(t.tool, t.ok, t.card) for t in turn.tools] == [
        ("check_order_status", True, {"order_id": 100001, "status": "shipped"})
    ]
    assert not state.reply_finished(2.5, linger_s=0.5)  # 0.2 s of the reply still to hear
    assert state.reply_finished(3.3, linger_s=0.5)
    assert [kind for kind, _ in lines] == ["you", "tool", "tool", "bot"]
    assert state.reply_audio().size == SAMPLE_RATE // 2


def test_call_state_barge_in_truncates_at_heard_position() -> None:
    """Speech during playback stops it and asks to truncate the item at the position heard."""
    state = CallState()
    state.begin_turn("audio", "first", now=0.0)
    state.handle({"type": "response.created", "response": {"id": "r1"}}, 1.0)
    state.handle(_audio_delta("a1", 3000), 1.0)
    state.begin_turn("audio", "second", now=1.8)
    answer = state.handle(
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "u2"}, 2.25
    )
    assert answer == [
        {
            "type": "conversation.item.truncate",
            "item_id": "a1",
            "content_index": 0,
            "audio_end_ms": 1250,
        }
    ]
    assert state.turns[0].interrupted_at_ms == 1250
    assert state.reply_audio().size == SAMPLE_RATE * 1250 // 1000


def test_call_state_a_resumed_connection_forgets_what_the_lost_one_left_under_way() -> None:
    """A response cut by a lost connection never finishes on the resumed one: after the new
    session.created the answer the gateway asks for again (a new response id) finishes the
    turn, and the next turn is not held by the old response either."""
    state = CallState()
    state.handle({"type": "session.created", "session": {"id": "sess_1"}}, 0.0)
    state.begin_turn("audio", "first", now=0.0)
    state.handle({"type": "response.created", "response": {"id": "r1"}}, 1.0)
    state.handle(_audio_delta("a1", 100), 1.0)  # the connection is lost here
    state.handle({"type": "session.created", "session": {"id": "sess_1"}}, 3.0)  # resumed
    state.handle({"type": "response.created", "response": {"id": "r2"}}, 3.1)
    state.handle(_audio_delta("a2", 200), 3.1)
    state.handle({"type": "response.done", "response": {"id": "r2"}}, 3.2)
    assert state.reply_finished(4.5, linger_s=0.5)
    state.begin_turn("audio", "second", now=5.0)
    state.handle({"type": "response.created", "response": {"id": "r3"}}, 6.0)
    state.handle(_audio_delta("a3", 100), 6.0)
    state.handle({"type": "response.done", "response": {"id": "r3"}}, 6.1)
    assert state.reply_finished(7.0, linger_s=0.5)


def test_direct_endpoint_fills_in_path_and_model() -> None:
    """A bare emulator address gets the GA Azure path, the model and the api-key header."""
    endpoint = direct_endpoint("127.0.0.1:8082", api_key="k", model="m")
    assert endpoint.url == "ws://127.0.0.1:8082/openai/v1/realtime?model=m"
    assert endpoint.headers == {"api-key": "k"}
    assert direct_endpoint("http://h:1/v1/realtime", api_key="k").url == (
        "ws://h:1/v1/realtime?model=switchboard-cli"
    )
