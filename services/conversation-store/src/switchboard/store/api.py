"""The analyst REST API (``/api``): sessions, timelines, search, export, statistics, live
sessions and the view log (the admin actions are in :mod:`switchboard.store.admin_api`, the
recordings in :mod:`switchboard.store.recording_api`). Every route needs credentials; reads of
conversation data are recorded in the view log (who, what, when)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from switchboard.store import queries
from switchboard.store.auth import Account, Role
from switchboard.store.schemas import (
    LiveSession,
    Me,
    SearchPage,
    SessionDetail,
    SessionPage,
    SessionSummary,
    Stats,
    ViewLogEntry,
)
from switchboard.store.service import StoreService

__all__ = ["router"]

log = logging.getLogger(__name__)

_basic = HTTPBasic(auto_error=False, realm="switchboard-store")


def _store(request: Request) -> StoreService:
    service: StoreService = request.state.store
    return service


StoreDep = Annotated[StoreService, Depends(_store)]
#: HTTP Basic credentials if the request has them (routes decide what no credentials means)
BasicCredentials = Annotated[HTTPBasicCredentials | None, Depends(_basic)]


def _unauthorized(request: Request) -> HTTPException:
    # the web UI asks for no browser dialog (it has its own sign-in form)
    headers = None if request.headers.get("x-switchboard-ui") else {"WWW-Authenticate": "Basic"}
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "credentials required", headers=headers)


async def current_account(
    request: Request, store: StoreDep, credentials: BasicCredentials
) -> Account:
    if credentials is None:
        raise _unauthorized(request)
    account = store.accounts.authenticate(credentials.username, credentials.password)
    if account is None:
        log.info("sign-in refused", extra={"analyst": credentials.username[:64]})
        raise _unauthorized(request)
    return account


def require(role: Role) -> Any:
    async def check(account: Annotated[Account, Depends(current_account)]) -> Account:
        if not account.may(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {role} role")
        return account

    return Depends(check)


Analyst = Annotated[Account, require(Role.ANALYST)]
Admin = Annotated[Account, require(Role.ADMIN)]
#: Free text from a query or path: any characters but NUL (which Postgres cannot hold).
NO_NUL = r"^[^\x00]*$"
SessionId = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL)]

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "A malformed request (e.g. an invalid cursor or a NUL character)"},
    401: {"description": "No or wrong credentials"},
    403: {"description": "The account's role does not allow this"},
}

router = APIRouter(prefix="/api", responses=_AUTH_RESPONSES)


def _filter(
    since: Annotated[datetime | None, Query(description="Sessions started at or after")] = None,
    until: Annotated[datetime | None, Query(description="Sessions started before")] = None,
    customer_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    tool: Annotated[
        str | None, Query(max_length=64, pattern=NO_NUL, description="Used this tool")
    ] = None,
    outcome: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=NO_NUL,
            description="Has a tool call with this outcome (ok, an error code, pending, or failed = any error)",
        ),
    ] = None,
    escalated: bool | None = None,
    end_reason: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL, description="Words said in the conversation"),
    ] = None,
) -> queries.SessionFilter:
    return queries.SessionFilter(
        since=_aware(since),
        until=_aware(until),
        customer_id=customer_id,
        tool=tool,
        outcome=outcome,
        escalated=escalated,
        end_reason=end_reason,
        q=q,
    )


def _aware(value: datetime | None) -> datetime | None:
    """Times without an offset are read as UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


FilterDep = Annotated[queries.SessionFilter, Depends(_filter)]


def _bad_cursor() -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, "invalid cursor")


@router.get("/me", response_model=Me, summary="Who the credentials belong to")
async def me(account: Analyst) -> Me:
    return Me(name=account.name, role=str(account.role))


@router.get("/sessions", response_model=SessionPage, summary="List sessions, newest first")
async def list_sessions(
    store: StoreDep,
    account: Analyst,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400, pattern=NO_NUL)] = None,
) -> SessionPage:
    async with store.engine.begin() as conn:
        try:
            sessions, nxt = await queries.list_sessions(
                conn, flt, limit=limit, cursor=cursor, prices=store.prices
            )
        except queries.BadCursor:
            raise _bad_cursor() from None
        await queries.record_view(
            conn, analyst=account.name, role=account.role, action="list", detail=flt.as_dict()
        )
    return SessionPage(sessions=sessions, next_cursor=nxt)


@router.get(
    "/sessions/{session_id}",
    response_model=SessionDetail,
    summary="A session and its timeline",
    responses={404: {"description": "No such session"}},
)
async def get_session(store: StoreDep, account: Analyst, session_id: SessionId) -> SessionDetail:
    async with store.engine.begin() as conn:
        detail = await queries.session_detail(conn, session_id, store.prices)
        if detail is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such session")
        await queries.record_view(
            conn, analyst=account.name, role=account.role, action="view", session_id=session_id
        )
    return detail


@router.get("/search", response_model=SearchPage, summary="Search transcripts")
async def search(
    store: StoreDep,
    account: Analyst,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            pattern=NO_NUL,
            description='Web search syntax: words, "a phrase", -word, or',
        ),
    ],
    customer_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=400, pattern=NO_NUL)] = None,
) -> SearchPage:
    async with store.engine.begin() as conn:
        try:
            hits, nxt = await queries.search_items(
                conn, q, limit=limit, cursor=cursor, customer_id=customer_id
            )
        except queries.BadCursor:
            raise _bad_cursor() from None
        await queries.record_view(
            conn,
            analyst=account.name,
            role=account.role,
            action="search",
            detail={"q": q, "customer_id": customer_id, "hits": len(hits)},
        )
    return SearchPage(hits=hits, next_cursor=nxt)


_CSV_COLUMNS = (
    "session_id",
    "customer_id",
    "started_at",
    "end_reason",
    "cost_usd",
    "cost_estimated",
    "seq",
    "kind",
    "at",
    "text",
    "interrupted",
    "heard_text",
    "tool",
    "outcome",
    "duration_ms",
    "latency_ms",
)


@router.get(
    "/export",
    summary="Export matching sessions with their timelines (streamed)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "JSON Lines (one session per line) or CSV (one timeline entry per row)",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        }
    },
)
async def export(
    store: StoreDep,
    account: Analyst,
    flt: FilterDep,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> StreamingResponse:
    async with store.engine.begin() as conn:
        await queries.record_view(
            conn,
            analyst=account.name,
            role=account.role,
            action="export",
            detail={**flt.as_dict(), "format": format},
        )

    async def jsonl() -> AsyncIterator[bytes]:
        async for detail in queries.iter_sessions(store.engine, flt, prices=store.prices):
            yield detail.model_dump_json().encode() + b"\n"

    async def rows() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(_CSV_COLUMNS)
        async for detail in queries.iter_sessions(store.engine, flt, prices=store.prices):
            s = detail.session
            for e in detail.timeline:
                writer.writerow(
                    (
                        s.id,
                        s.customer_id,
                        s.started_at.isoformat(),
                        s.end_reason,
                        _cost(s),
                        s.cost_estimated,
                        e.seq,
                        e.kind,
                        e.at.isoformat() if e.at else "",
                        e.text if e.text is not None else "",
                        "" if e.interrupted is None else e.interrupted,
                        e.heard_text or "",
                        e.tool or "",
                        e.outcome or "",
                        "" if e.duration_ms is None else e.duration_ms,
                        "" if e.latency_ms is None else e.latency_ms,
                    )
                )
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if format == "csv":
        return StreamingResponse(
            rows(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="sessions-{stamp}.csv"'},
        )
    return StreamingResponse(
        jsonl(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="sessions-{stamp}.jsonl"'},
    )


def _cost(s: SessionSummary) -> str:
    """The CSV cell of a session's cost: the decimal, or "no price" (never 0 for unpriced)."""
    if s.cost_usd is not None:
        return str(s.cost_usd)
    return "no price" if s.unpriced_models else ""


@router.get("/stats", response_model=Stats, summary="Statistics over sessions started in a range")
async def get_stats(
    store: StoreDep,
    account: Analyst,
    since: Annotated[datetime | None, Query(description="Default: 30 days ago")] = None,
    until: Annotated[datetime | None, Query(description="Default: now")] = None,
) -> Stats:
    until = _aware(until) or datetime.now(UTC)
    since = _aware(since) or until - timedelta(days=30)
    async with store.engine.connect() as conn:
        return await queries.stats(conn, since, until)


@router.get("/live", response_model=list[LiveSession], summary="Conversations in progress")
async def live(store: StoreDep, account: Analyst) -> list[LiveSession]:
    ids = await store.redis.zrevrange(store.keys.sessions_index, 0, 499)
    found: list[LiveSession] = []
    if not ids:
        return found
    async with store.redis.pipeline(transaction=False) as pipe:
        for sid in ids:
            pipe.hgetall(store.keys.session(sid))
        entries = await pipe.execute()
    for sid, entry in zip(ids, entries, strict=True):
        if not entry:
            continue  # the registry entry expired: its gateway is gone
        started = entry.get("started_at")
        try:
            started_at = datetime.fromtimestamp(float(started), UTC) if started else None
        except ValueError:
            started_at = _iso(started)
        found.append(
            LiveSession(
                session_id=sid,
                customer_id=entry.get("customer_id"),
                gateway=entry.get("gateway"),
                upstream=entry.get("upstream"),
                model=entry.get("model"),
                started_at=started_at,
            )
        )
    return found


def _iso(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get(
    "/view-log", response_model=list[ViewLogEntry], summary="Who read or changed what (admin)"
)
async def view_log(
    store: StoreDep,
    account: Admin,
    session_id: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
    analyst: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ViewLogEntry]:
    async with store.engine.connect() as conn:
        return await queries.view_log(conn, session_id=session_id, analyst=analyst, limit=limit)
