"""Two-phase data-changing tools: a call of a ``confirmation`` tool proposes (validates, changes
nothing, records a ``shop.pending_action``); ``confirm_action`` commits it, ``cancel_action``
drops it. All three run inside :func:`switchboard.worker.effects.run_once`, so each is exactly
once per call id; the pending row is locked ``FOR UPDATE`` so two confirmations cannot both
commit. The rules are in docs/worker.md#confirmations."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from switchboard.contracts.tools import (
    PendingAction,
    ToolErrorCode,
    Verification,
)
from switchboard.db.shop import PendingAction as PendingRow
from switchboard.db.shop import PendingActionStatus
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import ToolFailure, not_allowed, not_found
from switchboard.worker.proposals import Proposal
from switchboard.worker.registry import Handler, Tool, ToolArguments

__all__ = ["ActionArgs", "cancel_action", "confirm_action", "proposer"]

AWAITING_CUSTOMER = (
    "The customer has not answered yet: read the change back and wait for their yes."
)
VERIFICATION_REQUIRED = (
    "Changing the e-mail or phone on file needs a verified caller: ask the caller to verify "
    "first (for example with the postal code on the account)."
)


class ActionArgs(ToolArguments):
    action_id: str = Field(
        min_length=1,
        max_length=64,
        description="The action_id of the pending change, as given when it was proposed.",
    )


def _real_now() -> datetime:
    """Expiry runs on the real clock, not the shop's (possibly pinned) calendar."""
    return datetime.now(UTC)


def proposer(tool: Tool) -> Handler:
    """The handler that runs *tool*'s first phase: its ``propose`` step, then the pending row."""
    assert tool.propose is not None

    async def propose(ctx: ToolContext, args: ToolArguments) -> dict[str, Any]:
        assert tool.propose is not None
        if tool.is_sensitive(args) and ctx.verification is Verification.UNVERIFIED:
            raise ToolFailure(ToolErrorCode.VERIFICATION_REQUIRED, VERIFICATION_REQUIRED)
        proposal = await tool.propose(ctx, args)
        if not isinstance(proposal, Proposal):
            return proposal  # nothing would change: a plain answer, no pending action
        now = _real_now()
        await ctx.db.execute(
            update(PendingRow)
            .where(
                PendingRow.session_id == ctx.session_id,
                PendingRow.customer_id == ctx.customer_id,
                PendingRow.status == PendingActionStatus.PENDING.value,
            )
            .values(status=PendingActionStatus.SUPERSEDED.value, decided_at=now)
        )
        action = PendingAction(
            action_id=f"pa_{secrets.token_urlsafe(12)}",
            tool=tool.name,
            read_back=proposal.read_back,
            changes=proposal.changes,
            expires_at=now + ctx.confirmation_ttl,
        )
        await ctx.db.execute(
            insert(PendingRow).values(
                id=action.action_id,
                customer_id=ctx.customer_id,
                session_id=ctx.session_id,
                tool=tool.name,
                arguments=args.model_dump(mode="json"),
                changes=[c.model_dump(mode="json") for c in action.changes],
                read_back=action.read_back,
                status=PendingActionStatus.PENDING.value,
                verification=ctx.verification.value if ctx.verification else None,
                proposed_call_id=ctx.call_id,
                proposed_user_item_id=ctx.user_item_id,
                expires_at=action.expires_at,
                created_at=now,
            )
        )
        return action.model_dump(mode="json")

    return propose


async def _load(ctx: ToolContext, action_id: str) -> Any:
    """The caller's own pending row, locked; anyone else's is answered like a missing one."""
    row = (
        await ctx.db.execute(
            select(PendingRow.__table__)
            .where(
                PendingRow.id == action_id,
                PendingRow.customer_id == ctx.customer_id,
                PendingRow.session_id == ctx.session_id,
            )
            .with_for_update()
        )
    ).first()
    if row is None:
        raise not_found(
            "There is no pending change with that id in this conversation.", field="action_id"
        )
    return row


def _closed(row: Any) -> ToolFailure:
    if row.status == PendingActionStatus.SUPERSEDED.value:
        return not_allowed(
            "That change was replaced by a newer request, so it can't be confirmed; nothing "
            "was changed. Use the newest action_id.",
            field="action_id",
        )
    if row.status == PendingActionStatus.CONFIRMED.value:
        return not_allowed("That change was already made.", field="action_id")
    return not_allowed(
        "That change was cancelled, so nothing was changed. Propose it again if the customer "
        "still wants it.",
        field="action_id",
    )


async def confirm_action(ctx: ToolContext, args: ActionArgs) -> dict[str, Any]:
    """Commit the caller's pending action once the customer said yes in a later turn."""
    row = await _load(ctx, args.action_id)
    if row.status == PendingActionStatus.CONFIRMED.value:
        return dict(row.result or {})  # another confirmation already committed it
    if row.status != PendingActionStatus.PENDING.value:
        raise _closed(row)
    now = _real_now()
    if now >= row.expires_at:
        raise ToolFailure(
            ToolErrorCode.EXPIRED,
            "That change waited too long for a yes and expired; nothing was changed. Propose it "
            "again if the customer still wants it.",
            field="action_id",
        )
    if ctx.user_item_id is None or ctx.user_item_id == row.proposed_user_item_id:
        raise ToolFailure(ToolErrorCode.AWAITING_CUSTOMER, AWAITING_CUSTOMER, field="action_id")
    tool = ctx.tools.get(row.tool)
    if tool is None:  # pragma: no cover - every proposing tool is in the package
        raise not_allowed("That change can't be made here.", field="action_id")
    stored = tool.parse(row.arguments)
    if tool.is_sensitive(stored) and ctx.verification is Verification.UNVERIFIED:
        raise ToolFailure(ToolErrorCode.VERIFICATION_REQUIRED, VERIFICATION_REQUIRED)
    # the original tool's effect, re-checking its business rules now: if the world changed
    # since the proposal (the order shipped), its refusal is the answer, nothing changes and
    # the action stays pending until it expires (the refusal is in this call's effect record)
    result = await tool.handler(ctx, stored)
    output = {"status": "confirmed", "action_id": row.id, "tool": row.tool, "result": result}
    await _decide(ctx, row.id, PendingActionStatus.CONFIRMED, now, output)
    return output


async def cancel_action(ctx: ToolContext, args: ActionArgs) -> dict[str, Any]:
    """Drop the caller's pending action (the customer said no); nothing changes."""
    row = await _load(ctx, args.action_id)
    output = {"status": "cancelled", "action_id": row.id, "tool": row.tool}
    if row.status == PendingActionStatus.CANCELLED.value:
        return output
    if row.status != PendingActionStatus.PENDING.value:
        raise _closed(row)
    await _decide(ctx, row.id, PendingActionStatus.CANCELLED, _real_now(), output)
    return output


async def _decide(
    ctx: ToolContext,
    action_id: str,
    status: PendingActionStatus,
    now: datetime,
    result: dict[str, Any],
) -> None:
    await ctx.db.execute(
        update(PendingRow)
        .where(PendingRow.id == action_id)
        .values(
            status=status.value,
            decided_at=now,
            decided_call_id=ctx.call_id,
            decided_user_item_id=ctx.user_item_id,
            result=result,
        )
    )
