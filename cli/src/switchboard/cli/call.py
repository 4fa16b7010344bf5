"""One voice call over a Realtime websocket: a real-time paced microphone, the caller's turns
one after another, and everything heard recorded in a :class:`CallState`.

``run_call`` is what ``switchboard call`` and ``switchboard loadtest`` use. The microphone keeps
streaming (silence between turns) for the whole call, as a real one does, so the server's voice
activity detection sees the end of every utterance.

With ``CallOptions.resume`` the call resumes by itself: when the socket drops (no close frame)
or the gateway closes it with 1012 (drained, handed over), the caller is "reconnecting…", gets
a new endpoint with a resume secret for the Switchboard session id of ``session.created``, and
goes on on whichever gateway takes it; the microphone waits meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection

from switchboard.cli.audio import SAMPLE_RATE, pcm_to_b64, speech_end_ms
from switchboard.cli.callstate import CallState
from switchboard.cli.endpoint import Endpoint, EndpointError
from switchboard.contracts.client_events import audio_append, response_create, user_text

__all__ = ["RESUME_CLOSE_CODES", "CallOptions", "CallResult", "Turn", "run_call"]

#: Close codes after which a call resumes (1012: the gateway handed the conversation over;
#: 1006: the connection was lost without a close frame).
RESUME_CLOSE_CODES = frozenset({1006, 1012})


@dataclass(frozen=True)
class Turn:
    """Something the caller says (``audio``: 24 kHz int16) or types (``text``). With both, the
    caller types the words (no ``response.create``) and then says them: what an emulator in its
    speech-free load mode (``EMULATOR_SPEECH=text``) hears as the spoken turn's words."""

    label: str
    audio: np.ndarray | None = None
    text: str | None = None

    @property
    def kind(self) -> str:
        return "audio" if self.audio is not None else "text"


@dataclass
class CallOptions:
    endpoint: Endpoint
    turns: list[Turn]
    chunk_ms: int = 40
    #: quiet time after a reply before the caller goes on (a follow-up may start after a tool)
    linger_s: float = 0.8
    #: a turn gives up after this long without any server event while nothing plays
    turn_timeout_s: float = 45.0
    #: start the next turn this long after the reply's first audio (talk over the bot)
    barge_in_ms: int | None = None
    #: ... and only once at least this much received reply audio is still to be heard, so the
    #: interruption lands while the bot talks even when its audio arrives in bursts
    barge_in_ahead_ms: int = 0
    open_timeout_s: float = 10.0
    #: a new endpoint (with a resume secret) for a Switchboard session id: set, the call
    #: resumes after a dropped socket or a 1012 close
    resume: Callable[[str], Awaitable[Endpoint]] | None = None
    #: resumes one call may make in all
    resume_attempts: int = 3
    #: how long one resume keeps trying (backing off from 0.2 s to 1 s between tries, each
    #: pause jittered down to half so callers cut off together spread out)
    resume_within_s: float = 15.0


@dataclass
class CallResult:
    state: CallState
    connect_ms: float
    duration_s: float
    close_code: int | None = None
    close_reason: str = ""
    failure: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    #: how many times the call resumed on a new connection
    resumes: int = 0


class _Connection:
    """The call's current websocket; replaced when the call resumes."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.over = False  # no further connection will come
        self._swapped = asyncio.Event()

    def swap(self, ws: ClientConnection | None) -> None:
        if ws is None:
            self.over = True
        else:
            self.ws = ws
        self._swapped.set()

    async def send(self, event: dict[str, Any]) -> None:
        """Send on the current socket; one that closed meanwhile is waited out (the call may
        resume) and the event sent on the next."""
        while True:
            ws = self.ws
            try:
                await ws.send(json.dumps(event))
                return
            except websockets.ConnectionClosed:
                await self.replaced(ws)

    async def replaced(self, old: ClientConnection) -> None:
        """Until *old* is no longer the socket; raises ``ConnectionClosed`` when none follows."""
        while self.ws is old and not self.over:
            self._swapped.clear()
            await self._swapped.wait()
        if self.ws is old:
            await old.send("")  # closed: raises its ConnectionClosed


class _Microphone:
    """Sends ``input_audio_buffer.append`` every ``chunk_ms`` at real-time pace: queued speech,
    else silence. Notes when chosen samples have gone out (for latency)."""

    def __init__(self, conn: _Connection, chunk_ms: int) -> None:
        self._conn = conn
        self._chunk = SAMPLE_RATE * chunk_ms // 1000
        self._period = chunk_ms / 1000
        self._pending: deque[np.ndarray] = deque()
        self._queued = 0  # samples queued in total (speech + nothing else)
        self._sent_speech = 0  # queued samples already sent
        self._marks: list[tuple[int, asyncio.Future[float]]] = []
        self._closed: BaseException | None = None  # why sending stopped

    def say(
        self, samples: np.ndarray, mark_at: int
    ) -> tuple[asyncio.Future[float], asyncio.Future[float]]:
        """Queue *samples*; futures resolve (with the send time) when sample *mark_at* and the
        last sample have been sent."""
        loop = asyncio.get_running_loop()
        mark: asyncio.Future[float] = loop.create_future()
        done: asyncio.Future[float] = loop.create_future()
        self._marks.append((self._queued + max(1, mark_at), mark))
        self._pending.append(samples)
        self._queued += samples.size
        self._marks.append((self._queued, done))
        if self._closed is not None:
            self._fail_marks()
        return mark, done

    def _take(self) -> np.ndarray:
        out = np.zeros(self._chunk, dtype=np.int16)
        filled = 0
        while filled < self._chunk and self._pending:
            head = self._pending[0]
            step = min(self._chunk - filled, head.size)
            out[filled : filled + step] = head[:step]
            filled += step
            if step == head.size:
                self._pending.popleft()
            else:
                self._pending[0] = head[step:]
        self._sent_speech += filled
        return out

    async def run(self) -> None:
        """Until cancelled or the connection closes; then whoever waits on a mark is told why
        (a server that closes mid-speech must not leave the caller waiting for ever)."""
        try:
            await self._send_forever()
        except BaseException as exc:
            self._closed = exc if isinstance(exc, Exception) else ConnectionAbortedError()
            self._fail_marks()
            raise

    def _fail_marks(self) -> None:
        assert self._closed is not None
        for _, future in self._marks:
            if not future.done():
                future.set_exception(self._closed)
                future.exception()  # retrieved: the caller may have stopped listening
        self._marks = []

    async def _send_forever(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            chunk = self._take()
            ws = self._conn.ws
            try:
                await ws.send(json.dumps(audio_append(pcm_to_b64(chunk))))
            except websockets.ConnectionClosed:
                # resuming: what was queued waits for the new socket (this chunk is lost)
                await self._conn.replaced(ws)
                due = loop.time()
            sent_at = loop.time()
            keep = []
            for position, future in self._marks:
                if position <= self._sent_speech:
                    if not future.done():
                        future.set_result(sent_at)
                else:
                    keep.append((position, future))
            self._marks = keep
            due += self._period
            await asyncio.sleep(max(0.0, due - loop.time()))


async def _connect(endpoint: Endpoint, open_within_s: float) -> ClientConnection:
    try:
        return await websockets.connect(
            endpoint.url,
            additional_headers=endpoint.headers,
            max_size=None,
            open_timeout=open_within_s,
            ping_interval=20,
        )
    except websockets.InvalidStatus as exc:
        body = exc.response.body.decode(errors="replace")[:300] if exc.response.body else ""
        raise EndpointError(
            f"{endpoint.url.split('?')[0]} refused the connection: HTTP "
            f"{exc.response.status_code} {body}".rstrip(),
            status=exc.response.status_code,
        ) from exc
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
        raise EndpointError(f"cannot connect to {endpoint.url.split('?')[0]}: {exc}") from exc


async def run_call(
    options: CallOptions,
    *,
    on_line: Callable[[str, str], None] | None = None,
    keep_events: bool = False,
    state: CallState | None = None,
) -> CallResult:
    """Make one call: every turn in order, each waiting for its reply to be heard (or, with
    ``barge_in_ms``, cutting in). Raises :class:`EndpointError` if the connection is refused.
    Pass *state* to watch the call while it runs (a load test's progress line does)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    conn = _Connection(await _connect(options.endpoint, options.open_timeout_s))
    state = state if state is not None else CallState(on_line=on_line)
    result = CallResult(state=state, connect_ms=(loop.time() - started) * 1000, duration_s=0.0)
    opened = asyncio.Event()
    hanging_up = False
    #: the Switchboard session id, from the gateway's session.created (what a resume names)
    session_ids: list[str] = []

    async def receive() -> None:
        while True:
            ws = conn.ws
            with contextlib.suppress(websockets.ConnectionClosed):
                async for raw in ws:
                    event = json.loads(raw)
                    if keep_events:
                        result.events.append(event)
                    if event.get("type") == "session.created":
                        session_id = (event.get("session") or {}).get("id")
                        if isinstance(session_id, str):
                            session_ids.append(session_id)
                        opened.set()
                    for answer in state.handle(event, loop.time()):
                        await conn.send(answer)
            if not await resume(ws):
                conn.swap(None)
                return

    async def resume(ws: ClientConnection) -> bool:
        """After *ws* closed: a new connection resuming the same conversation, if the close
        asks for one and the call can (True once it is open)."""
        code = ws.close_code if ws.protocol.close_rcvd is not None else 1006
        if (
            hanging_up
            or options.resume is None
            or not session_ids
            or code not in RESUME_CLOSE_CODES
            or result.resumes >= options.resume_attempts
        ):
            return False
        if on_line:
            on_line("call", f"reconnecting… (closed with {code})")
        # a network outage or a gateway restarting: keep trying, backing off, for
        # ``resume_within_s`` (the gateway keeps the conversation resumable for longer)
        give_up_at = loop.time() + options.resume_within_s
        delay, attempt = 0.2, 0
        while True:
            attempt += 1
            try:
                endpoint = await options.resume(session_ids[-1])
                new = await _connect(endpoint, options.open_timeout_s)
            except EndpointError as exc:
                if on_line:
                    on_line("error", f"resume attempt {attempt} failed: {exc}")
                if exc.permanent or loop.time() + delay > give_up_at:
                    return False
                # jittered: callers cut off together (a gateway lost, a network blip) do not
                # all come back in the same instant
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 1.0)
                continue
            result.resumes += 1
            conn.swap(new)
            if on_line:
                on_line("call", f"resumed session {session_ids[-1]}")
            return True

    async def wait_reply(turn_index: int, *, barge_after_ms: int | None) -> None:
        """Until the reply has been heard (or, when barging in, until it is time to cut in).
        Gives up when nothing arrived for ``turn_timeout_s`` while nothing was playing, or after
        four times that in all."""
        turn = state.turns[turn_index]
        started = loop.time()
        while True:
            now = loop.time()
            if (
                barge_after_ms is not None
                and turn.first_audio_at is not None
                and now >= turn.first_audio_at + barge_after_ms / 1000
                and state.playout.remaining_ms(now) >= options.barge_in_ahead_ms
            ):
                return
            if state.reply_finished(now, linger_s=options.linger_s) or reader.done():
                return
            quiet = now - max(started, state.last_event_at)
            stalled = quiet > options.turn_timeout_s and not state.playout.busy(now)
            if stalled or now - started > 4 * options.turn_timeout_s:
                break
            await asyncio.sleep(0.05)
        turn.timed_out = True
        code = "reply_stalled" if turn.reply_seen else "no_reply"
        state.errors.append({"type": "client", "code": code, "message": f"turn {turn.index}"})
        if on_line:
            on_line("error", f"{code.replace('_', ' ')} on turn {turn.index}")

    async def conduct(mic: _Microphone) -> None:
        async with asyncio.timeout(options.open_timeout_s):
            await opened.wait()
        if options.endpoint.session_update:
            await conn.send(options.endpoint.session_update)
        for position, spec in enumerate(options.turns):
            turn = state.begin_turn(spec.kind, spec.label, loop.time())
            if spec.audio is not None:
                if spec.text is not None:
                    await conn.send(user_text(spec.text))
                mark, done = mic.say(spec.audio, speech_end_ms(spec.audio) * SAMPLE_RATE // 1000)
                turn.speech_end = await mark
                await done
            else:
                await conn.send(user_text(spec.text))
                await conn.send(response_create())
                turn.speech_end = loop.time()
                if on_line:
                    on_line("you", f"(typed) {spec.text}")
            last = position == len(options.turns) - 1
            barge = None if last else options.barge_in_ms
            await wait_reply(turn.index - 1, barge_after_ms=barge)
            if reader.done():
                break

    mic = _Microphone(conn, options.chunk_ms)
    reader = asyncio.create_task(receive())
    talker = asyncio.create_task(mic.run())
    try:
        await conduct(mic)
    except TimeoutError:
        result.failure = "no session.created from the server"
    except websockets.ConnectionClosed:
        pass
    finally:
        hanging_up = True
        talker.cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await talker
        await conn.ws.close()
        with contextlib.suppress(websockets.ConnectionClosed):
            await reader
        result.close_code = conn.ws.close_code
        result.close_reason = conn.ws.close_reason or ""
        result.duration_s = loop.time() - started
    if result.close_code not in (1000, 1005, None) and result.failure is None:
        result.failure = f"closed by the server: {result.close_code} {result.close_reason}".strip()
    return result
