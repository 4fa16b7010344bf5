"""Prometheus metrics of one gateway (its own registry, so several gateways fit in one process,
as in the tests).

The per-message figures of the relay (messages, bytes, relay latency) are counted in plain
numbers by :class:`RelayCounters` (the latency in a shared
:class:`~switchboard.runtime.histogram.LoopHistogram`) and exported when scraped:
prometheus_client takes a lock for every increment and every histogram bucket, which cost more
than the rest of the bookkeeping of an audio chunk. The relay runs on the event loop's thread,
and so does ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from switchboard.runtime.histogram import HistogramCounts, LoopHistogram

__all__ = ["DIRECTIONS", "GatewayMetrics", "RelayCounters"]

_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)
_SLOW = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: The relay's two directions (the ``direction`` label).
DIRECTIONS = ("client_to_upstream", "upstream_to_client")


class RelayCounters:
    """Messages and bytes of one direction as plain numbers (no locks), and its series of the
    relay latency histogram."""

    __slots__ = ("bytes", "latency", "messages")

    def __init__(self, latency: HistogramCounts) -> None:
        self.messages = 0
        self.bytes = 0
        self.latency = latency

    def record(self, size: int, seconds: float) -> None:
        """One message of *size* bytes relayed in *seconds*."""
        self.messages += 1
        self.bytes += size
        self.latency.observe(seconds)


class _RelayCollector(Collector):
    """Exports the message and byte counts of both directions at scrape time."""

    def __init__(self, relay: dict[str, RelayCounters]) -> None:
        self.relay = relay

    def collect(self) -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "switchboard_gateway_messages",
            "Websocket messages relayed, by direction (client_to_upstream, upstream_to_client).",
            labels=["direction"],
        )
        size = CounterMetricFamily(
            "switchboard_gateway_bytes",
            "Websocket message bytes relayed, by direction.",
            labels=["direction"],
        )
        for direction, counters in self.relay.items():
            messages.add_metric([direction], counters.messages)
            size.add_metric([direction], counters.bytes)
        yield messages
        yield size


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.active_sessions = Gauge(
            "switchboard_gateway_active_sessions", "Conversations held right now.", registry=r
        )
        self.sessions = Counter(
            "switchboard_gateway_sessions_total",
            "Conversations ended, by reason.",
            ["reason"],
            registry=r,
        )
        self.sessions_resumed = Counter(
            "switchboard_gateway_sessions_resumed_total",
            "Conversations resumed on this gateway from a snapshot.",
            registry=r,
        )
        self.refused = Counter(
            "switchboard_gateway_connections_refused_total",
            "Websocket upgrades refused, by code.",
            ["code"],
            registry=r,
        )
        #: per-message relay figures by direction, exported by a collector
        latency = LoopHistogram(
            "switchboard_gateway_relay_latency_seconds",
            "Time from receiving a message to having handed it on, by direction.",
            buckets=_FAST,
            labelnames=["direction"],
            registry=r,
        )
        self.relay = {
            direction: RelayCounters(latency.labels(direction)) for direction in DIRECTIONS
        }
        r.register(_RelayCollector(self.relay))
        self.tool_round_trip = Histogram(
            "switchboard_gateway_tool_round_trip_seconds",
            "Tool call round trip through the broker, by tool.",
            ["tool"],
            buckets=_SLOW,
            registry=r,
        )
        self.tool_calls = Counter(
            "switchboard_gateway_tool_calls_total",
            "Tool calls, by tool and outcome (ok or an error code).",
            ["tool", "outcome"],
            registry=r,
        )
        self.upstream_reconnects = Counter(
            "switchboard_gateway_upstream_reconnects_total",
            "New upstream sessions opened for a running conversation, by cause (drop, renewal).",
            ["cause"],
            registry=r,
        )
        self.audio_dropped = Counter(
            "switchboard_gateway_input_audio_dropped_total",
            "Caller audio chunks not forwarded because the upstream was lost and being replaced.",
            registry=r,
        )
        self.errors = Counter(
            "switchboard_gateway_errors_total",
            "Error events, by source (client, upstream, gateway, tool) and code.",
            ["source", "code"],
            registry=r,
        )
        self.fields_ignored = Counter(
            "switchboard_gateway_client_fields_ignored_total",
            "Server-owned session fields a client set and the gateway ignored, by field.",
            ["field"],
            registry=r,
        )
        self.events_published = Counter(
            "switchboard_gateway_events_published_total",
            "Conversation events confirmed by the broker.",
            registry=r,
        )
        self.event_messages_published = Counter(
            "switchboard_gateway_event_messages_published_total",
            "Broker messages carrying those events (one per payload type of each flush).",
            registry=r,
        )
        self.events_dropped = Counter(
            "switchboard_gateway_events_dropped_total",
            "Conversation events dropped because the buffer was full.",
            registry=r,
        )
        self.events_buffered = Gauge(
            "switchboard_gateway_events_buffered",
            "Conversation events waiting to be published.",
            registry=r,
        )
        self.recording_segments = Counter(
            "switchboard_gateway_recording_segments_total",
            "Recording segments, by channel (caller, assistant) and outcome (written, failed).",
            ["channel", "outcome"],
            registry=r,
        )
        self.recording_bytes = Counter(
            "switchboard_gateway_recording_bytes_total",
            "Audio bytes written to the recording store, by channel.",
            ["channel"],
            registry=r,
        )
        self.recording_queue = Gauge(
            "switchboard_gateway_recording_queue_segments",
            "Recording segments complete and waiting to be written (all sessions).",
            registry=r,
        )
        self.recording_store_errors = Counter(
            "switchboard_gateway_recording_store_errors_total",
            "Writes the recording store refused or did not answer (retries included); also "
            "counted when the store could not be opened.",
            registry=r,
        )
        self.turn_latency = Histogram(
            "switchboard_gateway_turn_latency_seconds",
            "User speech end to first response audio.",
            buckets=_SLOW,
            registry=r,
        )
