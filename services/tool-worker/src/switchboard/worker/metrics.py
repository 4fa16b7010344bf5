"""Prometheus metrics of one worker (its own registry, so several workers fit in one process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["WorkerMetrics"]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class WorkerMetrics:
    """Calls by tool and outcome, their duration, in-flight calls, redeliveries, dead letters."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    #: labelled children already looked up (``labels()`` takes a lock and builds a key per call)
    _children: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)

    def call_answered(self, tool: str, outcome: str, seconds: float) -> None:
        """Count one answered call and observe its duration."""
        key = (tool, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.calls.labels(tool, outcome),
                self.duration.labels(tool),
            )
        children[0].inc()
        children[1].observe(seconds)

    def __post_init__(self) -> None:
        r = self.registry
        self.calls = Counter(
            "switchboard_worker_calls_total",
            "Tool calls answered, by tool and outcome (ok, replayed or an error code).",
            ["tool", "outcome"],
            registry=r,
        )
        self.duration = Histogram(
            "switchboard_worker_call_duration_seconds",
            "Time from taking a call off the queue to publishing its answer.",
            ["tool"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "switchboard_worker_calls_in_flight", "Calls being run right now.", registry=r
        )
        self.redeliveries = Counter(
            "switchboard_worker_redeliveries_total",
            "Calls received again after an earlier delivery was not acknowledged.",
            ["tool"],
            registry=r,
        )
        self.dead_letters = Counter(
            "switchboard_worker_dead_letters_total",
            "Messages moved to the dead-letter queue, by reason.",
            ["reason"],
            registry=r,
        )
        self.replies_failed = Counter(
            "switchboard_worker_replies_failed_total",
            "Answers that could not be published (left unacknowledged for redelivery).",
            registry=r,
        )
        self.confirmations = Counter(
            "switchboard_worker_confirmations_total",
            "Data changes proposed, and confirm_action/cancel_action calls by outcome (confirmed, "
            "cancelled, or the refusal: awaiting_customer, expired, not_found, not_allowed, "
            "verification_required, ...).",
            ["outcome"],
            registry=r,
        )
        self.verifications = Counter(
            "switchboard_worker_caller_verifications_total",
            "Who-is-calling checks: verify_caller answers (verified, failed, not_needed, or the "
            "refusal's code) and account tools refused as verification_required.",
            ["outcome"],
            registry=r,
        )
        self.catalog_heartbeats = Counter(
            "switchboard_worker_catalog_heartbeats_total",
            "Catalog announcements written to Redis, by result.",
            ["result"],
            registry=r,
        )
