"""The lock-free loop histogram is exposed exactly as a prometheus_client histogram."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram

from switchboard.runtime.histogram import LoopHistogram

BUCKETS = (0.01, 0.1, 0.5, 1.0, 2.5, 60.0)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def _values(seed: int, count: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.choice([0.0, 0.01, 0.5, 1.0, 61.0, rng.uniform(0, 100)]) for _ in range(count)]


def test_unlabelled_histogram_matches_prometheus_histogram() -> None:
    """The same observations (some on bucket bounds) give the same buckets, count, sum and
    series names, whether observed one by one or a batch at a time."""
    values = _values(3, 2000)
    plain, loop = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("lag_seconds", "Lag.", buckets=BUCKETS, registry=plain)
    for value in values:
        histogram.observe(value)
    mine = LoopHistogram("lag_seconds", "Lag.", buckets=BUCKETS, registry=loop)
    mine.observe_many(values[:700])
    for value in values[700:1000]:
        mine.observe(value)
    mine.observe_many(values[1000:])
    theirs, ours = _samples(plain), _samples(loop)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value), key
    created = [s for m in loop.collect() for s in m.samples if s.name == "lag_seconds_created"]
    assert len(created) == 1


def test_labelled_histogram_matches_prometheus_histogram() -> None:
    """Per label values, the series equal those of a labelled prometheus_client histogram."""
    plain, loop = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("relay_seconds", "Relay.", ["direction"], buckets=BUCKETS, registry=plain)
    mine = LoopHistogram(
        "relay_seconds", "Relay.", buckets=BUCKETS, labelnames=["direction"], registry=loop
    )
    for direction, seed in (("up", 1), ("down", 2)):
        series = mine.labels(direction)
        for value in _values(seed, 500):
            histogram.labels(direction).observe(value)
            series.observe(value)
    theirs, ours = _samples(plain), _samples(loop)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value), key


def test_labels_are_checked() -> None:
    """A labelled histogram refuses direct observations and a wrong number of label values."""
    mine = LoopHistogram(
        "x_seconds", "X.", buckets=BUCKETS, labelnames=["a"], registry=CollectorRegistry()
    )
    with pytest.raises(ValueError):
        mine.observe(1.0)
    with pytest.raises(ValueError):
        mine.labels("a", "b")
    assert mine.labels("a") is mine.labels("a")
