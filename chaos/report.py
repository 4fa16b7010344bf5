"""The chaos report: one row per fault, printed as a table and written as JSON."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["FaultRow", "Report"]


@dataclass
class FaultRow:
    fault: str
    load: str
    calls: int = 0
    events_published: int = 0
    events_stored: int = 0
    lost: int = 0
    duplicated: int = 0
    #: rows a mutating tool call wrote (cancellations), and the calls whose success a caller
    #: heard: every success needs its effect, and no order is cancelled twice
    effects: int = 0
    effects_confirmed: int = 0
    errors: int = 0
    #: what ``errors`` counts, by kind (client-side error codes, ``tool:CODE`` for tool calls)
    error_kinds: dict[str, int] = field(default_factory=dict)
    #: seen but not counted as the system's fault (e.g. ``no_reply`` from the CPU-bound emulator,
    #: ``unavailable`` tool answers while the database or broker was away)
    excused: dict[str, int] = field(default_factory=dict)
    recovery_s: float | None = None
    #: faults that cut conversations (a gateway killed, client sockets dropped): how many of
    #: those live at the fault resumed, how many were lost, and how long resuming took
    resumed: int | None = None
    conversations_lost: int | None = None
    resume_p50_s: float | None = None
    resume_p95_s: float | None = None
    #: seqs of those conversations never published below one that was: events emitted and lost
    #: unconfirmed (a lower bound; the witness cannot see any after the last it received)
    seq_holes: int | None = None
    passed: bool = False
    #: The fault's own condition (e.g. tools refused quickly while Postgres was away).
    condition: bool = True
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)


_COLUMNS = (
    ("fault", 26),
    ("load", 18),
    ("calls", 7),
    ("published", 10),
    ("stored", 8),
    ("lost", 6),
    ("dup", 5),
    ("effects", 8),
    ("errors", 7),
    ("recovery", 9),
    ("result", 6),
)


@dataclass
class Report:
    rows: list[FaultRow] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def add(self, row: FaultRow) -> FaultRow:
        self.rows.append(row)
        return row

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(row.passed for row in self.rows)

    def table(self) -> str:
        head = " ".join(f"{name:<{width}}" for name, width in _COLUMNS)
        lines = [head, "-" * len(head)]
        for row in self.rows:
            recovery = "-" if row.recovery_s is None else f"{row.recovery_s:.1f}s"
            cells = (
                row.fault,
                row.load,
                row.calls,
                row.events_published,
                row.events_stored,
                row.lost,
                row.duplicated,
                f"{row.effects}/{row.effects_confirmed}"
                if row.effects or row.effects_confirmed
                else "-",
                row.errors,
                recovery,
                "PASS" if row.passed else "FAIL",
            )
            lines.append(
                " ".join(
                    f"{cell!s:<{width}}" for cell, (_, width) in zip(cells, _COLUMNS, strict=True)
                )
            )
            lines.extend(f"    - {note}" for note in row.notes)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "machine": {"python": platform.python_version(), "cpus": _cpus()},
            "passed": self.passed,
            "rows": [asdict(row) for row in self.rows],
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
