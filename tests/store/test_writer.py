"""The batch writer on its own against the real database: staging tables emptied at each commit,
and a role that may not create them is retried like an outage rather than taken for bad data."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from switchboard.store.service import plain_dsn
from switchboard.store.writer import BatchWriter, StagingUnavailable, is_data_error
from tests.store.factories import conversation, new_session_id


async def test_staged_rows_do_not_outlive_their_batch(db: asyncpg.Pool) -> None:
    """Batches written one after another on the same connection each merge only their own
    rows: counters are not added twice, and a re-sent batch stores nothing."""
    writer = BatchWriter(db, escalation_tools=frozenset())
    first, second = conversation(new_session_id("w1")), conversation(new_session_id("w2"))
    assert len((await writer.write(first)).stored) == len(first)
    assert len((await writer.write(second)).stored) == len(second)
    again = await writer.write(first)
    assert again.stored == [] and again.duplicates == len(first)
    counts = await db.fetch(
        "SELECT id, event_count, user_turns, tool_calls FROM audit.session WHERE id = ANY($1)",
        [first[0].session_id, second[0].session_id],
    )
    assert sorted(tuple(r)[1:] for r in counts) == [(len(first), 1, 1), (len(second), 1, 1)]
    items = await db.fetchval(
        "SELECT count(*) FROM audit.item WHERE session_id = $1", first[0].session_id
    )
    assert items == 2


@pytest.fixture
async def role_without_temp(store_database_url: str, db: asyncpg.Pool) -> str:
    """A login role that may read and write the audit tables but not create temporary tables
    (PUBLIC's TEMPORARY privilege on the database is revoked meanwhile)."""
    role, password = f"sb_notemp_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    database = urlsplit(plain_dsn(store_database_url)).path.strip("/")
    await db.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    await db.execute(f"GRANT USAGE ON SCHEMA audit TO {role}")
    await db.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA audit TO {role}")
    await db.execute(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC')
    parts = urlsplit(plain_dsn(store_database_url))
    host = parts.netloc.rsplit("@", 1)[-1]
    yield urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))
    await db.execute(f'GRANT TEMPORARY ON DATABASE "{database}" TO PUBLIC')
    await db.execute(f"DROP OWNED BY {role}")
    await db.execute(f"DROP ROLE {role}")


async def test_a_role_without_temporary_tables_is_an_outage_not_bad_data(
    role_without_temp: str,
) -> None:
    """Without the TEMPORARY privilege the write fails with StagingUnavailable, which the ingest
    retries (the batch stays unacknowledged) instead of dead-lettering every event."""
    pool = await asyncpg.create_pool(role_without_temp, min_size=1, max_size=1)
    try:
        writer = BatchWriter(pool, escalation_tools=frozenset())
        with pytest.raises(StagingUnavailable) as caught:
            await writer.write(conversation(new_session_id("notemp")))
        assert "temporary" in str(caught.value) and not is_data_error(caught.value)
    finally:
        await pool.close()
