"""``GET /api/dashboard`` (time series) and ``GET /api/dashboard/charts`` (the same with its
charts drawn as SVG on the server): analyst role; every read is recorded in the view log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from switchboard.store import queries
from switchboard.store.api import NO_NUL, Analyst, StoreDep
from switchboard.store.auth import Account
from switchboard.store.charts import charts
from switchboard.store.dashboard import MAX_RANGE, dashboard
from switchboard.store.dashboard_schemas import Dashboard, DashboardCharts, DashboardFilters
from switchboard.store.service import StoreService

__all__ = ["dashboard_router"]

dashboard_router = APIRouter(
    prefix="/api",
    responses={
        401: {"description": "No or wrong credentials"},
        403: {"description": "The account's role does not allow this"},
    },
)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _filters(
    since: Annotated[
        datetime | None, Query(description="Sessions started at or after (default: 7 days ago)")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Sessions started before (default: now)")
    ] = None,
    language: Annotated[str | None, Query(max_length=16, pattern=NO_NUL)] = None,
    escalated: bool | None = None,
    tool: Annotated[
        str | None, Query(max_length=64, pattern=NO_NUL, description="Sessions that used this tool")
    ] = None,
    tier: Annotated[
        str | None, Query(max_length=16, pattern=NO_NUL, description="The customer's tier")
    ] = None,
) -> DashboardFilters:
    end = _aware(until) or datetime.now(UTC)
    start = _aware(since) or end - timedelta(days=7)
    # a longer range is cut to its last 400 days; an empty one has no buckets (the response's
    # filters say which range was read)
    start = max(start, end - MAX_RANGE)
    return DashboardFilters(
        since=start, until=end, language=language, escalated=escalated, tool=tool, tier=tier
    )


FiltersDep = Annotated[DashboardFilters, Depends(_filters)]


async def _read(store: StoreService, account: Account, f: DashboardFilters) -> Dashboard:
    async with store.engine.begin() as conn:
        d = await dashboard(conn, f, store.prices)
        await queries.record_view(
            conn,
            analyst=account.name,
            role=account.role,
            action="dashboard",
            detail=f.model_dump(mode="json", exclude_none=True),
        )
    return d


@dashboard_router.get(
    "/dashboard", response_model=Dashboard, summary="Time series over sessions started in a range"
)
async def get_dashboard(store: StoreDep, account: Analyst, f: FiltersDep) -> Dashboard:
    return await _read(store, account, f)


@dashboard_router.get(
    "/dashboard/charts",
    response_model=DashboardCharts,
    summary="The dashboard's time series and their charts (SVG drawn on the server)",
)
async def get_dashboard_charts(store: StoreDep, account: Analyst, f: FiltersDep) -> DashboardCharts:
    d = await _read(store, account, f)
    return DashboardCharts(dashboard=d, charts=charts(d))
