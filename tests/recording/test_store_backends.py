"""The recording store's contract, the same tests against every backend: Postgres (the run's
database) and Azure Blob Storage (Azurite), each opened through ``open_recording_store``."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from switchboard.recording.azure import AzureBlobRecordingStore
from switchboard.recording.postgres import PostgresRecordingStore, asyncpg_dsn
from switchboard.recording.settings import RecordingStoreKind, RecordingStoreSettings
from switchboard.recording.store import (
    RecordingNotFound,
    RecordingStore,
    RecordingStoreError,
    open_recording_store,
    segment_key,
    session_prefix,
)
from tests.recording.conftest import recording_settings
from tests.support.azurite import dev_connection_string

DATA = bytes(range(256)) * 4  # 1 KiB, every byte value


def new_session() -> str:
    return f"rec-{uuid.uuid4().hex[:12]}"


async def test_put_then_get_returns_the_object(store: RecordingStore) -> None:
    """An object written is read back whole, byte for byte."""
    key = segment_key(new_session(), "caller", 0)
    await store.put(key, DATA, content_type="audio/basic")
    assert await store.get(key) == DATA


async def test_ranged_get_returns_exactly_the_range(store: RecordingStore) -> None:
    """get(start, end) returns bytes [start, end): inside, at the edges, empty when start equals
    end or lies past the object, and cut at the object's end when end lies past it."""
    key = segment_key(new_session(), "caller", 0)
    await store.put(key, DATA)
    n = len(DATA)
    for start, end in [(0, 1), (3, 7), (0, n), (n - 1, n), (100, 612), (5, 5), (0, 0), (n, n)]:
        assert await store.get(key, start=start, end=end) == DATA[start:end], (start, end)
    assert await store.get(key, start=1000) == DATA[1000:]
    assert await store.get(key, start=1000, end=n + 500) == DATA[1000:]
    assert await store.get(key, start=n) == b""
    assert await store.get(key, start=n + 10, end=n + 20) == b""
    with pytest.raises(ValueError):
        await store.get(key, start=7, end=3)


async def test_size_is_the_object_length(store: RecordingStore) -> None:
    """size() is the object's length in bytes, also for an empty object."""
    session = new_session()
    await store.put(segment_key(session, "caller", 0), DATA)
    await store.put(segment_key(session, "caller", 1), b"")
    assert await store.size(segment_key(session, "caller", 0)) == len(DATA)
    assert await store.size(segment_key(session, "caller", 1)) == 0
    assert await store.get(segment_key(session, "caller", 1)) == b""


async def test_put_replaces_the_object(store: RecordingStore) -> None:
    """A second put under the same key replaces the object (content and size)."""
    key = segment_key(new_session(), "assistant", 0)
    await store.put(key, DATA)
    await store.put(key, b"shorter")
    assert await store.get(key) == b"shorter"
    assert await store.size(key) == len(b"shorter")
    assert len(await store.keys(key)) == 1


async def test_keys_are_those_with_the_prefix_sorted(store: RecordingStore) -> None:
    """keys(prefix) lists the keys starting with it, sorted; session s1's prefix does not match
    session s10's keys."""
    base = new_session()
    s1, s10 = f"{base}-s1", f"{base}-s10"
    written = [
        segment_key(s1, "caller", 2),
        segment_key(s10, "caller", 0),
        segment_key(s1, "assistant", 0),
        segment_key(s1, "caller", 0),
        f"{s1}/call.wav",
    ]
    for key in written:
        await store.put(key, b"x")
    assert await store.keys(session_prefix(s1)) == sorted(
        k for k in written if k.startswith(s1 + "/")
    )
    assert await store.keys(session_prefix(s10)) == [segment_key(s10, "caller", 0)]
    assert await store.keys(f"{s1}/caller/") == [
        segment_key(s1, "caller", 0),
        segment_key(s1, "caller", 2),
    ]
    assert await store.keys(session_prefix(new_session())) == []


async def test_delete_prefix_removes_exactly_the_session(store: RecordingStore) -> None:
    """delete_prefix removes every object of one session, none of another whose id extends it,
    and returns how many it removed (0 the second time)."""
    base = new_session()
    s1, s10 = f"{base}-s1", f"{base}-s10"
    for i in range(5):
        await store.put(segment_key(s1, "caller", i), DATA)
    await store.put(f"{s1}/call.wav", DATA)
    await store.put(segment_key(s10, "caller", 0), DATA)
    assert await store.delete_prefix(session_prefix(s1)) == 6
    assert await store.keys(session_prefix(s1)) == []
    with pytest.raises(RecordingNotFound):
        await store.get(segment_key(s1, "caller", 0))
    assert await store.get(segment_key(s10, "caller", 0)) == DATA
    assert await store.delete_prefix(session_prefix(s1)) == 0


async def test_missing_key_is_not_found(store: RecordingStore) -> None:
    """Reading or sizing a key nobody wrote raises RecordingNotFound, for any range."""
    key = segment_key(new_session(), "caller", 0)
    with pytest.raises(RecordingNotFound):
        await store.get(key)
    with pytest.raises(RecordingNotFound):
        await store.get(key, start=10, end=20)
    with pytest.raises(RecordingNotFound):
        await store.get(key, start=0, end=0)
    with pytest.raises(RecordingNotFound):
        await store.size(key)
    assert issubclass(RecordingNotFound, RecordingStoreError)


async def test_empty_prefix_is_refused(store: RecordingStore) -> None:
    """delete_prefix("") refuses to delete everything and deletes nothing."""
    key = segment_key(new_session(), "caller", 0)
    await store.put(key, DATA)
    with pytest.raises(ValueError):
        await store.delete_prefix("")
    assert await store.get(key) == DATA


async def test_large_object_round_trips(store: RecordingStore) -> None:
    """A 5 MB object is read back whole and in ranges, including across 4 MiB."""
    key = f"{new_session()}/call.wav"
    data = os.urandom(5 * 1024 * 1024)
    await store.put(key, data, content_type="audio/wav")
    assert await store.size(key) == len(data)
    assert await store.get(key) == data
    boundary = 4 * 1024 * 1024
    assert (
        await store.get(key, start=boundary - 10, end=boundary + 10)
        == data[boundary - 10 : boundary + 10]
    )
    assert await store.get(key, start=len(data) - 100) == data[-100:]


async def test_ready_when_the_store_answers(
    store: RecordingStore, store_settings: RecordingStoreSettings
) -> None:
    """ready() is true for a reachable store, and kind names the configured backend."""
    assert await store.ready()
    assert store.kind == store_settings.recording_store


async def test_close_is_idempotent(store_settings: RecordingStoreSettings) -> None:
    """A store can be closed twice."""
    store = await open_recording_store(store_settings)
    await store.close()
    await store.close()


# -- an unreachable store fails in time --------------------------------------------------------

TIMEOUT_S = 2.0


@pytest.fixture(params=["closed port", "silent server"])
def dead_port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A port of 127.0.0.1 where nothing listens, or where a socket accepts connections (the
    kernel completes them) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if request.param == "closed port":
        sock.close()
        yield port
        return
    sock.listen(64)
    try:
        yield port
    finally:
        sock.close()


def _unreachable_settings(kind: RecordingStoreKind, port: int) -> RecordingStoreSettings:
    if kind == "postgres":
        return recording_settings(
            kind,
            RECORDING_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/switchboard",
            RECORDING_TIMEOUT_S=TIMEOUT_S,
        )
    return recording_settings(
        kind,
        RECORDING_AZURE_CONNECTION_STRING=dev_connection_string(port),
        RECORDING_TIMEOUT_S=TIMEOUT_S,
    )


@pytest.mark.parametrize("kind", ["postgres", "azure-blob"])
async def test_unreachable_store_fails_within_the_timeout(
    kind: RecordingStoreKind, dead_port: int
) -> None:
    """Against a closed port or a server that never answers, opening the store or writing to it
    raises RecordingStoreError within RECORDING_TIMEOUT_S, rather than hanging."""
    settings = _unreachable_settings(kind, dead_port)

    async def open_and_put() -> None:
        store = await open_recording_store(settings)
        try:
            await store.put(segment_key(new_session(), "caller", 0), DATA)
        finally:
            await store.close()

    began = time.monotonic()
    with pytest.raises(RecordingStoreError):
        await asyncio.wait_for(open_and_put(), timeout=4 * TIMEOUT_S)
    assert time.monotonic() - began < TIMEOUT_S + 1.0


async def test_postgres_store_is_not_ready_when_unreachable(dead_port: int) -> None:
    """The Postgres backend (which connects lazily) reports not ready, in time, when its
    database does not answer."""
    store = await open_recording_store(_unreachable_settings("postgres", dead_port))
    began = time.monotonic()
    try:
        assert not await store.ready()
    finally:
        await store.close()
    assert time.monotonic() - began < TIMEOUT_S + 1.0


# -- Azure specifics ---------------------------------------------------------------------------


async def test_azure_store_creates_its_container(azurite_connection_string: str) -> None:
    """Opening the azure-blob store creates a missing container, and opening it again (the
    container exists) works too."""
    settings = recording_settings(
        "azure-blob",
        RECORDING_AZURE_CONNECTION_STRING=azurite_connection_string,
        RECORDING_CONTAINER=f"fresh-{uuid.uuid4().hex[:12]}",
    )
    first = await open_recording_store(settings)
    assert isinstance(first, AzureBlobRecordingStore)
    try:
        await first.put("s/a.raw", b"abc")
        second = await open_recording_store(settings)
        try:
            assert await second.get("s/a.raw") == b"abc"
        finally:
            await second.close()
    finally:
        await first.close()


async def test_azure_store_needs_a_connection_string() -> None:
    """RECORDING_STORE=azure-blob without RECORDING_AZURE_CONNECTION_STRING is refused."""
    with pytest.raises(ValueError, match="RECORDING_AZURE_CONNECTION_STRING"):
        await open_recording_store(recording_settings("azure-blob"))


async def test_azure_store_without_its_container_is_broken(azurite_connection_string: str) -> None:
    """When the container disappears, reads raise RecordingStoreError (not RecordingNotFound)
    and the store is not ready."""
    settings = recording_settings(
        "azure-blob",
        RECORDING_AZURE_CONNECTION_STRING=azurite_connection_string,
        RECORDING_CONTAINER=f"gone-{uuid.uuid4().hex[:12]}",
    )
    store = await open_recording_store(settings)
    assert isinstance(store, AzureBlobRecordingStore)
    try:
        await store._container.delete_container()
        for read in (store.get("s/a.raw"), store.size("s/a.raw")):
            with pytest.raises(RecordingStoreError) as raised:
                await read
            assert not isinstance(raised.value, RecordingNotFound)
        assert not await store.ready()
    finally:
        await store.close()


# -- Postgres specifics --------------------------------------------------------------------------


def test_asyncpg_dsn_drops_the_sqlalchemy_driver() -> None:
    """The URLs settings produce (postgresql+asyncpg://) are given to asyncpg without the driver;
    plain URLs and their query strings are kept as they are."""
    assert (
        asyncpg_dsn("postgresql+asyncpg://u:p@h:5/db?ssl=require")
        == "postgresql://u:p@h:5/db?ssl=require"
    )
    assert asyncpg_dsn("postgresql://u@h/db") == "postgresql://u@h/db"


async def test_postgres_store_takes_a_settings_url(database_url: str) -> None:
    """The Postgres backend opened from a postgresql+asyncpg:// URL writes and reads, and a
    write under an existing key replaces it (the asyncpg pool's prepared statements)."""
    url = database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    store = await open_recording_store(recording_settings("postgres", RECORDING_DATABASE_URL=url))
    assert isinstance(store, PostgresRecordingStore)
    key = segment_key(new_session(), "assistant", 0)
    try:
        for payload in (DATA, DATA[::-1], b""):
            await store.put(key, payload)
            assert await store.get(key) == payload
            assert await store.size(key) == len(payload)
    finally:
        await store.delete_prefix(key.split("/", 1)[0] + "/")
        await store.close()


async def test_postgres_store_releases_connections_without_a_reset_query(database_url: str) -> None:
    """A put is one statement on the wire: the pool does not follow it with asyncpg's default
    reset query (``RESET ALL`` and the rest, a round trip per segment); the connection's last
    statement, as Postgres reports it, is the INSERT itself."""
    name = f"rec-test-{uuid.uuid4().hex[:8]}"
    store = PostgresRecordingStore(database_url, application_name=name)
    key = segment_key(new_session(), "caller", 0)
    probe = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await store.put(key, DATA)
        query = await probe.fetchval(
            "SELECT query FROM pg_stat_activity WHERE application_name = $1", name
        )
        assert query is not None and query.startswith("INSERT INTO audit.recording_object")
        assert await store.get(key) == DATA  # the connection is still good for the next use
    finally:
        await probe.close()
        await store.delete_prefix(key.split("/", 1)[0] + "/")
        await store.close()


async def test_postgres_store_backs_off_while_its_database_is_unreachable(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that cannot be reached (here: one that does not exist) is not tried again by
    every operation: after a failure, operations fail at once for the back-off (no connection
    attempt: a gateway recording many calls opened one per segment), and once it has passed the
    next operation tries again."""
    import switchboard.recording.postgres as backend

    monkeypatch.setattr(backend, "BACKOFF_S", (0.5, 5.0))
    attempts = 0
    real_connect = backend.asyncpg.connect

    async def counting_connect(*args: object, **kwargs: object) -> object:
        nonlocal attempts
        attempts += 1
        return await real_connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("asyncpg.pool.connection.connect", counting_connect)
    missing = database_url.rsplit("/", 1)[0] + f"/no_such_db_{uuid.uuid4().hex[:8]}"
    store = PostgresRecordingStore(missing, timeout_s=TIMEOUT_S)
    key = segment_key(new_session(), "caller", 0)
    try:
        with pytest.raises(RecordingStoreError, match="InvalidCatalogName"):
            await store.put(key, DATA)
        tried = attempts
        assert tried >= 1
        for _ in range(20):  # within the back-off: refused at once, nothing tried
            with pytest.raises(RecordingStoreError, match="unreachable"):
                await store.put(key, DATA)
        assert attempts == tried
        await asyncio.sleep(0.6)
        with pytest.raises(RecordingStoreError, match="InvalidCatalogName"):
            await store.put(key, DATA)  # the back-off passed: tried again
        assert attempts > tried
    finally:
        await store.close()
