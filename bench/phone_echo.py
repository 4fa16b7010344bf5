"""The phone bench's echo gateway, run in its own process (``python -m bench.phone_echo PORT``):
``POST /v1/realtime/client_secrets`` answers a secret and ``/v1/realtime`` answers every
``input_audio_buffer.append`` at once with ``response.output_audio.delta`` events carrying the
same audio, in 20 ms deltas (a batched append of 100 ms comes back as five deltas: a model's
audio does not come in the caller's batches, and each 20 ms frame's counter is matched)."""

from __future__ import annotations

import base64
import sys
from typing import Any

__all__ = ["echo_app"]

FRAME = 160  # 20 ms of µ-law
_FRAME_B64 = (FRAME + 2) // 3 * 4


def echo_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def secrets(request: Request) -> JSONResponse:
        return JSONResponse({"value": "ek_bench", "expires_at": 0})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def realtime(ws: WebSocket) -> None:
        await ws.accept()
        prefix = '{"type":"input_audio_buffer.append","audio":"'
        head = '{"type":"response.output_audio.delta","item_id":"item_1","delta":"'
        try:
            while True:
                text = await ws.receive_text()
                if text.startswith(prefix):
                    audio = text[len(prefix) : text.index('"', len(prefix))]
                    if len(audio) <= _FRAME_B64:
                        await ws.send_text(head + audio + '"}')
                        continue
                    # a batched append: answered in 20 ms deltas, as a model's audio does not
                    # come in the caller's batches (and each frame's counter is matched)
                    raw = base64.b64decode(audio)
                    for at in range(0, len(raw), FRAME):
                        delta = base64.b64encode(raw[at : at + FRAME]).decode()
                        await ws.send_text(head + delta + '"}')
        except WebSocketDisconnect:
            pass

    return Starlette(
        routes=[
            Route("/v1/realtime/client_secrets", secrets, methods=["POST"]),
            Route("/healthz", healthz),
            WebSocketRoute("/v1/realtime", realtime),
        ]
    )


def main(port: int) -> None:
    import uvicorn

    uvicorn.run(echo_app(), host="127.0.0.1", port=port, log_level="warning", ws="websockets")


if __name__ == "__main__":
    main(int(sys.argv[1]))
