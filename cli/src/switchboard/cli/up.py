"""``switchboard up``: migrate, seed, and run every installed service under one supervisor."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass

from switchboard.cli.db import ensure_database, migrate, run_seed
from switchboard.cli.preflight import check_infrastructure
from switchboard.settings import AmqpSettings, DatabaseSettings, RedisSettings, redact_url

__all__ = ["SERVICES", "ServiceSpec", "installed_services", "up"]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    command: str
    url: str | None


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "emulator", "switchboard.emulator.main", "switchboard-emulator", "ws://127.0.0.1:8082"
    ),
    ServiceSpec("worker", "switchboard.worker.main", "switchboard-worker", None),
    ServiceSpec("store", "switchboard.store.main", "switchboard-store", "http://127.0.0.1:8081"),
    ServiceSpec(
        "gateway", "switchboard.gateway.main", "switchboard-gateway", "http://127.0.0.1:8080"
    ),
    ServiceSpec("phone", "switchboard.phone.main", "switchboard-phone", "http://127.0.0.1:8083"),
)


def installed_services() -> list[ServiceSpec]:
    """The services whose packages exist in this environment (absent ones are skipped)."""
    found = []
    for spec in SERVICES:
        try:
            present = importlib.util.find_spec(spec.module) is not None
        except ModuleNotFoundError:
            present = False
        if present and shutil.which(spec.command):
            found.append(spec)
    return found


async def _prepare(seed_demo: bool) -> None:
    db = DatabaseSettings()
    amqp = AmqpSettings()
    redis = RedisSettings()
    await check_infrastructure(db.database_url, amqp.amqp_url, redis.redis_url)
    if await ensure_database(db.database_url):
        print(f"created database {redact_url(db.database_url)}")
    await migrate(db.database_url)
    print("migrations: up to date")
    if seed_demo:
        report = await run_seed(db.database_url)
        if report.seeded:
            print(f"seeded demo data: {report.counts}")
        else:
            print("seed: database already has data; left as it is")


def recording_env() -> dict[str, str]:
    """``RECORDING_DATABASE_URL`` = the product's ``DATABASE_URL`` when neither the environment
    nor ``.env`` sets it: the gateway (which reads no ``DATABASE_URL``) then records into the
    database the store reads recordings from."""
    from switchboard.recording import RecordingStoreSettings

    if "recording_database_url" in RecordingStoreSettings().model_fields_set:
        return {}
    return {"RECORDING_DATABASE_URL": DatabaseSettings().database_url}


def up(*, workers: int = 2, seed_demo: bool = True) -> int:
    """Prepare the database, then supervise every installed service until Ctrl-C."""
    from honcho.manager import Manager
    from honcho.printer import Printer

    asyncio.run(_prepare(seed_demo))
    services = installed_services()
    if not services:
        print("no services are installed yet; nothing to run", file=sys.stderr)
        return 1
    manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty(), prefix=True))
    base_env = dict(os.environ)
    # Readable logs on a terminal; JSON lines stay the default for deployments.
    base_env.setdefault("LOG_FORMAT", "console")
    base_env.update(recording_env())
    for spec in services:
        if spec.name == "worker":
            for index in range(workers):
                env = {
                    **base_env,
                    "WORKER_HTTP_PORT": str(8090 + index),
                    "WORKER_ID": f"worker-{index + 1}",
                }
                manager.add_process(f"worker.{index + 1}", spec.command, env=env)
        else:
            manager.add_process(spec.name, spec.command, env=base_env)
    print("\nSwitchboard is starting:")
    for spec in services:
        if spec.url:
            print(f"  {spec.name:<9} {spec.url}")
        elif spec.name == "worker":
            ports = ", ".join(str(8090 + i) for i in range(workers))
            print(f"  {'workers':<9} {workers} process(es), health/metrics on :{ports}")
    if any(s.name == "gateway" for s in services):
        print(
            '  voice page http://127.0.0.1:8080/  (or: switchboard call --say "Where is my order 100001?")'
        )
    if any(s.name == "phone" for s in services):
        print('  phone     switchboard phone --customer cus_0001 --say "What is my order status?"')
    missing = [s.name for s in SERVICES if s not in services]
    if missing:
        print(f"  (not built yet: {', '.join(missing)})")
    print("Press Ctrl-C to stop.\n", flush=True)
    manager.loop()
    return manager.returncode or 0
