"""The batch-observed lag histogram is exposed exactly as a prometheus_client histogram."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram

from switchboard.store.metrics import BatchHistogram


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels.get("le", "")): sample.value
        for metric in registry.collect()
        for sample in metric.samples
    }


def test_batch_histogram_matches_prometheus_histogram() -> None:
    """The same observations (some on bucket bounds) give the same buckets, count, sum and
    series names, whether observed one by one or a batch at a time."""
    rng = random.Random(3)
    values = [rng.choice([0.0, 0.01, 0.5, 1.0, 61.0, rng.uniform(0, 100)]) for _ in range(2000)]
    buckets = (0.01, 0.1, 0.5, 1.0, 2.5, 60.0)
    plain, batched = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("lag_seconds", "Lag.", buckets=buckets, registry=plain)
    for value in values:
        histogram.observe(value)
    batch = BatchHistogram("lag_seconds", "Lag.", buckets=buckets, registry=batched)
    batch.observe_many(values[:700])
    batch.observe_many(values[700:])
    theirs, mine = _samples(plain), _samples(batched)
    assert mine.keys() == theirs.keys()
    for key, value in theirs.items():
        if key[0] != "lag_seconds_created":
            assert mine[key] == pytest.approx(value), key
