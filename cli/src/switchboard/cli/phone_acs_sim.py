"""The ACS carrier simulator: places a call on the phone bridge the way Azure Communication
Services does, with :class:`~switchboard.cli.acs_cloud.AcsCloud` as the cloud.

1. Event Grid posts ``Microsoft.Communication.IncomingCall`` to ``/acs/incoming?secret=...``.
2. The bridge answers through the Call Automation REST API (the cloud records it, signed with
   HMAC), ``CallConnected`` and the DTMF recognizes follow as callbacks with a JWT: the caller
   "types" the next of ``gather_digits`` at each recognize.
3. Once the bridge starts media streaming, the cloud opens the media websocket (JWT in
   ``Authorization``, ``x-ms-call-connection-id`` / ``x-ms-call-correlation-id``), sends
   ``AudioMetadata`` then one ``AudioData`` of 20 ms PCM16 24 kHz every 20 ms in real time
   (``silent`` when the caller is quiet), ``DtmfData`` for keys; the bridge's ``AudioData`` is
   played in real time and ``StopAudio`` drops what is queued. A transfer ends the stream.

ACS reports no playback progress and has no marks, so the end of an answer is *quiet_s* of
silence after some audio.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np
import websockets

from switchboard.cli.acs_cloud import AcsCloud, SimCall
from switchboard.cli.phone_line import CallerLine, PhoneCallResult, PhoneTurn, Player

__all__ = ["AcsCallOptions", "place_acs_call"]

RATE = 24000
FRAME_BYTES = 960  # 20 ms of PCM16 mono at 24 kHz
FRAME_S = 0.020


@dataclass
class AcsCallOptions:
    bridge: str
    cloud: AcsCloud
    eventgrid_secret: str
    caller: str
    turns: list[PhoneTurn]
    gather_digits: list[str] = field(default_factory=list)
    to: str = "+15550100000"
    answer_timeout_s: float = 60.0
    quiet_s: float = 3.0
    setup_timeout_s: float = 60.0
    hang_up_after_s: float | None = None
    on_event: Callable[[str, str], None] | None = None
    #: the cloud answers the bridge's greeting with PlayFailed
    play_fails: bool = False


async def place_acs_call(options: AcsCallOptions) -> tuple[PhoneCallResult, SimCall]:
    """Place one call; never raises for what the bridge does (see ``result.failure``)."""
    result = PhoneCallResult()
    note = options.on_event or (lambda who, what: None)
    cloud = options.cloud
    call = cloud.new_call(options.caller, digits=options.gather_digits, to=options.to)
    call.play_fails = options.play_fails
    url = f"{options.bridge.rstrip('/')}/acs/incoming"
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            url,
            params={"secret": options.eventgrid_secret},
            json=cloud.incoming_call_event(call),
            headers={"aeg-event-type": "Notification"},
        )
    result.http_status = response.status_code
    if response.status_code != 200:
        result.outcome = "refused"
        result.failure = (
            f"Event Grid delivery answered {response.status_code}: {response.text[:200]}"
        )
        return result, call
    note("carrier", "IncomingCall delivered")
    for digits in options.gather_digits:
        note("caller", f"will type {digits} when asked")
    while True:
        try:
            event = await asyncio.wait_for(call.events.get(), options.setup_timeout_s)
        except TimeoutError:
            result.outcome = "no_answer"
            result.failure = "the bridge neither answered, redirected nor rejected the call"
            return result, call
        result.said = list(call.prompts)
        kind, _, target = event.partition(":")
        note("carrier", event)
        if kind in ("redirected", "transferred"):
            result.outcome, result.dialed = "dialed", target
            return result, call
        if kind in ("rejected", "hung_up"):
            result.outcome = kind
            return result, call
        if kind == "stream":
            break
    await _media(options, call, result, note)
    with contextlib.suppress(httpx.HTTPError):
        await cloud.send_event(call, "CallDisconnected")
    return result, call


async def _media(
    options: AcsCallOptions,
    call: SimCall,
    result: PhoneCallResult,
    note: Callable[[str, str], None],
) -> None:
    headers = {
        "Authorization": f"Bearer {options.cloud.token()}",
        "x-ms-call-connection-id": call.call_connection_id,
        "x-ms-call-correlation-id": call.correlation_id,
    }
    try:
        ws = await websockets.connect(
            call.transport_url, additional_headers=headers, open_timeout=15
        )
    except (OSError, websockets.InvalidHandshake, TimeoutError) as exc:
        result.outcome = "refused"
        result.failure = f"media stream refused: {exc}"
        return
    result.outcome = "stream"
    line = CallerLine(Player(result, bytes_per_ms=RATE * 2 // 1000))
    player = line.player
    started = time.monotonic()
    closed = line.closed

    async def send(message: dict[str, object]) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps(message))

    meta = {"subscriptionId": str(uuid.uuid4()), "encoding": "PCM", "sampleRate": RATE}
    await send(
        {"kind": "AudioMetadata", "audioMetadata": {**meta, "channels": 1, "length": FRAME_BYTES}}
    )

    async def clock() -> None:
        """Every 20 ms: one caller frame out, 20 ms of bot audio played."""
        tick = 0
        silence = bytes(FRAME_BYTES)
        while not closed.is_set():
            tick += 1
            frame = line.next_frame(silence)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{tick * 20 % 1000:03d}Z"
            audio = {
                "timestamp": stamp,
                "participantRawID": f"4:{options.caller}",
                "data": base64.b64encode(frame).decode(),
                "silent": frame is silence,
            }
            await send({"kind": "AudioData", "audioData": audio})
            player.play(FRAME_BYTES)
            await asyncio.sleep(max(0.0, started + tick * FRAME_S - time.monotonic()))

    async def listen() -> None:
        try:
            async for raw in ws:
                data = json.loads(raw)
                kind = data.get("kind") or data.get("Kind")
                if kind == "AudioData":
                    audio = data.get("audioData") or data.get("AudioData") or {}
                    line.bot_audio(base64.b64decode(audio.get("data") or audio.get("Data") or ""))
                elif kind == "StopAudio":
                    result.clears += 1
                    note("carrier", "StopAudio (playback dropped)")
                    player.clear()
        except websockets.ConnectionClosed:
            pass
        result.close_code = ws.close_code
        closed.set()

    async def call_control() -> None:
        """A transfer or hang-up by the app ends the call's media stream, as ACS does."""
        while True:
            event = await call.events.get()
            kind, _, target = event.partition(":")
            if kind in ("transferred", "hung_up"):
                note("carrier", event)
                result.dialed = target or None
                await ws.close()
                return

    def frames(audio: np.ndarray) -> list[bytes]:
        pcm = audio.astype("<i2").tobytes()
        return [
            pcm[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
            for i in range(0, len(pcm), FRAME_BYTES)
        ]

    async def press(digit: str) -> None:
        await send({"kind": "DtmfData", "dtmfData": {"data": digit}})

    tasks = [
        asyncio.create_task(clock()),
        asyncio.create_task(listen()),
        asyncio.create_task(call_control()),
    ]
    await line.finish(
        options,
        result,
        note,
        frames=frames,
        press=press,
        listener=tasks[1],
        tasks=tasks,
        hang_up=ws.close,
    )
    if result.outcome == "bridge_closed" and result.dialed is not None:
        result.outcome = "transferred"
