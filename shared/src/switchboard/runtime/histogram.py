"""A Prometheus histogram for what the event loop observes very often (every relayed message,
every stored event): counted in plain numbers, without ``prometheus_client``'s lock per bucket
and per sum, and exported at scrape time exactly as a ``prometheus_client`` histogram is
(``_bucket``, ``_count``, ``_sum``, ``_created``). Observe from the event loop's thread only (the
scrape runs there too); anything observed from threads wants ``prometheus_client.Histogram``.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["HistogramCounts", "LoopHistogram"]


class HistogramCounts:
    """The observations of one series: a count per bucket (not cumulative) and their sum."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: list[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bound >= value: ``le``
        self.sum += value

    def observe_many(self, values: Iterable[float]) -> None:
        """Observe a batch: one bucket search and one increment per value."""
        counts, bounds = self.counts, self.bounds
        total = 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1
            total += value
        self.sum += total


class LoopHistogram(Collector):
    """A histogram, optionally labelled, registered in *registry*. Without labels it is observed
    directly; with labels through :meth:`labels`, whose result a hot path keeps."""

    def __init__(
        self,
        name: str,
        documentation: str,
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
        labelnames: Sequence[str] = (),
    ) -> None:
        bounds = sorted(float(b) for b in buckets)
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._bounds = bounds
        self._series: dict[tuple[str, ...], HistogramCounts] = {}
        self._unlabelled = None if self.labelnames else self.labels()
        registry.register(self)

    def labels(self, *values: str) -> HistogramCounts:
        """The series of these label values (created on first use)."""
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = HistogramCounts(self._bounds)
        return series

    def observe(self, value: float) -> None:
        self._only().observe(value)

    def observe_many(self, values: Iterable[float]) -> None:
        self._only().observe_many(values)

    def _only(self) -> HistogramCounts:
        if self._unlabelled is None:
            raise ValueError(f"{self.name} is labelled: observe through labels()")
        return self._unlabelled

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in self._series.items():
            cumulative, running = [], 0
            for bound, count in zip(series.bounds, series.counts, strict=True):
                running += count
                cumulative.append((floatToGoString(bound), running))
            family.add_metric(list(values), cumulative, series.sum)
            family.add_sample(
                self.name + "_created",
                dict(zip(self.labelnames, values, strict=True)),
                series.created,
            )
        yield family
