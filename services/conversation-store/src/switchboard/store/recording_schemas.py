"""The recording API's response bodies (``/api/sessions/{id}/recording/timeline``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "CompressedCopy",
    "PlaybackTicket",
    "RecordingStatus",
    "RecordingTimeline",
    "RecordingTool",
    "RecordingTurn",
]

RecordingStatus = Literal["recording", "ended", "ready", "empty"]


class RecordingTurn(BaseModel):
    """A conversation item where it lies on the recording (it has a ``recording.mark``)."""

    item_id: str
    role: Literal["user", "assistant"]
    start_ms: float = Field(description="From the recording's start (= the session's start).")
    end_ms: float | None
    text: str | None = Field(description="The transcript (what was said); null if not stored.")
    heard_text: str | None = Field(default=None, description="Assistant: what the caller heard.")
    heard_ms: float | None = Field(
        default=None,
        description="Assistant: audio on the recording (its segments' durations: as heard).",
    )
    said_ms: float | None = Field(
        default=None, description="Assistant: audio the model produced for the item."
    )
    interrupted: bool = Field(
        default=False,
        description="Assistant: the caller barged in (heard_ms short of said_ms, or the "
        "transcript says so).",
    )


class RecordingTool(BaseModel):
    """A tool call on the recording's timeline."""

    call_id: str
    tool: str
    outcome: str
    at_ms: float | None = Field(description="When the model called it, from the session's start.")
    completed_ms: float | None = Field(description="When it completed, from the session's start.")
    duration_ms: float | None


class CompressedCopy(BaseModel):
    """The recording's compressed copy, made beside the WAV by the assembler."""

    content_type: str = Field(description="audio/ogg (Ogg Opus) or audio/flac.")
    size: int = Field(description="Bytes.")


class RecordingTimeline(BaseModel):
    session_id: str
    status: RecordingStatus = Field(
        description="recording (segments arriving), ended (being assembled), ready (the file "
        "can be played), empty (ended without audio)."
    )
    duration_ms: float | None = Field(
        description="The file's length once ready; before, the length the gateway reported."
    )
    sample_rate: int | None
    channels: list[str] = Field(description="The file's channels in order: caller, assistant.")
    segments: int = Field(description="Segments the gateway wrote (both channels).")
    failed_segments: int = Field(description="Segments the recording store did not take.")
    missing_segments: int = Field(
        description="Segments missing from the assembled file (never stored in time)."
    )
    file_size: int | None = Field(description="Bytes of the WAV file once ready.")
    compressed: CompressedCopy | None = Field(
        default=None,
        description="The compressed copy once ready, if one was made (STORE_RECORDING_COMPRESSED"
        "); GET .../recording?format=compressed serves it.",
    )
    turns: list[RecordingTurn] = Field(description="By start_ms.")
    tools: list[RecordingTool] = Field(description="By at_ms.")


class PlaybackTicket(BaseModel):
    """A short-lived URL that plays one session's recording without other credentials."""

    url: str = Field(
        description="The recording's URL with ?ticket=...: give it to an <audio> element."
    )
    compressed_url: str | None = Field(
        default=None,
        description="The same for the compressed copy (format=compressed), when there is one.",
    )
    expires_at: datetime = Field(description="After this the URL answers 401.")
