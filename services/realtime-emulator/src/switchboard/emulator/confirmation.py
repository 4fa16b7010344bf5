"""Changes the customer confirms first, in one of two ways, chosen by the session's tools:

- **Two phases** (the tools include ``confirm_action``, the protocol of docs/worker.md): a tool
  that changes data is called as soon as its arguments are filled; it changes nothing and answers
  a pending action (``status: needs_confirmation``, ``action_id``, ``read_back``), and the
  read-back is spoken. The customer's next turn decides: yes → ``confirm_action {action_id}``
  (in that later response, never in the proposal's), no → ``cancel_action {action_id}``,
  anything else is a new request (the pending action expires or is superseded).
- **Self-confirmation** (tool sets without the protocol): the policy reads the change back itself
  (:func:`read_back`) and calls the tool only after a yes.

It also says the protocol's results as a person would: a confirmation with the original tool's
reply template, a cancellation as "nothing changed", and its errors in plain words. Pure logic,
no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from switchboard.contracts.tools import (
    CANCEL_ACTION_TOOL,
    CONFIRM_ACTION_TOOL,
    NEEDS_CONFIRMATION,
    VERIFY_CALLER_TOOL,
    PendingAction,
)
from switchboard.emulator.calls import Call
from switchboard.emulator.intent import ToolSpec
from switchboard.emulator.replies import spoken_when, summarize_output
from switchboard.emulator.slots import is_id
from switchboard.emulator.text import humanize
from switchboard.emulator.verification import ESCALATE_TOOL
from switchboard.emulator.verification import spoken as verification_spoken

__all__ = [
    "NOTHING_CHANGED",
    "PROTOCOL_TOOLS",
    "Proposal",
    "open_proposal",
    "ordinary_tools",
    "read_back",
    "spoken_results",
    "two_phase",
]

#: the protocol's own tools: never chosen for what a caller asks, only to answer a read-back,
#: and verify_caller, called only when a tool asked for it (:mod:`.verification`)
PROTOCOL_TOOLS = frozenset({CONFIRM_ACTION_TOOL, CANCEL_ACTION_TOOL, VERIFY_CALLER_TOOL})
#: what is said once a pending action was cancelled
NOTHING_CHANGED = "OK, I haven't changed anything."

_ERROR_WORDS = {
    "expired": (
        "Sorry, that change waited too long for your answer, so I haven't made it. "
        "Just ask again if you still want it."
    ),
    "awaiting_customer": (
        "I haven't changed anything yet: I need your answer first. Shall I go ahead, yes or no?"
    ),
    "verification_required": (
        "Sorry, I can't make that change on this call until we've confirmed who you are, "
        "so nothing has changed."
    ),
}
#: ``not_found`` from confirm_action / cancel_action (from another tool its message says more)
_LOST_ACTION = (
    "Sorry, I can't find that change any more, so nothing has changed. "
    "Just ask again if you still want it."
)


def two_phase(specs: Iterable[ToolSpec]) -> bool:
    """The session's tools follow the two-phase protocol (``confirm_action`` is one of them)."""
    return any(spec.name == CONFIRM_ACTION_TOOL for spec in specs)


def ordinary_tools(specs: list[ToolSpec]) -> list[ToolSpec]:
    """The tools a caller's request can choose: all but the protocol's own."""
    return [spec for spec in specs if spec.name not in PROTOCOL_TOOLS]


@dataclass(frozen=True)
class Proposal:
    """A pending action read back to the customer, and the call that proposed it."""

    action_id: str
    tool: str
    read_back: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def confirm(self) -> Call:
        return Call(CONFIRM_ACTION_TOOL, {"action_id": self.action_id})

    def cancel(self) -> Call:
        return Call(CANCEL_ACTION_TOOL, {"action_id": self.action_id})


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        return None


def _pending(doc: Any) -> PendingAction | None:
    """The pending action a tool answered, read as the contract's type (or, from a client
    that sends a looser shape, its three fields that matter)."""
    if not isinstance(doc, dict) or doc.get("status") != NEEDS_CONFIRMATION:
        return None
    try:
        return PendingAction.from_output(doc)
    except ValidationError:
        fields = (doc.get("action_id"), doc.get("tool"), doc.get("read_back"))
        if not all(isinstance(f, str) and f for f in fields):
            return None
        return PendingAction.model_construct(
            action_id=doc["action_id"], tool=doc["tool"], read_back=doc["read_back"]
        )


def _is_user(item: dict[str, Any]) -> bool:
    return item.get("type") == "message" and item.get("role") == "user"


def open_proposal(items: list[dict[str, Any]]) -> Proposal | None:
    """The pending action that the conversation's latest user turn answers: proposed and read
    back after the user turn before it, and neither confirmed nor cancelled since. A turn after
    that (a new request in between) answers nothing: the action expires or is superseded."""
    calls = {i.get("call_id"): i for i in items if i.get("type") == "function_call"}
    index = len(items) - 1
    while index >= 0 and (_is_user(items[index]) or items[index].get("role") == "system"):
        index -= 1  # the latest turn (a typed message and its audio can be one turn)
    if index == len(items) - 1:
        return None  # the conversation does not end with a user turn
    decided: set[Any] = set()
    for item in reversed(items[: index + 1]):
        if _is_user(item):
            break
        if item.get("type") != "function_call_output":
            continue
        doc = _json(item.get("output"))
        if not isinstance(doc, dict):
            continue
        if doc.get("status") in ("confirmed", "cancelled"):
            decided.add(doc.get("action_id"))
        pending = _pending(doc)
        if pending is None or pending.action_id in decided:
            continue
        arguments = _json((calls.get(item.get("call_id")) or {}).get("arguments"))
        return Proposal(
            action_id=pending.action_id,
            tool=pending.tool,
            read_back=pending.read_back,
            arguments=arguments if isinstance(arguments, dict) else {},
        )
    return None


def _spoken(
    tool: str | None, output: str, today: date, *, transferring: bool = False
) -> tuple[str, bool]:
    """What to say about one output, and whether it is a read-back (said last)."""
    if tool == VERIFY_CALLER_TOOL:
        return verification_spoken(output, transferring=transferring), False
    doc = _json(output)
    if isinstance(doc, dict):
        pending = _pending(doc)
        if pending is not None:
            return pending.read_back, True
        error = doc.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        if code == "not_found" and tool in PROTOCOL_TOOLS:
            return _LOST_ACTION, False
        if code in _ERROR_WORDS:
            return _ERROR_WORDS[code], False
        if doc.get("status") == "confirmed" and "action_id" in doc:
            original = str(doc.get("tool") or tool or "that request")
            result = doc.get("result")
            return summarize_output(original, json.dumps(result), today=today), False
        if doc.get("status") == "cancelled" and "action_id" in doc:
            return NOTHING_CHANGED, False
    return summarize_output(tool or "that request", output, today=today), False


def spoken_results(results: list[tuple[str | None, str]], *, today: date) -> str:
    """The outputs of one response's calls, said in order, except that a read-back ends it
    (it asks the customer a yes/no question)."""
    transferring = any(tool == ESCALATE_TOOL for tool, _ in results)
    said = [_spoken(tool, output, today, transferring=transferring) for tool, output in results]
    return " ".join([t for t, asks in said if not asks] + [t for t, asks in said if asks])


def read_back(spec: ToolSpec, arguments: dict[str, Any], today: date) -> str:
    """The policy's own read-back, without the protocol: "Just to confirm: cancel order 100002,
    because I ordered it twice? Please say yes or no." """
    action = spec.spoken_name()
    details = []
    for name, value in arguments.items():
        schema = spec.properties.get(name, {})
        if value is None or value == schema.get("default"):
            continue
        label = humanize(name)
        thing = label.rsplit(" ", 1)[0] if is_id(name, label) and " " in label else label
        if is_id(name, label) and action.endswith(thing):
            action = f"{action} {value}"  # "cancel order" + order id → "cancel order 100002"
        elif is_id(name, label):
            details.append(f"{thing} {value}")  # "process return" + order id → "order 100002"
        elif label == "reason":
            details.append(f"because {value}")
        elif schema.get("format") in ("date", "date-time"):
            details.append(f"{label} {spoken_when(value, today)}")
        else:
            details.append(f"{label} {value}")
    said = ", ".join([action, *details])
    return f"Just to confirm: {said}? Please say yes or no."
