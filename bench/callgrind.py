"""Instruction counts of a running process, for CPU figures that do not move with the machine's
load: the process runs under ``valgrind --tool=callgrind`` with instrumentation off while it
starts (its imports cost no counting), and the bench switches counting on, zeroes the counters
at the start of its measured window and dumps them at its end (``callgrind_control``).

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

__all__ = ["CallgrindProcess", "available"]

_TOTALS = re.compile(rb"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


def available() -> bool:
    """Whether valgrind and callgrind_control are installed."""
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


class CallgrindProcess:
    """``valgrind --tool=callgrind`` around *argv*, with the counters under the bench's control.

    ``start()`` launches it (not counting); ``count_on()`` once the process is up; ``zero()`` at
    the window's start; ``dump()`` at its end returns the instructions executed in between.
    """

    def __init__(self, argv: list[str], *, out_dir: Path, name: str, env: dict[str, str]) -> None:
        self.argv = argv
        self.out_dir = out_dir
        self.name = name
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        log = (self.out_dir / f"{self.name}.valgrind.log").open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={self.out_dir}/{self.name}.%p.out",
                *self.argv,
                env=self.env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        finally:
            log.close()

    async def _control(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            "callgrind_control",
            *args,
            str(self.pid),
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
        before = set(self.out_dir.glob(f"{self.name}.{self.pid}.out.*"))
        await self._control("-d")
        after = set(self.out_dir.glob(f"{self.name}.{self.pid}.out.*")) - before
        if len(after) != 1:
            raise RuntimeError(f"callgrind wrote {len(after)} dumps for {self.name}, not one")
        (path,) = after
        match = _TOTALS.search(path.read_bytes())
        if match is None:
            raise RuntimeError(f"no totals in {path}")
        return int(match.group(1))

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 60)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
