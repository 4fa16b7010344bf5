"""Prometheus metrics of the emulator (``switchboard_emulator_*``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACTIVE_SESSIONS",
    "AUDIO_OUT_SECONDS",
    "EVENTS_IN",
    "EVENTS_OUT",
    "FIRST_AUDIO_SECONDS",
    "PROTOCOL_ERRORS",
    "RESPONSES",
    "TRANSCRIBE_SECONDS",
]

ACTIVE_SESSIONS = Gauge("switchboard_emulator_active_sessions", "Open Realtime sessions")
EVENTS_IN = Counter("switchboard_emulator_client_events_total", "Client events received", ["type"])
EVENTS_OUT = Counter("switchboard_emulator_server_events_total", "Server events sent", ["type"])
PROTOCOL_ERRORS = Counter(
    "switchboard_emulator_protocol_errors_total", "error events sent", ["code"]
)
RESPONSES = Counter("switchboard_emulator_responses_total", "Responses finished", ["status"])
TRANSCRIBE_SECONDS = Histogram(
    "switchboard_emulator_transcribe_seconds", "Speech recognition time per utterance"
)
FIRST_AUDIO_SECONDS = Histogram(
    "switchboard_emulator_first_audio_seconds",
    "response.create (or end of speech) to the first audio delta",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
)
AUDIO_OUT_SECONDS = Counter("switchboard_emulator_audio_out_seconds_total", "Audio synthesised")
