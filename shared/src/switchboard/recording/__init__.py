"""Call recordings: where their audio is kept.

One interface (:class:`RecordingStore`, an object store of keys and bytes with ranged reads)
and its backends: Postgres (:mod:`.postgres`, the embedded default, so a deployment records with
nothing else installed) and Azure Blob Storage (:mod:`.azure`). The gateway writes segments as
the call goes; the conversation store reads, assembles, serves and deletes them. Audio never
travels through the broker: events carry the keys.
"""

from switchboard.recording.settings import RecordingStoreKind, RecordingStoreSettings
from switchboard.recording.store import (
    RecordingNotFound,
    RecordingStore,
    RecordingStoreError,
    open_recording_store,
    segment_key,
    session_prefix,
)

__all__ = [
    "RecordingNotFound",
    "RecordingStore",
    "RecordingStoreError",
    "RecordingStoreKind",
    "RecordingStoreSettings",
    "open_recording_store",
    "segment_key",
    "session_prefix",
]
