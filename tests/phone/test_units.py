"""Pure cores of the phone bridge: the Twilio wire format, playback marks, keypad batching,
caller identity and TwiML, without sockets."""

from __future__ import annotations

import base64
import json

import pytest

from switchboard.contracts.tools import GUEST_CUSTOMER_ID
from switchboard.phone.carrier import (
    AudioIn,
    KeyPressed,
    MalformedFrame,
    MarkPlayed,
    StreamConnected,
    StreamStarted,
    StreamStopped,
)
from switchboard.phone.carriers.twilio_codec import (
    clear_message,
    mark_message,
    media_message,
    parse_twilio,
)
from switchboard.phone.identity import (
    BindingError,
    CallerIdentity,
    CustomerRecord,
    binding_token,
    check_binding,
    normalise_e164,
)
from switchboard.phone.keypad import Keypad, keypad_text
from switchboard.phone.playback import Playback
from switchboard.phone.settings import DEFAULT_GREETING as GREETING
from switchboard.phone.twiml import connect_stream, dial

FRAME = base64.b64encode(b"\xff" * 160).decode()


def test_twilio_messages_parse_into_carrier_events() -> None:
    """Each message type Twilio documents becomes its carrier-neutral event."""
    assert parse_twilio('{"event":"connected","protocol":"Call","version":"1.0.0"}') == (
        StreamConnected("Call")
    )
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": "MZ1",
        "start": {
            "streamSid": "MZ1",
            "accountSid": "AC1",
            "callSid": "CA1",
            "tracks": ["inbound"],
            "customParameters": {"binding": "x"},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }
    assert parse_twilio(json.dumps(start)) == StreamStarted(
        "MZ1", "CA1", "audio/x-mulaw", 8000, {"binding": "x"}
    )
    media = {
        "event": "media",
        "sequenceNumber": "3",
        "streamSid": "MZ1",
        "media": {"track": "inbound", "chunk": "1", "timestamp": "5", "payload": FRAME},
    }
    assert parse_twilio(json.dumps(media)) == AudioIn(FRAME, 160, 5)
    dtmf = {"event": "dtmf", "streamSid": "MZ1", "dtmf": {"track": "inbound_track", "digit": "#"}}
    assert parse_twilio(json.dumps(dtmf)) == KeyPressed("#")
    assert parse_twilio('{"event":"mark","streamSid":"MZ1","mark":{"name":"m1"}}') == MarkPlayed(
        "m1"
    )
    assert parse_twilio('{"event":"stop","streamSid":"MZ1","stop":{}}') == StreamStopped()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1]",
        '{"event":"media","media":{"payload":"@@@"}}',
        '{"event":"media","media":{"payload":"AAA"}}',
        '{"event":"media","media":"x"}',
        '{"event":"media","media":{"payload":"AAAA","timestamp":"soon"}}',
        '{"event":"dtmf","dtmf":{"digit":"x"}}',
        '{"event":"mark","mark":{}}',
        '{"event":"start","start":{"streamSid":"MZ"}}',
        '{"event":"teleport"}',
        '{"event":"media","media":{"payload":"' + "A" * 70000 + '"}}',
    ],
)
def test_malformed_twilio_frames_are_refused_with_a_reason(frame: str) -> None:
    """A frame that does not follow Twilio's format raises MalformedFrame (never passes)."""
    with pytest.raises(MalformedFrame):
        parse_twilio(frame)


def test_messages_to_twilio_carry_the_stream_sid() -> None:
    """media, mark and clear are built as Twilio documents them."""
    assert json.loads(media_message("MZ1", FRAME)) == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": FRAME},
    }
    assert json.loads(mark_message("MZ1", "m1")) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": "m1"},
    }
    assert json.loads(clear_message("MZ1")) == {"event": "clear", "streamSid": "MZ1"}


def _b64(n: int) -> str:
    return base64.b64encode(b"\x7f" * n).decode()


def test_playback_pieces_end_on_mark_boundaries_across_deltas() -> None:
    """Audio is cut so a mark falls every interval, whatever the delta sizes."""
    playback = Playback(bytes_per_ms=8, mark_interval_ms=100)
    first = playback.pieces("item1", _b64(1200))  # 150 ms
    second = playback.pieces("item1", _b64(800))  # 100 ms more
    sizes = [len(base64.b64decode(p.payload)) for p in first + second]
    assert sizes == [800, 400, 400, 400]
    assert playback.sent_ms("item1") == 250


def test_heard_is_learnt_from_echoed_marks_never_from_what_was_sent() -> None:
    """Only echoed marks count as heard; marks returned after a clear do not."""
    playback = Playback(bytes_per_ms=8, mark_interval_ms=100)
    pieces = playback.pieces("item1", _b64(8 * 500))  # five 100 ms pieces
    assert playback.heard_ms("item1") == 0 and playback.playing
    assert playback.played(pieces[0].mark) == "item1"
    assert playback.played(pieces[1].mark) == "item1"
    assert playback.clear() == ("item1", 200)
    for piece in pieces[2:]:  # Twilio returns the pending marks after a clear
        assert playback.played(piece.mark) is None
    assert playback.heard_ms("item1") == 200 and not playback.playing
    assert playback.clear() is None


def test_a_mark_per_interval_not_per_delta_and_one_after_the_answer() -> None:
    """20 ms deltas under a 100 ms interval: a mark after every fifth; the answer's last audio
    gets its mark from tail(), and what was heard reaches its end once that mark is echoed."""
    playback = Playback(bytes_per_ms=8, mark_interval_ms=100)
    pieces = [p for _ in range(12) for p in playback.pieces("item1", _b64(160))]  # 240 ms
    marks = [p.mark for p in pieces if p.mark is not None]
    assert len(pieces) == 12 and len(marks) == 2
    assert [p.mark is not None for p in pieces].count(True) == 2
    assert pieces[4].mark == marks[0] and pieces[9].mark == marks[1]
    (tail,) = playback.tail()
    assert tail.payload == "" and tail.mark is not None
    assert playback.tail() == []  # nothing unmarked any more
    for mark in [*marks, tail.mark]:
        assert playback.played(mark) == "item1"
    assert playback.heard_ms("item1") == 240 and not playback.playing


def test_unmarked_audio_is_playing_and_a_clear_cuts_it_at_the_last_echo() -> None:
    """Audio sent without a mark yet still counts as playing: a barge-in before the first
    boundary cuts the item at 0 ms; later, at the last echoed mark."""
    playback = Playback(bytes_per_ms=8, mark_interval_ms=100)
    assert all(p.mark is None for p in playback.pieces("item1", _b64(480)))  # 60 ms
    assert playback.playing
    assert playback.clear() == ("item1", 0)
    assert not playback.playing and playback.tail() == []
    (boundary,) = [p for p in playback.pieces("item2", _b64(1000)) if p.mark is not None]
    assert playback.played(boundary.mark) == "item2"  # type: ignore[arg-type]
    assert playback.clear() == ("item2", 100)


def test_a_new_item_marks_the_end_of_the_previous_one_first() -> None:
    """An item's unmarked audio gets its mark before the next item's audio is sent."""
    playback = Playback(bytes_per_ms=8, mark_interval_ms=100)
    playback.pieces("item1", _b64(320))  # 40 ms, unmarked
    first, *rest = playback.pieces("item2", _b64(160))
    assert first.payload == "" and first.mark is not None and rest[0].mark is None
    assert playback.played(first.mark) == "item1"
    assert playback.heard_ms("item1") == 40 and playback.playing  # item2's 20 ms


def test_keypad_batches_until_pound_or_a_pause() -> None:
    """Digits become one batch on '#', or once the caller pauses long enough."""
    keypad = Keypad(pause_s=2.0)
    assert keypad.press("1", 0.0) is None
    assert keypad.press("2", 0.5) is None
    assert keypad.press("#", 1.0) == "12#"
    assert keypad.deadline is None
    keypad.press("4", 10.0)
    assert keypad.due(11.0) is None
    assert keypad.deadline == 12.0
    assert keypad.due(12.0) == "4"
    assert keypad_text("1234#") == "The caller pressed 1 2 3 4 # on the keypad."


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1-555-123-0001", "+15551230001"),
        ("(555) 123-0001", "+15551230001"),
        ("15551230001", "+15551230001"),
        ("0015551230001", "+15551230001"),
        ("+44 20 7946 0958", "+442079460958"),
        ("anonymous", None),
        ("", None),
        ("123", None),
    ],
)
def test_numbers_normalise_to_e164(raw: str, e164: str | None) -> None:
    """Any spelling of a number gives its E.164 form; non-numbers give None."""
    assert normalise_e164(raw) == e164


def test_caller_id_binds_the_match_or_the_guest() -> None:
    """A number matching one customer binds the call to them; any other number to the guest,
    who owns nothing; neither is verified by the number alone."""
    known = CallerIdentity("+15551230001", CustomerRecord("cus_0001", "Priya Sharma"))
    assert known.known and known.customer_id == "cus_0001"
    unknown = CallerIdentity("+15550009999", None)
    assert not unknown.known and unknown.customer_id == GUEST_CUSTOMER_ID


def test_binding_tokens_bind_one_call_until_they_expire() -> None:
    """A binding is valid for its call only, unforgeable and short-lived."""
    key = b"k" * 32
    token = binding_token(key, call_id="CA1", customer_id="cus_0001", expires_at=1000)
    assert check_binding(key, token, call_id="CA1", now=999) == "cus_0001"
    with pytest.raises(BindingError):
        check_binding(key, token, call_id="CA2", now=999)
    with pytest.raises(BindingError):
        check_binding(key, token, call_id="CA1", now=1001)
    with pytest.raises(BindingError):
        check_binding(key, token.replace("cus_0001", "cus_0002"), call_id="CA1", now=999)
    with pytest.raises(BindingError):
        check_binding(b"x" * 32, token, call_id="CA1", now=999)
    with pytest.raises(BindingError):
        check_binding(key, "", call_id="CA1", now=999)


def test_twiml_for_the_stream_and_transfer() -> None:
    """The TwiML verbs Twilio expects: a greeting and Connect/Stream with parameters (no
    keypad gate before the stream any more), and Dial to a number or SIP URI."""
    stream = connect_stream("wss://b/twilio/media", {"binding": "t"}, greeting=GREETING)
    assert '<Connect><Stream url="wss://b/twilio/media"><Parameter name="binding" value="t" />' in (
        stream
    )
    assert "<Say>Thank you for calling." in stream and "Gather" not in stream
    assert "<Dial><Number>+15550100</Number></Dial>" in dial("+15550100", announcement=None)
    assert "<Dial><Sip>sip:queue@x</Sip></Dial>" in dial("sip:queue@x", announcement=None)


async def test_the_bridge_mints_secrets_for_unverified_callers() -> None:
    """The bridge's client secrets say the caller is unverified (caller ID is no proof), so
    the workers refuse account tools until verify_caller succeeds."""
    import httpx

    from switchboard.phone.gateway import GatewayLink

    bodies: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"value": "ek_test"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        link = GatewayLink("http://gateway", "key", http=http, timeout_s=1)
        assert await link.mint("cus_0001") == "ek_test"
    assert bodies[0]["customer_id"] == "cus_0001"
    assert bodies[0]["verification"] == "unverified"
