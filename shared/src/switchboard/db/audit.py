"""The conversation store's audit tables (schema ``audit``).

Defined here, beside the order tables, so one migration tree covers the whole database; only the
conversation store writes them.

- :class:`Event` is the lossless record: every conversation event ever accepted, redacted, keyed
  by ``event_id`` (which makes ingest idempotent) and ordered within a session by ``seq``.
- :class:`Session`, :class:`Item`, :class:`ToolCall`, :class:`TurnLatency` and
  :class:`SessionError` are projections of those events for the analyst API: filters, full-text
  search (``item.tsv``, a GIN-indexed ``tsvector``) and statistics. Each projection is written in
  the same transaction as its events and is independent of the order events arrive in.
- :class:`ViewLog` records who read what (analysts' reads are audited too).

Every child row references its session with ``ON DELETE CASCADE`` (deferrable, so a batch may
write events before their session row), so deleting a session deletes all of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.db.base import Base

__all__ = [
    "AUDIT_SCHEMA",
    "Event",
    "Item",
    "ResponseUsage",
    "Session",
    "SessionError",
    "SessionUsage",
    "ToolCall",
    "TurnLatency",
    "ViewLog",
]

#: Schema of the conversation store's tables.
AUDIT_SCHEMA = "audit"
#: Text search configuration of transcripts (stemming for English; others still match words).
TEXT_SEARCH_CONFIG = "english"

_S = {"schema": AUDIT_SCHEMA}


def _session_fk() -> ForeignKey:
    return ForeignKey(
        f"{AUDIT_SCHEMA}.session.id", ondelete="CASCADE", deferrable=True, initially="DEFERRED"
    )


def _ts(*, nullable: bool = False, default_now: bool = False) -> Mapped[Any]:
    return mapped_column(
        DateTime(timezone=True),
        nullable=nullable,
        server_default=func.now() if default_now else None,
    )


class Session(Base):
    """One conversation, as its events describe it so far."""

    __tablename__ = "session"
    __table_args__ = (
        Index("ix_audit_session_started_at_id", "started_at", "id"),
        Index("ix_audit_session_customer_id_started_at", "customer_id", "started_at"),
        _S,
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    gateway: Mapped[str | None] = mapped_column(String(128))
    upstream: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    voice: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    #: ``occurred_at`` of ``session.started``; until that event is stored, the earliest event's.
    started_at: Mapped[datetime] = _ts()
    ended_at: Mapped[datetime | None] = _ts(nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    end_detail: Mapped[str | None] = mapped_column(Text)
    #: ``seq`` of the stored ``session.started`` / ``session.ended`` events (None until stored).
    start_seq: Mapped[int | None] = mapped_column(Integer)
    end_seq: Mapped[int | None] = mapped_column(Integer)
    #: ``seq`` of the latest ``session.resumed``; above ``end_seq`` the session is open again.
    resume_seq: Mapped[int | None] = mapped_column(Integer)
    resumes: Mapped[int] = mapped_column(Integer, server_default="0")
    last_seq: Mapped[int] = mapped_column(Integer)
    last_event_at: Mapped[datetime] = _ts()
    event_count: Mapped[int] = mapped_column(Integer, server_default="0")
    user_turns: Mapped[int] = mapped_column(Integer, server_default="0")
    assistant_turns: Mapped[int] = mapped_column(Integer, server_default="0")
    interruptions: Mapped[int] = mapped_column(Integer, server_default="0")
    tool_calls: Mapped[int] = mapped_column(Integer, server_default="0")
    tool_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    errors: Mapped[int] = mapped_column(Integer, server_default="0")
    escalated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    #: whether the conversation is recorded (``session.started``); None: not said
    recorded: Mapped[bool | None] = mapped_column(Boolean)
    #: every turn latency (ms) of the session, in no order: a copy of its ``turn_latency`` rows
    #: kept on the row so dashboards take percentiles without joining them
    latencies: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    created_at: Mapped[datetime] = _ts(default_now=True)
    updated_at: Mapped[datetime] = _ts(default_now=True)


class Event(Base):
    """Every accepted conversation event (redacted); its primary key makes ingest idempotent."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_audit_event_session_id_seq", "session_id", "seq"), _S)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(128), _session_fk())
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = _ts()
    stored_at: Mapped[datetime] = _ts(default_now=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Item(Base):
    """One conversation item (a user or assistant utterance), placed in the timeline by ``seq``."""

    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("session_id", "item_id"),
        Index("ix_audit_item_session_id_seq", "session_id", "seq"),
        Index("ix_audit_item_tsv", "tsv", postgresql_using="gin"),
        # newest-first search: for a common word the planner walks this index and stops at a
        # page of matches instead of sorting every match
        Index("ix_audit_item_occurred_at_id", "occurred_at", "id"),
        _S,
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(128), _session_fk())
    item_id: Mapped[str] = mapped_column(String(128))
    #: ``seq`` of the transcript event (of the truncation, until the transcript is stored).
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    interrupted: Mapped[bool] = mapped_column(Boolean, server_default="false")
    heard_text: Mapped[str | None] = mapped_column(Text)
    audio_ms: Mapped[int | None] = mapped_column(Integer)
    heard_ms: Mapped[int | None] = mapped_column(Integer)
    speech_started_ms: Mapped[int | None] = mapped_column(Integer)
    speech_ended_ms: Mapped[int | None] = mapped_column(Integer)
    response_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = _ts()
    tsv: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            f"to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, coalesce(text, ''))", persisted=True
        ),
    )


class ToolCall(Base):
    """One tool call: what the model asked, what the worker answered, how long it took."""

    __tablename__ = "tool_call"
    __table_args__ = (
        UniqueConstraint("session_id", "call_id"),
        Index("ix_audit_tool_call_tool_session_id", "tool", "session_id"),
        _S,
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(128), _session_fk())
    call_id: Mapped[str] = mapped_column(String(128))
    tool: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    #: ``ok``, the error code, or ``pending`` while no completion is stored.
    outcome: Mapped[str] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    worker: Mapped[str | None] = mapped_column(String(128))
    called_seq: Mapped[int | None] = mapped_column(Integer)
    completed_seq: Mapped[int | None] = mapped_column(Integer)
    called_at: Mapped[datetime | None] = _ts(nullable=True)
    completed_at: Mapped[datetime | None] = _ts(nullable=True)
    #: the customer's latest item when the model called (for a confirmation: the turn that said yes)
    user_item_id: Mapped[str | None] = mapped_column(String(128))


class TurnLatency(Base):
    """User speech end → first response audio, for one turn."""

    __tablename__ = "turn_latency"
    __table_args__ = (Index("ix_audit_turn_latency_session_id_seq", "session_id", "seq"), _S)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(128), _session_fk())
    seq: Mapped[int] = mapped_column(Integer)
    response_id: Mapped[str | None] = mapped_column(String(128))
    latency_ms: Mapped[float] = mapped_column(Float)
    occurred_at: Mapped[datetime] = _ts()


class SessionError(Base):
    """An error reported during a session (client, upstream, gateway or tool)."""

    __tablename__ = "session_error"
    __table_args__ = (Index("ix_audit_session_error_session_id_seq", "session_id", "seq"), _S)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(128), _session_fk())
    seq: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = _ts()


class ResponseUsage(Base):
    """Token usage of one upstream response (``response.usage``), the basis of cost; one row per
    event (``seq``), so a redelivered event cannot count twice."""

    __tablename__ = "response_usage"
    __table_args__ = (UniqueConstraint("session_id", "seq"), _S)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(128), _session_fk())
    seq: Mapped[int] = mapped_column(Integer)
    response_id: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str] = mapped_column(String(128))
    input_text_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    input_audio_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    cached_text_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    cached_audio_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    output_text_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    output_audio_tokens: Mapped[int] = mapped_column(Integer, server_default="0")
    #: true when the upstream only estimated the tokens (the local emulator)
    estimated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    occurred_at: Mapped[datetime] = _ts()


class SessionUsage(Base):
    """The token usage of a session per model (and whether estimated): the sums of its
    :class:`ResponseUsage` rows, added up at ingest, so dashboards read one row per session."""

    __tablename__ = "session_usage"
    __table_args__ = (_S,)

    session_id: Mapped[str] = mapped_column(String(128), _session_fk(), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    estimated: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    responses: Mapped[int] = mapped_column(Integer, server_default="0")
    input_text_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    input_audio_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cached_text_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cached_audio_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    output_text_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")
    output_audio_tokens: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ViewLog(Base):
    """Who read or changed what through the analyst API, and when (kept after a session is
    deleted, so it has no foreign key)."""

    __tablename__ = "view_log"
    __table_args__ = (
        Index("ix_audit_view_log_session_id", "session_id"),
        Index("ix_audit_view_log_analyst_at", "analyst", "at"),
        _S,
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    analyst: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    at: Mapped[datetime] = _ts(default_now=True)
