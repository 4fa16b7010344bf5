"""The TwiML the bridge answers Twilio with (pure, built with the ``twilio`` package)."""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

__all__ = ["connect_stream", "dial"]


def connect_stream(stream_url: str, parameters: dict[str, str], *, greeting: str | None) -> str:
    """Keep the call on a bidirectional media stream to *stream_url*."""
    response = VoiceResponse()
    if greeting:
        response.say(greeting)
    connect = Connect()
    stream = connect.stream(url=stream_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def _dial(target: str) -> Dial:
    dial = Dial()
    if target.startswith("sip:"):
        dial.sip(target)
    else:
        dial.number(target)
    return dial


def dial(target: str, *, announcement: str | None) -> str:
    """Move the call to *target* (a number or SIP URI)."""
    response = VoiceResponse()
    if announcement:
        response.say(announcement)
    response.append(_dial(target))
    return str(response)
