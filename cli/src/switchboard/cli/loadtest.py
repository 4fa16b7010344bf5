"""``switchboard loadtest``: many synthetic callers at once, each a real voice call with real
speech through the gateway, and a summary of reply latency, tool calls and errors.

Every caller is a distinct customer asking about one of their own orders (taken from the
deterministic demo data), so tools answer from the database as they would for real shoppers and
the per-customer session limit is never what is measured. A caller hangs up after its turns and
calls again until the test's duration is over.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TextIO

import numpy as np

from switchboard.cli.call import CallOptions, Turn, run_call
from switchboard.cli.callstate import CallState
from switchboard.cli.endpoint import Endpoint, EndpointError
from switchboard.contracts.tools import CONFIRM_ACTION_TOOL
from switchboard.db.shop import NOT_SHIPPED

__all__ = [
    "Caller",
    "LoadReport",
    "LoadTest",
    "demo_callers",
    "demo_cancel_callers",
    "percentile",
    "render_summary",
]

QUESTIONS = (
    "Where is my order {order}?",
    "What is the status of order {order}?",
    "Can you check order {order} for me?",
)
#: A request the emulator's policy answers with ``cancel_order`` (the reason after "because"),
#: once the caller confirms it (the bot reads a change back and waits for a yes).
CANCEL_REQUEST = "Please cancel order {order}, because I ordered it twice."
CONFIRM = "Yes, please."
GOODBYE = "Thank you, goodbye."


@dataclass(frozen=True)
class Caller:
    customer_id: str
    question: str
    #: what the caller says next (a yes to the bot's confirmation), if anything
    follow_up: str | None = None


@functools.cache
def _demo_orders(customers: int, orders: int) -> list[dict[str, Any]]:
    """The seed's deterministic orders (the same sizes as ``switchboard seed``), in order; built
    once per process (the chaos runner asks for new cancellers before every fault)."""
    from switchboard.cli.seed import build_dataset

    return build_dataset(as_of=date(2026, 11, 1), customers=customers, orders=orders).orders


def demo_callers(count: int, *, customers: int = 1000, orders: int = 10000) -> list[Caller]:
    """*count* callers, each a distinct seeded customer asking about one of their own orders.

    Uses the seed's deterministic generator, so it needs no database access; customers are
    cycled when *count* exceeds those with orders."""
    first_order: dict[str, int] = {}
    for order in _demo_orders(customers, orders):
        first_order.setdefault(order["customer_id"], order["id"])
    owners = sorted(first_order)
    callers = []
    for index in range(count):
        customer = owners[index % len(owners)]
        question = QUESTIONS[index % len(QUESTIONS)].format(order=first_order[customer])
        callers.append(Caller(customer, question))
    return callers


def demo_cancel_callers(
    count: int,
    *,
    start: int = 0,
    exclude: frozenset[str] = frozenset(),
    customers: int = 1000,
    orders: int = 10000,
) -> list[Caller]:
    """*count* callers, each a distinct seeded customer (none in *exclude*) asking to cancel one
    of their own orders that has not shipped (placed or packed in the seed): a tool call that
    changes the database. Orders are taken in a fixed order from the *start*-th on, so batches
    with successive starts cancel different orders (cycled when they run out). Cancelling
    changes the shop's data: meant for a database of the test's own."""
    cancellable: dict[str, int] = {}
    for order in _demo_orders(customers, orders):
        if order["status"] in NOT_SHIPPED and order["customer_id"] not in exclude:
            cancellable.setdefault(order["customer_id"], order["id"])
    pairs = sorted(cancellable.items(), key=lambda pair: pair[1])
    if count > len(pairs):
        raise ValueError(f"only {len(pairs)} customers have an order to cancel, not {count}")
    chosen = [pairs[(start + i) % len(pairs)] for i in range(count)]
    return [
        Caller(customer, CANCEL_REQUEST.format(order=order), follow_up=CONFIRM)
        for customer, order in chosen
    ]


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(np.ceil(pct / 100 * len(ordered))))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LoadReport:
    sessions: int
    duration_s: float
    calls_started: int = 0
    calls_completed: int = 0
    calls_failed: int = 0
    turns: int = 0
    turns_without_reply: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    connect_ms: list[float] = field(default_factory=list)
    tool_calls: Counter[str] = field(default_factory=Counter)
    tool_failures: Counter[str] = field(default_factory=Counter)
    #: changes the callers heard confirmed (``confirm_action`` answered ok), by the tool whose
    #: proposal was confirmed: a data-changing tool's own success is only its proposal
    confirmed: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    #: calls that went on over a new connection after theirs was lost (and how many times)
    calls_resumed: int = 0
    resumes: int = 0
    elapsed_s: float = 0.0
    peak_active: int = 0

    def as_dict(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "sessions": self.sessions,
            "duration_s": self.duration_s,
            "elapsed_s": round(self.elapsed_s, 2),
            "peak_active": self.peak_active,
            "calls": {
                "started": self.calls_started,
                "completed": self.calls_completed,
                "failed": self.calls_failed,
                "resumed": self.calls_resumed,
            },
            "resumes": self.resumes,
            "turns": {"total": self.turns, "without_reply": self.turns_without_reply},
            "latency_ms": {
                "count": len(lat),
                **{f"p{p}": _r(percentile(lat, p)) for p in (50, 90, 95, 99)},
                "max": _r(max(lat) if lat else None),
            },
            "connect_ms": {
                "p50": _r(percentile(self.connect_ms, 50)),
                "p95": _r(percentile(self.connect_ms, 95)),
            },
            "tool_calls": dict(self.tool_calls),
            "tool_failures": dict(self.tool_failures),
            "confirmed": dict(self.confirmed),
            "errors": dict(self.errors),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class LoadTest:
    """Runs *callers* concurrently for *duration_s*, starting them over *ramp_s*."""

    def __init__(
        self,
        *,
        callers: list[Caller],
        endpoint_for: Callable[[str], Awaitable[Endpoint]],
        duration_s: float,
        ramp_s: float = 0.0,
        turn_timeout_s: float = 30.0,
        goodbye: bool = True,
        typed_words: bool = False,
        resume_for: Callable[[str, str], Awaitable[Endpoint]] | None = None,
    ) -> None:
        self.callers = callers
        self.endpoint_for = endpoint_for
        #: (customer id, Switchboard session id) -> an endpoint resuming that conversation: set,
        #: a caller whose connection drops (or whose gateway hands it over) resumes by itself
        self.resume_for = resume_for
        self.duration_s = duration_s
        self.ramp_s = ramp_s
        self.turn_timeout_s = turn_timeout_s
        self.goodbye = goodbye
        #: type each turn's words before saying them (for an emulator with EMULATOR_SPEECH=text)
        self.typed_words = typed_words
        self.report = LoadReport(sessions=len(callers), duration_s=duration_s)
        self.active = 0
        self.live: set[CallState] = set()
        self._audio: dict[str, np.ndarray] = {}

    async def prepare(self) -> None:
        """Synthesise every distinct sentence once (off the event loop)."""
        from switchboard.cli.synth import synthesize

        texts = sorted(
            {c.question for c in self.callers}
            | {c.follow_up for c in self.callers if c.follow_up}
            | ({GOODBYE} if self.goodbye else set())
        )
        for text in texts:
            self._audio[text] = await asyncio.to_thread(synthesize, text)

    async def _one_call(self, caller: Caller) -> None:
        report = self.report
        report.calls_started += 1
        said = [caller.question, *([caller.follow_up] if caller.follow_up else [])]
        said += [GOODBYE] if self.goodbye else []
        turns = [Turn(text, self._audio[text], text if self.typed_words else None) for text in said]
        try:
            endpoint = await self.endpoint_for(caller.customer_id)
            state = CallState()
            self.live.add(state)
            try:
                resume = (
                    functools.partial(self.resume_for, caller.customer_id)
                    if self.resume_for is not None
                    else None
                )
                result = await run_call(
                    CallOptions(
                        endpoint=endpoint,
                        turns=turns,
                        turn_timeout_s=self.turn_timeout_s,
                        resume=resume,
                    ),
                    state=state,
                )
            finally:
                self.live.discard(state)
        except EndpointError as exc:
            report.calls_failed += 1
            report.errors[_classify(str(exc))] += 1
            return
        except Exception as exc:  # one caller's surprise must not end the test
            report.calls_failed += 1
            report.errors[f"client:{type(exc).__name__}"] += 1
            return
        state = result.state
        report.connect_ms.append(result.connect_ms)
        if result.resumes:
            report.calls_resumed += 1
            report.resumes += result.resumes
        for turn in state.turns:
            report.turns += 1
            if turn.latency_ms is not None:
                report.latencies_ms.append(turn.latency_ms)
            if turn.timed_out:
                report.turns_without_reply += 1
        for tool in state.tools():
            report.tool_calls[tool.tool] += 1
            if tool.ok is False:
                report.tool_failures[f"{tool.tool}:{tool.error_code}"] += 1
            elif tool.tool == CONFIRM_ACTION_TOOL and tool.card and tool.card.get("tool"):
                report.confirmed[str(tool.card["tool"])] += 1
        for error in state.errors:
            report.errors[str(error.get("code") or error.get("type"))] += 1
        if result.failure or any(t.timed_out for t in state.turns):
            report.calls_failed += 1
            if result.failure:
                code = result.close_code
                report.errors[
                    "no_session_created" if code in (1000, 1005, None) else f"closed_{code}"
                ] += 1
        else:
            report.calls_completed += 1

    async def _caller(self, index: int, caller: Caller, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        if self.ramp_s > 0 and len(self.callers) > 1:
            await asyncio.sleep(self.ramp_s * index / (len(self.callers) - 1))
        while loop.time() < deadline:
            self.active += 1
            self.report.peak_active = max(self.report.peak_active, self.active)
            try:
                await self._one_call(caller)
            finally:
                self.active -= 1
            await asyncio.sleep(0.5)  # a caller does not redial instantly

    async def run(self, *, progress: Callable[[LoadTest, float], None] | None = None) -> LoadReport:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.duration_s
        tasks = [
            asyncio.create_task(self._caller(i, c, deadline)) for i, c in enumerate(self.callers)
        ]
        while not all(t.done() for t in tasks):
            await asyncio.wait(tasks, timeout=1.0)
            if progress is not None:
                progress(self, loop.time() - started)
        for task in tasks:
            task.result()
        self.report.elapsed_s = loop.time() - started
        return self.report


def _classify(message: str) -> str:
    for marker, code in (
        ("HTTP 401", "refused_401"),
        ("HTTP 403", "refused_403"),
        ("HTTP 429", "refused_429"),
        ("HTTP 503", "refused_503"),
        ("answered 4", "secret_refused"),
        ("answered 5", "secret_server_error"),
        ("cannot", "unreachable"),
    ):
        if marker in message:
            return code
    return "connect_failed"


def progress_line(test: LoadTest, elapsed: float) -> str:
    r = test.report
    live = [t.latency_ms for s in test.live for t in s.turns if t.latency_ms is not None]
    latencies = r.latencies_ms + live
    p50 = percentile(latencies, 50)
    p95 = percentile(latencies, 95)
    lat = "-" if p50 is None else f"{p50:.0f}/{p95:.0f} ms"
    return (
        f"[{elapsed:5.0f}s/{test.duration_s:.0f}s] active {test.active:>3}/{len(test.callers)}"
        f"  calls {r.calls_completed} ok {r.calls_failed} failed  turns answered {len(latencies)}"
        f"  latency p50/p95 {lat}  tools {sum(r.tool_calls.values())}"
        f"  errors {sum(r.errors.values())}"
    )


def render_summary(report: LoadReport, out: TextIO = sys.stdout) -> None:
    doc = report.as_dict()
    lat = doc["latency_ms"]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    rows = [
        ("callers (concurrent)", f"{report.sessions} (peak {report.peak_active})"),
        ("duration", f"{report.elapsed_s:.1f} s (asked {report.duration_s:.0f} s)"),
        (
            "calls",
            f"{report.calls_started} started, {report.calls_completed} completed, {report.calls_failed} failed"
            + (f", {report.calls_resumed} resumed" if report.calls_resumed else ""),
        ),
        ("turns", f"{report.turns} ({report.turns_without_reply} without reply)"),
        (
            "reply latency",
            f"p50 {ms(lat['p50'])}  p90 {ms(lat['p90'])}  p95 {ms(lat['p95'])}  p99 {ms(lat['p99'])}  max {ms(lat['max'])}  (n={lat['count']})",
        ),
        ("connect", f"p50 {ms(doc['connect_ms']['p50'])}  p95 {ms(doc['connect_ms']['p95'])}"),
        ("tool calls", ", ".join(f"{k} {v}" for k, v in report.tool_calls.most_common()) or "none"),
        (
            "tool failures",
            ", ".join(f"{k} {v}" for k, v in report.tool_failures.most_common()) or "none",
        ),
        ("errors", ", ".join(f"{k} {v}" for k, v in report.errors.most_common()) or "none"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\nload test summary", file=out)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}", file=out)
    print(
        "  (reply latency: end of the caller's speech → first reply audio, incl. the 500 ms end-of-turn silence)",
        file=out,
    )


def dump_json(report: LoadReport, target: str) -> None:
    text = json.dumps(
        {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **report.as_dict()}, indent=2
    )
    if target == "-":
        print(text)
    else:
        with open(target, "w") as fh:
            fh.write(text + "\n")
