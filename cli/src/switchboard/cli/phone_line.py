"""The caller's side of a simulated phone call, whatever the carrier: the turns (speak, press
keys, wait for the answer), the carrier's playback of the bot's audio in real time, and what the
call measured. ``phone_sim`` (Twilio) and ``phone_acs_sim`` (ACS) only add their carrier's wire
format around it."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = ["AnswerStats", "CallScript", "CallerLine", "PhoneCallResult", "PhoneTurn", "Player"]


@dataclass(frozen=True)
class PhoneTurn:
    """Something the caller does, then waits for the bot's answer: speak *audio* (24 kHz
    int16) and/or press *keys*. With *barge_in_ms*, the next turn starts once that much of
    this answer has been played, over the bot."""

    label: str
    audio: np.ndarray | None = None
    keys: str = ""
    barge_in_ms: int | None = None
    wait_answer: bool = True


class CallScript(Protocol):
    """What the caller does in a call and how long it waits, whatever the carrier's options."""

    @property
    def turns(self) -> list[PhoneTurn]: ...
    @property
    def answer_timeout_s(self) -> float: ...
    @property
    def quiet_s(self) -> float: ...
    @property
    def hang_up_after_s(self) -> float | None: ...


@dataclass
class AnswerStats:
    label: str
    latency_ms: float | None = None
    received_ms: int = 0
    played_ms: int = 0
    cleared: bool = False
    heard_whole_answer: bool = False


@dataclass
class PhoneCallResult:
    said: list[str] = field(default_factory=list)
    twiml: list[str] = field(default_factory=list)
    outcome: str = ""
    dialed: str | None = None
    http_status: int | None = None
    stream_parameters: dict[str, str] = field(default_factory=dict)
    answers: list[AnswerStats] = field(default_factory=list)
    played: bytearray = field(default_factory=bytearray)
    marks_sent: int = 0
    clears: int = 0
    close_code: int | None = None
    failure: str | None = None


class Player:
    """The carrier's outbound playback: a buffer of audio (and Twilio's marks) played in real
    time; *bytes_per_ms* is 8 for Twilio's µ-law, 48 for ACS's PCM16 24 kHz."""

    def __init__(self, result: PhoneCallResult, bytes_per_ms: int = 8) -> None:
        self.result = result
        self.bytes_per_ms = bytes_per_ms
        self.queue: deque[bytes | str] = deque()  # audio bytes, or a mark name
        self.current: AnswerStats | None = None
        self.last_audio_at = 0.0

    def add_audio(self, data: bytes) -> None:
        self.queue.append(data)
        self.last_audio_at = time.monotonic()
        if self.current is not None:
            self.current.received_ms += len(data) // self.bytes_per_ms

    def add_mark(self, name: str) -> None:
        self.queue.append(name)

    def clear(self) -> list[str]:
        marks = [m for m in self.queue if isinstance(m, str)]
        self.queue.clear()
        if self.current is not None:
            self.current.cleared = True
        return marks

    def play(self, budget: int) -> list[str]:
        """Play up to *budget* bytes; the marks reached on the way."""
        echoed: list[str] = []
        while self.queue and (budget > 0 or isinstance(self.queue[0], str)):
            head = self.queue[0]
            if isinstance(head, str):
                echoed.append(head)
                self.queue.popleft()
                continue
            piece = head[:budget]
            self.result.played.extend(piece)
            if self.current is not None:
                self.current.played_ms += len(piece) // self.bytes_per_ms
            budget -= len(piece)
            if len(piece) == len(head):
                self.queue.popleft()
            else:
                self.queue[0] = head[len(piece) :]
        return echoed

    @property
    def idle(self) -> bool:
        return not any(isinstance(x, bytes) for x in self.queue)


class CallerLine:
    """What the carrier's media loop and the caller's turns share during one call: the frames
    the caller still has to say, the bot's playback, and when the caller stopped speaking."""

    def __init__(self, player: Player) -> None:
        self.player = player
        self.mic: deque[bytes] = deque()
        self.closed = asyncio.Event()
        self.mic_empty = asyncio.Event()
        self.spoken_end: list[float] = []

    def next_frame(self, silence: bytes) -> bytes:
        """The caller's next frame (*silence* when quiet); notes the end of speech."""
        frame = self.mic.popleft() if self.mic else silence
        if not self.mic and frame is not silence:
            if not self.spoken_end:
                self.spoken_end.append(time.monotonic())
            self.mic_empty.set()
        return frame

    def bot_audio(self, data: bytes) -> None:
        """Audio from the bot: the answer's latency once, then into the playback buffer."""
        current = self.player.current
        if current is not None and current.latency_ms is None:
            end = self.spoken_end[0] if self.spoken_end else time.monotonic()
            current.latency_ms = (time.monotonic() - end) * 1000
        self.player.add_audio(data)

    async def run_turns(
        self,
        turns: list[PhoneTurn],
        result: PhoneCallResult,
        note: Callable[[str, str], None],
        *,
        frames: Callable[[np.ndarray], list[bytes]],
        press: Callable[[str], Awaitable[None]],
        answer_timeout_s: float,
        quiet_s: float,
        hang_up_after_s: float | None,
    ) -> None:
        """The caller's turns: speak (*frames* cuts the audio in the carrier's frames), press
        keys (*press* sends one in the carrier's form), wait for each answer."""
        for turn in turns:
            stats = AnswerStats(turn.label)
            result.answers.append(stats)
            self.spoken_end.clear()
            if turn.audio is not None:
                note("caller", f"speaks: {turn.label}")
                self.mic_empty.clear()
                self.mic.extend(frames(turn.audio))
                await _first(self.mic_empty, self.closed)
            self.player.current = stats
            for digit in turn.keys:
                note("caller", f"presses {digit}")
                await press(digit)
                await asyncio.sleep(0.1)
            if turn.keys and not self.spoken_end:
                self.spoken_end.append(time.monotonic())
            if not turn.wait_answer:
                continue
            await _await_answer(
                turn,
                stats,
                self.player,
                self.closed,
                answer_timeout_s=answer_timeout_s,
                quiet_s=quiet_s,
            )
            note("bot", f"answer {stats.played_ms} ms played ({stats.received_ms} ms received)")
        if hang_up_after_s is not None:
            await asyncio.sleep(hang_up_after_s)

    async def finish(
        self,
        script: CallScript,
        result: PhoneCallResult,
        note: Callable[[str, str], None],
        *,
        frames: Callable[[np.ndarray], list[bytes]],
        press: Callable[[str], Awaitable[None]],
        listener: asyncio.Task[None],
        tasks: list[asyncio.Task[None]],
        hang_up: Callable[[], Awaitable[None]],
    ) -> None:
        """The rest of the call, whatever the carrier: the caller's turns (see ``run_turns``)
        until they end or *listener* (the task reading the carrier's socket) stops; a failure of
        the turns goes into ``result.failure``. A call still open is then ended by the caller
        (*hang_up*; outcome ``caller_hung_up``), else the bridge closed it (``bridge_closed``).
        Last, the carrier's *tasks* are cancelled and awaited."""
        try:
            turns = self.run_turns(
                script.turns,
                result,
                note,
                frames=frames,
                press=press,
                answer_timeout_s=script.answer_timeout_s,
                quiet_s=script.quiet_s,
                hang_up_after_s=script.hang_up_after_s,
            )
            conversation = asyncio.create_task(turns)
            done, _ = await asyncio.wait([conversation, listener], return_when="FIRST_COMPLETED")
            if conversation in done and (error := conversation.exception()) is not None:
                result.failure = f"{type(error).__name__}: {error}"
            if not self.closed.is_set():
                await hang_up()
                result.outcome = "caller_hung_up"
            else:
                result.outcome = "bridge_closed"
            conversation.cancel()
        finally:
            self.closed.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _await_answer(
    turn: PhoneTurn,
    stats: AnswerStats,
    player: Player,
    closed: asyncio.Event,
    *,
    answer_timeout_s: float,
    quiet_s: float,
) -> None:
    """Until the whole answer has been played (its ``answer-end`` mark reached), the barge-in
    point, or, for a bridge without answer marks (or a carrier without marks, ACS), *quiet_s*
    of silence after some audio."""
    deadline = time.monotonic() + answer_timeout_s
    while not closed.is_set():
        now = time.monotonic()
        if turn.barge_in_ms is not None and stats.played_ms >= turn.barge_in_ms:
            return
        if stats.heard_whole_answer:
            return
        if stats.received_ms and player.idle and now - player.last_audio_at >= quiet_s:
            return  # a bridge that does not mark answers: the bot stayed quiet long enough
        if now > deadline:
            raise TimeoutError(
                f"no complete answer to {turn.label!r} within {answer_timeout_s:.0f} s"
            )
        await asyncio.sleep(0.05)


async def _first(*events: asyncio.Event) -> None:
    """Until one of *events* is set."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
    finally:
        for waiter in waiters:
            waiter.cancel()
