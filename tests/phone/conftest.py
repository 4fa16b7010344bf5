"""The whole product plus the phone bridge for the phone tests: emulator, tool worker, store,
gateway and ``switchboard-phone`` as child processes on free ports over a freshly migrated and
seeded database and a namespace of their own (started once for the package), a local
stand-in of Twilio's REST API that records the bridge's call updates, and a local stand-in of
Azure Communication Services (Call Automation REST API, its JWT keys, callbacks, media)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from switchboard.cli.acs_cloud import AcsCloud
from switchboard.cli.product import start_product
from switchboard.cli.stack import Stack, free_port
from tests.conftest import RUN_ID, SEED_AS_OF, create_database, drop_database
from tests.e2e.conftest import EMULATOR_KEY, SERVER_KEY, Product, _clean_namespace
from tests.infra import InfraUrls
from tests.phone.twilio_standin import TwilioStandIn
from tests.voice import conftest as voice_fixtures

AUTH_TOKEN = "phone-test-auth-token"
ACCOUNT_SID = "AC" + "1" * 32
TRANSFER_TO = "+15550199000"
ACS_ACCESS_KEY = "cGhvbmUtdGVzdC1hY3MtYWNjZXNzLWtleQ=="
ACS_RESOURCE_ID = "7a1e0c9e-4f0b-4c6e-9d55-0000000acs42"
EVENTGRID_SECRET = "phone-test-eventgrid-secret"

say = voice_fixtures.say
voice = voice_fixtures.voice


@dataclass(frozen=True)
class PhoneProduct:
    product: Product
    bridge: str
    twilio: TwilioStandIn
    acs: AcsCloud
    logs: Path

    def bridge_log(self) -> str:
        return (self.logs / "phone.log").read_text(errors="replace")


@dataclass(frozen=True)
class Caller:
    customer_id: str
    number: str
    postal_code: str


async def caller_of(database_url: str, customer_id: str) -> Caller:
    """A seeded customer's number and postal code, for a caller who knows them."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        row = await conn.fetchrow(
            "SELECT phone, postal_code FROM shop.customer WHERE id = $1", customer_id
        )
    finally:
        await conn.close()
    assert row is not None
    return Caller(customer_id, str(row["phone"]), str(row["postal_code"]))


@pytest.fixture(scope="session")
async def phone(
    infra: InfraUrls, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PhoneProduct]:
    """The running product with the phone bridge in front of the gateway."""
    from switchboard.cli.db import migrate, run_seed

    name = f"sbtest_{RUN_ID}_phone"
    database_url = await create_database(infra.database_url, name)
    await migrate(database_url)
    await run_seed(database_url, as_of=SEED_AS_OF)
    namespace = f"t{RUN_ID}-phone"
    logs = tmp_path_factory.mktemp("phone-logs")
    twilio = await TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    acs = await AcsCloud(access_key=ACS_ACCESS_KEY, resource_id=ACS_RESOURCE_ID).start()
    stack = Stack(
        base_env={
            "DATABASE_URL": database_url,
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": namespace,
            "SWITCHBOARD_ENV": "development",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
        },
        log_dir=logs,
    )
    try:
        urls = await start_product(
            stack,
            emulator_key=EMULATOR_KEY,
            server_key=SERVER_KEY,
            worker_today=SEED_AS_OF.isoformat(),
            timeout_s=240,  # the emulator loads its speech models; slow on a shared machine
        )
        port = free_port()
        stack.add(
            "phone",
            "switchboard-phone",
            env={
                "PHONE_PORT": str(port),
                "PHONE_GATEWAY_URL": urls.gateway,
                "PHONE_GATEWAY_SERVER_KEY": SERVER_KEY,
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_API_BASE_URL": twilio.url,
                "PHONE_TRANSFER_TO": TRANSFER_TO,
                "ACS_ENABLED": "true",
                "ACS_CONNECTION_STRING": acs.connection_string(),
                "ACS_RESOURCE_ID": ACS_RESOURCE_ID,
                "ACS_JWKS_URL": f"{acs.url}/calling/keys",
                "ACS_EVENTGRID_SECRET": EVENTGRID_SECRET,
                # ACS is asked to speak the prompts; the stand-in records them
                "ACS_COGNITIVE_SERVICES_ENDPOINT": "https://sim.cognitiveservices.azure.com/",
                "PHONE_STORE_URL": urls.store,
                "PHONE_DTMF_PAUSE_S": "1.0",
                "PHONE_TRANSFER_GRACE_S": "120",  # a slow, shared machine must not cut the answer
            },
            health_url=f"http://127.0.0.1:{port}/readyz",
        )
        await stack.start(timeout_s=120)
        yield PhoneProduct(
            product=Product(
                gateway=urls.gateway,
                store=urls.store,
                emulator=urls.emulator,
                database_url=database_url,
                namespace=namespace,
                logs=logs,
            ),
            bridge=f"http://127.0.0.1:{port}",
            twilio=twilio,
            acs=acs,
            logs=logs,
        )
    finally:
        stack.stop()
        await twilio.stop()
        await acs.stop()
        with contextlib.suppress(Exception):
            await _clean_namespace(infra, namespace)
        await drop_database(infra.database_url, name)
