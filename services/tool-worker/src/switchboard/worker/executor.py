"""Runs one tool call and always produces a :class:`ToolCallResult`: unknown tool, expired
deadline, invalid arguments, refusals, an unreachable database and bugs are all answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from switchboard.contracts.tools import (
    CANCEL_ACTION_TOOL,
    CONFIRM_ACTION_TOOL,
    GUEST_CUSTOMER_ID,
    NEEDS_CONFIRMATION,
    VERIFY_CALLER_TOOL,
    ToolCallRequest,
    ToolCallResult,
    ToolError,
    ToolErrorCode,
    Verification,
)
from switchboard.worker.confirmations import proposer
from switchboard.worker.context import BusinessRules, Clock, ToolContext
from switchboard.worker.effects import Outcome, run_once, run_read
from switchboard.worker.errors import ToolFailure
from switchboard.worker.metrics import WorkerMetrics
from switchboard.worker.reads import ReadPool, Reads, StaleConnection
from switchboard.worker.registry import Handler, Registry, Tool
from switchboard.worker.tools.caller import GUEST_REFUSAL, VERIFICATION_NEEDED, VERIFIED

__all__ = ["Executor", "is_database_unavailable"]

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "The order system is temporarily unavailable. Please try again in a moment."


def is_database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean Postgres cannot be reached (as opposed to a bug)."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | sa_exc.DisconnectionError
        | OSError
        | ConnectionError,
    ):
        return True
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.InterfaceError
        | asyncpg.TooManyConnectionsError,
    )


class Executor:
    """Everything between a parsed request and its result (no transport)."""

    def __init__(
        self,
        *,
        registry: Registry,
        engine: AsyncEngine,
        reads: ReadPool,
        worker_id: str,
        clock: Clock,
        rules: BusinessRules,
        tool_timeout_s: float,
        metrics: WorkerMetrics,
        confirmation_ttl_s: float = 300.0,
        tools: Mapping[str, Tool] | None = None,
    ) -> None:
        self.registry = registry
        #: every tool of the package: confirm_action commits any proposing tool's change
        self.tools: Mapping[str, Tool] = tools if tools is not None else registry
        self.confirmation_ttl = timedelta(seconds=confirmation_ttl_s)
        #: the first phase of each confirmation tool, built once
        self._proposers: dict[str, Handler] = {
            t.name: proposer(t) for t in registry.values() if t.confirmation
        }
        #: data-changing tools: SQLAlchemy, one transaction per call
        self.engine = engine
        #: read-only tools: raw asyncpg
        self.reads = reads
        self.worker_id = worker_id
        self.clock = clock
        self.rules = rules
        self.tool_timeout_s = tool_timeout_s
        self.metrics = metrics

    async def execute(self, request: ToolCallRequest) -> ToolCallResult:
        started = time.perf_counter()
        outcome = await self._outcome(request)
        elapsed = time.perf_counter() - started
        label = request.tool if request.tool in self.registry else "_unknown"
        if outcome.error is not None:
            result_label = str(outcome.error.code)
        else:
            result_label = "replayed" if outcome.replayed else "ok"
        self.metrics.call_answered(label, result_label, elapsed)
        if not outcome.replayed:
            self._count_confirmation(request.tool, outcome)
            self._count_verification(request.tool, outcome)
        return ToolCallResult(
            call_id=request.call_id,
            ok=outcome.error is None,
            output=outcome.output if outcome.error is None else None,
            error=outcome.error,
            duration_ms=round(elapsed * 1000, 3),
            worker=self.worker_id,
            replayed=outcome.replayed,
            verification=_raised_level(request, outcome),
        )

    async def _outcome(self, request: ToolCallRequest) -> Outcome:
        tool = self.registry.get(request.tool)
        if tool is None:
            return _error(ToolErrorCode.UNKNOWN_TOOL, f"There is no tool named {request.tool!r}.")
        now = datetime.now(UTC)
        if request.expired(now):
            return _error(ToolErrorCode.TIMEOUT, "The request expired before it could be run.")
        if request.verification is Verification.UNVERIFIED and not tool.verification_exempt:
            # the worker, where data is read and changed, enforces who may: not the model
            guest = request.customer_id == GUEST_CUSTOMER_ID
            return _error(
                ToolErrorCode.VERIFICATION_REQUIRED, GUEST_REFUSAL if guest else VERIFICATION_NEEDED
            )
        try:
            args = tool.parse(request.arguments)
        except ToolFailure as failure:
            return Outcome(error=failure.to_error())
        remaining = (request.deadline - now).total_seconds()
        budget = min(self.tool_timeout_s, remaining)
        make_ctx = partial(self._context, request)
        make_read_ctx = partial(self._read_context, request)
        deadline = asyncio.timeout(budget)
        try:
            async with deadline:
                for attempt in (1, 2):
                    try:
                        if tool.mutating:
                            return await run_once(
                                self.engine,
                                tool,
                                args,
                                make_ctx,
                                call_id=request.call_id,
                                session_id=request.session_id,
                                customer_id=request.customer_id,
                                handler=self._proposers.get(tool.name),
                            )
                        return await run_read(self.reads, tool, args, make_read_ctx)
                    except (sa_exc.DBAPIError, StaleConnection) as exc:
                        # a pooled connection that died (Postgres restarted): the pool is
                        # invalidated; one retry on a fresh connection. Safe for writes too:
                        # nothing was committed, or the retry replays the recorded answer.
                        stale = isinstance(exc, StaleConnection) or exc.connection_invalidated
                        if not stale or attempt == 2:
                            raise
                        log.info("stale database connection; retrying", extra={"tool": tool.name})
                raise AssertionError("unreachable")
        except ToolFailure as failure:
            return Outcome(error=failure.to_error())
        except TimeoutError:
            if request.expired():
                return _error(ToolErrorCode.TIMEOUT, "The request took too long and expired.")
            if deadline.expired():
                log.warning("tool timed out", extra={"tool": tool.name, "budget_s": budget})
            else:
                log.warning("database statement timed out", extra={"tool": tool.name})
            return _error(ToolErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE)
        except Exception as exc:
            if is_database_unavailable(exc):
                log.warning(
                    "database unavailable",
                    extra={"tool": tool.name, "error": f"{type(exc).__name__}: {exc}"[:300]},
                )
                return _error(ToolErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE)
            log.exception("tool failed unexpectedly", extra={"tool": tool.name})
            return _error(
                ToolErrorCode.INTERNAL, "Something went wrong on our side while doing that."
            )

    def _read_context(self, request: ToolCallRequest, reads: Reads) -> ToolContext:
        return ToolContext(
            call_id=request.call_id,
            session_id=request.session_id,
            customer_id=request.customer_id,
            now=self.clock.now(),
            rules=self.rules,
            reader=reads,
            user_item_id=request.user_item_id,
            verification=request.verification,
        )

    def _context(self, request: ToolCallRequest, conn: AsyncConnection) -> ToolContext:
        return ToolContext(
            call_id=request.call_id,
            session_id=request.session_id,
            customer_id=request.customer_id,
            connection=conn,
            now=self.clock.now(),
            rules=self.rules,
            user_item_id=request.user_item_id,
            verification=request.verification,
            confirmation_ttl=self.confirmation_ttl,
            tools=self.tools,
        )

    def _count_verification(self, tool: str, outcome: Outcome) -> None:
        """``switchboard_worker_caller_verifications_total{outcome}``."""
        error = outcome.error
        if tool == VERIFY_CALLER_TOOL:
            label = str(error.code) if error else str((outcome.output or {}).get("status", "ok"))
        elif error is not None and error.code is ToolErrorCode.VERIFICATION_REQUIRED:
            label = "verification_required"
        else:
            return
        self.metrics.verifications.labels(label).inc()

    def _count_confirmation(self, tool: str, outcome: Outcome) -> None:
        """``switchboard_worker_confirmations_total{outcome}``: proposals, and what became of
        confirmations and cancellations (confirmed, cancelled or the refusal's code)."""
        if tool in self._proposers:
            if outcome.error is None and (outcome.output or {}).get("status") == NEEDS_CONFIRMATION:
                self.metrics.confirmations.labels("proposed").inc()
            elif outcome.error is not None and outcome.error.code in _CONFIRMATION_CODES:
                self.metrics.confirmations.labels(str(outcome.error.code)).inc()
        elif tool in (CONFIRM_ACTION_TOOL, CANCEL_ACTION_TOOL):
            if outcome.error is not None:
                label = str(outcome.error.code)
            else:
                label = str((outcome.output or {}).get("status", "ok"))
            self.metrics.confirmations.labels(label).inc()


_CONFIRMATION_CODES = frozenset({ToolErrorCode.VERIFICATION_REQUIRED})


def _raised_level(request: ToolCallRequest, outcome: Outcome) -> Verification | None:
    """``verified`` when verify_caller verified a caller of a channel with levels (the gateway
    then carries it in the conversation's later envelopes); None otherwise."""
    if (
        request.tool == VERIFY_CALLER_TOOL
        and request.verification is not None
        and outcome.error is None
        and (outcome.output or {}).get("status") == VERIFIED
    ):
        return Verification.VERIFIED
    return None


def _error(code: ToolErrorCode, message: str) -> Outcome:
    return Outcome(error=ToolError(code=code, message=message))
