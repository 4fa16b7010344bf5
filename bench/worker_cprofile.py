"""Where a profiled worker's CPU went (``bench/worker_profiled.py`` writes the cProfile dump):
its own time by area (tool and database, broker client, the worker, pydantic, the rest)."""

from __future__ import annotations

import io
import pstats
from dataclasses import dataclass

__all__ = ["Profile", "read_profile"]


#: Where a function's own time is counted, by the path of its file (first match wins).
AREAS = (
    ("tool and its database access", ("/worker/tools/", "/sqlalchemy/", "/asyncpg/", "greenlet")),
    ("broker client (aio-pika, aiormq, pamqp)", ("/aio_pika/", "/aiormq/", "/pamqp/")),
    ("the worker's own handling", ("/switchboard/",)),
    ("contracts and JSON (pydantic)", ("pydantic",)),
    ("metrics and logging", ("/prometheus_client/", "/logging/")),
    ("event loop and the rest", ("",)),
)


@dataclass(frozen=True, slots=True)
class Profile:
    """Where a profiled worker's CPU went while it served *calls* calls."""

    calls: int
    total_s: float
    areas: dict[str, float]  # seconds of own time by area
    top: str  # the heaviest functions by own time, as pstats prints them

    @property
    def tool_share(self) -> float:
        """The tool's (and its queries') share of the worker's CPU while serving the calls."""
        return self.areas[AREAS[0][0]] / self.total_s if self.total_s else float("nan")

    def summary(self) -> str:
        per_call = {k: 1000 * v / self.calls for k, v in self.areas.items()}
        return "; ".join(f"{k} {v:.3f} ms" for k, v in per_call.items())


def read_profile(path: str, calls: int, *, lines: int = 25) -> Profile:
    stats = pstats.Stats(path)
    raw = stats.stats  # type: ignore[attr-defined]  # pstats keeps its table there, untyped
    areas = dict.fromkeys((name for name, _ in AREAS), 0.0)
    for (file, _line, function), entry in raw.items():
        where = f"{file}:{function}"
        name = next(n for n, marks in AREAS if any(m in where for m in marks))
        areas[name] += entry[2]  # own time
    out = io.StringIO()
    pstats.Stats(path, stream=out).sort_stats("tottime").print_stats(lines)
    top = out.getvalue()
    top = top[top.find("   ncalls") :] if "   ncalls" in top else top
    return Profile(
        calls=calls,
        total_s=stats.total_tt,  # type: ignore[attr-defined]  # set by pstats, untyped
        areas=areas,
        top=top,
    )
