"""Run the benchmarks: ``python -m bench [--quick] [--only NAME ...] [--split SPLIT]``."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import pkgutil
import sys
import time
import traceback
import uuid
from pathlib import Path

from bench.evalset import SPLITS
from bench.harness import BenchContext, Result

OUT = Path("bench-results")


def _modules(only: list[str]) -> list[str]:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if only:
        names = [n for n in names if any(o in n for o in only)]
    return names


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _print(results: list[Result]) -> None:
    header = ("bench", "metric", "value", "unit", "baseline", "ratio", "target", "met")
    rows = [
        (
            r.bench,
            r.metric,
            _fmt(r.value),
            r.unit,
            f"{_fmt(r.baseline)} ({r.baseline_label})" if r.baseline is not None else "-",
            f"{r.ratio:.2f}x" if r.ratio is not None else "-",
            r.target or "-",
            {True: "yes", False: "NO", None: "-"}[r.met],
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


async def _main(args: argparse.Namespace) -> int:
    ctx = BenchContext(
        database_url=os.environ.get(
            "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/switchboard"
        ),
        amqp_url=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        namespace=f"bench{uuid.uuid4().hex[:8]}",
        quick=args.quick,
        extras={"split": args.split},
    )
    results: list[Result] = []
    failures = 0
    for name in _modules(args.only):
        module = importlib.import_module(f"bench.{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            results.extend(await module.run(ctx))
        except Exception:
            failures += 1
            traceback.print_exc()
        print(f"  {name} took {time.perf_counter() - started:.1f}s", file=sys.stderr)
    print()
    _print(results)
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "results": [r.as_dict() for r in results],
    }
    _write(doc)
    print(f"\nwrote {OUT / 'results.json'}")
    return 1 if failures else 0


def _write(doc: dict[str, object]) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(doc, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument(
        "--only", nargs="*", default=[], help="run benchmarks whose name contains these"
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="heldout",
        help="the evaluation set's split emulator_eval speaks (default heldout; with it, the "
        "sealed fresh4 split is typed beside, figures only)",
    )
    return asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
