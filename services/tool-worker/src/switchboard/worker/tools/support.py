"""Support tools: schedule a callback inside business hours, and hand the conversation to a
human agent with a ticket."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import insert, select

from switchboard.contracts.tools import ProposedChange, ToolErrorCode, Verification
from switchboard.db.shop import Callback, Customer, SupportTicket, TicketPriority
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import ToolFailure, not_found
from switchboard.worker.proposals import Proposal, mask_phone
from switchboard.worker.registry import Tool, ToolArguments
from switchboard.worker.tools.common import ORDER_ID_DESCRIPTION, load_order

__all__ = ["ESCALATE_TO_HUMAN", "SCHEDULE_CALLBACK"]

#: A callback must be at least this far ahead, so an agent can pick it up.
MIN_LEAD = timedelta(minutes=15)
#: How soon a human picks up a ticket, by priority (read to the customer).
RESPONSE_TIMES = {
    TicketPriority.URGENT: "within 15 minutes",
    TicketPriority.HIGH: "within 1 hour",
    TicketPriority.NORMAL: "within 4 hours",
    TicketPriority.LOW: "within 1 business day",
}


def _invalid_time(message: str) -> ToolFailure:
    return ToolFailure(ToolErrorCode.INVALID_ARGUMENTS, message, field="callback_time")


# -- schedule_callback -------------------------------------------------------------------------
class CallbackArgs(ToolArguments):
    callback_time: datetime = Field(
        description=(
            "When to call the customer back: a date and time such as 2026-11-05T15:00:00, "
            "on a weekday within business hours."
        )
    )
    reason: str = Field(
        default="callback requested",
        min_length=2,
        max_length=500,
        description="What the callback is about, in the customer's words.",
    )


async def _bookable(ctx: ToolContext, args: CallbackArgs) -> tuple[datetime, datetime, str]:
    """The callback time (UTC-aware and in business time) if it can be booked, and the phone
    number on the account it will call."""
    rules = ctx.rules
    when = args.callback_time
    if when.tzinfo is None:
        when = when.replace(tzinfo=rules.timezone)
    local = when.astimezone(rules.timezone)
    hours = f"{rules.opens:%H:%M} to {rules.closes:%H:%M} ({rules.timezone.key}), Monday to Friday"
    if when < ctx.now + MIN_LEAD:
        raise _invalid_time("That time has already passed; please pick a time in the future.")
    if when > ctx.now + timedelta(days=rules.callback_horizon_days):
        raise _invalid_time(
            f"Callbacks can be booked up to {rules.callback_horizon_days} days ahead."
        )
    if local.weekday() >= 5 or not (rules.opens <= local.time() < rules.closes):
        raise _invalid_time(f"That is outside our business hours: {hours}.")
    phone = await ctx.db.scalar(select(Customer.phone).where(Customer.id == ctx.customer_id))
    if phone is None:
        raise not_found("I couldn't find your customer account.")
    return when, local, phone


async def propose_schedule_callback(ctx: ToolContext, args: CallbackArgs) -> Proposal:
    _, local, phone = await _bookable(ctx, args)
    said = f"{local:%A, %B} {local.day} at {local:%H:%M} ({ctx.rules.timezone.key})"
    return Proposal(
        read_back=f"I'll book a callback to {mask_phone(phone)} on {said}. Shall I go ahead?",
        changes=[
            ProposedChange(field="callback", after=local.isoformat(timespec="minutes")),
        ],
    )


async def schedule_callback(ctx: ToolContext, args: CallbackArgs) -> dict[str, Any]:
    when, local, phone = await _bookable(ctx, args)
    callback_id = await ctx.db.scalar(
        insert(Callback)
        .values(
            customer_id=ctx.customer_id,
            scheduled_for=when.astimezone(UTC),
            phone=phone,
            topic=args.reason,
            status="scheduled",
            call_id=ctx.call_id,
        )
        .returning(Callback.id)
    )
    return {
        "callback_id": callback_id,
        "scheduled_for": local.isoformat(timespec="minutes"),
        "phone": phone,
        "reason": args.reason,
    }


SCHEDULE_CALLBACK = Tool(
    name="schedule_callback",
    description=(
        "Schedule a phone call back to the customer from a support agent at a future time on a "
        "weekday within business hours. Calls the phone number on the account. Nothing is "
        "booked until the customer confirms: the answer is a read-back to say and an action_id "
        "for confirm_action."
    ),
    arguments=CallbackArgs,
    handler=schedule_callback,
    mutating=True,
    confirmation=True,
    propose=propose_schedule_callback,
    verification_exempt=False,
)


# -- escalate_to_human -------------------------------------------------------------------------
class EscalateArgs(ToolArguments):
    summary: str = Field(
        min_length=3,
        max_length=2000,
        description="A short summary of the customer's problem for the human agent.",
    )
    priority: Literal["low", "normal", "high", "urgent"] = Field(
        default="normal", description="How urgent the problem is: low, normal, high or urgent."
    )
    order_id: int | None = Field(
        default=None, ge=1, description=f"The order concerned, if any. {ORDER_ID_DESCRIPTION}"
    )


async def escalate_to_human(ctx: ToolContext, args: EscalateArgs) -> dict[str, Any]:
    summary, order_id = args.summary, args.order_id
    if order_id is not None and ctx.verification is Verification.UNVERIFIED:
        # whether the order is the caller's would tell an unverified caller something: it is
        # neither looked up nor linked, only passed on to the agent as what the caller said
        summary, order_id = f"{summary} (unverified caller mentioned order {order_id})", None
    if order_id is not None:
        await load_order(ctx, order_id)
    ticket_id = f"TCK-{secrets.token_hex(4).upper()}"
    priority = TicketPriority(args.priority)
    await ctx.db.execute(
        insert(SupportTicket).values(
            id=ticket_id,
            customer_id=ctx.customer_id,
            order_id=order_id,
            session_id=ctx.session_id,
            summary=summary,
            priority=priority,
            status="open",
            call_id=ctx.call_id,
        )
    )
    return {
        "ticket_id": ticket_id,
        "priority": priority.value,
        "status": "open",
        "expected_response": RESPONSE_TIMES[priority],
    }


ESCALATE_TO_HUMAN = Tool(
    name="escalate_to_human",
    description=(
        "Hand the conversation to a human support agent: opens a ticket with a summary and a "
        "priority. Use it when the customer asks for a person or the problem can't be solved here."
    ),
    arguments=EscalateArgs,
    handler=escalate_to_human,
    mutating=True,
    # exempt, one phase: it records a request for a person and changes none of the customer's
    # data, and a customer asking for a human must not be held up by a read-back first
    confirmation=False,
    # exempt: any caller, verified or not, can always ask for a person; an unverified
    # caller's order number is not looked up or linked (see escalate_to_human)
    verification_exempt=True,
)
