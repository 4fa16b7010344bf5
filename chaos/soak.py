"""The soak: many streaming callers for minutes; memory must stay flat, errors absent, latency
stable, every event stored. Resident memory of every service and the machine's load average are
sampled as it goes; latency percentiles are compared between the first and the last third of
the run; events the broker accepted are counted against those the store holds afterwards."""

from __future__ import annotations

import asyncio
import os

from chaos.report import FaultRow
from chaos.scenarios import Ctx, effects, settle
from switchboard.cli.loadtest import LoadTest, demo_callers, percentile

__all__ = ["soak"]

#: Memory may grow this much from the sample after warm-up to the last one before it counts as
#: not flat (allocators keep some pages; a leak grows with the number of calls).
FLAT_GROWTH = 0.20


async def soak(ctx: Ctx, *, callers: int, minutes: float) -> FaultRow:
    duration = minutes * 60
    mode = ", speech-free emulator" if ctx.typed_words else ""
    row = FaultRow(fault="soak", load=f"{callers} callers/{minutes:g}min{mode}")
    test = LoadTest(
        callers=demo_callers(callers),
        endpoint_for=ctx.endpoint_for,
        duration_s=duration,
        ramp_s=min(60.0, duration / 5),
        turn_timeout_s=max(60.0, ctx.turn_timeout_s),
        typed_words=ctx.typed_words,
    )
    await test.prepare()
    window = ctx.witness.open_window()
    loads: list[float] = [os.getloadavg()[0]]
    services = [
        s
        for s in (*ctx.stack.gateways, *ctx.stack.workers, ctx.stack.store, ctx.stack.emulator)
        if s
    ]
    samples: dict[str, list[int]] = {s.name: [] for s in services}
    marks: list[int] = []
    run = asyncio.create_task(test.run())
    interval = max(5.0, duration / 20)
    while not run.done():
        await asyncio.wait([run], timeout=interval)
        for service in services:
            rss = service.rss_kib()
            if rss is not None:
                samples[service.name].append(rss)
        marks.append(len(test.report.latencies_ms))
        loads.append(os.getloadavg()[0])
    report = run.result()
    stored, settle_s = await settle(ctx, window)
    effects_after = await effects(ctx)
    row.events_published = len(window.event_ids)
    row.events_stored = len(stored & window.event_ids)
    row.lost = len(window.event_ids - stored)
    row.duplicated = effects_after.twice  # orders cancelled or returned twice, ever
    lat = report.latencies_ms
    third = len(lat) // 3
    early, late = lat[:third], lat[-third:] if third else []
    p95_early, p95_late = percentile(early, 95), percentile(late, 95)
    row.calls = report.calls_started
    row.errors = report.calls_failed + sum(report.errors.values())
    growth: dict[str, float] = {}
    for name, values in samples.items():
        if len(values) >= 3:
            warm = values[len(values) // 4]  # after warm-up (models loaded, pools filled)
            growth[name] = (values[-1] - warm) / warm
            row.note(
                f"{name}: RSS {values[0] // 1024} → {values[-1] // 1024} MiB (after warm-up {warm // 1024} MiB, {growth[name]:+.0%})"
            )
    row.note(
        f"turns {report.turns}, reply latency p50 {percentile(lat, 50)} ms, "
        f"p95 first third {p95_early} ms vs last third {p95_late} ms"
    )
    row.note(
        f"calls completed {report.calls_completed}/{report.calls_started}, no reply in time "
        f"{report.turns_without_reply}, tool calls {dict(report.tool_calls)}, tool refusals "
        f"{dict(report.tool_failures)}; store caught up {settle_s:.1f}s after the load"
    )
    row.note(
        f"load average (1 min) {loads[0]:.1f} at the start, peak {max(loads):.1f}, "
        f"{loads[-1]:.1f} at the end"
    )
    if window.unended:
        row.note(f"{len(window.unended)} session(s) started but never ended")
    if report.errors:
        row.note(f"errors: {dict(report.errors)}")
    stable = p95_early is not None and p95_late is not None and p95_late <= 1.5 * p95_early + 100
    flat = all(g <= FLAT_GROWTH for g in growth.values())
    row.condition = stable and flat
    row.passed = (
        row.errors == 0
        and stable
        and flat
        and report.calls_completed > 0
        and row.lost == 0
        and row.duplicated == 0
        and not window.unended
    )
    return row
