"""The handoff summary a human agent reads when a conversation is transferred (pure, no I/O):
who called and whether the caller is verified, what was asked, what the tools did and
answered, and the escalation ticket, built from a session's audit timeline.

"Verified" means the conversation is bound to a customer: the gateway binds a customer only
through a client secret minted for that customer by the shop's backend (web: the shop's
login) or the phone bridge (after the caller proved the postal code on file, see
docs/phone.md). A session without a customer is an unverified caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

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
    verified: bool = Field(description="The conversation is bound to a customer account.")
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
    verified = session.customer_id is not None
    lines = [
        f"Caller: {session.customer_id or 'unknown'} "
        f"({'verified' if verified else 'NOT verified: give no account data'})",
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
