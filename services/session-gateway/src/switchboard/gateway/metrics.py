"""Prometheus metrics of one gateway (its own registry, so several gateways fit in one process,
as in the tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["GatewayMetrics"]

_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)
_SLOW = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


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
        self.refused = Counter(
            "switchboard_gateway_connections_refused_total",
            "Websocket upgrades refused, by code.",
            ["code"],
            registry=r,
        )
        self.messages = Counter(
            "switchboard_gateway_messages_total",
            "Websocket messages relayed, by direction (client_to_upstream, upstream_to_client).",
            ["direction"],
            registry=r,
        )
        self.bytes = Counter(
            "switchboard_gateway_bytes_total",
            "Websocket message bytes relayed, by direction.",
            ["direction"],
            registry=r,
        )
        self.relay_latency = Histogram(
            "switchboard_gateway_relay_latency_seconds",
            "Time from receiving a message to having handed it on, by direction.",
            ["direction"],
            buckets=_FAST,
            registry=r,
        )
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
        self.errors = Counter(
            "switchboard_gateway_errors_total",
            "Error events, by source (client, upstream, gateway, tool) and code.",
            ["source", "code"],
            registry=r,
        )
        self.events_published = Counter(
            "switchboard_gateway_events_published_total",
            "Conversation events confirmed by the broker.",
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
        self.turn_latency = Histogram(
            "switchboard_gateway_turn_latency_seconds",
            "User speech end to first response audio.",
            buckets=_SLOW,
            registry=r,
        )
