"""``make chaos`` / ``python -m chaos``: the whole product under load and faults.

Starts its own stack (emulator, tool workers, store, two gateways) in a database and namespace of
its own, then for each fault runs synthetic callers with real speech, injects the fault, waits
for recovery and counts events published vs stored, tool effects vs calls, errors and recovery
time. Then hostile input, bad secrets, another customer's orders, the analyst API without rights,
and (unless ``--no-soak``) a soak. Prints a table and writes JSON (``--out``). Exit status 0 only
if every row passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from pathlib import Path

import aio_pika
import httpx

from chaos import attacks
from chaos.report import FaultRow, Report
from chaos.scenarios import FAULTS, Ctx, run_fault
from chaos.soak import soak
from chaos.stack import Stack, StackConfig
from chaos.witness import Witness
from switchboard.amqp import Topology
from switchboard.cli.loadtest import demo_callers, demo_cancel_callers
from switchboard.settings import AmqpSettings, DatabaseSettings, RedisSettings
from switchboard.toolclient import ToolClient

QUICK = {
    "callers": 6,
    "writers": 1,
    "duration": 24.0,
    "outage": 4.0,
    "store_outage": 8.0,
    "hostile": 1000,
    "turn_timeout": 30.0,
}
#: 50 callers talking at once are more than the emulator's speech engines recognise in real time
#: on a small machine: replies queue, so a turn may wait well over 30 s for its answer.
FULL = {
    "callers": 50,
    "writers": 10,
    "duration": 90.0,
    "outage": 10.0,
    "store_outage": 60.0,
    "hostile": 10000,
    "turn_timeout": 120.0,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chaos",
        description="Run Switchboard under load and faults; print and save a report.",
    )
    parser.add_argument("--quick", action="store_true", help="small load, short outages (CI)")
    parser.add_argument("--callers", type=int, help="concurrent synthetic callers per fault")
    parser.add_argument(
        "--writers",
        type=int,
        help="of the callers, how many ask to cancel one of their own orders (other orders "
        "each fault), so that double effects can show",
    )
    parser.add_argument("--duration", type=float, help="seconds of load per fault")
    parser.add_argument("--outage", type=float, help="seconds RabbitMQ / Postgres stay away")
    parser.add_argument("--store-outage", type=float, help="seconds the store stays stopped")
    parser.add_argument("--hostile", type=int, help="number of hostile client events")
    parser.add_argument(
        "--turn-timeout",
        type=float,
        help="seconds a caller waits for a reply (with nothing arriving) before it counts the "
        "turn as unanswered",
    )
    parser.add_argument(
        "--only", help="comma-separated subset: faults by name prefix, 'hostile', 'soak'"
    )
    parser.add_argument("--soak-callers", type=int, default=200)
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--no-soak", action="store_true", help="skip the soak")
    parser.add_argument(
        "--emulator-speech",
        choices=("engines", "text"),
        default="engines",
        help="text: run the emulator in its speech-free load mode (EMULATOR_SPEECH=text; no "
        "recognition or synthesis, so two cores carry hundreds of callers); callers type each "
        "turn's words and still stream the speech, which the emulator's VAD checks",
    )
    parser.add_argument(
        "--real-restarts",
        action="store_true",
        help="restart the real local RabbitMQ (rabbitmqctl stop_app/start_app) instead of "
        "cutting it off through a proxy; only on a machine of your own",
    )
    parser.add_argument("--out", default="chaos-results/chaos.json", help="JSON report path")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not 0 <= args.writers < args.callers:
        parser.error("--writers must be at least 0 and fewer than --callers")
    return args


def _wanted(args: argparse.Namespace, name: str) -> bool:
    if not args.only:
        return name != "soak" or not args.no_soak
    return any(name.lower().startswith(p.strip().lower()) for p in args.only.split(","))


async def _cross_customer_pairs(stack: Stack, count: int) -> list[tuple[str, int, list[str]]]:
    """(customer, an order of another customer, what must not leak) from the seeded shop."""
    import asyncpg

    dsn = stack.direct_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """
            SELECT o.id, o.customer_id, c.email, coalesce(s.tracking_number, '') AS tracking
            FROM shop.customer_order o
            JOIN shop.customer c ON c.id = o.customer_id
            LEFT JOIN shop.shipment s ON s.order_id = o.id
            ORDER BY o.id LIMIT $1
            """,
            count * 2,
        )
    finally:
        await conn.close()
    pairs = []
    for index in range(count):
        victim = rows[index * 2]
        asker = rows[index * 2 + 1]
        if asker["customer_id"] == victim["customer_id"]:
            continue
        pairs.append((asker["customer_id"], victim["id"], [victim["email"], victim["tracking"]]))
    return pairs


async def main(args: argparse.Namespace) -> int:
    report = Report()
    config = StackConfig(
        database_url=DatabaseSettings().database_url,
        amqp_url=AmqpSettings().amqp_url,
        redis_url=RedisSettings().redis_url,
        workers=2,
        gateways=2,
        emulator_speech=args.emulator_speech,
    )
    log_dir = Path(tempfile.mkdtemp(prefix="switchboard-chaos-"))
    stack = Stack(config, log_dir=log_dir, real_restarts=args.real_restarts)
    print(f"starting the stack (logs in {log_dir}) ...", file=sys.stderr, flush=True)
    began = time.monotonic()
    await stack.start()
    print(f"stack ready in {time.monotonic() - began:.0f}s", file=sys.stderr, flush=True)
    topology = Topology(stack.namespace)
    amqp_direct = config.amqp_url
    witness = Witness(amqp_direct, topology)
    await witness.start()
    connection = await aio_pika.connect_robust(amqp_direct)
    tools = ToolClient(connection, topology)
    await tools.start()
    callers = demo_callers(args.callers - args.writers)
    askers = frozenset(c.customer_id for c in callers)
    http = httpx.AsyncClient(timeout=15)
    ctx = Ctx(
        stack=stack,
        witness=witness,
        tools=tools,
        callers=callers,
        duration_s=args.duration,
        outage_s=args.outage,
        store_outage_s=args.store_outage,
        http=http,
        probe_customer=callers[0].customer_id,
        probe_order=int(callers[0].question.rstrip("?").split()[-1]),
        goodbye=not args.quick,
        turn_timeout_s=args.turn_timeout,
        typed_words=args.emulator_speech == "text",
    )
    try:
        for index, (name, fault) in enumerate(FAULTS.items()):
            if not _wanted(args, name):
                continue
            print(f"fault: {name} ...", file=sys.stderr, flush=True)
            ctx.callers = callers + demo_cancel_callers(
                args.writers, start=index * args.writers, exclude=askers
            )
            row = await run_fault(ctx, name, fault)
            report.add(row)
            print(report.table().splitlines()[-1 - len(row.notes)], file=sys.stderr, flush=True)
        gateway = stack.gateway_url(0)
        customer = callers[0].customer_id
        if _wanted(args, "hostile"):
            print(f"hostile: {args.hostile} frames ...", file=sys.stderr, flush=True)
            report.add(
                await attacks.hostile_events(
                    gateway,
                    stack.server_key,
                    customer,
                    count=args.hostile,
                    max_message_bytes=stack.max_message_bytes,
                )
            )
            report.add(await attacks.secrets(gateway, stack.server_key, customer))
            pairs = await _cross_customer_pairs(stack, 3 if args.quick else 10)
            report.add(await attacks.cross_customer(gateway, stack.server_key, pairs=pairs))
            report.add(await attacks.analyst_api(stack.store_url, analyst=stack.analyst))
            alive = all(g.running for g in stack.gateways)
            if not alive:
                report.add(FaultRow(fault="gateway alive after attacks", load="-", errors=1))
        if _wanted(args, "soak"):
            print(
                f"soak: {args.soak_callers} callers for {args.soak_minutes} min ...",
                file=sys.stderr,
                flush=True,
            )
            report.add(await soak(ctx, callers=args.soak_callers, minutes=args.soak_minutes))
    finally:
        try:
            for close in (http.aclose, tools.close, connection.close, witness.close):
                with contextlib.suppress(Exception):
                    await close()
        finally:
            await stack.close()  # whatever happened above: no process may outlive the run
            _publish(report, Path(args.out))  # a stopped run still reports the rows it has
    return 0 if report.passed else 1


def _publish(report: Report, out: Path) -> None:
    print(report.table())
    report.write(out)
    print(f"\nreport written to {out}", file=sys.stderr)


async def _run_stoppable(args: argparse.Namespace) -> int:
    """:func:`main`, ended by SIGTERM as by Ctrl-C: the stack's processes are stopped and its
    database and queues removed either way (by default SIGTERM would leave them running)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await main(args)
    except asyncio.CancelledError:
        print("stopped (SIGTERM); the stack was shut down", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(asyncio.run(_run_stoppable(parse_args())))
