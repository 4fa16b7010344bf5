"""The recording's timeline without sockets: where caller chunks and assistant items are placed,
when segments close, how the upstream's input clock maps to the timeline, truncation, the
formats a client's session.update sets, and segment numbers on resume."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

from switchboard.gateway.entries import CALLER, UPDATE
from switchboard.gateway.metrics import GatewayMetrics
from switchboard.gateway.recorder import Recorder, recorder_for
from switchboard.gateway.recording import (
    GAP_MS,
    INDEX_GAP,
    PLAYBACK_MARGIN_MS,
    RecordingState,
    Timeline,
    audio_size,
    decode,
)
from switchboard.gateway.snapshot import ServerConfig, Snapshot, SnapshotState

T0 = 1_000_000.0  # the session's start, wall clock
MS = 48  # bytes per ms of 24 kHz pcm16


def pcm(ms: int) -> bytes:
    return b"\x01\x00" * (24 * ms)


def timeline(**kwargs: object) -> Timeline:
    args: dict[str, object] = {
        "started_wall": T0,
        "input_format": "audio/pcm",
        "output_format": "audio/pcm",
        "segment_ms": 5000.0,
    }
    args.update(kwargs)
    return Timeline(**args)  # type: ignore[arg-type]


def at(ms: float) -> float:
    return T0 + ms / 1000


def test_caller_chunks_with_jitter_are_contiguous() -> None:
    """100 ms chunks arriving up to 200 ms late are placed end to end: no gap, one segment."""
    t = timeline()
    arrivals = [100, 200, 400, 410, 500, 700, 750, 800]
    for arrival in arrivals:
        t.caller_audio(pcm(100), at(1000 + arrival))
    t.close()
    segments, _ = t.take()
    assert len(segments) == 1
    (segment,) = segments
    assert segment.start_ms == 1000.0  # the first chunk ended when it arrived
    assert segment.duration_ms == 100 * len(arrivals)


def test_a_client_that_stops_sending_leaves_a_gap_and_a_new_segment() -> None:
    """A chunk that arrives more than GAP_MS after the channel's end starts a new segment at
    its natural place, leaving silence in between."""
    t = timeline()
    t.caller_audio(pcm(100), at(100))
    t.caller_audio(pcm(100), at(200))
    late = 200 + GAP_MS + 100 + 500
    t.caller_audio(pcm(100), at(late))
    t.close()
    first, second = t.take()[0]
    assert (first.start_ms, first.duration_ms) == (0.0, 200.0)
    assert second.start_ms == late - 100
    assert [s.index for s in (first, second)] == [0, 1]


def test_audio_faster_than_real_time_stacks_after_the_channel_end() -> None:
    """A burst (a file streamed at once) is placed end to end and never overlaps itself;
    segments are cut at about segment_ms."""
    t = timeline(segment_ms=1000.0)
    for _ in range(25):
        t.caller_audio(pcm(100), at(50))
    t.close()
    segments, _ = t.take()
    assert sum(s.duration_ms for s in segments) == 2500
    assert [s.duration_ms for s in segments] == [1000, 1000, 500]
    assert [s.start_ms for s in segments] == [0.0, 1000.0, 2000.0]


def test_speech_marks_map_the_input_clock_across_gaps_and_upstream_swaps() -> None:
    """speech_started/stopped positions (ms of audio appended to this upstream) land where that
    audio lies on the timeline, also after a gap and after a new upstream session."""
    t = timeline()
    for i in range(10):  # 1 s of audio at 0..1000 (no gap)
        t.caller_audio(pcm(100), at(100 * (i + 1)))
    t.speech("input_audio_buffer.speech_started", "u1", 200)
    t.speech("input_audio_buffer.speech_stopped", "u1", 800)
    for i in range(10):  # after a 5 s pause: 5000..6000 on the timeline, input 1000..2000
        t.caller_audio(pcm(100), at(6000 + 100 * (i + 1)))
    t.speech("input_audio_buffer.speech_started", "u2", 1100)
    t.upstream_swapped()  # the new upstream counts from 0 (= input 2000)
    for i in range(10):
        t.caller_audio(pcm(100), at(7000 + 100 * (i + 1)))
    t.speech("input_audio_buffer.speech_stopped", "u2", 500)
    t.speech("input_audio_buffer.speech_started", "u3", 600)
    t.close()
    marks = {(m.item_id, m.start_ms, m.end_ms) for m in t.take()[1]}
    assert marks == {("u1", 200.0, 800.0), ("u2", 6100.0, 7500.0), ("u3", 7600.0, None)}


def test_an_assistant_item_truncated_is_cut_where_the_caller_interrupted() -> None:
    """An item cut at 700 ms is 700 ms long on the timeline, said_ms is all that was produced;
    the next item starts after it; items with audio get no mark (their segments place them),
    an item cut before any of it was heard gets one."""
    t = timeline()
    for i in range(20):  # 2 s of audio, all delivered within 100 ms of the first delta
        t.assistant_audio("a1", pcm(100), at(3000 + i * 5))
    t.truncated("a1", 700)
    t.assistant_audio("a1", pcm(100), at(3900))  # late delta of the cut item: ignored
    t.assistant_audio("a2", pcm(100), at(3500))
    t.assistant_audio("a3", pcm(100), at(3600))
    t.truncated("a3", 0)  # cut before a millisecond of it was heard
    t.close()
    segments, marks = t.take()
    cut = next(s for s in segments if s.item_id == "a1")
    assert (cut.start_ms, cut.duration_ms, cut.said_ms) == (3000.0, 700.0, 2000.0)
    assert len(cut.data) == 700 * MS
    nxt = next(s for s in segments if s.item_id == "a2")
    assert (nxt.start_ms, nxt.duration_ms) == (3700.0, 100.0)  # after what was heard of a1
    assert not [s for s in segments if s.item_id == "a3"]
    assert [(m.item_id, m.start_ms, m.end_ms) for m in marks if m.role == "assistant"] == [
        ("a3", 3800.0, 3800.0)
    ]


def test_an_assistant_item_completes_after_its_playback_plus_a_margin() -> None:
    """An item nobody cut is written once its playback would have ended plus the margin, not
    before; a second item waits for the first one's end."""
    t = timeline()
    t.assistant_audio("a1", pcm(1000), at(1000))
    t.assistant_audio("a2", pcm(500), at(1200))  # produced before a1's playback ended
    t.tick(at(2000 + PLAYBACK_MARGIN_MS - 10))
    assert t.take()[0] == []
    t.tick(at(2000 + PLAYBACK_MARGIN_MS + 10))
    (first,) = t.take()[0]
    assert (first.item_id, first.start_ms, first.duration_ms, first.said_ms) == (
        "a1",
        1000.0,
        1000.0,
        1000.0,
    )
    t.tick(at(2500 + PLAYBACK_MARGIN_MS + 10))
    (second,) = t.take()[0]
    assert (second.item_id, second.start_ms) == ("a2", 2000.0)


def test_a_resumed_timeline_continues_numbers_and_channel_ends() -> None:
    """A timeline built from a snapshot's state numbers its segments on and never places audio
    before the channel ends it had reached."""
    state = RecordingState(
        next_index={"caller": 7, "assistant": 3}, caller_end_ms=9000.0, assistant_end_ms=9500.0
    )
    t = timeline(state=state)
    t.caller_audio(pcm(100), at(9000))  # would end at 9000: placed at the channel end
    t.assistant_audio("a9", pcm(100), at(9100))
    t.close()
    segments, _ = t.take()
    got = {(s.channel, s.index, s.start_ms) for s in segments}
    assert got == {("caller", 7, 9000.0), ("assistant", 3, 9500.0)}
    assert t.next_index == {"caller": 8, "assistant": 4}


def test_mulaw_phone_audio_is_8_bytes_per_ms() -> None:
    """pcmu segments count 8 bytes per ms."""
    t = timeline(input_format="audio/pcmu", output_format="audio/pcmu")
    t.caller_audio(b"\xff" * 1600, at(200))
    t.close()
    (segment,) = t.take()[0]
    assert (segment.fmt, segment.duration_ms) == ("audio/pcmu", 200.0)


def test_a_client_session_update_switches_the_caller_format_in_order() -> None:
    """The recorder reads the formats of a client's session.update in order with the appends
    around it (a phone bridge switches to pcmu and streams at once), before the upstream says
    session.updated; the append frames are decoded on the writer's side."""
    recorder = Recorder(
        store=None,
        session_id="sess_gw_unit",
        started_wall=T0,
        input_format="audio/pcm",
        output_format="audio/pcm",
        segment_s=5.0,
        metrics=GatewayMetrics(),
        emit=lambda payload: None,
    )
    update = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}},
    }
    append = json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm(100)).decode()}
    )
    mulaw = json.dumps(  # the compact layout, as a phone bridge sends it
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\xff" * 800).decode()},
        separators=(",", ":"),
    )
    record = recorder.pending.extend
    record((CALLER, append, None, at(100)))
    record((UPDATE, None, update, None))
    record((CALLER, mulaw, None, at(200)))
    recorder._drain()
    recorder.timeline.close()
    first, second = recorder.timeline.take()[0]
    assert (first.fmt, first.duration_ms, second.fmt, second.duration_ms) == (
        "audio/pcm",
        100.0,
        "audio/pcmu",
        100.0,
    )


def _session(resume: Snapshot | None, *, recording: bool = True) -> Any:
    """The few attributes of a Session that recorder_for reads."""
    return SimpleNamespace(
        settings=SimpleNamespace(recording=recording, recording_segment_s=5.0),
        resume=resume,
        core=SimpleNamespace(
            input_format="audio/pcm", conversation=SimpleNamespace(audio_format="audio/pcm")
        ),
        deps=SimpleNamespace(recordings=None),
        id="sess_gw_unit",
        started_wall=T0,
        metrics=GatewayMetrics(),
        emit=lambda payload: None,
    )


def _snapshot(state: SnapshotState) -> Snapshot:
    config = ServerConfig(
        upstream="emulator", model="m", voice="v", language="English", audio_format="audio/pcm"
    )
    return Snapshot(
        session_id="sess_gw_unit",
        customer_id="cus_0001",
        gateway_id="gw-a",
        state=state,
        next_seq=10,
        config=config,
        recording=RecordingState(next_index={"caller": 4, "assistant": 2}, segments=6),
        started_at=T0,
        updated_at=T0 + 30,
    )


def test_a_resume_numbers_on_and_skips_a_gap_when_taken_from_a_live_holder() -> None:
    """A conversation resumed after its holder let go numbers its segments right after the
    snapshot's; one taken from a holder that may still be writing skips INDEX_GAP per channel;
    no consent, or recording off for the deployment, gives no recorder."""
    lost = recorder_for(_session(_snapshot(SnapshotState.LOST)), consent=True)
    assert lost is not None and lost.timeline.next_index == {"caller": 4, "assistant": 2}
    assert lost.segments == 6
    live = recorder_for(_session(_snapshot(SnapshotState.LIVE)), consent=True)
    assert live is not None
    assert live.timeline.next_index == {"caller": 4 + INDEX_GAP, "assistant": 2 + INDEX_GAP}
    assert recorder_for(_session(None), consent=False) is None
    assert recorder_for(_session(None, recording=False), consent=True) is None


# -- audio as base64 text, decoded once per segment ----------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_audio_size_of_base64_text_is_its_decoded_length() -> None:
    """audio_size counts the bytes base64 text decodes to (padding included) and bytes as is."""
    for n in (0, 1, 2, 3, 4, 320, 1920):
        assert audio_size(b64(bytes(n))) == n
        assert audio_size(bytes(n)) == n


def test_decode_joins_pieces_padded_or_not_and_bytes() -> None:
    """decode gives the bytes of base64 pieces (padded ones inside the list too) and raw pieces,
    in order; a piece that is not base64 is left out and the rest kept."""
    chunks = [b"abc", b"a", b"abcd", b"xyz", b"12"]
    assert decode([b64(c) for c in chunks]) == b"".join(chunks)
    assert decode([b64(b"abc"), b"RAW", b64(b"ab"), b64(b"xyz")]) == b"abcRAWabxyz"
    assert decode([b64(b"abc"), "@@@=@@", b64(b"xyz")]) == b"abcxyz"
    # the caller's samples come decoded (by the policy): joined as they are, or mixed with text
    assert decode([b"\1\2", b"\3\4", b"\5\6"]) == b"\1\2\3\4\5\6"
    assert decode([b"\1\2", b64(b"\3\4")]) == b"\1\2\3\4"


def test_base64_pieces_make_the_same_segments_as_bytes() -> None:
    """A timeline fed the base64 text of the chunks cuts the same segments, with the same bytes,
    as one fed the decoded chunks (caller segments, and an assistant item cut where heard)."""
    got = []
    for encode in (lambda d: d, b64):
        t = timeline(output_format="audio/pcmu")
        for i in range(60):
            t.caller_audio(encode(pcm(100)), at(100 * (i + 1)))
        for i in range(10):
            t.assistant_audio("a1", encode(b"\x7f" * 161), at(1000 + i * 20))
        t.truncated("a1", 150)  # of 201.25 ms sent
        t.close()
        segments, _ = t.take()
        got.append([(s.channel, s.index, s.start_ms, s.data, s.said_ms) for s in segments])
    assert got[0] == got[1]
    assert [s[0] for s in got[0]] == ["caller", "assistant", "caller"]
    assert len(got[0][1][3]) == 150 * 8
