"""The worker bench's table: baselines, the broker's floor under each configuration, each
candidate's figures, and the chosen configuration against the targets of issue 22."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bench.harness import Result, percentile
from bench.worker_cprofile import Profile
from bench.worker_floor import Transport

__all__ = ["Measured", "results"]

BENCH = "worker"


@dataclass
class Measured:
    """One configuration's figures."""

    latencies: list[float] = field(default_factory=list)
    one_rate: float = 0.0
    cpu_per_call: float = 0.0  # seconds, the worker process
    two_rate: float = 0.0
    two_cpu_per_call: float = 0.0  # seconds, both processes together
    shares: dict[str, float] = field(default_factory=dict)  # calls answered by each process
    cpu_shares: dict[str, float] = field(default_factory=dict)  # CPU seconds of each process


def _floor_of(
    floors: dict[Transport, tuple[list[float], float]], t: Transport
) -> tuple[list[float], float]:
    return next(v for f, v in floors.items() if f.broker_side == t.broker_side)


def results(
    *,
    chosen_transport: Transport,
    concurrency: int,
    local_rate: float,
    local_cpu: float,
    floors: dict[Transport, tuple[list[float], float]],
    measured: dict[Transport, Measured],
    profile: Profile,
    local_pct: tuple[float, float],
) -> list[Result]:
    local_p50, local_p99 = local_pct
    chosen_transport = chosen_transport
    concurrency = concurrency
    cores = os.cpu_count() or 1
    shared = (
        f"{cores} CPU(s) shared by the bench's client, RabbitMQ, Postgres and the workers "
        "(and whatever else runs on the machine)"
    )
    rows = [
        Result(BENCH, "in-process p50", local_p50, "ms", notes="executor called directly"),
        Result(BENCH, "in-process p99", local_p99, "ms"),
        Result(
            BENCH, "in-process throughput", local_rate, "calls/s", notes=f"{concurrency} in flight"
        ),
        Result(BENCH, "in-process CPU per call", local_cpu * 1000, "ms"),
    ]
    for f, (lat, rate) in floors.items():
        rows.append(
            Result(
                BENCH,
                f"floor {f.label}: round trip p50",
                percentile(lat, 50),
                "ms",
                notes=f"bare aio-pika echo RPC; p99 {percentile(lat, 99):.2f} ms",
            )
        )
        rows.append(
            Result(BENCH, f"floor {f.label}: calls/s", rate, "calls/s", notes="one process")
        )
    for t, m in measured.items():
        f_lat, f_rate = _floor_of(floors, t)
        p50, p99 = percentile(m.latencies, 50), percentile(m.latencies, 99)
        rows += [
            Result(
                BENCH,
                f"{t.label}: p50 overhead",
                p50 - local_p50,
                "ms",
                percentile(f_lat, 50),
                "floor p50",
            ),
            Result(
                BENCH,
                f"{t.label}: p99 overhead",
                p99 - local_p99,
                "ms",
                percentile(f_lat, 99),
                "floor p99",
            ),
            Result(BENCH, f"{t.label}: calls/s, 1 process", m.one_rate, "calls/s", f_rate, "floor"),
            Result(
                BENCH,
                f"{t.label}: calls/s, 2 processes",
                m.two_rate,
                "calls/s",
                m.one_rate,
                "1 process",
                notes=_shares(m),
            ),
            Result(
                BENCH,
                f"{t.label}: worker CPU per call",
                m.cpu_per_call * 1000,
                "ms",
                local_cpu * 1000,
                "in-process",
            ),
        ]
    chosen = measured[chosen_transport]
    f_lat, _ = _floor_of(floors, chosen_transport)
    p50_over = percentile(chosen.latencies, 50) - local_p50
    p99_over = percentile(chosen.latencies, 99) - local_p99
    floor_p50 = percentile(f_lat, 50)
    capacity = 1 / chosen.cpu_per_call if chosen.cpu_per_call else float("nan")
    label = f"chosen ({chosen_transport.label}/prefetch {chosen_transport.prefetch})"
    rows += [
        Result(
            BENCH,
            f"{label}: p50 overhead over in-process",
            p50_over,
            "ms",
            floor_p50,
            "bare floor p50",
            target="<= 1.0 ms and <= floor + 0.5 ms",
            met=p50_over <= 1.0 and p50_over <= floor_p50 + 0.5,
        ),
        Result(
            BENCH,
            f"{label}: p99 overhead over in-process",
            p99_over,
            "ms",
            target="<= 5 ms",
            met=p99_over <= 5.0,
        ),
        Result(
            BENCH,
            f"{label}: throughput, 1 worker process",
            chosen.one_rate,
            "calls/s",
            local_rate,
            "in-process",
            target=">= 1500/s per process",
            met=chosen.one_rate >= 1500,
            notes=shared,
        ),
        Result(
            BENCH,
            f"{label}: capacity per worker process",
            capacity,
            "calls/CPU-s",
            1 / local_cpu if local_cpu else None,
            "in-process",
            target=">= 1500/s per process",
            met=capacity >= 1500,
            notes="calls one fully used core would carry: 1 / worker CPU per call",
        ),
        Result(
            BENCH,
            f"{label}: throughput, 2 worker processes",
            chosen.two_rate,
            "calls/s",
            chosen.one_rate,
            "1 worker process",
            target="> 1 process",
            met=chosen.two_rate > chosen.one_rate,
            notes=_shares(chosen),
        ),
        Result(
            BENCH,
            f"{label}: the tool's share of the worker's time",
            100 * profile.tool_share,
            "%",
            notes=(
                f"cProfile (CPU time) of one worker over {profile.calls} calls, per call: "
                f"{profile.summary()} (profiler overhead included)"
            ),
        ),
    ]
    return rows


def _shares(m: Measured) -> str:
    calls = ", ".join(f"{w} {100 * s:.0f}%" for w, s in m.shares.items())
    cpu = ", ".join(f"{w} {s:.2f}s" for w, s in m.cpu_shares.items())
    return f"calls answered: {calls}; CPU: {cpu}; {m.two_cpu_per_call * 1000:.2f} ms CPU per call"
