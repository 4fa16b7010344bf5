"""The tool alone, for instruction counts: ``check_order_status`` run in this process, either
through the worker's executor (arguments, the read pool's asyncpg connection, result) or as the
same SQL on one asyncpg prepared statement. Prints the JSON line ``{"msg": "ready"}`` once set up; each
SIGUSR1 runs *n* calls one at a time and then prints ``{"msg": "round K done"}`` (K counting from
1); SIGTERM stops it. Settings from the environment (as ``switchboard-worker``).

``python -m bench.worker_tool executor|asyncpg N``
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable

import asyncpg

from bench.bench_worker import _request
from switchboard.worker.queries import ORDER_STATUS
from switchboard.worker.reads import asyncpg_dsn
from switchboard.worker.service import WorkerService
from switchboard.worker.settings import WorkerSettings

__all__ = ["main"]


async def _serve(mode: str, n: int) -> None:
    service = WorkerService(WorkerSettings())
    conn: asyncpg.Connection | None = None
    call: Callable[[int], Awaitable[object]]
    if mode == "executor":

        async def call(i: int) -> object:
            result = await service.executor.execute(_request(i))
            if not result.ok:
                raise RuntimeError(f"call failed: {result.error}")
            return result

    else:
        conn = await asyncpg.connect(asyncpg_dsn(service.settings.database_url))
        statement = await conn.prepare(ORDER_STATUS.sql)

        async def call(i: int) -> object:
            request = _request(i)
            params = {"order_id": request.arguments["order_id"], "customer_id": request.customer_id}
            return await statement.fetchrow(*ORDER_STATUS.args(params))

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    rounds = asyncio.Queue[None]()
    loop.add_signal_handler(signal.SIGUSR1, rounds.put_nowait, None)
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def run_rounds() -> None:
        done = 0
        while True:
            await rounds.get()
            for i in range(n):
                await call(i)
            done += 1
            print(json.dumps({"msg": f"round {done} done"}), flush=True)

    runner = asyncio.create_task(run_rounds())
    try:
        print(json.dumps({"msg": "ready"}), flush=True)
        await stop.wait()
    finally:
        runner.cancel()
        if conn is not None:
            await conn.close()
        await service.reads.close()
        await service.engine.dispose()
        await service.redis.aclose()


def main() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(_serve(sys.argv[1], int(sys.argv[2])))
    else:
        uvloop.run(_serve(sys.argv[1], int(sys.argv[2])))


if __name__ == "__main__":
    main()
