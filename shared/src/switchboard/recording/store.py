"""The recording store's interface, its errors, its keys, and how a service opens it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from switchboard.recording.settings import RecordingStoreSettings

__all__ = [
    "RecordingNotFound",
    "RecordingStore",
    "RecordingStoreError",
    "open_recording_store",
    "segment_key",
    "session_prefix",
]


class RecordingStoreError(Exception):
    """The store could not do what was asked (unreachable, timed out, refused)."""


class RecordingNotFound(RecordingStoreError):
    """No object has that key."""


class RecordingStore(Protocol):
    """Objects (bytes under a key) with ranged reads; keys of one session share its prefix."""

    #: the backend's name (postgres, azure-blob), for logs and metrics
    kind: str

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        """Write the object (replacing one under the same key)."""
        ...

    async def get(self, key: str, *, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of the object (to its end when *end* is None); raises
        :class:`RecordingNotFound`."""
        ...

    async def size(self, key: str) -> int:
        """The object's length in bytes; raises :class:`RecordingNotFound`."""
        ...

    async def keys(self, prefix: str) -> list[str]:
        """The keys that start with *prefix*, sorted."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with *prefix*; returns how many."""
        ...

    async def ready(self) -> bool:
        """Whether the store answers (for readiness probes)."""
        ...

    async def close(self) -> None: ...


def session_prefix(session_id: str) -> str:
    """The prefix of every object of one session's recording."""
    return f"{session_id}/"


def segment_key(session_id: str, channel: str, index: int) -> str:
    """The key of a raw segment: ``{session}/{channel}/{index:06d}.raw``."""
    return f"{session_id}/{channel}/{index:06d}.raw"


async def open_recording_store(settings: RecordingStoreSettings) -> RecordingStore:
    """The backend *settings* name, connected (a container is created when missing)."""
    if settings.recording_store == "postgres":
        from switchboard.recording.postgres import PostgresRecordingStore

        return PostgresRecordingStore.from_settings(settings)
    if settings.recording_store == "azure-blob":
        from switchboard.recording.azure import AzureBlobRecordingStore

        return await AzureBlobRecordingStore.from_settings(settings)
    raise ValueError(f"unknown RECORDING_STORE {settings.recording_store!r}")
