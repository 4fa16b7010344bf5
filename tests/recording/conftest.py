"""Fixtures of the recording store tests: Azurite for the run, and the settings of each backend
(Postgres on the run's migrated database, Azure Blob Storage on Azurite)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from switchboard.recording.settings import RecordingStoreKind, RecordingStoreSettings
from switchboard.recording.store import RecordingStore, open_recording_store
from tests.conftest import RUN_ID
from tests.support.azurite import provide_azurite

BACKENDS: list[RecordingStoreKind] = ["postgres", "azure-blob"]


def recording_settings(kind: RecordingStoreKind, **values: object) -> RecordingStoreSettings:
    """Settings of backend *kind* from *values* (environment variable names) only: no .env."""
    return RecordingStoreSettings(_env_file=None, RECORDING_STORE=kind, **values)


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    """A running Azurite's connection string (AZURITE_CONNECTION_STRING, else one started for
    the run and stopped after it)."""
    with provide_azurite() as connection_string:
        yield connection_string


@pytest.fixture(params=BACKENDS)
def store_settings(request: pytest.FixtureRequest) -> RecordingStoreSettings:
    """Settings of each backend in turn, against the run's database or Azurite."""
    kind: RecordingStoreKind = request.param
    if kind == "postgres":
        return recording_settings(
            kind, RECORDING_DATABASE_URL=request.getfixturevalue("database_url")
        )
    return recording_settings(
        kind,
        RECORDING_AZURE_CONNECTION_STRING=request.getfixturevalue("azurite_connection_string"),
        RECORDING_CONTAINER=f"recordings-{RUN_ID}",
    )


@pytest.fixture
async def store(store_settings: RecordingStoreSettings) -> AsyncIterator[RecordingStore]:
    """The backend of *store_settings*, opened through the factory services use."""
    opened = await open_recording_store(store_settings)
    yield opened
    await opened.close()
