"""Tool calls of one conversation, run beside the relay (never inside a pump).

:class:`ToolRunner` calls the tool workers through the broker, reports each call to the audit
trail (and to display clients), says a filler when a tool is slow, and when every call of a
response is answered hands the outputs to the model and asks it to speak: only when no
response is active (the session wakes it when that changes).

A call outlives its conversation: the worker may already be changing an order when the
client hangs up, so the call's own task is not cancelled with the session. It finishes (or
times out) and records ``tool.completed`` in the audit trail; the session waits for it
(:meth:`ToolRunner.settle`) before it records ``session.ended``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from switchboard.contracts.display import ToolCompletedDisplay, ToolStartedDisplay
from switchboard.contracts.events import EventPayload, ToolCalled, ToolCompleted
from switchboard.contracts.tools import (
    CANCEL_ACTION_TOOL,
    CONFIRM_ACTION_TOOL,
    NEEDS_CONFIRMATION,
    VERIFY_CALLER_TOOL,
    ToolCallResult,
    ToolErrorCode,
    Verification,
)
from switchboard.gateway.actions import StartTool
from switchboard.gateway.broker import GATEWAY_WORKER, Broker
from switchboard.gateway.metrics import GatewayMetrics
from switchboard.gateway.relay import RelayCore
from switchboard.gateway.settings import GatewaySettings
from switchboard.gateway.snapshot import PendingCall

__all__ = ["ToolRunner", "completed_summary", "started_summary"]

Call = asyncio.Task[tuple[str, ToolCallResult]]


class ToolRunner:
    """Runs the model's tool calls for one conversation."""

    def __init__(
        self,
        core: RelayCore,
        *,
        broker: Broker,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        session_id: str,
        customer_id: str,
        verification: Verification | None = None,
        display: bool,
        emit: Callable[[EventPayload], None],
        send_client: Callable[[str], Awaitable[None]],
        send_upstream: Callable[[dict[str, Any]], Awaitable[None]],
        spawn: Callable[[Awaitable[Any]], asyncio.Task[Any]],
    ) -> None:
        self.core = core
        self.broker = broker
        self.settings = settings
        self.metrics = metrics
        self.session_id = session_id
        self.customer_id = customer_id
        #: the caller's verification level: from the client secret (None: no levels), raised
        #: by a successful ``verify_caller`` answer
        self.verification = verification
        self.display = display
        self.emit = emit
        self.send_client = send_client
        self.send_upstream = send_upstream
        self.spawn = spawn
        #: tool calls in flight (the watchdog does not call a conversation idle meanwhile)
        self.running = 0
        self._calls: dict[str, list[Call]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._response_lock = asyncio.Lock()
        #: broker calls still waiting for their answer (not part of the session's task group)
        self._pending: set[asyncio.Task[ToolCallResult]] = set()
        #: call id -> the output text of every call a worker answered (for the snapshot)
        self.outputs: dict[str, str] = {}

    # -- driven by the session ---------------------------------------------------------------------
    def start(self, call: StartTool) -> None:
        task = self.spawn(self._run(call.call_id, call.name, call.arguments, call.user_item_id))
        self._calls.setdefault(call.response_id, []).append(task)

    def deliver(self, response_id: str) -> None:
        calls = self._calls.pop(response_id, None)
        if calls:
            self.spawn(self._deliver_outputs(calls))

    def resume(self, pending: list[PendingCall], *, respond: bool) -> None:
        """After a resume: answer the calls the model made before the loss (a known output as
        it was, the others sent to the workers again under the same call id: a data-changing
        one is replayed from its effect record, not run twice), then let the model speak (also
        when *respond*: a response was cut by the loss)."""
        calls: list[Awaitable[tuple[str, ToolCallResult | str]]] = []
        for call in pending:
            if call.output is not None:
                calls.append(_known(call.call_id, call.output))
            else:
                calls.append(self.spawn(self._run(call.call_id, call.name, call.arguments)))
        if calls:
            self.spawn(self._deliver_outputs(calls))
        elif respond:
            self.spawn(self.create_response())

    def retry_response(self) -> None:
        self.spawn(self.create_response())

    def wake(self) -> None:
        """The response state may have changed: let a waiting ``response.create`` go."""
        if self.core.response_idle:
            self._idle.set()

    # -- calls -------------------------------------------------------------------------------------
    async def _run(
        self, call_id: str, name: str, arguments: str, user_item_id: str | None = None
    ) -> tuple[str, ToolCallResult]:
        self.running += 1
        try:
            try:
                args = json.loads(arguments or "{}")
                if not isinstance(args, dict):
                    raise ValueError("arguments must be a JSON object")
            except ValueError as exc:
                result = ToolCallResult.failure(
                    call_id,
                    ToolErrorCode.INVALID_ARGUMENTS,
                    f"The arguments are not a JSON object: {exc}",
                    worker=GATEWAY_WORKER,
                )
                self.emit(
                    ToolCalled(call_id=call_id, tool=name, arguments={}, user_item_id=user_item_id)
                )
                self._done(name, result, 0.0)
                return call_id, result
            self.emit(
                ToolCalled(call_id=call_id, tool=name, arguments=args, user_item_id=user_item_id)
            )
            if self.display:
                await self.send_client(
                    ToolStartedDisplay(
                        call_id=call_id, tool=name, summary=started_summary(name, args)
                    ).model_dump_json()
                )
            started = time.perf_counter()
            call = asyncio.create_task(self._call(call_id, name, args, started, user_item_id))
            self._pending.add(call)
            call.add_done_callback(self._pending.discard)
            filler = self.settings.filler_after_s
            if filler > 0:
                done, _ = await asyncio.wait({call}, timeout=filler)
                if not done:
                    await self._say_filler()
            # shielded: a session that ends now does not cancel a call the worker may be making
            result = await asyncio.shield(call)
            elapsed = time.perf_counter() - started
            if self.display:
                await self.send_client(
                    ToolCompletedDisplay(
                        call_id=call_id,
                        tool=name,
                        ok=result.ok,
                        summary=completed_summary(name, result),
                        card=result.output if result.ok else None,
                        error_code=str(result.error.code) if result.error else None,
                        duration_ms=round(elapsed * 1000, 3),
                    ).model_dump_json()
                )
            return call_id, result
        finally:
            self.running -= 1

    async def _call(
        self,
        call_id: str,
        name: str,
        args: dict[str, Any],
        started: float,
        user_item_id: str | None,
    ) -> ToolCallResult:
        """The broker call and its audit record, whatever happens to the session meanwhile."""
        result = await self.broker.call_tool(
            call_id=call_id,
            session_id=self.session_id,
            customer_id=self.customer_id,
            tool=name,
            arguments=args,
            timeout_s=self.settings.tool_timeout_s,
            user_item_id=user_item_id,
            verification=self.verification,
        )
        self.outputs[call_id] = result.model_text()
        if name == VERIFY_CALLER_TOOL and result.ok and result.verification is not None:
            # the worker checked who is calling: later calls carry the new level
            self.verification = result.verification
        self._done(name, result, time.perf_counter() - started)
        return result

    async def settle(self) -> None:
        """Wait for calls still in flight (the conversation is ending), at most their timeout;
        a call still unanswered then is cancelled (the broker has given up on it anyway)."""
        if not self._pending:
            return
        pending = set(self._pending)
        _, late = await asyncio.wait(pending, timeout=self.settings.tool_timeout_s + 1.0)
        for task in late:
            task.cancel()

    def _done(self, name: str, result: ToolCallResult, elapsed_s: float) -> None:
        outcome = "ok" if result.ok else str(result.error.code if result.error else "error")
        self.metrics.tool_calls.labels(name, outcome).inc()
        self.metrics.tool_round_trip.labels(name).observe(elapsed_s)
        if not result.ok:
            self.metrics.errors.labels("tool", outcome).inc()
        self.emit(
            ToolCompleted(
                call_id=result.call_id,
                tool=name,
                ok=result.ok,
                output=result.output if result.ok else None,
                error_code=str(result.error.code) if result.error else None,
                error_message=result.error.message if result.error else None,
                duration_ms=round(elapsed_s * 1000, 3),
                worker=result.worker,
            )
        )

    # -- answers -----------------------------------------------------------------------------------
    async def _deliver_outputs(
        self, calls: Sequence[Awaitable[tuple[str, ToolCallResult | str]]]
    ) -> None:
        """Every call of one response answered: hand the outputs to the model, then ask it to
        speak (once no response is active)."""
        results = await asyncio.gather(*calls)
        for call_id, result in results:
            output = result if isinstance(result, str) else result.model_text()
            await self.send_upstream(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "function_call_output", "call_id": call_id, "output": output},
                }
            )
        await self.create_response()

    async def create_response(self) -> None:
        """One ``response.create``, as soon as no response is active or asked for."""
        async with self._response_lock:
            while not self.core.request_response():
                self._idle.clear()
                await self._idle.wait()
            await self.send_upstream({"type": "response.create"})

    async def _say_filler(self) -> None:
        """A short spoken filler while a slow tool runs (only when nothing else is playing)."""
        if not self.core.request_response():
            return
        await self.send_upstream(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "output_modalities": ["audio"],
                    "instructions": f'Say "{self.settings.filler_text}"',
                    "tool_choice": "none",
                    "input": [],
                    "metadata": {"switchboard": "filler"},
                },
            }
        )


async def _known(call_id: str, output: str) -> tuple[str, ToolCallResult | str]:
    return call_id, output


#: the second phase of a data-changing tool, as the display summary names it
_DECISIONS = {CONFIRM_ACTION_TOOL: "Confirm", CANCEL_ACTION_TOOL: "Cancel"}


def started_summary(tool: str, args: dict[str, Any]) -> str:
    """The one line of ``switchboard.tool.started``; for a confirmation or cancellation it
    names the pending action (the voice page settles that action's card)."""
    if tool in _DECISIONS:
        # the page finds the pending change's card by the action id in this line
        return f"{_DECISIONS[tool]} change {str(args.get('action_id', ''))[:64]}".rstrip()
    words = tool.replace("_", " ")
    order = args.get("order_id")
    return f"{words.capitalize()} for order {order}" if order is not None else words.capitalize()


def completed_summary(tool: str, result: ToolCallResult) -> str:
    """The one line of ``switchboard.tool.completed`` (an error's model-readable message)."""
    if result.ok:
        if (result.output or {}).get("status") == NEEDS_CONFIRMATION:
            return "Waiting for the customer's yes"
        if tool in _DECISIONS:
            return f"Change {'confirmed' if tool == CONFIRM_ACTION_TOOL else 'cancelled'}"
        return f"{tool.replace('_', ' ').capitalize()}: done"
    assert result.error is not None
    return result.error.message[:200]
