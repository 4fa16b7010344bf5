"""The recording tables (schema ``audit``).

- :class:`RecordingObject`: the Postgres backend's objects (raw segments, assembled files); a
  generic key/bytes table with no foreign key, emptied through the recording store when a
  session is deleted (the Azure backend keeps the same objects as blobs).
- :class:`Recording`, :class:`RecordingSegment`, :class:`RecordingMark`: what the conversation
  store knows of a session's recording from its ``recording.*`` events (projections, deleted
  with the session).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.db.audit import _S, _session_fk, _ts
from switchboard.db.base import Base

__all__ = ["Recording", "RecordingMark", "RecordingObject", "RecordingSegment"]


class RecordingObject(Base):
    """One object of the Postgres recording store."""

    __tablename__ = "recording_object"
    __table_args__ = (_S,)

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = _ts(default_now=True)


class Recording(Base):
    """A session's recording: ``recording`` while segments arrive, ``ended`` once the gateway
    said it is complete, ``ready`` when the two-channel file is assembled, ``empty`` when it
    ended without audio."""

    __tablename__ = "recording"
    __table_args__ = (_S,)

    session_id: Mapped[str] = mapped_column(String(128), _session_fk(), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), server_default="recording")
    audio_format: Mapped[str | None] = mapped_column(String(16))
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    segments: Mapped[int] = mapped_column(Integer, server_default="0")
    failed_segments: Mapped[int] = mapped_column(Integer, server_default="0")
    duration_ms: Mapped[float | None] = mapped_column(Float)
    #: the assembled two-channel file (key in the recording store) and its size
    file_key: Mapped[str | None] = mapped_column(String(512))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_type: Mapped[str | None] = mapped_column(String(64))
    #: the compressed copy beside it (Ogg Opus or FLAC), when one was made (migration 0010)
    copy_key: Mapped[str | None] = mapped_column(String(512))
    copy_size: Mapped[int | None] = mapped_column(BigInteger)
    copy_type: Mapped[str | None] = mapped_column(String(64))
    #: segments the assembled file was made of (fewer than ``segments`` when some never came)
    assembled_segments: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = _ts(nullable=True)
    assembled_at: Mapped[datetime | None] = _ts(nullable=True)
    created_at: Mapped[datetime] = _ts(default_now=True)


class RecordingSegment(Base):
    """One ``recording.segment`` event."""

    __tablename__ = "recording_segment"
    __table_args__ = (_S,)

    session_id: Mapped[str] = mapped_column(String(128), _session_fk(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_ms: Mapped[float] = mapped_column(Float)
    duration_ms: Mapped[float] = mapped_column(Float)
    audio_format: Mapped[str] = mapped_column(String(16))
    sample_rate: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    item_id: Mapped[str | None] = mapped_column(String(128))
    said_ms: Mapped[float | None] = mapped_column(Float)


class RecordingMark(Base):
    """Where an item lies on the recording's timeline (``recording.mark``)."""

    __tablename__ = "recording_mark"
    __table_args__ = (_S,)

    session_id: Mapped[str] = mapped_column(String(128), _session_fk(), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[float] = mapped_column(Float)
    end_ms: Mapped[float | None] = mapped_column(Float)
