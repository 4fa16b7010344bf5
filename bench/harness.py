"""The benchmark harness: each ``bench/bench_*.py`` module has ``async def run(ctx)`` returning
:class:`Result` rows; the harness prints one table and writes JSON for later comparison.

Every figure is measured against a baseline taken in the same run on the same machine, so ratios
stay meaningful on slow or busy machines; targets are reported, never asserted. The processes a
benchmark starts (services, echo upstreams, relays) are ``switchboard.cli.stack`` services of one
:func:`stack`, logging to ``bench-results/logs``.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from switchboard.cli.stack import Stack

__all__ = ["LOG_DIR", "BenchContext", "Result", "percentile", "stack"]

#: Where the processes of a benchmark write their output (one file each, appended to).
LOG_DIR = Path("bench-results") / "logs"


@dataclass
class Result:
    bench: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str | None = None
    target: str | None = None
    met: bool | None = None
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["ratio"] = self.ratio
        return doc


@dataclass
class BenchContext:
    """What a benchmark may use: infrastructure URLs, a namespace and a quick flag."""

    database_url: str
    amqp_url: str
    redis_url: str
    namespace: str
    quick: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


def percentile(values: list[float], pct: float) -> float:
    """The *pct* percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[
        min(998, max(0, round(pct * 10) - 1))
    ]


def stack(**base_env: str) -> Stack:
    """A set of processes for one benchmark, sharing *base_env*; stop it in a ``finally``
    (``await asyncio.to_thread(stack.stop)``)."""
    return Stack(base_env=base_env, log_dir=LOG_DIR)
