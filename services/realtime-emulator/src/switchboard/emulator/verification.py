"""Who is calling, as the rule-based policy plays it (phone callers start unverified; the
workers refuse account tools with ``verification_required`` until ``verify_caller`` answers
``verified``, docs/worker.md#who-is-calling):

1. A tool answers ``verification_required``: the policy asks for the postal code on file
   (spoken or typed on the keypad) and remembers the refused calls.
2. The caller's next turn holds digits ("nine four one oh seven", "The caller pressed 9 4 1 0 7
   # on the keypad.", or an order number and a ZIP): the policy calls ``verify_caller``.
3. ``verified``: the refused calls are made again, and their answers spoken after a thank-you.
   ``failed`` with attempts left: it asks again. No attempts left: it transfers to a person
   (``escalate_to_human``) when the session has that tool, else says goodbye. A refusal (the
   attempts were used up, or the number is on no account) is said plainly, with the offer of a
   person; account data is never spoken, since no tool gave any.

Pure logic, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from switchboard.contracts.tools import VERIFY_CALLER_TOOL
from switchboard.emulator.calls import Call, Reply
from switchboard.emulator.numbers import digit_spans
from switchboard.emulator.text import normalize

__all__ = [
    "ASK_POSTCODE",
    "ESCALATE_TOOL",
    "Verifying",
    "after_results",
    "caller_code",
    "refused_for_verification",
    "spoken",
    "transfer_call",
    "verify_call",
    "verify_outcome",
]

ESCALATE_TOOL = "escalate_to_human"
VERIFICATION_REQUIRED = "verification_required"

ASK_POSTCODE = (
    "Before I can help with your account, I need to confirm who you are. Please say the postal "
    "code on your account, or type it on your keypad followed by the pound key."
)
ASK_AGAIN = (
    "Sorry, that doesn't match what we have on file. Please say or type the postal code on your "
    "account again."
)
VERIFIED = "Thank you, that matches."
TRANSFERRING = (
    "I'm sorry, I couldn't confirm who you are, so I can't discuss the account on this call. "
    "Let me pass you to a member of our team."
)
GOODBYE = (
    "I'm sorry, I couldn't confirm who you are, so I can't discuss the account on this call. "
    "Please call back from the phone number on your account. Goodbye."
)
REFUSED = (
    "I'm sorry, I can't confirm who you are on this call, so I can't discuss any account. "
    "I can help with general questions, or pass you to a member of our team."
)


@dataclass
class Verifying:
    """The policy asked for the postal code; ``retry`` are the calls to make once verified."""

    retry: tuple[Call, ...]


def _doc(output: str) -> dict[str, Any]:
    try:
        doc = json.loads(output)
    except (json.JSONDecodeError, TypeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _code(doc: dict[str, Any]) -> str | None:
    error = doc.get("error")
    return str(error.get("code")) if isinstance(error, dict) else None


def refused_for_verification(tool: str | None, output: str) -> bool:
    """*output* is an account tool's ``verification_required`` (not verify_caller's own)."""
    return tool != VERIFY_CALLER_TOOL and _code(_doc(output)) == VERIFICATION_REQUIRED


def verify_outcome(results: list[tuple[str | None, str]]) -> str | None:
    """What the latest verify_caller answer among *results* says: ``verified``, ``failed``
    (attempts left), ``exhausted`` (the last attempt failed), ``refused``, or None."""
    for tool, output in reversed(results):
        if tool != VERIFY_CALLER_TOOL:
            continue
        doc = _doc(output)
        if _code(doc) is not None:
            return "refused"
        status = doc.get("status")
        if status == "failed":
            return "failed" if doc.get("attempts_left", 0) else "exhausted"
        return "verified" if status in ("verified", "not_needed") else None
    return None


def spoken(output: str, *, transferring: bool = False) -> str:
    """What to say about one verify_caller answer (*transferring*: a hand-over to a person was
    made in the same turn)."""
    outcome = verify_outcome([(VERIFY_CALLER_TOOL, output)])
    if outcome == "verified":
        return VERIFIED
    if outcome == "failed":
        return ASK_AGAIN
    if outcome == "exhausted":
        return TRANSFERRING if transferring else GOODBYE
    return REFUSED


def caller_code(text: str) -> dict[str, Any] | None:
    """verify_caller's arguments from what the caller said or typed: a postal code, or an order
    number (six digits) with a ZIP; None when the turn holds no digits."""
    spans = ["".join(groups) for groups in digit_spans(normalize(text))]
    if not spans:
        return None
    if len(spans) >= 2:
        order = next((s for s in spans if len(s) == 6), None)
        code = next((s for s in spans if s != order), None)
        if order is not None and code is not None:
            return {"postcode": code, "order_id": int(order)}
    return {"postcode": spans[0]}


def transfer_call() -> Call:
    """The hand-over to a person after the last failed attempt."""
    return Call(
        ESCALATE_TOOL,
        {
            "summary": "The caller could not be verified (the postal code did not match).",
            "priority": "normal",
        },
    )


Results = list[tuple[str | None, str]]


def after_results(
    verifying: Verifying | None,
    results: Results,
    *,
    made: tuple[Call, ...],
    tool_names: frozenset[str],
    say: Callable[[Results], str],
) -> tuple[Verifying | None, Reply | None]:
    """The verification state and the reply after one response's tool *results* (*made*: the
    calls that produced them; *say*: how results are spoken), or None for the reply when the
    results are simply said."""
    outcome = verify_outcome(results)
    if outcome == "verified" and verifying is not None:
        if verifying.retry:
            return None, Reply(calls=verifying.retry)
        verifying = None
    elif outcome in ("exhausted", "refused"):
        verifying = None
        handed_over = any(c.tool == ESCALATE_TOOL for c in made) or any(
            tool == ESCALATE_TOOL for tool, _ in results
        )
        if outcome == "exhausted" and ESCALATE_TOOL in tool_names and not handed_over:
            return None, Reply(calls=(transfer_call(),))
    refused = [r for r in results if refused_for_verification(*r)]
    if not refused or VERIFY_CALLER_TOOL not in tool_names:
        return verifying, None
    names = {tool for tool, _ in refused}
    others = [r for r in results if not refused_for_verification(*r)]
    said = say(others) if others else ""
    retry = tuple(c for c in made if c.tool in names)
    return Verifying(retry=retry), Reply(text=f"{said} {ASK_POSTCODE}".strip())


def verify_call(
    verifying: Verifying | None, user_text: str, tool_names: frozenset[str]
) -> Call | None:
    """verify_caller with the digits of *user_text*, when the postal code was asked for."""
    if verifying is None or VERIFY_CALLER_TOOL not in tool_names:
        return None
    arguments = caller_code(user_text)
    return Call(VERIFY_CALLER_TOOL, arguments) if arguments is not None else None
