"""The compressed copy of each assembled recording (Ogg Opus or FLAC beside the WAV), on the real
stack: segments in the Postgres recording store (and Azure Blob Storage on Azurite), events
through RabbitMQ, the store's Postgres; the copy is decoded with soundfile and compared with the
WAV, served with the WAV's playback rules, and deleted with its session."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
import httpx
import numpy as np
import pytest
import soundfile

from switchboard.contracts.events import RecordingEnded, RecordingMark, RecordingSegment
from switchboard.recording import (
    RecordingStore,
    RecordingStoreError,
    open_recording_store,
    segment_key,
    session_prefix,
)
from switchboard.recording.settings import RecordingStoreSettings
from switchboard.store.assembler import CopyPolicy, assemble_recording
from switchboard.store.deletion import purge_older_than
from switchboard.store.metrics import StoreMetrics
from switchboard.store.recording_copy import (
    CopyFailed,
    encode_copy,
    opus_compression_level,
)
from switchboard.store.service import StoreService
from tests.conftest import RUN_ID
from tests.store.conftest import ACCOUNTS, Publisher, WaitStored
from tests.store.factories import conversation, new_session_id, recording_events
from tests.support.azurite import provide_azurite

ANALYST = ("ana", ACCOUNTS["ana"][0])
ADMIN = ("root", ACCOUNTS["root"][0])
AMPLITUDE = 8000
#: (channel, index, start ms, length ms, tone Hz, amplitude): the caller speaks 0-1000 ms, the
#: assistant 1000-1500 ms (cut: it said 1500 ms), the caller again 1500-2000 ms, more softly
SEGMENTS = [
    ("caller", 0, 0, 1000, 440.0, AMPLITUDE),
    ("assistant", 0, 1000, 500, 660.0, AMPLITUDE),
    ("caller", 1, 1500, 500, 300.0, AMPLITUDE // 2),
]
#: stretches well inside one speaker's turn (codec transients stay at the edges), and who speaks
WINDOWS = [((50, 950), 0), ((1050, 1450), 1), ((1550, 1950), 0)]


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def azurite_connection_string() -> Iterator[str]:
    """A running Azurite (AZURITE_CONNECTION_STRING, or one started for this module)."""
    with provide_azurite() as connection_string:
        yield connection_string


@pytest.fixture(params=["postgres", "azure-blob"])
def backend(request: pytest.FixtureRequest) -> RecordingStoreSettings | None:
    """Each recording store backend in turn: None for the store's own (Postgres), else the
    settings of Azure Blob Storage on Azurite."""
    if request.param == "postgres":
        return None
    return RecordingStoreSettings(
        _env_file=None,
        RECORDING_STORE="azure-blob",
        RECORDING_AZURE_CONNECTION_STRING=request.getfixturevalue("azurite_connection_string"),
        RECORDING_CONTAINER=f"recordings-{RUN_ID}-copy",
    )


@pytest.fixture
async def backend_store(
    store: StoreService, backend: RecordingStoreSettings | None
) -> AsyncIterator[RecordingStore]:
    """The recording store of *backend* (the store's own one, or one opened on Azurite)."""
    if backend is None:
        yield _recordings(store)
        return
    opened = await open_recording_store(backend)
    yield opened
    await opened.close()


def _recordings(store: StoreService) -> RecordingStore:
    assert store.recordings is not None
    return store.recordings


def _tone(rate: int, ms: int, hz: float, amplitude: int) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


async def _stored_call(
    store: StoreService,
    publisher: Publisher,
    wait_stored: WaitStored,
    *,
    rate: int = 16000,
    recordings: RecordingStore | None = None,
    with_end: bool = False,
) -> str:
    """A recorded conversation of pcm16 tones at *rate* (:data:`SEGMENTS`), its segments in
    *recordings* (the store's own by default) and its events stored; returns the session id."""
    target = recordings or _recordings(store)
    sid = new_session_id("copy")
    events = conversation(sid, interrupted=False, recording=True)
    segments = []
    for channel, index, start, ms, hz, amplitude in SEGMENTS:
        data = _tone(rate, ms, hz, amplitude)
        key = segment_key(sid, channel, index)
        await target.put(key, data)
        segments.append(
            RecordingSegment(
                channel=channel,  # type: ignore[arg-type]
                index=index,
                start_ms=start,
                duration_ms=ms,
                audio_format="pcm16",
                sample_rate=rate,
                key=key,
                size=len(data),
                item_id="item_a1" if channel == "assistant" else None,
                said_ms=1500 if channel == "assistant" else None,
            )
        )
    marks = [RecordingMark(item_id="item_a1", role="assistant", start_ms=1000, end_ms=1500)]
    ended = RecordingEnded(segments=len(SEGMENTS), duration_ms=2000) if with_end else None
    recording = recording_events(
        sid,
        first_seq=len(events),
        at=events[-1].occurred_at,
        segments=segments,
        marks=marks,
        ended=ended,
    )
    await publisher.publish(*events, *recording)
    assert await wait_stored(sid, len(events) + len(recording)) == len(events) + len(recording)
    return sid


async def _assemble(
    store: StoreService,
    sid: str,
    copy: CopyPolicy,
    *,
    recordings: RecordingStore | None = None,
    metrics: StoreMetrics | None = None,
) -> str:
    return await assemble_recording(
        store.engine,
        recordings or _recordings(store),
        sid,
        RecordingEnded(segments=len(SEGMENTS), duration_ms=2000),
        wait_s=5,
        copy=copy,
        metrics=metrics,
    )


async def _until(check: Callable[[], Awaitable[Any]], *, within_s: float = 30) -> Any:
    """Poll *check* until it returns something truthy (and return it)."""
    deadline = time.monotonic() + within_s
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def _row(db: asyncpg.Pool, sid: str) -> asyncpg.Record:
    row: asyncpg.Record = await db.fetchrow(
        "SELECT status, file_key, copy_key, copy_size, copy_type FROM audit.recording "
        "WHERE session_id = $1",
        sid,
    )
    return row


async def _plays(db: asyncpg.Pool, sid: str) -> list[dict[str, Any]]:
    """The session's 'play' rows in the view log, oldest first (detail parsed)."""
    rows = await db.fetch(
        "SELECT analyst, role, detail FROM audit.view_log WHERE session_id = $1 "
        "AND action = 'play' ORDER BY id",
        sid,
    )
    return [{**r, "detail": json.loads(r["detail"]) if r["detail"] else {}} for r in rows]


def _rms(frames: np.ndarray, rate: int, window: tuple[int, int], channel: int) -> float:
    a, b = (ms * rate // 1000 for ms in window)
    return float(np.sqrt(np.mean(frames[a:b, channel] ** 2)))


def test_the_opus_level_is_libsndfiles_bitrate_per_channel() -> None:
    """6 kbit/s per channel is level 1, 256 is level 0, 16 lies between (libsndfile's linear
    map); values outside the range are held to it."""
    assert opus_compression_level(6) == 1.0
    assert opus_compression_level(256) == 0.0
    assert opus_compression_level(16) == pytest.approx(0.96)
    assert opus_compression_level(1) == 1.0 and opus_compression_level(1000) == 0.0


def test_the_opus_copy_follows_the_bitrate_asked_for() -> None:
    """Ten seconds of noise in both channels come out near the target bitrate (libopus runs a
    variable bitrate around it): 16 kbit/s per channel about 40 kB, 48 kbit/s about 120 kB."""
    rng = np.random.default_rng(7)
    frames = (rng.standard_normal((160_000, 2)) * 3000).astype("<i2")
    wav = io.BytesIO()
    soundfile.write(wav, frames, 16000, format="WAV", subtype="PCM_16")
    low = encode_copy(wav.getvalue(), "opus", opus_kbps=16)
    high = encode_copy(wav.getvalue(), "opus", opus_kbps=48)
    assert 0.7 * 40_000 < len(low) < 1.2 * 40_000, len(low)
    assert 0.8 * 120_000 < len(high) < 1.2 * 120_000, len(high)


def test_opus_refuses_a_rate_it_does_not_take() -> None:
    """A WAV at 11,025 Hz cannot be copied as Opus (8, 12, 16, 24, 48 kHz only): CopyFailed says
    so; FLAC takes it."""
    wav = io.BytesIO()
    soundfile.write(wav, np.zeros((11025, 2), dtype="<i2"), 11025, format="WAV")
    with pytest.raises(CopyFailed, match="sample rate"):
        encode_copy(wav.getvalue(), "opus")
    assert soundfile.info(io.BytesIO(encode_copy(wav.getvalue(), "flac"))).samplerate == 11025


async def test_the_assembler_makes_an_opus_copy_beside_the_wav(
    store: StoreService,
    publisher: Publisher,
    db: asyncpg.Pool,
    http: httpx.AsyncClient,
    wait_stored: WaitStored,
) -> None:
    """Through the job queue with the default settings: the recording becomes ready with
    recording.opus (audio/ogg) beside recording.wav, recorded on its row, announced by the
    timeline and counted as made."""
    made = store.metrics.recording_copies.labels("opus", "made")
    before = made._value.get()
    sid = await _stored_call(store, publisher, wait_stored, with_end=True)

    async def ready() -> bool:
        row = await _row(db, sid)
        return row is not None and row["status"] == "ready"

    assert await _until(ready)
    row = await _row(db, sid)
    prefix = session_prefix(sid)
    assert (row["copy_key"], row["copy_type"]) == (f"{prefix}recording.opus", "audio/ogg")
    assert await _recordings(store).size(row["copy_key"]) == row["copy_size"]
    keys = await _recordings(store).keys(prefix)
    assert {f"{prefix}recording.wav", f"{prefix}recording.opus"} <= set(keys)
    timeline = (await http.get(f"/api/sessions/{sid}/recording/timeline", auth=ANALYST)).json()
    assert timeline["compressed"] == {"content_type": "audio/ogg", "size": row["copy_size"]}
    assert timeline["compressed"]["size"] < timeline["file_size"] / 4
    assert made._value.get() == before + 1


@pytest.mark.parametrize(
    ("codec", "rate"),
    [("opus", 8000), ("opus", 16000), ("opus", 24000), ("flac", 16000)],
)
async def test_the_copy_decodes_to_the_wavs_channels_rate_and_length(
    store: StoreService,
    publisher: Publisher,
    wait_stored: WaitStored,
    codec: Literal["opus", "flac"],
    rate: int,
) -> None:
    """Decoded, the copy has the WAV's two channels, rate and length; each speaker's tone keeps
    its loudness in its own channel and the other channel stays silent; FLAC is bit-exact."""
    sid = await _stored_call(store, publisher, wait_stored, rate=rate)
    assert await _assemble(store, sid, CopyPolicy(codec)) == "ready"
    prefix = session_prefix(sid)
    extension = "opus" if codec == "opus" else "flac"
    wav_bytes = await _recordings(store).get(f"{prefix}recording.wav")
    copy_bytes = await _recordings(store).get(f"{prefix}recording.{extension}")
    wav, wav_rate = soundfile.read(io.BytesIO(wav_bytes), dtype="float64", always_2d=True)
    copy, copy_rate = soundfile.read(io.BytesIO(copy_bytes), dtype="float64", always_2d=True)
    assert (copy_rate, copy.shape[1]) == (wav_rate, 2) == (rate, 2)
    assert abs(copy.shape[0] - wav.shape[0]) <= rate // 50  # within one 20 ms codec frame
    if codec == "flac":
        assert np.array_equal(copy, wav)
    n = min(copy.shape[0], wav.shape[0])
    for window, speaker in WINDOWS:
        other = 1 - speaker
        said = _rms(wav, rate, window, speaker)
        assert said > 0.05
        assert _rms(copy, rate, window, speaker) == pytest.approx(said, rel=0.15), window
        assert _rms(wav, rate, window, other) == 0.0
        assert _rms(copy, rate, window, other) < 0.02 * said, window
    for channel in (0, 1):
        correlation = np.corrcoef(wav[:n, channel], copy[:n, channel])[0, 1]
        assert correlation > 0.95, (channel, correlation)


async def test_none_makes_no_copy(
    store: StoreService,
    publisher: Publisher,
    db: asyncpg.Pool,
    http: httpx.AsyncClient,
    wait_stored: WaitStored,
) -> None:
    """With STORE_RECORDING_COMPRESSED=none only the WAV is written: no copy object, none on the
    row or the timeline, no compressed URL on the ticket, 404 for format=compressed."""
    sid = await _stored_call(store, publisher, wait_stored)
    assert await _assemble(store, sid, CopyPolicy("none")) == "ready"
    prefix = session_prefix(sid)
    keys = await _recordings(store).keys(prefix)
    assert [k for k in keys if not k.endswith(".raw")] == [f"{prefix}recording.wav"]
    row = await _row(db, sid)
    assert (row["status"], row["copy_key"], row["copy_size"], row["copy_type"]) == (
        "ready",
        None,
        None,
        None,
    )
    timeline = (await http.get(f"/api/sessions/{sid}/recording/timeline", auth=ANALYST)).json()
    assert timeline["compressed"] is None
    ticket = (await http.post(f"/api/sessions/{sid}/recording/ticket", auth=ANALYST)).json()
    assert ticket["compressed_url"] is None
    r = await http.get(
        f"/api/sessions/{sid}/recording", params={"format": "compressed"}, auth=ANALYST
    )
    assert (r.status_code, r.json()["detail"]) == (404, "this recording has no compressed copy")
    assert (await http.get(f"/api/sessions/{sid}/recording", auth=ANALYST)).status_code == 200


class _RefusingCopies:
    """The store's recording store, except that it refuses to take a copy (``recording.opus``)."""

    def __init__(self, inner: RecordingStore) -> None:
        self._inner = inner

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        if key.endswith(".opus"):
            raise RecordingStoreError("the store refused the copy (test)")
        await self._inner.put(key, data, content_type=content_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("failure", ["encoder", "store"])
async def test_a_copy_that_fails_leaves_a_ready_wav_and_is_counted(
    store: StoreService,
    publisher: Publisher,
    db: asyncpg.Pool,
    http: httpx.AsyncClient,
    wait_stored: WaitStored,
    failure: str,
) -> None:
    """When the Opus encoder refuses the WAV (11,025 Hz, a rate Opus does not take) or the store
    refuses the copy, the recording is still ready with its WAV, the copy is absent, and
    switchboard_store_recording_copies_total{outcome="failed"} counts it."""
    rate = 11025 if failure == "encoder" else 16000
    sid = await _stored_call(store, publisher, wait_stored, rate=rate)
    metrics = StoreMetrics()
    recordings: Any = _RefusingCopies(_recordings(store)) if failure == "store" else None
    outcome = await _assemble(
        store, sid, CopyPolicy("opus"), recordings=recordings, metrics=metrics
    )
    assert outcome == "ready"
    row = await _row(db, sid)
    assert (row["status"], row["copy_key"]) == ("ready", None)
    prefix = session_prefix(sid)
    assert f"{prefix}recording.opus" not in await _recordings(store).keys(prefix)
    assert metrics.recording_copies.labels("opus", "failed")._value.get() == 1
    assert metrics.recording_copies.labels("opus", "made")._value.get() == 0
    r = await http.get(f"/api/sessions/{sid}/recording", auth=ANALYST)
    assert r.status_code == 200
    assert soundfile.info(io.BytesIO(r.content)).samplerate == rate


async def test_the_copy_is_served_by_range_and_each_download_is_audited(
    store: StoreService,
    publisher: Publisher,
    db: asyncpg.Pool,
    http: httpx.AsyncClient,
    wait_stored: WaitStored,
) -> None:
    """format=compressed serves the copy as the WAV is served: whole (200, audio/ogg, as an
    attachment), by range (206, Content-Range), 416 past the end, HEAD; one 'play' row (format
    compressed) per GET from byte 0 and none for later ranges or HEAD; the ticket's compressed
    URL plays it without credentials for its session only; deleting the session deletes it."""
    sid = await _stored_call(store, publisher, wait_stored)
    assert await _assemble(store, sid, CopyPolicy("opus")) == "ready"
    url = f"/api/sessions/{sid}/recording"
    compressed = {"format": "compressed"}
    whole = await http.get(url, params=compressed, auth=ANALYST)
    assert whole.status_code == 200, whole.text
    assert whole.headers["content-type"] == "audio/ogg"
    assert whole.headers["content-disposition"] == f'attachment; filename="{sid}.opus"'
    assert whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    assert whole.content[:4] == b"OggS"
    assert size == (await _row(db, sid))["copy_size"]
    assert len(await _plays(db, sid)) == 1
    for header, start, end in (
        ("bytes=0-99", 0, 100),
        ("bytes=500-1499", 500, 1500),
        ("bytes=-300", size - 300, size),
    ):
        r = await http.get(url, params=compressed, headers={"Range": header}, auth=ANALYST)
        assert r.status_code == 206, (header, r.text)
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
        assert r.content == whole.content[start:end]
    r = await http.get(url, params=compressed, headers={"Range": f"bytes={size}-"}, auth=ANALYST)
    assert (r.status_code, r.headers["content-range"]) == (416, f"bytes */{size}")
    head = await http.head(url, params=compressed, auth=ANALYST)
    assert (head.status_code, head.headers["content-length"]) == (200, str(size))
    plays = await _plays(db, sid)
    assert len(plays) == 2  # the whole GET and bytes=0-99; not the later ranges, 416 or HEAD
    assert all(p["detail"]["format"] == "compressed" for p in plays)
    assert (plays[0]["analyst"], plays[0]["role"]) == ("ana", "analyst")

    ticket = (await http.post(f"{url}/ticket", auth=ADMIN)).json()
    assert ticket["compressed_url"] == f"{ticket['url']}&format=compressed"
    by_ticket = await http.get(ticket["compressed_url"], headers={"Range": "bytes=0-"})
    assert (by_ticket.status_code, by_ticket.content) == (206, whole.content)
    last = (await _plays(db, sid))[-1]
    assert (last["analyst"], last["role"], last["detail"]["format"]) == (
        "root",
        "admin",
        "compressed",
    )
    other = await _stored_call(store, publisher, wait_stored)
    token = ticket["url"].split("ticket=")[1]
    refused = await http.get(
        f"/api/sessions/{other}/recording", params={"ticket": token, **compressed}
    )
    assert refused.status_code == 403
    assert (await http.get(url, params=compressed)).status_code == 401

    prefix = session_prefix(sid)
    assert f"{prefix}recording.opus" in await _recordings(store).keys(prefix)
    assert (await http.delete(f"/api/sessions/{sid}", auth=ADMIN)).status_code == 204
    assert await _recordings(store).keys(prefix) == []


async def test_retention_deletes_the_copy_in_either_backend(
    store: StoreService,
    publisher: Publisher,
    db: asyncpg.Pool,
    wait_stored: WaitStored,
    backend_store: RecordingStore,
) -> None:
    """A recording assembled into a backend (Postgres, or Azure Blob Storage on Azurite) has its
    copy there beside the WAV; retention deletes the session with every object, the copy too."""
    recordings = backend_store
    sid = await _stored_call(store, publisher, wait_stored, recordings=recordings)
    assert await _assemble(store, sid, CopyPolicy("opus"), recordings=recordings) == "ready"
    prefix = session_prefix(sid)
    keys = await recordings.keys(prefix)
    assert {f"{prefix}recording.wav", f"{prefix}recording.opus"} <= set(keys)
    # aged once assembled (an old session with an open recording would be the abandoned
    # recordings sweep's to assemble), past any other test's sessions: retention takes it alone
    await db.execute(
        "UPDATE audit.session SET started_at = $2 WHERE id = $1",
        sid,
        datetime.now(UTC) - timedelta(days=40_000),
    )
    assert await purge_older_than(store.engine, 39_999, recordings=recordings) == 1
    assert await recordings.keys(prefix) == []
