"""Prometheus metrics of one store process (its own registry, so tests can run several)."""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["BatchHistogram", "StoreMetrics"]

_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class BatchHistogram(Collector):
    """A histogram without labels that takes a whole batch of observations at once: one bucket
    search and one list increment per value, instead of ``Histogram.observe`` (a method call and
    two locked increments per value), for what is observed once per stored event. Exposed like a
    ``prometheus_client`` histogram (``_bucket``, ``_count``, ``_sum``, ``_created``). Observed
    from the event loop only."""

    def __init__(
        self,
        name: str,
        documentation: str,
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = [float(b) for b in buckets]
        if self._bounds[-1] != math.inf:
            self._bounds.append(math.inf)
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._created = time.time()
        registry.register(self)

    def observe_many(self, values: Iterable[float]) -> None:
        counts, bounds = self._counts, self._bounds
        total = 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1  # the first bound >= value, as ``le`` means
            total += value
        self._sum += total

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self._name, self._documentation)]

    def collect(self) -> Iterator[Metric]:
        cumulative, acc = [], 0
        for bound, count in zip(self._bounds, self._counts, strict=True):
            acc += count
            cumulative.append((floatToGoString(bound), acc))
        family = HistogramMetricFamily(self._name, self._documentation)
        family.add_metric([], cumulative, self._sum)
        family.add_sample(self._name + "_created", {}, self._created)
        yield family


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
        self.lag = BatchHistogram(
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
        self.http_reads = Counter(
            "switchboard_store_api_requests_total",
            "Analyst API requests, by route template and status code.",
            ["route", "status"],
            registry=r,
        )
