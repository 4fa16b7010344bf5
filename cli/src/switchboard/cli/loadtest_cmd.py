"""``switchboard loadtest``: the command line around :mod:`switchboard.cli.loadtest`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import httpx

from switchboard.cli.call_cmd import add_connection_options
from switchboard.cli.endpoint import Endpoint, direct_endpoint, gateway_endpoint
from switchboard.cli.loadtest import (
    LoadTest,
    demo_callers,
    dump_json,
    progress_line,
    render_summary,
)

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Run N synthetic callers at once against the gateway. Each caller is a different demo customer
who asks, with real synthesised speech at real-time pace, about one of their own orders, waits
for the spoken answer, says goodbye and hangs up, then calls again until the duration is over.

A progress line is printed every second; at the end a summary of reply latency percentiles
(end of the caller's speech → first reply audio), tool calls and errors. The gateway must run in
development mode (secrets from /dev/client_secrets) or you pass a server key. Callers are the
customers cus_0001, cus_0002, ... of the default seed (switchboard seed), each asking about
one of their own orders.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "loadtest",
        help="many concurrent synthetic voice callers; latency percentiles, tool calls, errors",
        description=DESCRIPTION,
        epilog="example: switchboard loadtest --sessions 20 --duration 60 --ramp 10 --json out.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sessions", type=int, default=10, metavar="N", help="concurrent callers (default 10)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds to keep calling (default 60)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        nargs="?",
        const=-1.0,
        default=0.0,
        metavar="S",
        help="start callers evenly over S seconds (bare --ramp: a quarter of the duration); "
        "default: all at once",
    )
    parser.add_argument(
        "--no-goodbye", action="store_true", help="one question per call (no second turn)"
    )
    parser.add_argument(
        "--turn-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="a turn whose line stays silent this long counts as unanswered (default 30)",
    )
    parser.add_argument(
        "--json", metavar="FILE", help="also write the summary as JSON to FILE ('-' for stdout)"
    )
    add_connection_options(parser)
    return parser


async def _loadtest(args: argparse.Namespace) -> int:
    ramp = args.duration / 4 if args.ramp < 0 else args.ramp
    callers = demo_callers(args.sessions)
    async with httpx.AsyncClient(timeout=10) as http:

        async def endpoint_for(customer_id: str) -> Endpoint:
            if args.upstream_direct:
                return direct_endpoint(
                    args.upstream_direct,
                    api_key=args.api_key,
                    model=args.model or "switchboard-loadtest",
                )
            return await gateway_endpoint(
                args.gateway, customer_id, server_key=args.server_key, model=args.model, client=http
            )

        test = LoadTest(
            callers=callers,
            endpoint_for=endpoint_for,
            duration_s=args.duration,
            ramp_s=ramp,
            turn_timeout_s=args.turn_timeout,
            goodbye=not args.no_goodbye,
        )
        where = args.upstream_direct or args.gateway
        print(
            f"preparing {len(callers)} callers (synthesising their questions) ...",
            file=sys.stderr,
            flush=True,
        )
        await test.prepare()
        print(
            f"calling {where} with {len(callers)} concurrent callers for {args.duration:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        tty = sys.stderr.isatty()

        def progress(t: LoadTest, elapsed: float) -> None:
            line = progress_line(t, elapsed)
            if tty:
                print(f"\r{line}\x1b[K", end="", file=sys.stderr, flush=True)
            elif int(elapsed) % 5 == 0:
                print(line, file=sys.stderr, flush=True)

        report = await test.run(progress=progress)
        if tty:
            print(file=sys.stderr)
    render_summary(report, sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        dump_json(report, args.json)
    return 0 if report.calls_completed and not report.calls_failed else 1


def run(args: argparse.Namespace) -> int:
    if args.sessions < 1 or args.duration <= 0:
        print("switchboard loadtest: --sessions must be ≥ 1 and --duration > 0", file=sys.stderr)
        return 2
    return asyncio.run(_loadtest(args))
