"""Prometheus metrics of one store process (its own registry, so tests can run several)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

from switchboard.runtime.histogram import LoopHistogram

__all__ = ["StoreMetrics"]

_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_ASSEMBLY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class StoreMetrics:
    """Ingest: events stored / duplicate / dead-lettered, batch sizes and write times, lag."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events_stored = Counter(
            "switchboard_store_events_stored_total",
            "Conversation events stored (new event ids), by payload type.",
            ["type"],
            registry=r,
        )
        self.duplicates = Counter(
            "switchboard_store_events_duplicate_total",
            "Events received again (same event id) and ignored.",
            registry=r,
        )
        self.dead_lettered = Counter(
            "switchboard_store_events_dead_lettered_total",
            "Messages moved to the dead-letter queue, by reason.",
            ["reason"],
            registry=r,
        )
        self.batch_size = Histogram(
            "switchboard_store_batch_size_events",
            "Events per batch of messages taken from the broker.",
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "switchboard_store_batch_write_seconds",
            "Time to write and commit one batch.",
            buckets=_WRITE_BUCKETS,
            registry=r,
        )
        self.lag = LoopHistogram(
            "switchboard_store_ingest_lag_seconds",
            "From an event's occurred_at to its commit in Postgres.",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.write_failures = Counter(
            "switchboard_store_write_failures_total",
            "Batch writes that failed, by kind (unavailable: retried; data: split up).",
            ["kind"],
            registry=r,
        )
        self.reconnects = Counter(
            "switchboard_store_broker_reconnects_total",
            "Times the ingest consumer was registered again after losing the broker link.",
            registry=r,
        )
        self.recordings_assembled = Counter(
            "switchboard_store_recordings_assembled_total",
            "Finished recordings handled by the assembler, by outcome (ready: complete; partial: "
            "assembled without some segments; empty; skipped: already assembled; gone: no "
            "session; failed: returned to the queue).",
            ["outcome"],
            registry=r,
        )
        self.assembly_seconds = Histogram(
            "switchboard_store_recording_assembly_seconds",
            "Time to assemble one recording (reading segments, encoding, writing the file).",
            buckets=_ASSEMBLY_BUCKETS,
            registry=r,
        )
        self.recording_copies = Counter(
            "switchboard_store_recording_copies_total",
            "Compressed copies of assembled recordings, by codec and outcome (made; failed: "
            "the WAV is kept and the copy left absent).",
            ["codec", "outcome"],
            registry=r,
        )
        self.http_reads = Counter(
            "switchboard_store_api_requests_total",
            "Analyst API requests, by route template and status code.",
            ["route", "status"],
            registry=r,
        )
