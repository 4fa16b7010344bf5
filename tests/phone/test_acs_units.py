"""The ACS adapter without the product: its wire formats (pure), the signed call context, the
playback clock that stands in for marks, the JWT check against a JWKS, and the Call Automation
client (the official SDK) against the local ACS stand-in, which verifies its HMAC signatures."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest

from switchboard.cli.acs_cloud import AcsCloud
from switchboard.phone.carrier import (
    AudioIn,
    KeyPressed,
    MalformedFrame,
    MarkPlayed,
    StreamClosed,
    StreamStarted,
    TransferFailed,
)
from switchboard.phone.carriers.acs import (
    GREETING_CONTEXT,
    AcsCallControl,
    AcsError,
    AcsMediaStream,
    AcsTokens,
    parse_connection_string,
)
from switchboard.phone.carriers.acs_codec import (
    audio_message,
    parse_acs,
    parse_callbacks,
    parse_event_grid,
    stop_audio_message,
    tones_to_digits,
)
from switchboard.phone.identity import (
    BindingError,
    CallContext,
    open_call_context,
    seal_call_context,
)
from switchboard.phone.settings import PhoneSettings

KEY = "dGVzdC1hY3MtYWNjZXNzLWtleS0wMTIzNDU2Nzg5"
RESOURCE = "3f6c1d2e-0000-4000-8000-00000000acs1"
PCM = base64.b64encode(b"\x01\x00" * 480).decode()  # 20 ms at 24 kHz


def _acs(message: dict[str, Any]) -> Any:
    return parse_acs(json.dumps(message), call_id="call-1", parameters={"binding": "b"})


def test_acs_media_messages_parse_into_carrier_events() -> None:
    """AudioMetadata, AudioData and DtmfData, as ACS documents them (and in the PascalCase of
    its samples), become carrier-neutral events; PCM 24 kHz maps to audio/pcm."""
    meta = {
        "kind": "AudioMetadata",
        "audioMetadata": {
            "subscriptionId": "89e8cb59",
            "encoding": "PCM",
            "sampleRate": 24000,
            "channels": 1,
            "length": 960,
        },
    }
    assert _acs(meta) == StreamStarted("89e8cb59", "call-1", "audio/pcm", 24000, {"binding": "b"})
    data = {
        "kind": "AudioData",
        "audioData": {
            "timestamp": "2024-11-15T19:16:12.925Z",
            "participantRawID": "4:+15551230001",
            "data": PCM,
            "silent": False,
        },
    }
    assert _acs(data) == AudioIn(PCM, 960)
    assert _acs({"Kind": "AudioData", "AudioData": {"Data": PCM}}) == AudioIn(PCM, 960)
    assert _acs({"kind": "DtmfData", "dtmfData": {"data": "#"}}) == KeyPressed("#")


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"kind":"AudioData","audioData":{"data":"@@@@"}}',
        '{"kind":"AudioData","audioData":{"data":"AA=="}}',  # one byte: not a PCM16 sample
        '{"kind":"DtmfData","dtmfData":{"data":"x"}}',
        '{"kind":"AudioMetadata","audioMetadata":{"encoding":"OPUS","sampleRate":48000}}',
        '{"kind":"Teleport"}',
    ],
)
def test_malformed_acs_frames_are_refused_with_a_reason(frame: str) -> None:
    """A frame that does not follow ACS's format raises MalformedFrame (never passes)."""
    with pytest.raises(MalformedFrame):
        parse_acs(frame, call_id="c", parameters={})


def test_messages_to_acs_are_audio_data_and_stop_audio() -> None:
    """What the bridge sends is ACS's documented outbound AudioData and StopAudio."""
    assert json.loads(audio_message(PCM)) == {
        "kind": "AudioData",
        "audioData": {"data": PCM},
        "stopAudio": None,
    }
    assert json.loads(stop_audio_message()) == {
        "kind": "StopAudio",
        "audioData": None,
        "stopAudio": {},
    }


def test_event_grid_deliveries_and_callbacks_parse() -> None:
    """The subscription handshake yields its code; IncomingCall its caller and context;
    Call Automation callbacks their type, ids and DTMF tones."""
    validation = [
        {
            "id": "1",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": {"validationCode": "512d38b6", "validationUrl": "https://x"},
        }
    ]
    assert parse_event_grid(json.dumps(validation).encode()) == ("512d38b6", [])
    incoming = [
        {
            "eventType": "Microsoft.Communication.IncomingCall",
            "data": {
                "from": {"kind": "phoneNumber", "rawId": "4:+15551230001"},
                "incomingCallContext": "ctx",
                "correlationId": "corr",
                "serverCallId": "srv",
            },
        }
    ]
    code, [call] = parse_event_grid(json.dumps(incoming).encode())
    assert code is None and (call.caller, call.correlation_id) == ("+15551230001", "corr")
    with pytest.raises(ValueError):
        parse_event_grid(b'[{"eventType":"Microsoft.Communication.IncomingCall","data":{}}]')
    body = [
        {
            "type": "Microsoft.Communication.RecognizeCompleted",
            "data": {
                "callConnectionId": "cc",
                "correlationId": "corr",
                "operationContext": "switchboard-verify-1",
                "dtmfResult": {"tones": ["nine", "four", "one", "zero", "seven"]},
            },
        }
    ]
    [event] = parse_callbacks(json.dumps(body).encode())
    assert (event.type, event.call_connection_id) == ("RecognizeCompleted", "cc")
    assert tones_to_digits(event.data["dtmfResult"]["tones"] + ["pound"]) == "94107#"


def test_call_context_is_signed() -> None:
    """A sealed call context opens with the same key only; a changed one is refused."""
    context = CallContext("corr", "+15551230001", "cus_0001", 1_900_000_000)
    token = seal_call_context(b"k" * 32, context)
    assert open_call_context(b"k" * 32, token) == context
    with pytest.raises(BindingError):
        open_call_context(b"j" * 32, token)
    forged = seal_call_context(b"j" * 32, CallContext("corr", "+1", "cus_0002", 1_900_000_000))
    with pytest.raises(BindingError):
        open_call_context(b"k" * 32, forged.split(".")[0] + "." + token.split(".")[1])


class _CarrierSocket:
    """The carrier's end of a media websocket, as the stream sees it."""

    application_state = None

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int = 1000) -> None:
        return None


async def test_acs_playback_clock_reports_marks_when_the_audio_has_played() -> None:
    """Without ACS marks, a mark is reported once the audio before it has had time to play
    in real time; StopAudio drops the pending marks, never reported as played."""
    ws = _CarrierSocket()
    stream = AcsMediaStream(ws, call_id="c", parameters={})  # type: ignore[arg-type]
    began = time.monotonic()
    await stream.send_audio(base64.b64encode(bytes(48 * 200)).decode())  # 200 ms
    await stream.send_mark("m1")
    assert await asyncio.wait_for(stream.receive(), 2) == MarkPlayed("m1")
    assert time.monotonic() - began >= 0.19
    await stream.send_audio(base64.b64encode(bytes(48 * 200)).decode())
    await stream.send_mark("m2")
    await stream.clear()
    assert ws.sent[-1] == {"kind": "StopAudio", "audioData": None, "stopAudio": {}}
    ws.inbox.put_nowait({"type": "websocket.receive", "text": json.dumps({"kind": "Nope"})})
    with pytest.raises(MalformedFrame):  # the next thing is the frame, not the dropped mark
        await asyncio.wait_for(stream.receive(), 1)
    ws.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
    with pytest.raises(StreamClosed):
        await asyncio.wait_for(stream.receive(), 1)
    await stream.close()


async def test_call_automation_jwts_are_checked_against_the_jwks() -> None:
    """A token of the stand-in's key for our resource passes; another audience, an expired
    token, another key's token or no token fail."""
    cloud = await AcsCloud(access_key=KEY, resource_id=RESOURCE).start()
    other = await AcsCloud(access_key=KEY, resource_id=RESOURCE).start()
    try:
        tokens = AcsTokens(f"{cloud.url}/calling/keys", RESOURCE)
        claims = await tokens.check(f"Bearer {cloud.token()}")
        assert claims is not None and claims["aud"] == RESOURCE
        assert await tokens.check(f"Bearer {cloud.token(audience='someone-else')}") is None
        assert await tokens.check(f"Bearer {cloud.token(lifetime_s=-60)}") is None
        assert await tokens.check(f"Bearer {other.token()}") is None
        assert await tokens.check(None) is None and await tokens.check("Basic abc") is None
    finally:
        await cloud.stop()
        await other.stop()


async def test_call_automation_requests_are_what_the_rest_api_documents() -> None:
    """Through the official SDK, the bridge's answer asks for bidirectional, unmixed PCM 24 kHz
    streaming with DTMF, not started; the greeting (a text play to everyone), start streaming
    (once connected) and transfer follow;
    each is HMAC-signed (the stand-in refuses a wrong key)."""
    cloud = await AcsCloud(access_key=KEY, resource_id=RESOURCE).start()
    try:
        assert parse_connection_string(cloud.connection_string()) == (cloud.url, KEY)
        control = AcsCallControl(cloud.connection_string())
        call = cloud.new_call("+15551230001", digits=[])
        call_id = await control.answer(
            call.incoming_call_context,
            callback_url="https://bridge.example/acs/callbacks?ctx=x",
            transport_url="wss://bridge.example/acs/media?ctx=x",
            cognitive_services_endpoint=None,
        )
        assert call_id == call.call_connection_id
        await control.play_greeting(call_id, "Hello there.", voice="en-US-JennyNeural")
        await control.start_streaming(call_id)
        await control.transfer(call_id, "+15550199000", announcement=None)
        answer, play, stream, transfer = cloud.requests
        assert answer.action == "answer"
        assert answer.body["callbackUri"] == "https://bridge.example/acs/callbacks?ctx=x"
        assert answer.body["mediaStreamingOptions"] == {
            "transportUrl": "wss://bridge.example/acs/media?ctx=x",
            "transportType": "websocket",
            "contentType": "audio",
            "audioChannelType": "unmixed",
            "startMediaStreaming": False,
            "enableBidirectional": True,
            "audioFormat": "pcm24KMono",
            "enableDtmfTones": True,
        }
        assert (play.action, play.body["operationContext"]) == ("play", GREETING_CONTEXT)
        assert play.body["playSources"] == [
            {"kind": "text", "text": {"text": "Hello there.", "voiceName": "en-US-JennyNeural"}}
        ]
        assert play.body["playTo"] == [] and call.prompts == ["Hello there."]
        assert stream.action == "startMediaStreaming"
        assert transfer.action == "transferToParticipant"
        assert transfer.body["targetParticipant"]["phoneNumber"]["value"] == "+15550199000"
        assert cloud.refused == []

        wrong = AcsCallControl(f"endpoint={cloud.url}/;accesskey={base64.b64encode(b'x').decode()}")
        with pytest.raises(TransferFailed):
            await wrong.transfer(call_id, "+15550199000", announcement=None)
        with pytest.raises(AcsError):
            await wrong.start_streaming(call_id)
        assert len(cloud.refused) == 2
    finally:
        await cloud.stop()


def _production(**env: str) -> PhoneSettings:
    base = {
        "SWITCHBOARD_ENV": "production",
        "TWILIO_AUTH_TOKEN": "a-real-token",
        "PHONE_GATEWAY_SERVER_KEY": "a-real-server-key",
        "PHONE_PUBLIC_URL": "https://phone.example.com",
        "DATABASE_URL": "postgresql+asyncpg://u:p@db/x",
    }
    return PhoneSettings(_env_file=None, **{**base, **env})  # type: ignore[call-arg]


def test_acs_is_off_in_production_unless_configured_for_real() -> None:
    """In production ACS is off by default; turned on, it refuses the development connection
    string, resource id, JWKS and webhook secret (outside production they are the defaults)."""
    assert PhoneSettings(_env_file=None).acs_enabled  # type: ignore[call-arg]
    assert _production().acs_enabled is False
    with pytest.raises(ValueError, match="ACS_CONNECTION_STRING"):
        _production(ACS_ENABLED="true")
    real = _production(
        ACS_ENABLED="true",
        ACS_CONNECTION_STRING="endpoint=https://sb.communication.azure.com/;accesskey=a2V5",
        ACS_RESOURCE_ID="3f6c1d2e-0000-4000-8000-000000000001",
        ACS_JWKS_URL="https://acscallautomation.communication.azure.com/calling/keys",
        ACS_EVENTGRID_SECRET="a-long-random-secret",
    )
    assert real.acs_enabled
    with pytest.raises(ValueError, match="connection string"):
        _production(ACS_ENABLED="true", ACS_CONNECTION_STRING="accesskey=a2V5")
