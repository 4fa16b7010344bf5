"""Response bodies of the dashboard API (``/api/dashboard``): time series over sessions started
in a range, bucketed by hour or day (UTC), and the charts drawn from them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "Bucket",
    "BucketPoint",
    "Chart",
    "Dashboard",
    "DashboardCharts",
    "DashboardFilters",
    "DashboardTotals",
    "ToolPoint",
    "ToolSeries",
]

Bucket = Literal["hour", "day"]


class DashboardFilters(BaseModel):
    since: datetime = Field(description="Sessions started at or after.")
    until: datetime = Field(description="Sessions started before.")
    language: str | None = None
    escalated: bool | None = None
    tool: str | None = Field(default=None, description="Sessions that called this tool.")
    tier: str | None = Field(default=None, description="The customer's tier (shop.customer.tier).")


class BucketPoint(BaseModel):
    """The sessions that started in one bucket, and everything recorded about them."""

    start: datetime = Field(description="The bucket's start (UTC).")
    calls: int
    resolved: int = Field(description="Calls not escalated to a human (resolved by the bot).")
    escalated: int
    interruptions: int
    interruptions_per_call: float | None
    latency_turns: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    cost_usd: Decimal | None = Field(
        description="Priced usage of these calls (null: no priced usage); see unpriced_responses."
    )
    cost_estimated: bool = Field(description="Some of the usage was estimated (the emulator).")
    unpriced_responses: int = Field(
        description="Responses of models without a price (not in cost)."
    )


class ToolPoint(BaseModel):
    start: datetime
    calls: int
    failures: int
    failure_rate: float | None = Field(description="failures / calls; null without calls.")


class ToolSeries(BaseModel):
    tool: str
    calls: int
    failures: int
    points: list[ToolPoint]


class DashboardTotals(BaseModel):
    calls: int
    resolved: int
    escalated: int
    interruptions_per_call: float | None
    cost_usd: Decimal | None = Field(description="Priced usage over the range (USD).")
    cost_per_call_usd: Decimal | None
    cost_per_resolved_call_usd: Decimal | None = Field(
        description="Cost of the calls resolved without a human / their number."
    )
    cost_estimated: bool
    unpriced_responses: int
    unpriced_models: list[str] = Field(description="Models of the usage without a price.")


class Dashboard(BaseModel):
    filters: DashboardFilters
    bucket: Bucket = Field(description="hour for ranges up to 2 days, else day.")
    points: list[BucketPoint] = Field(description="Every bucket of the range, empty ones too.")
    tools: list[ToolSeries] = Field(description="Tool failure rate by tool, per bucket.")
    totals: DashboardTotals


class Chart(BaseModel):
    id: str
    title: str
    svg: str = Field(description="A standalone SVG document (server-side, escaped text).")


class DashboardCharts(BaseModel):
    dashboard: Dashboard
    charts: list[Chart]
