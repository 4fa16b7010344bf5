"""Prometheus metrics of one bridge process (its own registry, so tests can run several).

Per-frame work is not counted with prometheus_client (a lock per increment): audio frames are
counted in plain integers on the event loop and exported when scraped."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["PhoneMetrics"]

_SLOW = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _FrameCounters(Collector):
    def __init__(self) -> None:
        self.caller_frames = 0
        self.bot_pieces = 0
        self.gap_frames = 0  # caller audio dropped while the conversation was resuming

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "switchboard_phone_audio_frames",
            "Audio messages relayed, by direction.",
            labels=["direction"],
        )
        family.add_metric(["caller_to_gateway"], self.caller_frames)
        family.add_metric(["gateway_to_caller"], self.bot_pieces)
        yield family
        dropped = CounterMetricFamily(
            "switchboard_phone_resume_dropped_frames",
            "Caller audio frames dropped while a call's gateway conversation was resuming.",
        )
        dropped.add_metric([], self.gap_frames)
        yield dropped


class PhoneMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.frames = _FrameCounters()
        r.register(self.frames)
        self.calls_active = Gauge(
            "switchboard_phone_calls_active", "Calls on a media stream now.", registry=r
        )
        self.calls = Counter(
            "switchboard_phone_calls",
            "Media-stream calls ended, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.webhooks = Counter(
            "switchboard_phone_webhooks",
            "Carrier webhooks and stream handshakes, by route and outcome.",
            ["route", "outcome"],
            registry=r,
        )
        self.refused_frames = Counter(
            "switchboard_phone_refused_frames",
            "Carrier frames refused as malformed (the call went on).",
            registry=r,
        )
        self.callers = Counter(
            "switchboard_phone_callers",
            "Calls answered, by whether caller ID matched a customer (known) or not (unknown: "
            "bound to the guest). Every call starts unverified; verify_caller runs on the workers.",
            ["caller"],
            registry=r,
        )
        self.barge_ins = Counter(
            "switchboard_phone_barge_ins",
            "Bot playback cleared because the caller spoke.",
            registry=r,
        )
        self.keypad_batches = Counter(
            "switchboard_phone_keypad_batches",
            "Keypad entries sent to the conversation.",
            registry=r,
        )
        self.transfers = Counter(
            "switchboard_phone_transfers",
            "Calls moved to a human, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.resumes = Counter(
            "switchboard_phone_resumes",
            "Gateway conversations lost mid-call and resumed (or not), by outcome: resumed, "
            "refused (the gateway said no for good), timed_out (PHONE_RESUME_WITHIN_S passed), "
            "exhausted (PHONE_RESUME_ATTEMPTS used up), no_session (lost before its id came).",
            ["outcome"],
            registry=r,
        )
        self.resume_seconds = Histogram(
            "switchboard_phone_resume_seconds",
            "From the gateway socket's loss to the resumed conversation being open.",
            buckets=_SLOW,
            registry=r,
        )
        self.setup_seconds = Histogram(
            "switchboard_phone_setup_seconds",
            "From the stream's start message to the gateway conversation being open.",
            buckets=_SLOW,
            registry=r,
        )
