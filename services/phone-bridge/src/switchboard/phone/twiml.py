"""The TwiML the bridge answers Twilio with (pure, built with the ``twilio`` package)."""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, Dial, Gather, VoiceResponse

__all__ = [
    "GREETING",
    "connect_stream",
    "dial",
    "goodbye_or_transfer",
    "verify_prompt",
]

GREETING = "Thank you. You are now connected to our assistant. How can I help?"
PROMPT_FIRST = (
    "Welcome. To protect your account, please enter the postal code on file on your keypad, "
    "followed by the pound key."
)
PROMPT_AGAIN = "That did not match. Please enter the postal code on file, followed by pound."


def verify_prompt(action_url: str, *, first: bool, timeout_s: int) -> str:
    """Ask for the postal code; no entry posts back to *action_url* without ``Digits``."""
    response = VoiceResponse()
    gather = Gather(
        input="dtmf",
        action=action_url,
        method="POST",
        timeout=timeout_s,
        finish_on_key="#",
        num_digits=10,
        action_on_empty_result=True,
    )
    gather.say(PROMPT_FIRST if first else PROMPT_AGAIN)
    response.append(gather)
    response.redirect(action_url, method="POST")
    return str(response)


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


def goodbye_or_transfer(message: str, transfer_to: str) -> str:
    """Say *message*, then transfer to a human if one is configured, else hang up."""
    response = VoiceResponse()
    response.say(message)
    if transfer_to:
        response.append(_dial(transfer_to))
    else:
        response.hangup()
    return str(response)
