"""Instruction counts of a running process, for CPU figures that do not move with the machine's
load: the process (a ``switchboard.cli.stack`` service) runs under ``valgrind --tool=callgrind``
(its ``wrapper``) with instrumentation off while it starts (its imports cost no counting), and
the bench switches counting on, zeroes the counters at the start of its measured window and
dumps them at its end (``callgrind_control``).

Instructions are the guest program's own (Python, its C extensions, libc): the same work gives
the same count whether the machine is idle or saturated, which CPU seconds on a shared 2-core
machine do not (they moved 0.67-2.5x between runs of the same code). They are not seconds —
cache misses and system calls are not weighed — so they compare two relays doing the same
traffic; they do not replace a latency figure.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

from switchboard.cli.stack import Service

__all__ = ["Counters", "available", "wrapper"]

_TOTALS = re.compile(rb"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


def available() -> bool:
    """Whether valgrind and callgrind_control are installed."""
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def wrapper(out_dir: Path, name: str) -> tuple[str, ...]:
    """The command line a service named *name* runs under to be counted (not counting yet);
    its dumps go to *out_dir*."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return (
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_dir}/{name}.%p.out",
    )


class Counters:
    """The callgrind counters of *service*, started under ``wrapper(out_dir, service.name)``:
    ``count_on()`` once it is up, ``zero()`` at the window's start, ``dump()`` at its end
    returns the instructions executed in between."""

    def __init__(self, service: Service, out_dir: Path) -> None:
        self.service = service
        self.out_dir = out_dir

    @property
    def name(self) -> str:
        return self.service.name

    async def _control(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            "callgrind_control",
            *args,
            str(self.service.pid),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"callgrind_control {' '.join(args)}: {err.decode()[-300:]}")

    async def count_on(self) -> None:
        """Start counting (the process has started; its start-up is not counted)."""
        await self._control("-i", "on")

    async def zero(self) -> None:
        await self._control("-z")

    async def dump(self) -> int:
        """Write the counters since the last zero; the instructions they hold."""
        pattern = f"{self.name}.{self.service.pid}.out.*"
        before = set(self.out_dir.glob(pattern))
        await self._control("-d")
        after = set(self.out_dir.glob(pattern)) - before
        if len(after) != 1:
            raise RuntimeError(f"callgrind wrote {len(after)} dumps for {self.name}, not one")
        (path,) = after
        match = _TOTALS.search(path.read_bytes())
        if match is None:
            raise RuntimeError(f"no totals in {path}")
        return int(match.group(1))
