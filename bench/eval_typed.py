"""The evaluation set typed, without speech: ``python -m bench.eval_typed [--split heldout]``.

Each question (and the set's answers to the bot's questions and read-backs) is typed into an
emulator in its speech-free mode (``EMULATOR_SPEECH=text``: no speech engine loaded, so it runs
in seconds on a busy machine) with the shop's eleven tools; every tool call runs against a
database of its own (created, migrated, seeded for today, dropped). Reports right tool, right
arguments and answered right, as ``make bench``'s typed baseline does, and lists the misses.
Tune on ``--split tuning`` and, since 2026-12-04, ``fresh`` (its phrasings were written blind
after the held-out half's misses had been seen; it is no longer blind) and, since 2026-12-05,
``fresh3`` (written blind on 2026-12-04 and sealed until then); ``fresh2``'s misses were seen on
2026-12-04, so it is no longer blind either. ``fresh4`` (written blind on 2026-12-05) is
**sealed**: for it only the figures are printed, never its
phrasings or misses (not even per-question progress), unless ``--show-misses``; never tune on
it, nor run it with its misses shown while writing rules. ``all`` is every split, fresh4
included (its misses left out of the listing likewise).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections import Counter
from datetime import date

from bench.bench_emulator import KEY, _serve
from bench.bench_emulator_eval import Outcome, _ask_all, _executor, _share
from bench.bench_worker import _database_url, _drop_database
from bench.evalset import SEALED, SPLITS, build_questions
from bench.harness import BenchContext
from switchboard.cli.db import ensure_database, migrate, run_seed
from switchboard.emulator.settings import EmulatorSettings
from switchboard.emulator.speech import Speech

__all__ = ["SEALED", "run_typed"]

# SEALED (imported from bench.evalset, the one place it is set: frozenset({"fresh4"}); fresh3
# was sealed until 2026-12-05): splits whose misses are not listed unless asked
# (--show-misses): whoever tunes the policy reads only their figures, so they stay a test of
# phrasings nobody tuned for


async def run_typed(ctx: BenchContext, split: str, *, show_sealed: bool = False) -> list[Outcome]:
    """Every question of *split* typed into a speech-free emulator; their outcomes (a sealed
    split's per-question progress is not printed unless *show_sealed*)."""
    today = date.today()
    questions = [q for q in build_questions(as_of=today) if split in ("all", q.split)]
    database = _database_url(ctx.database_url, f"bench_eval_typed_{uuid.uuid4().hex[:8]}")
    await ensure_database(database)
    settings = EmulatorSettings(EMULATOR_API_KEY=KEY, EMULATOR_PORT=0, EMULATOR_SPEECH="text")
    speech = Speech(settings)
    server, task, port = await _serve(speech, settings)
    worker = None
    try:
        await migrate(database)
        await run_seed(database, as_of=today, customers=1000, orders=10000)
        worker = _executor(ctx, database, today)
        return await _ask_all(port, questions, None, worker, show_sealed=show_sealed)
    finally:
        if worker is not None:
            await worker.engine.dispose()
            await worker.redis.aclose()
        server.should_exit = True
        await task
        speech.close()
        await _drop_database(database)


def _kind(o: Outcome) -> str:
    """What kind of miss: no call at all, the wrong tool, the right tool with wrong arguments,
    or the right call whose answer does not state what the database returned."""
    if o.error:
        return "error"
    if not o.calls:
        return "no call"
    if not o.right_tool:
        return "wrong tool"
    if not o.right_arguments:
        return "wrong arguments"
    return "wrong answer"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eval_typed", description=__doc__)
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="heldout")
    parser.add_argument(
        "--show-misses",
        action="store_true",
        help="list the misses of a sealed split too (fresh4: by default only its figures)",
    )
    args = parser.parse_args()
    ctx = BenchContext(
        database_url=os.environ["DATABASE_URL"],
        amqp_url=os.environ["AMQP_URL"],
        redis_url=os.environ["REDIS_URL"],
        namespace=f"evaltyped{uuid.uuid4().hex[:8]}",
    )
    outcomes = asyncio.run(run_typed(ctx, args.split, show_sealed=args.show_misses))
    for o in outcomes:
        listed = args.show_misses or o.question.split not in SEALED
        if listed and not (o.answered_right and o.right_tool):
            print(
                f"MISS {o.question.qid} ({_kind(o)}): {o.question.text!r} → calls {o.calls} "
                f"said {o.said[-1:]}" + (f" error {o.error}" if o.error else "")
            )
    print(
        f"{args.split}: {len(outcomes)} typed questions; "
        f"right tool {_share(outcomes, lambda o: o.right_tool):.1f}%, "
        f"right arguments {_share(outcomes, lambda o: o.right_arguments):.1f}%, "
        f"answered right {_share(outcomes, lambda o: o.answered_right):.1f}%"
    )
    kinds = Counter(_kind(o) for o in outcomes if not (o.answered_right and o.right_tool))
    if kinds:
        print("misses by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
