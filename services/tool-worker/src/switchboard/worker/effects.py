"""Exactly-once effects: a mutating call claims its ``call_id`` in ``shop.tool_effect`` first,
runs its effect, and records its answer, all in one transaction.

The claim is an ``INSERT ... ON CONFLICT DO NOTHING``: when another worker is running the same
call (a redelivery racing a slow first delivery), the insert waits on that transaction's
uncommitted row; if it commits, this call replays the recorded answer; if it rolls back (the
worker died), this call claims the id and runs. A crash before commit leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from switchboard.contracts.tools import ToolError, ToolErrorCode
from switchboard.db.shop import ToolEffect
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import ToolFailure
from switchboard.worker.reads import ReadPool, Reads
from switchboard.worker.registry import Handler, Tool, ToolArguments

__all__ = ["ContextFactory", "Outcome", "ReadContextFactory", "run_once", "run_read"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A tool's answer: an output or an expected failure, and whether it was replayed."""

    output: dict[str, Any] | None = None
    error: ToolError | None = None
    replayed: bool = False

    def record(self) -> dict[str, Any]:
        if self.error is not None:
            return {"ok": False, "error": self.error.model_dump(mode="json", exclude_none=True)}
        return {"ok": True, "output": self.output}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Outcome:
        if record.get("ok"):
            return cls(output=record.get("output") or {}, replayed=True)
        return cls(error=ToolError.model_validate(record["error"]), replayed=True)


ContextFactory = Callable[[AsyncConnection], ToolContext]
ReadContextFactory = Callable[[Reads], ToolContext]


async def run_read(
    pool: ReadPool, tool: Tool, args: ToolArguments, make_ctx: ReadContextFactory
) -> Outcome:
    """Run a read-only tool on a pooled asyncpg connection (autocommit: no transaction round
    trips, no effect record)."""
    async with pool.connection() as reads:
        try:
            return Outcome(output=await tool.handler(make_ctx(reads), args))
        except ToolFailure as failure:
            return Outcome(error=failure.to_error())


async def run_once(
    engine: AsyncEngine,
    tool: Tool,
    args: ToolArguments,
    ctx_for: ContextFactory,
    *,
    call_id: str,
    session_id: str,
    customer_id: str,
    handler: Handler | None = None,
) -> Outcome:
    """Run a mutating tool at most once per ``call_id``; a repeat returns the recorded answer.
    *handler* replaces the tool's own (a confirmation tool's first phase)."""
    run = handler or tool.handler
    async with engine.begin() as conn:
        claimed = await conn.scalar(
            insert(ToolEffect)
            .values(
                call_id=call_id,
                tool=tool.name,
                customer_id=customer_id,
                session_id=session_id,
                result={},
            )
            .on_conflict_do_nothing(index_elements=[ToolEffect.call_id])
            .returning(ToolEffect.call_id)
        )
        if claimed is None:
            return await _replay(conn, tool, call_id=call_id, customer_id=customer_id)
        ctx = ctx_for(conn)
        try:
            async with conn.begin_nested():
                outcome = Outcome(output=await run(ctx, args))
        except ToolFailure as failure:
            # a refusal changes nothing (the savepoint is rolled back) but is recorded, so a
            # repeat gets the same answer
            outcome = Outcome(error=failure.to_error())
        await conn.execute(
            update(ToolEffect).where(ToolEffect.call_id == call_id).values(result=outcome.record())
        )
        return outcome


async def _replay(conn: AsyncConnection, tool: Tool, *, call_id: str, customer_id: str) -> Outcome:
    row = (
        await conn.execute(
            select(ToolEffect.tool, ToolEffect.customer_id, ToolEffect.result).where(
                ToolEffect.call_id == call_id
            )
        )
    ).one()
    if row.tool != tool.name or row.customer_id != customer_id:
        raise ToolFailure(
            ToolErrorCode.NOT_ALLOWED, "This call id was already used for another request."
        )
    return Outcome.from_record(row.result)
