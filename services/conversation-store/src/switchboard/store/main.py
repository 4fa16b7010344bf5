"""``switchboard-store``: run the conversation store (settings from the environment; see
docs/configuration.md and docs/store.md). SIGTERM/SIGINT stop consuming, write what was
received and exit 0."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys

from switchboard.db import create_engine
from switchboard.observability import configure_logging
from switchboard.recording import open_recording_store
from switchboard.runtime.server import serve
from switchboard.store.app import create_app
from switchboard.store.auth import hash_password
from switchboard.store.deletion import purge_older_than
from switchboard.store.settings import StoreSettings

__all__ = ["main"]

log = logging.getLogger("switchboard.store")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard-store", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser(
        "serve",
        help="run the store: ingest, API and web UI, and the recording assembler unless "
        "STORE_RECORDING_ASSEMBLY=false (the default command)",
    )
    sub.add_parser(
        "assemble",
        help="run only the recording assembler (consumes {ns}.store.recordings; serves the "
        "probes on STORE_HTTP_PORT), for a deployment scaled on that queue",
    )
    retention = sub.add_parser(
        "retention", help="delete sessions older than N days (for a cron job); prints the count"
    )
    retention.add_argument("--days", type=float, required=True, help="keep this many days")
    retention.add_argument("--dry-run", action="store_true", help="only count what would go")
    sub.add_parser(
        "hash-password",
        help="read a password (prompted, or one line on stdin) and print its STORE_USERS hash",
    )
    args = parser.parse_args(argv)
    if args.command == "hash-password":
        return _hash_password()
    settings = StoreSettings()
    configure_logging("store", level=settings.log_level, fmt=settings.log_format)
    if args.command == "retention":
        if args.days <= 0:
            parser.error("--days must be positive")
        return asyncio.run(_retention(settings, args.days, dry_run=args.dry_run))
    if args.command == "assemble":
        app = create_app(settings, ingest=False, assembly=True, api=False)
    else:
        app = create_app(settings)
    serve(
        app,
        host=settings.http_host,
        port=settings.http_port,
        graceful_timeout_s=settings.shutdown_timeout_s,
        log_extra={"instance_id": settings.instance_id},
    )
    return 0


def _hash_password() -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if password != getpass.getpass("again: "):
            print("the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("use at least 8 characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


async def _retention(settings: StoreSettings, days: float, *, dry_run: bool) -> int:
    engine = create_engine(
        settings.database_url, pool_size=1, timeout_s=settings.database_timeout_s
    )
    recordings = await open_recording_store(settings)
    try:
        count = await purge_older_than(engine, days, recordings=recordings, dry_run=dry_run)
    finally:
        await recordings.close()
        await engine.dispose()
    verb = "would delete" if dry_run else "deleted"
    log.info("retention", extra={"days": days, "sessions": count, "dry_run": dry_run})
    print(f"{verb} {count} session(s) started more than {days:g} day(s) ago")
    return 0


if __name__ == "__main__":
    sys.exit(main())
