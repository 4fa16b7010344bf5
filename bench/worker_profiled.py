"""A tool worker for the bench's profile: the same :class:`WorkerService` as
``switchboard-worker`` (settings from the environment, uvloop like uvicorn picks it), without
the HTTP side (not on the call path), with cProfile (timing CPU, not wall time) switched on by SIGUSR1 and off by SIGUSR2
(which writes the dump to the path in ``argv[1]``), so only the measured calls are in it and
not the start-up. Once it consumes it prints the JSON line ``{"msg": "worker serving"}`` (its
logs may be set to warnings only). SIGTERM stops it.

``python -m bench.worker_profiled /tmp/worker.prof``
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import signal
import sys
import time

from switchboard.worker.service import WorkerService
from switchboard.worker.settings import WorkerSettings

__all__ = ["main"]


async def _serve(path: str) -> None:
    service = WorkerService(WorkerSettings())
    # CPU time, not wall time: on a shared machine a preempted syscall would look expensive
    profiler = cProfile.Profile(time.process_time)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, profiler.enable)

    def dump() -> None:
        profiler.disable()
        profiler.dump_stats(path)

    loop.add_signal_handler(signal.SIGUSR2, dump)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await service.start()
    await service.serving.wait()
    print(json.dumps({"msg": "worker serving"}), flush=True)
    try:
        await stop.wait()
    finally:
        await service.stop()


def main() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(_serve(sys.argv[1]))
    else:
        uvloop.run(_serve(sys.argv[1]))


if __name__ == "__main__":
    main()
