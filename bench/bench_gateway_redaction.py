"""Session gateway with the publisher's redaction on and off: gateway CPU per relayed message,
same run (issue 21: "no measurable change at 300 sessions").

The gateway (redacting every event it publishes, as shipped) against the same gateway started
through :mod:`bench.gateway_unredacted` (the redactor taken out), both on the ``talk`` echoes
(:mod:`bench.gateway_load`): answers with their transcript, the caller's transcription and a
``response.done`` with usage, both transcripts holding an e-mail address, a phone and a card
number, so every answer publishes a user transcript, an assistant transcript and a usage event
that the redactor really rewrites, beside 50 relayed audio messages a second per session. Two
layouts, as in the recording bench: answers of 5 s (a turn every 5 s, still pessimistic: every
turn full of personal data; the figure held to the target) and of 1 s back to back (the worst
case, reported without a target).
Figures: CPU per session and per relayed message in CPU seconds at many sessions
(:func:`bench.gateway_ab.cpu_per_session`), and instructions per relayed message under
callgrind at two sessions (:func:`bench.gateway_ab.instructions_per_message`), each with
redaction on over off. The target, for 5 s answers: no measurable change (under 1% in
instructions, over 4 alternating rounds of 30 s, 6 in a full run; the CPU seconds are printed
beside them with the run's load).
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


#: callgrind rounds (quick, full) and each round's window
INSTRUCTION_ROUNDS = {True: 4, False: 6}
INSTRUCTION_WINDOW_S = 30.0


#: echo layout -> what the rows call it, and whether the target applies
LAYOUTS = {"talk": ("5 s answers", True), "talk-1s": ("1 s answers, worst case", False)}


async def run(ctx: BenchContext) -> list[Result]:
    count = 100 if ctx.quick else 300
    warmup_s, measure_s = (3.0, 10.0) if ctx.quick else (5.0, 20.0)
    rounds = 2 if ctx.quick else 4
    cpu = await cpu_per_session(
        ctx,
        label="gwred",
        arms=ARMS,
        layouts=list(LAYOUTS),
        count=count,
        rounds=rounds,
        warmup_s=warmup_s,
        measure_s=measure_s,
    )
    results = []
    for layout, (label, _) in LAYOUTS.items():
        off, on = (cpu.per_session[(layout, arm.name)] for arm in ARMS)
        print(f"  {label}: redaction on/off CPU per session {on / off:.3f}x", file=sys.stderr)
        results.append(
            Result(
                BENCH,
                f"gateway CPU per session, redaction on, {label} with transcripts, {count} "
                "sessions",
                on,
                "ms/s",
                off,
                "redaction off",
                notes=f"{rounds} alternating rounds of {measure_s:g} s; 3 published events per "
                f"answer, 50 relayed messages per session-second; load average "
                f"{min(cpu.loads):.1f}-{max(cpu.loads):.1f} on {os.cpu_count()} CPUs",
            )
        )
    layouts = ["talk"] if ctx.quick else list(LAYOUTS)
    for layout in layouts:
        # a difference of about 1% needs long windows: a 15 s round moves by 1-2% on its own
        # (how the relay's reads happen to batch), a 30 s one by under 1%
        figures = await instructions_per_message(
            ctx,
            label=f"red-{layout}",
            arms=ARMS,
            layout=layout,
            out=OUT,
            rounds=INSTRUCTION_ROUNDS[ctx.quick],
            measure_s=INSTRUCTION_WINDOW_S,
        )
        if figures is None:
            break
        label, targeted = LAYOUTS[layout]
        off_runs, on_runs = figures["unredacted"], figures["redacted"]
        ratio = statistics.mean(on_runs) / statistics.mean(off_runs)
        print(f"  {label}: redaction on/off instructions {ratio:.4f}x", file=sys.stderr)
        results.append(
            Result(
                BENCH,
                f"gateway instructions per relayed message, redaction on, {label} with "
                "transcripts, 2 sessions (callgrind)",
                statistics.mean(on_runs) / 1000,
                "k instr",
                statistics.mean(off_runs) / 1000,
                "redaction off",
                target=f"<= {TARGET}x off" if targeted else None,
                met=ratio <= TARGET if targeted else None,
                notes="per-round ratios "
                + ", ".join(f"{b / a:.4f}" for a, b in zip(off_runs, on_runs, strict=True))
                + "; picows upstream; instructions, not seconds",
            )
        )
    return results
