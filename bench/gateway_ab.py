"""Two configurations of the session gateway compared in the same run (the recording and the
redaction benchmarks): the same streaming clients (:mod:`bench.gateway_load`) drive each in
turn, in CPU seconds at many sessions and in instructions (callgrind) at a few.

CPU seconds: gateway processes identical but for their :class:`Arm`, in front of the same echo
upstream per layout; the arms alternate, the first arm first in even rounds and the second first
in odd ones, so a drift of the machine's load hits both alike; each gateway's CPU is sampled
over the measured window only (after the warm-up: no handshakes). Instructions: the two arms
under ``valgrind --tool=callgrind`` (:mod:`bench.callgrind`), counted over the same kind of
window, divided by the messages relayed in it; a figure the machine's load does not move (the
CPU seconds of the same code moved 10-15% between rounds on the shared 2-core machine), which
leaves out cache misses and kernel time.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import callgrind
from bench.bench_gateway import _clean, _clients, _Gateway, _load
from bench.harness import BenchContext, stack
from switchboard.cli.stack import Service, free_port

__all__ = ["Arm", "CpuFigures", "cpu_per_session", "instructions_per_message"]

GATEWAY = "switchboard.gateway.main"


@dataclass(frozen=True)
class Arm:
    """One configuration of the gateway: its settings, or another entry point around its
    ``main`` (*module*)."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    module: str = GATEWAY


@dataclass
class CpuFigures:
    """ms of gateway CPU per second per session, per (layout, arm name); the load averages."""

    per_session: dict[tuple[str, str], float]
    loads: list[float]


async def cpu_per_session(
    ctx: BenchContext,
    *,
    label: str,
    arms: tuple[Arm, Arm],
    layouts: list[str],
    count: int,
    rounds: int,
    warmup_s: float,
    measure_s: float,
    chunk_ms: int = 40,
    after: Callable[[], Awaitable[None]] | None = None,
) -> CpuFigures:
    """Both *arms* on each echo layout (``python -m bench.gateway_load echo PORT layout``),
    *count* sessions, alternating for *rounds*; *after* runs before the processes stop."""
    namespace = f"{ctx.namespace}-{label}"
    processes = stack()
    gateways: dict[tuple[str, str], _Gateway] = {}
    echoes: dict[str, Service] = {}
    for layout in layouts:
        port = free_port()
        echoes[layout] = _load(processes, f"echo-{label}-{layout}", "echo", str(port), layout)
        for arm in arms:
            gateways[(layout, arm.name)] = _Gateway(
                processes,
                ctx,
                namespace,
                port,
                client="picows",  # the product's upstream client
                name=f"gateway-{label}-{layout}-{arm.name}",
                env={"GATEWAY_ID": f"bench-{label}-{layout}-{arm.name}", **arm.env},
                module=arm.module,
            )
    cpu = dict.fromkeys(gateways, 0.0)
    window = dict.fromkeys(gateways, 0.0)
    loads = [os.getloadavg()[0]]
    try:
        await processes.start()
        for round_ in range(rounds):
            order = list(gateways.items())
            if round_ % 2:  # the second arm first
                order = [order[i ^ 1] for i in range(len(order))]
            for (layout, arm_name), gateway in order:
                urls, headers = await gateway.targets(count)
                watched = {"echo": echoes[layout].pid, "relay": gateway.service.pid}
                level = await _clients(urls, headers, chunk_ms, warmup_s, measure_s, watched)
                cpu[(layout, arm_name)] += level.cpu_s["relay"]
                window[(layout, arm_name)] += level.window_s
                loads.append(os.getloadavg()[0])
                print(
                    f"  {layout}, {arm_name}: {level.cores('relay'):.3f} cores for {count} "
                    f"sessions, p99 {level.p(99):.2f} ms, load {loads[-1]:.1f}",
                    file=sys.stderr,
                )
        if after is not None:
            await after()
    finally:
        await asyncio.to_thread(processes.stop, grace_s=30)
        await _clean(ctx, namespace)
    return CpuFigures(
        {key: cpu[key] / window[key] / count * 1000 for key in gateways},
        loads,
    )


async def instructions_per_message(
    ctx: BenchContext,
    *,
    label: str,
    arms: tuple[Arm, Arm],
    layout: str,
    out: Path,
    sessions: int = 2,
    rounds: int = 2,
    warmup_s: float = 3.0,
    measure_s: float = 15.0,
    chunk_ms: int = 40,
) -> dict[str, list[float]] | None:
    """Instructions per relayed message of each arm (by name), one figure per round (after a
    warm-up round that is not counted); None when valgrind is not installed."""
    if not callgrind.available():
        print("  valgrind is not installed: instruction counts skipped", file=sys.stderr)
        return None
    namespace = f"{ctx.namespace}-{label}i"
    processes = stack(PYTHONHASHSEED="0")
    port = free_port()
    _load(processes, f"echo-{label}-{layout}-counted", "echo", str(port), layout)
    counted: dict[str, tuple[_Gateway, callgrind.Counters]] = {}
    for arm in arms:
        name = f"gateway-{label}-{arm.name}"
        gateway = _Gateway(
            processes,
            ctx,
            namespace,
            port,
            client="picows",
            name=name,
            wrapper=callgrind.wrapper(out, name),
            env={"GATEWAY_ID": f"bench-{name}-counted", **arm.env},
            module=arm.module,
        )
        counted[arm.name] = (gateway, callgrind.Counters(gateway.service, out))
    figures: dict[str, list[float]] = {arm.name: [] for arm in arms}

    async def measure(arm_name: str, window_s: float) -> float:
        gateway, counter = counted[arm_name]
        urls, headers = await gateway.targets(sessions)
        totals: list[int] = []

        async def on_phase(phase: str) -> None:
            if phase == "measure":
                await counter.zero()
            elif phase == "stop":
                totals.append(await counter.dump())

        level = await _clients(urls, headers, chunk_ms, warmup_s, window_s, {}, on_phase)
        return totals[0] / max(1, level.messages)

    try:
        await processes.start(timeout_s=300)
        for _, counter in counted.values():
            await counter.count_on()
        for arm in arms:  # warm-up, not counted
            await measure(arm.name, measure_s / 3)
        for round_ in range(rounds):
            order = arms if round_ % 2 == 0 else arms[::-1]
            for arm in order:
                figures[arm.name].append(await measure(arm.name, measure_s))
            print(
                f"  instructions per relayed message, {arms[0].name} / {arms[1].name}: "
                + " / ".join(f"{figures[a.name][-1] / 1000:.1f}k" for a in arms),
                file=sys.stderr,
            )
    finally:
        await asyncio.to_thread(processes.stop, grace_s=60)
        await _clean(ctx, namespace)
    return figures
