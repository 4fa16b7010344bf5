"""Session gateway: **instructions** per relayed message against the pass-through relays, counted
by callgrind, so the CPU comparison holds on a loaded machine.

``bench_gateway`` measures CPU seconds per message, which on a shared 2-core machine moved
between 0.67x and 2.5x the pass-through's for the same code. Here the gateway, the framework
pass-through and the raw ASGI pass-through (``bench.gateway_load``) each run under
``valgrind --tool=callgrind`` (:mod:`bench.callgrind`); the same streaming clients drive each
in turn at a few sessions (valgrind runs them tens of times slower), and the instructions each
executes in the measured window are divided by the messages relayed in it (chunks up plus
deltas down). A first round warms each process up and is not counted; the next rounds give the
figure and its spread. The target is the issue's: the gateway's cost per relayed message at
40 ms chunks ≤ the pass-through's on the same upstream client (the gateway on ``websockets``
against the framework pass-through, the gateway on picows, ``UPSTREAM_WS_CLIENT=picows``,
against the raw pass-through on picows).
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import callgrind
from bench.bench_gateway import _LOAD, _clean, _clients, _Gateway, _load, _plain
from bench.harness import BenchContext, Result, stack
from switchboard.cli.stack import free_port

BENCH = "gateway"
OUT = Path("bench-results") / "callgrind"
_PICOWS_GATEWAY = "gateway, picows upstream"
_PICOWS_RAW = "raw pass-through, picows"
_PASSTHROUGHS = (
    ("pass-through", "framework"),
    ("raw pass-through", "raw"),
    (_PICOWS_RAW, "raw-picows"),
)
#: what each gateway figure is held to: the framework pass-through on the same upstream client
_BASELINES = {
    "gateway": "pass-through",
    "gateway, item per delta": "gateway",
    _PICOWS_GATEWAY: _PICOWS_RAW,
}


@dataclass
class Relay:
    name: str
    process: callgrind.Counters
    port: int
    gateway: _Gateway | None = None


async def _measure(
    relay: Relay, sessions: int, chunk_ms: int, warmup_s: float, measure_s: float
) -> float:
    """Instructions per relayed message over one measured window."""
    if relay.gateway is not None:
        urls, headers = await relay.gateway.targets(sessions)
    else:
        urls, headers = _plain(relay.port, sessions)
    counted: list[int] = []

    async def on_phase(phase: str) -> None:
        if phase == "measure":
            await relay.process.zero()
        elif phase == "stop":
            counted.append(await relay.process.dump())

    level = await _clients(urls, headers, chunk_ms, warmup_s, measure_s, {}, on_phase)
    return counted[0] / max(1, level.messages)


async def run(ctx: BenchContext) -> list[Result]:
    if not callgrind.available():
        print("  valgrind is not installed: instruction counts skipped", file=sys.stderr)
        return []
    rounds = 2 if ctx.quick else 3
    warmup_s, measure_s = (3.0, 6.0) if ctx.quick else (4.0, 12.0)
    # valgrind runs the relays tens of times slower: a few sessions keep them at real-time pace
    plan = [(40, 2), (100, 4)]
    namespace = f"{ctx.namespace}-gwi"
    shutil.rmtree(OUT, ignore_errors=True)  # the dumps of an earlier run
    processes = stack(PYTHONHASHSEED="0")
    echo_port, echo_delta_port = free_port(), free_port()
    _load(processes, "echo", "echo", str(echo_port), "response")
    _load(processes, "echo-delta", "echo", str(echo_delta_port), "delta")
    relays: list[Relay] = []
    for name, mode in _PASSTHROUGHS:
        port = free_port()
        service = processes.add(
            mode,
            _LOAD,
            module=_LOAD,
            env={},
            health_url=None,
            args=("passthrough", str(port), str(echo_port), mode),
            wrapper=callgrind.wrapper(OUT, mode),
            ready_port=port,
        )
        relays.append(Relay(name, callgrind.Counters(service, OUT), port))
    gateways = (
        ("gateway", echo_port, "websockets"),
        ("gateway, item per delta", echo_delta_port, "websockets"),
        (_PICOWS_GATEWAY, echo_port, "picows"),
    )
    for name, upstream, client in gateways:
        label = f"gateway-{upstream}-{client}"
        gateway = _Gateway(
            processes,
            ctx,
            namespace,
            upstream,
            client=client,
            name=label,
            wrapper=callgrind.wrapper(OUT, label),
        )
        relays.append(Relay(name, callgrind.Counters(gateway.service, OUT), gateway.port, gateway))
    figures: dict[tuple[str, int, int], list[float]] = {}
    try:
        await processes.start(timeout_s=300)
        for relay in relays:
            await relay.process.count_on()
        for chunk_ms, sessions in plan:
            for relay in relays:
                if relay.name.endswith("item per delta") and chunk_ms != 40:
                    continue
                await _measure(relay, sessions, chunk_ms, warmup_s, measure_s / 2)  # warm-up
                got = figures[(relay.name, chunk_ms, sessions)] = []
                for _ in range(rounds):
                    got.append(await _measure(relay, sessions, chunk_ms, warmup_s, measure_s))
                print(
                    f"  {relay.name}, {chunk_ms} ms x {sessions}: "
                    + ", ".join(f"{v / 1000:.1f}k" for v in got)
                    + " instructions per message",
                    file=sys.stderr,
                )
    finally:
        await asyncio.to_thread(processes.stop, grace_s=60)
        await _clean(ctx, namespace)
    return _results(figures)


def _results(figures: dict[tuple[str, int, int], list[float]]) -> list[Result]:
    results: list[Result] = []
    for (name, chunk_ms, sessions), values in figures.items():
        if not name.startswith("gateway"):
            continue
        base_name = _BASELINES[name]
        base = figures.get((base_name, chunk_ms, sessions))
        raw = figures.get(("raw pass-through", chunk_ms, sessions))
        picows_raw = figures.get((_PICOWS_RAW, chunk_ms, sessions))
        value = statistics.mean(values)
        baseline = statistics.mean(base) if base else None
        spread = (max(values) - min(values)) / value * 100
        notes = f"{len(values)} rounds, spread {spread:.1f}%; callgrind, instructions not seconds"
        if raw and name in ("gateway", _PICOWS_GATEWAY):
            notes += f"; raw ASGI pass-through {statistics.mean(raw) / 1000:.1f}k"
        if picows_raw and name == "gateway":
            notes += f"; raw pass-through on picows {statistics.mean(picows_raw) / 1000:.1f}k"
        held = name in ("gateway", _PICOWS_GATEWAY) and chunk_ms == 40
        target = f"<= {base_name}" if held else None
        results.append(
            Result(
                BENCH,
                f"{name}: instructions per relayed message, {chunk_ms} ms chunks, "
                f"{sessions} sessions",
                value / 1000,
                "k instr",
                baseline / 1000 if baseline is not None else None,
                base_name,
                target=target,
                met=(value <= baseline) if target and baseline is not None else None,
                notes=notes,
            )
        )
    return results
