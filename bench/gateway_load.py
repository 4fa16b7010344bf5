"""The processes of the gateway benchmark: the echo upstream, the pass-through relay baseline
and the streaming clients (``python -m bench.gateway_load echo|passthrough|clients ...``).

- **echo upstream**: speaks just enough GA for the gateway's session setup and answers each
  ``input_audio_buffer.append`` at once with a ``response.output_audio.delta`` carrying the same
  audio and the chunk's sequence number as its ``event_id``. Its item layout is a mode:
  ``response`` (one item per response of 25 deltas, as a real model speaks), ``delta`` (a new
  item for every delta, the layout that once made the gateway's item tracking quadratic) or
  ``long`` (answers of 5 s, 125 deltas: the recording bench, one segment per answer) or
  ``talk`` / ``talk-1s`` (answers of 5 s / 1 s with what a model says around its audio: each
  opens with ``response.created`` and ``response.output_item.added`` and closes with its
  transcript, the caller's transcription and a ``response.done`` with usage; both transcripts
  hold an e-mail address, a phone and a card number: the redaction bench's audit events).
- **pass-through relay**: the floor the gateway is held to. The same websocket stacks as the
  gateway (uvicorn + Starlette towards the client, ``websockets`` towards the upstream, uvloop)
  and nothing else: every frame is handed on without being looked at. ``framework`` mode uses
  Starlette's ``WebSocket`` per message (what a relay written the usual way does); ``raw``
  mode uses the bare ASGI messages, as the gateway's Realtime route does; ``raw-picows`` is
  ``raw`` with the gateway's picows upstream (``UPSTREAM_WS_CLIENT=picows``), the baseline for a
  gateway on that client.
- **clients**: N sessions each sending a chunk every chunk length at real-time pace and timing
  each round trip; they report the edges of the measured window so the parent can sample CPU
  there.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
import time
from collections.abc import Coroutine
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

__all__ = ["APPEND_PREFIX", "audio_chunk"]

APPEND_PREFIX = '{"type":"input_audio_buffer.append","event_id":"'
_DELTA = (
    '{"type":"response.output_audio.delta","event_id":"ev_%s","response_id":"resp_%s",'
    '"item_id":"%s","output_index":0,"content_index":0,"delta":"%s"}'
)
#: what the ``talk`` echo sends before an answer's first delta and after its last
_TALK_OPEN = (
    '{"type":"response.created","event_id":"ev_%s_c","response":{"id":"resp_%s",'
    '"object":"realtime.response","status":"in_progress","output":[]}}',
    '{"type":"response.output_item.added","event_id":"ev_%s_a","response_id":"resp_%s",'
    '"output_index":0,"item":{"id":"%s","type":"message","role":"assistant","content":[]}}',
)
_TALK_CLOSE = (
    '{"type":"response.output_audio_transcript.done","event_id":"ev_%s_t","response_id":"resp_%s",'
    '"item_id":"%s","output_index":0,"content_index":0,"transcript":"I have your e-mail as '
    "jane.doe@example.com and your phone as +1 415 555 0100; the card ending 4111 1111 1111 1111 "
    'was charged for order 100234, which ships on December 5."}',
    '{"type":"conversation.item.input_audio_transcription.completed","event_id":"ev_%s_u",'
    '"item_id":"user_%s","content_index":0,"transcript":"My e-mail is jane.doe@example.com, '
    'call me on 415-555-0100 and charge 4111 1111 1111 1111 for order 100234."}',
    '{"type":"response.done","event_id":"ev_%s_d","response":{"id":"resp_%s",'
    '"object":"realtime.response","status":"completed","output":[{"id":"%s","type":"message",'
    '"role":"assistant","content":[]}],"usage":{"total_tokens":180,"input_tokens":120,'
    '"output_tokens":60,"input_token_details":{"text_tokens":20,"audio_tokens":100,'
    '"cached_tokens":0},"output_token_details":{"text_tokens":10,"audio_tokens":50}}}}',
)
#: deltas per response in the echo's ``response`` mode (1 s of 40 ms chunks)
DELTAS_PER_RESPONSE = 25
#: deltas per response in the ``long`` mode (5 s answers: the recording bench)
LONG_RESPONSE = 125
_SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_echo",
    "model": "echo",
    "output_modalities": ["audio"],
    "instructions": "",
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": None,
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
    },
}


def audio_chunk(ms: int) -> str:
    """*ms* of pcm16 at 24 kHz, base64."""
    return base64.b64encode(b"\x10\x00" * 24 * ms).decode()


# -- echo upstream ---------------------------------------------------------------------------------
async def _echo(ws: ServerConnection, mode: str) -> None:
    """Session setup, then every append answered with an audio delta of the same audio."""
    await ws.send(json.dumps({"type": "session.created", "event_id": "ev0", "session": _SESSION}))
    start = len(APPEND_PREFIX)
    try:
        async for message in ws:
            text = message if isinstance(message, str) else message.decode()
            if text.startswith(APPEND_PREFIX):
                end = text.index('"', start)
                seq = text[start:end]
                audio = text[text.index('"audio":"', end) + 9 : -2]
                per = LONG_RESPONSE if mode in ("long", "talk") else DELTAS_PER_RESPONSE
                response = int(seq) // per
                item = f"item_{seq}" if mode == "delta" else f"item_{response}"
                place = int(seq) % per
                talk = mode in ("talk", "talk-1s")
                if talk and place == 0:
                    await ws.send(_TALK_OPEN[0] % (seq, response))
                    await ws.send(_TALK_OPEN[1] % (seq, response, item))
                await ws.send(_DELTA % (seq, response, item, audio))
                if talk and place == per - 1:
                    await ws.send(_TALK_CLOSE[0] % (seq, response, item))
                    await ws.send(_TALK_CLOSE[1] % (seq, response))
                    await ws.send(_TALK_CLOSE[2] % (seq, response, item))
            elif '"session.update"' in text[:64]:
                await ws.send(
                    json.dumps({"type": "session.updated", "event_id": "ev1", "session": _SESSION})
                )
    except websockets.ConnectionClosed:
        pass


async def _echo_main(port: int, mode: str) -> None:
    async def handler(ws: ServerConnection) -> None:
        await _echo(ws, mode)

    # long handshake timeouts: a loaded machine must slow the bench down, not fail it
    async with serve(handler, "127.0.0.1", port, max_size=None, compression=None, open_timeout=120):
        await asyncio.Future()


# -- pass-through relay ----------------------------------------------------------------------------
def _connect_upstream(url: str) -> websockets.connect:
    """The pass-throughs' upstream on ``websockets``, with the gateway's options."""
    return websockets.connect(
        url,
        max_size=16 * 1024 * 1024,
        compression=None,
        ping_interval=20,
        ping_timeout=20,
        open_timeout=120,
    )


async def _both(up: Coroutine[Any, Any, None], down: Coroutine[Any, Any, None]) -> None:
    """Relay both ways until either side ends (or fails)."""
    with contextlib.suppress(Exception):
        async with asyncio.TaskGroup() as tg:
            tg.create_task(up)
            tg.create_task(down)


def _passthrough_main(port: int, upstream_port: int, raw: bool, upstream_client: str) -> None:
    """uvicorn + Starlette to the client, websockets to the upstream; frames handed on as is
    (*raw*: through the bare ASGI messages, as the gateway's Realtime route does;
    *upstream_client* ``picows``: raw, with the gateway's picows upstream instead)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def relay(client: WebSocket) -> None:
        await client.accept()
        url = f"ws://127.0.0.1:{upstream_port}{client.url.path}?{client.url.query}"
        async with _connect_upstream(url) as upstream:

            async def up() -> None:
                while True:
                    message = await client.receive()
                    if message["type"] == "websocket.disconnect":
                        raise WebSocketDisconnect
                    await upstream.send(message.get("text") or message.get("bytes") or b"")

            async def down() -> None:
                async for frame in upstream:
                    await client.send_text(frame if isinstance(frame, str) else frame.decode())

            await _both(up(), down())

    async def raw_relay(scope: Any, receive: Any, send: Any) -> None:
        """The same over the bare ASGI messages (no framework wrapper per message)."""
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        url = f"ws://127.0.0.1:{upstream_port}{scope['path']}?{scope['query_string'].decode()}"
        async with _connect_upstream(url) as upstream:

            async def up() -> None:
                while True:
                    message = await receive()
                    if message["type"] != "websocket.receive":
                        return
                    await upstream.send(message.get("text") or message.get("bytes") or b"")

            async def down() -> None:
                async for frame in upstream:
                    await send({"type": "websocket.send", "text": frame})

            await _both(up(), down())

    async def picows_relay(scope: Any, receive: Any, send: Any) -> None:
        """The raw relay with the gateway's picows upstream (``UPSTREAM_WS_CLIENT=picows``)."""
        from switchboard.gateway.dialect import GaDialect
        from switchboard.gateway.upstream_picows import connect_picows

        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        url = f"ws://127.0.0.1:{upstream_port}{scope['path']}?{scope['query_string'].decode()}"
        upstream = await connect_picows(
            url, headers={}, dialect=GaDialect(), open_timeout_s=120, max_size=16 * 1024 * 1024
        )

        async def up() -> None:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return
                text = message.get("text") or message.get("bytes", b"").decode()
                if not upstream.send_now(text):
                    await upstream.send_raw(text, {})

        async def down() -> None:
            while True:
                await send({"type": "websocket.send", "text": await upstream.recv_text()})

        try:
            await _both(up(), down())
        finally:
            await upstream.close()

    class RawRelay:  # an ASGI app (a plain function would get Starlette's WebSocket)
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if upstream_client == "picows":
                await picows_relay(scope, receive, send)
            else:
                await raw_relay(scope, receive, send)

    route = WebSocketRoute("/{path:path}", RawRelay() if raw else relay)
    app = Starlette(routes=[route])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="warning",
        ws_max_size=16 * 1024 * 1024,
        ws_per_message_deflate=False,
    )


# -- streaming clients -----------------------------------------------------------------------------
async def _stream(
    url: str,
    headers: dict[str, str],
    chunk_ms: int,
    stop: asyncio.Event,
    rtts: list[float],
    ready: asyncio.Event,
    counts: list[int],
) -> None:
    """One streaming session: a chunk every *chunk_ms*; RTT per chunk into *rtts*; chunks sent
    and deltas received in the measured window added to ``counts[0]`` and ``counts[1]``."""
    sent: dict[str, float] = {}
    audio = audio_chunk(chunk_ms)
    async with websockets.connect(
        url, additional_headers=headers, max_size=None, compression=None, open_timeout=120
    ) as ws:
        first = await ws.recv()
        assert '"session.created"' in str(first)[:64], first

        async def receive() -> None:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                if text.startswith('{"type":"response.output_audio.delta"'):
                    start = text.index('"ev_') + 4
                    seq = text[start : text.index('"', start)]
                    at = sent.pop(seq, None)
                    if ready.is_set():
                        counts[1] += 1
                        if at is not None:
                            rtts.append(time.perf_counter() - at)

        reader = asyncio.create_task(receive())
        n = 0
        next_at = time.perf_counter()
        try:
            while not stop.is_set():
                n += 1
                seq = str(n)
                sent[seq] = time.perf_counter()
                await ws.send(f'{APPEND_PREFIX}{seq}","audio":"{audio}"}}')
                if ready.is_set():
                    counts[0] += 1
                next_at += chunk_ms / 1000
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await reader


async def _clients_main() -> None:
    """Read the level from stdin; print the window's edges, then the round trips (JSON lines)."""
    config: dict[str, Any] = json.loads(sys.stdin.read())
    urls, headers, chunk_ms = config["urls"], config["headers"], config["chunk_ms"]
    stop, ready = asyncio.Event(), asyncio.Event()
    rtts: list[float] = []
    counts = [0, 0]

    def phase(name: str) -> None:
        sys.stdout.write(json.dumps({"phase": name}) + "\n")
        sys.stdout.flush()

    tasks = []
    for i, url in enumerate(urls):
        tasks.append(
            asyncio.create_task(_stream(url, headers[i], chunk_ms, stop, rtts, ready, counts))
        )
        if i % 20 == 19:
            await asyncio.sleep(0.05)  # ramp up instead of a thundering herd
    await asyncio.sleep(config["warmup_s"])
    phase("measure")
    ready.set()
    await asyncio.sleep(config["measure_s"])
    phase("stop")
    window = list(counts)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(urls)} sessions failed: {failed[0]!r}")
    doc = {"rtts": rtts, "sent": window[0], "received": window[1]}
    sys.stdout.write(json.dumps(doc) + "\n")


if __name__ == "__main__":
    import uvloop

    role = sys.argv[1]
    if role == "echo":
        uvloop.run(_echo_main(int(sys.argv[2]), sys.argv[3]))
    elif role == "passthrough":
        mode = sys.argv[4]  # framework | raw | raw-picows
        raw, _, client = mode.partition("-")
        _passthrough_main(int(sys.argv[2]), int(sys.argv[3]), raw == "raw", client or "websockets")
    else:
        uvloop.run(_clients_main())
