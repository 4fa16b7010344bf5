"""Entry point of the ``switchboard`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date

from switchboard.cli.preflight import InfrastructureError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="Switchboard: realtime voice customer-support backend. "
        "Settings come from the environment or a .env file (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="migrate, seed an empty database and run every service")
    up.add_argument("--workers", type=int, default=2, help="tool worker processes (default 2)")
    up.add_argument("--no-seed", action="store_true", help="do not seed an empty database")

    sub.add_parser("migrate", help="create the database if needed and apply all migrations")

    seed = sub.add_parser("seed", help="fill an empty order database with demo data")
    seed.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        help="reference date of the data (YYYY-MM-DD, default today)",
    )
    seed.add_argument("--customers", type=int, default=1000)
    seed.add_argument("--orders", type=int, default=10000)

    from switchboard.cli import call_cmd, loadtest_cmd, phone_cmd

    call_cmd.add_parser(sub)
    loadtest_cmd.add_parser(sub)
    phone_cmd.add_parser(sub)
    return parser


async def _migrate() -> None:
    from switchboard.cli.db import ensure_database, migrate
    from switchboard.settings import DatabaseSettings, redact_url

    url = DatabaseSettings().database_url
    if await ensure_database(url):
        print(f"created database {redact_url(url)}")
    await migrate(url)
    print("migrations: up to date")


async def _seed(args: argparse.Namespace) -> None:
    from switchboard.cli.db import run_seed
    from switchboard.settings import DatabaseSettings

    report = await run_seed(
        DatabaseSettings().database_url,
        as_of=args.as_of,
        customers=args.customers,
        orders=args.orders,
    )
    if report.seeded:
        print("seeded: " + ", ".join(f"{k}={v}" for k, v in report.counts.items()))
    else:
        print("the database already has data; nothing changed")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            from switchboard.cli.up import up

            return up(workers=args.workers, seed_demo=not args.no_seed)
        if args.command == "call":
            from switchboard.cli.call_cmd import run as run_call

            return run_call(args)
        if args.command == "phone":
            from switchboard.cli.phone_cmd import run as run_phone

            return run_phone(args)
        if args.command == "loadtest":
            from switchboard.cli.loadtest_cmd import run as run_loadtest

            return run_loadtest(args)
        if args.command == "migrate":
            asyncio.run(_migrate())
        elif args.command == "seed":
            asyncio.run(_seed(args))
    except InfrastructureError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
