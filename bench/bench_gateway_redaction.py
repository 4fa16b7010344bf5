"""Session gateway with the publisher's redaction on and off: gateway CPU per relayed message,
same run (issue 21: "no measurable change at 300 sessions").

The gateway (redacting every event it publishes, as shipped) against the same gateway started
through :mod:`bench.gateway_unredacted` (the redactor taken out), both on the ``talk`` echo
(:mod:`bench.gateway_load`): 1 s answers, each with its transcript, the caller's transcription
and a ``response.done`` with usage, both transcripts holding an e-mail address, a phone and a
card number. So every answer publishes a user transcript, an assistant transcript and a usage
event that the redactor really rewrites, beside 50 relayed audio messages a second per session.
Figures: CPU per session and per relayed message in CPU seconds at many sessions
(:func:`bench.gateway_ab.cpu_per_session`), and instructions per relayed message under
callgrind at two sessions (:func:`bench.gateway_ab.instructions_per_message`), each with
redaction on over off. The target: no measurable change (on / off within the run's own spread,
and under 1% in instructions).
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

from bench.gateway_ab import Arm, cpu_per_session, instructions_per_message
from bench.harness import BenchContext, Result

BENCH = "gateway-redaction"
OUT = Path("bench-results") / "callgrind-redaction"
#: instructions: what "no measurable change" is held to
TARGET = 1.01
ARMS = (
    Arm("unredacted", module="bench.gateway_unredacted"),
    Arm("redacted"),
)


async def run(ctx: BenchContext) -> list[Result]:
    count = 100 if ctx.quick else 300
    warmup_s, measure_s = (3.0, 10.0) if ctx.quick else (5.0, 20.0)
    rounds = 2 if ctx.quick else 4
    cpu = await cpu_per_session(
        ctx,
        label="gwred",
        arms=ARMS,
        layouts=["talk"],
        count=count,
        rounds=rounds,
        warmup_s=warmup_s,
        measure_s=measure_s,
    )
    off, on = (cpu.per_session[("talk", arm.name)] for arm in ARMS)
    print(f"  redaction on/off CPU per session {on / off:.3f}x", file=sys.stderr)
    results = [
        Result(
            BENCH,
            f"gateway CPU per session, redaction on, 1 s answers with transcripts, {count} "
            "sessions",
            on,
            "ms/s",
            off,
            "redaction off",
            notes=f"{rounds} alternating rounds of {measure_s:g} s; 3 published events per "
            f"answer, 50 relayed messages per session-second; load average "
            f"{min(cpu.loads):.1f}-{max(cpu.loads):.1f} on {os.cpu_count()} CPUs",
        )
    ]
    figures = await instructions_per_message(
        ctx, label="red", arms=ARMS, layout="talk", out=OUT, rounds=rounds
    )
    if figures is not None:
        off_runs, on_runs = figures["unredacted"], figures["redacted"]
        ratio = statistics.mean(on_runs) / statistics.mean(off_runs)
        print(f"  redaction on/off instructions per message {ratio:.4f}x", file=sys.stderr)
        results.append(
            Result(
                BENCH,
                "gateway instructions per relayed message, redaction on, 1 s answers with "
                "transcripts, 2 sessions (callgrind)",
                statistics.mean(on_runs) / 1000,
                "k instr",
                statistics.mean(off_runs) / 1000,
                "redaction off",
                target=f"<= {TARGET}x off",
                met=ratio <= TARGET,
                notes="per-round ratios "
                + ", ".join(f"{b / a:.4f}" for a, b in zip(off_runs, on_runs, strict=True))
                + "; picows upstream; instructions, not seconds",
            )
        )
    return results
