"""A carrier simulator: places a call on the phone bridge the way Twilio does.

1. The voice webhook: a form POST (``CallSid``, ``AccountSid``, ``From``, ``To``, ...) signed with
   ``X-Twilio-Signature`` (the ``twilio`` package's ``RequestValidator``, keyed by the auth
   token); the TwiML answer is then executed verb by verb: ``<Say>`` is noted, ``<Gather>``
   posts the digits typed at the prompt to its ``action``, ``<Redirect>`` posts again,
   ``<Dial>`` and ``<Hangup>`` end the call, ``<Connect><Stream>`` opens the media stream.
2. The media websocket (signed too): ``connected``, ``start`` (with the ``<Parameter>`` values),
   then one ``media`` frame of 20 ms µ-law every 20 ms in real time, silence when the caller
   is quiet, ``dtmf`` for keys, and ``stop`` when the caller hangs up.
3. The bridge's audio is "played" in real time from a buffer: a ``mark`` is echoed when the
   audio queued before it has been played, and ``clear`` drops the buffer and returns the
   pending marks at once, as Twilio documents.

The same code drives the tests and ``switchboard phone``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import websockets
from twilio.request_validator import RequestValidator

from switchboard.cli.phone_audio import SILENCE_BYTE, pcm_to_mulaw
from switchboard.cli.phone_line import (
    AnswerStats,
    CallerLine,
    PhoneCallResult,
    PhoneTurn,
    Player,
)

__all__ = ["AnswerStats", "PhoneCallOptions", "PhoneCallResult", "PhoneTurn", "place_call"]

FRAME_BYTES = 160  # 20 ms of 8 kHz µ-law
FRAME_S = 0.020
#: The bridge marks the end of each complete answer with a mark of this prefix.
ANSWER_END_MARK = "answer-end"


@dataclass
class PhoneCallOptions:
    bridge: str
    auth_token: str
    caller: str
    turns: list[PhoneTurn]
    gather_digits: list[str] = field(default_factory=list)
    to: str = "+15550100000"
    account_sid: str = "AC" + "0" * 32
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    answer_timeout_s: float = 60.0
    quiet_s: float = 10.0
    hang_up_after_s: float | None = None
    corrupt_frame_at_s: float | None = None
    bad_signature: bool = False
    on_event: Callable[[str, str], None] | None = None


def _sign(validator: RequestValidator, url: str, params: dict[str, str]) -> str:
    return str(validator.compute_signature(url, params))


async def place_call(options: PhoneCallOptions) -> PhoneCallResult:
    """Place one call; never raises for what the bridge does (see ``result.failure``)."""
    result = PhoneCallResult()
    validator = RequestValidator(options.auth_token)
    base = {
        "AccountSid": options.account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": options.call_sid,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": options.caller,
        "To": options.to,
    }
    note = options.on_event or (lambda who, what: None)
    gathers = list(options.gather_digits)
    url = f"{options.bridge.rstrip('/')}/twilio/voice"
    params = dict(base)
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(20):  # TwiML documents (redirects and gathers) before the stream
            signature = _sign(validator, url, params)
            if options.bad_signature:
                signature = signature[::-1]
            response = await http.post(url, data=params, headers={"X-Twilio-Signature": signature})
            result.http_status = response.status_code
            if response.status_code != 200:
                result.outcome = "refused"
                result.failure = f"webhook answered {response.status_code}: {response.text[:200]}"
                return result
            result.twiml.append(response.text)
            step = _run_twiml(response.text, result, gathers, note)
            if step is None:
                return result
            kind, target, extra = step
            if kind == "stream":
                result.stream_parameters = extra
                await _stream(options, result, target, extra, validator, note)
                return result
            url = target
            params = {**base, "CallStatus": "in-progress", **extra}
    result.failure = "too many TwiML round trips"
    return result


def _run_twiml(
    text: str,
    result: PhoneCallResult,
    gathers: list[str],
    note: Callable[[str, str], None],
) -> tuple[str, str, dict[str, str]] | None:
    """Execute one TwiML document: the next request to make, or None when the call ended."""
    root = ET.fromstring(text)
    for verb in root:
        if verb.tag == "Say":
            result.said.append(verb.text or "")
            note("carrier", f"<Say> {verb.text}")
        elif verb.tag == "Gather":
            for inner in verb:
                if inner.tag == "Say":
                    result.said.append(inner.text or "")
                    note("carrier", f"<Say> {inner.text}")
            digits = gathers.pop(0) if gathers else ""
            if digits:
                note("caller", f"types {digits}")
            if digits or verb.get("actionOnEmptyResult") == "true":
                return "post", verb.get("action", ""), {"Digits": digits.rstrip("#")}
        elif verb.tag == "Redirect":
            return "post", verb.text or "", {}
        elif verb.tag == "Dial":
            target = "".join(child.text or "" for child in verb) or (verb.text or "")
            result.dialed = target
            result.outcome = "dialed"
            note("carrier", f"<Dial> {target}")
            return None
        elif verb.tag == "Hangup":
            result.outcome = "hangup"
            note("carrier", "<Hangup>")
            return None
        elif verb.tag == "Connect":
            stream = verb.find("Stream")
            if stream is not None:
                parameters = {
                    p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")
                }
                return "stream", stream.get("url", ""), parameters
    result.outcome = "hangup"  # the end of a TwiML document hangs up
    return None


async def _stream(
    options: PhoneCallOptions,
    result: PhoneCallResult,
    url: str,
    parameters: dict[str, str],
    validator: RequestValidator,
    note: Callable[[str, str], None],
) -> None:
    stream_sid = "MZ" + uuid.uuid4().hex
    headers = {"X-Twilio-Signature": _sign(validator, url, {})}
    line = CallerLine(Player(result))
    player = line.player
    seq = 0

    def envelope(event: str, **body: Any) -> str:
        nonlocal seq
        seq += 1
        return json.dumps(
            {"event": event, "sequenceNumber": str(seq), "streamSid": stream_sid, **body}
        )

    try:
        ws = await websockets.connect(url, additional_headers=headers, open_timeout=15)
    except (OSError, websockets.InvalidHandshake, TimeoutError) as exc:
        result.outcome = "refused"
        result.failure = f"media stream refused: {exc}"
        return
    result.outcome = "stream"
    started = time.monotonic()
    closed = line.closed

    async def send(text: str) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(text)

    await send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    await send(
        envelope(
            "start",
            start={
                "streamSid": stream_sid,
                "accountSid": options.account_sid,
                "callSid": options.call_sid,
                "tracks": ["inbound"],
                "customParameters": parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        )
    )

    async def clock() -> None:
        """Every 20 ms: one caller frame out, 20 ms of bot audio played (marks echoed)."""
        chunk = 0
        silence = bytes([SILENCE_BYTE]) * FRAME_BYTES
        corrupted = False
        while not closed.is_set():
            chunk += 1
            frame = line.next_frame(silence)
            media = {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(chunk * 20),
                "payload": base64.b64encode(frame).decode(),
            }
            at = options.corrupt_frame_at_s
            if at is not None and not corrupted and time.monotonic() - started >= at:
                corrupted = True
                await send(envelope("media", media={**media, "payload": "%%not-base64%%"}))
            await send(envelope("media", media=media))
            for mark in player.play(FRAME_BYTES):
                if mark.startswith(ANSWER_END_MARK) and player.current is not None:
                    player.current.heard_whole_answer = True
                await send(envelope("mark", mark={"name": mark}))
            await asyncio.sleep(max(0.0, started + chunk * FRAME_S - time.monotonic()))

    async def listen() -> None:
        try:
            async for raw in ws:
                data = json.loads(raw)
                event = data.get("event")
                if event == "media":
                    line.bot_audio(base64.b64decode(data["media"]["payload"]))
                elif event == "mark":
                    result.marks_sent += 1
                    player.add_mark(data["mark"]["name"])
                elif event == "clear":
                    result.clears += 1
                    note("carrier", "clear (playback dropped)")
                    for mark in player.clear():
                        await send(envelope("mark", mark={"name": mark}))
        except websockets.ConnectionClosed:
            pass
        result.close_code = ws.close_code
        closed.set()

    def frames(pcm: np.ndarray) -> list[bytes]:
        audio = pcm_to_mulaw(pcm)
        return [audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]

    async def press(digit: str) -> None:
        await send(envelope("dtmf", dtmf={"track": "inbound_track", "digit": digit}))

    async def hang_up() -> None:
        stop = {"accountSid": options.account_sid, "callSid": options.call_sid}
        await send(envelope("stop", stop=stop))
        await ws.close()

    tasks = [asyncio.create_task(clock()), asyncio.create_task(listen())]
    await line.finish(
        options,
        result,
        note,
        frames=frames,
        press=press,
        listener=tasks[1],
        tasks=tasks,
        hang_up=hang_up,
    )
