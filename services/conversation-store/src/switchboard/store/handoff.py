"""The handoff summary a human agent reads when a conversation is transferred (pure, no I/O):
who called and whether the caller is verified, what was asked, what the tools did and
answered, and the escalation ticket, built from a session's audit timeline.

How sure we are of the caller (``Handoff.verification``):
- ``authenticated``: the shop's backend bound the customer (web: the shop's login); the
  session started with no verification level;
- ``verified``: a phone caller who proved it (``verify_caller`` answered ``verified``);
- ``unverified``: a phone caller known only by caller ID, which can be spoofed;
- ``unknown``: a caller on no account (the reserved guest customer), or no customer at all.
Only the first two are ``verified`` (docs/phone.md, "Who is calling").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from switchboard.contracts.tools import GUEST_CUSTOMER_ID, VERIFY_CALLER_TOOL
from switchboard.store.schemas import SessionDetail

__all__ = ["ESCALATION_TOOL", "Handoff", "HandoffTool", "build_handoff"]

ESCALATION_TOOL = "escalate_to_human"
_MAX_ITEMS = 20


class HandoffTool(BaseModel):
    tool: str
    arguments: dict[str, Any] | None
    outcome: str | None
    output: dict[str, Any] | None
    error: str | None = None


class Handoff(BaseModel):
    session_id: str
    customer_id: str | None
    verification: str = Field(
        description="authenticated, verified, unverified or unknown (see the module docs)."
    )
    verified: bool = Field(
        description="The caller may be given account data (authenticated or verified)."
    )
    started_at: datetime
    ended_at: datetime | None
    escalated: bool
    ticket: dict[str, Any] | None = Field(description="The escalation ticket (its tool output).")
    reason: str | None = Field(description="The escalation summary the bot gave.")
    asked: list[str] = Field(description="What the caller said or typed, in order.")
    tools: list[HandoffTool]
    answers: list[str] = Field(description="What the caller heard, in order.")
    text: str = Field(description="The same, as a few lines for an agent's screen.")


def build_handoff(detail: SessionDetail) -> Handoff:
    session = detail.session
    asked: list[str] = []
    answers: list[str] = []
    tools: list[HandoffTool] = []
    ticket: dict[str, Any] | None = None
    reason: str | None = None
    for entry in detail.timeline:
        if entry.kind == "user" and entry.text:
            asked.append(entry.text)
        elif entry.kind == "assistant":
            heard = entry.heard_text if entry.interrupted else entry.text
            if heard:
                answers.append(heard)
        elif entry.kind == "tool" and entry.tool:
            tools.append(
                HandoffTool(
                    tool=entry.tool,
                    arguments=entry.arguments,
                    outcome=entry.outcome,
                    output=entry.output,
                    error=entry.error_message,
                )
            )
            if entry.tool == ESCALATION_TOOL and entry.outcome == "ok":
                ticket = entry.output
                reason = str((entry.arguments or {}).get("summary") or "") or None
    level = _verification(detail)
    verified = level in ("authenticated", "verified")
    known = level != "unknown"
    lines = [
        f"Caller: {session.customer_id if known else 'unknown'} "
        f"({level if verified else f'{level}, NOT verified: give no account data'})",
    ]
    if ticket:
        lines.append(
            f"Ticket {ticket.get('ticket_id', '?')}, priority {ticket.get('priority', '?')}"
            + (f": {reason}" if reason else "")
        )
    lines += [f"Asked: {text}" for text in asked[-_MAX_ITEMS:]]
    for tool in tools[-_MAX_ITEMS:]:
        args = ", ".join(f"{k}={v}" for k, v in (tool.arguments or {}).items())
        lines.append(f"Tool {tool.tool}({args}) -> {tool.outcome or 'pending'}")
    lines += [f"Bot said: {text}" for text in answers[-_MAX_ITEMS:]]
    return Handoff(
        session_id=session.id,
        customer_id=session.customer_id,
        verification=level,
        verified=verified,
        started_at=session.started_at,
        ended_at=session.ended_at,
        escalated=session.escalated,
        ticket=ticket,
        reason=reason,
        asked=asked,
        tools=tools,
        answers=answers,
        text="\n".join(lines),
    )


def _verification(detail: SessionDetail) -> str:
    """How sure the conversation is of its caller, from its start and its verify_caller calls."""
    customer = detail.session.customer_id
    if customer is None or customer == GUEST_CUSTOMER_ID:
        return "unknown"
    started = next((e for e in detail.timeline if e.kind == "session.started"), None)
    if started is None or started.verification is None:
        return "authenticated"
    for entry in detail.timeline:
        if (
            entry.kind == "tool"
            and entry.tool == VERIFY_CALLER_TOOL
            and entry.outcome == "ok"
            and (entry.output or {}).get("status") == "verified"
        ):
            return "verified"
    return "verified" if started.verification == "verified" else "unverified"
