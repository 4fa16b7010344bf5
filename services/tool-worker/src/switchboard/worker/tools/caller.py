"""``verify_caller``: a phone caller proves who they are, so that account tools run for them.

A phone call starts ``unverified`` (caller ID is spoofable): every tool that is not
``verification_exempt`` answers ``verification_required`` until this tool answers ``verified``;
the worker sets ``ToolCallResult.verification`` and the gateway raises the conversation's level,
so later envelopes say ``verified``. What the caller said or typed is checked against the
record: the postal code on file, or an order number of theirs plus its ZIP.

Attempts are rows of ``shop.caller_verification``, counted under a transaction-scoped advisory
lock on the customer, so that any worker sees the same counts and two calls at once cannot both
take the last attempt. The tool is mutating, so a redelivered call replays its recorded answer
and counts once. After :data:`MAX_FAILURES` failures in one conversation it refuses further
attempts in it; after ``rules.verify_account_failures`` failures on the account across all its
conversations within ``rules.verify_account_window`` (counted since its last success) it refuses
on every call, so hanging up and calling again (caller ID is spoofable) does not buy guesses.
It never reveals what is on file."""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import DateTime, func, insert, literal_column, select, text
from sqlalchemy.sql.elements import ColumnClause

from switchboard.contracts.tools import GUEST_CUSTOMER_ID, VERIFY_CALLER_TOOL, Verification
from switchboard.db.shop import CallerVerification, Customer, Order
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import not_allowed
from switchboard.worker.registry import Tool, ToolArguments

__all__ = [
    "ACCOUNT_LOCKED",
    "GUEST_REFUSAL",
    "LOCKED_OUT",
    "MAX_FAILURES",
    "VERIFICATION_NEEDED",
    "VERIFIED",
    "VERIFY_CALLER",
    "postcode_matches",
]

#: failed attempts per conversation before verify_caller refuses
MAX_FAILURES = 3
#: ``status`` of a successful answer (the executor then sets ``ToolCallResult.verification``)
VERIFIED = "verified"

#: what an account tool answers an unverified caller (read aloud by the model, then it asks)
VERIFICATION_NEEDED = (
    "The caller is not verified yet, so account details cannot be read or changed. Ask the "
    "caller for the postal code on file (they can say it or type it on the keypad followed by "
    "the pound key), then call verify_caller with it; after it answers verified, do what they "
    "asked."
)
#: ... and what it answers a caller whose number is on no account
GUEST_REFUSAL = (
    "This phone number is not on any customer account, so account details cannot be discussed "
    "on this call. Offer general help (products, prices, return policy), or a transfer to a "
    "person with escalate_to_human."
)
#: verify_caller's refusal once the attempts are used up
LOCKED_OUT = (
    "The caller could not be verified and no attempts are left on this call: do not discuss "
    "the account. Offer a transfer to a person with escalate_to_human, or say goodbye politely."
)
#: ... and once the account has had too many failures across its calls
ACCOUNT_LOCKED = (
    "This account has had too many failed verification attempts recently, so the caller cannot "
    "be verified by phone now: do not discuss the account. Offer a transfer to a person with "
    "escalate_to_human, or say goodbye politely."
)
#: what "no success yet" compares as
NEVER: ColumnClause[datetime] = literal_column(
    "'-infinity'::timestamptz", type_=DateTime(timezone=True)
)
_MISMATCH = (
    "That does not match what is on file. Ask the caller to say or type the postal code on the "
    "account again."
)


class VerifyCallerArgs(ToolArguments):
    postcode: str = Field(
        min_length=1,
        max_length=40,
        description=(
            "The postal code (ZIP) the caller said or typed on the keypad, such as 98101; "
            "keypad digits may be passed as heard ('9 8 1 0 1 #')."
        ),
    )
    order_id: int | None = Field(
        default=None,
        ge=1,
        le=10**12,
        description=(
            "An order number the caller gave with the ZIP it was shipped to, if they verify "
            "that way: a six-digit number such as 100001."
        ),
    )


def _normal(code: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", code.upper())


def postcode_matches(given: str, on_file: str) -> bool:
    """*given* (spaces, dashes, ``#`` and ``*`` ignored) is the postal code *on_file*; for a
    US ZIP+4 on file the five-digit ZIP is enough. An empty code on file matches nothing."""
    typed, wanted = _normal(given), _normal(on_file)
    if not typed or not wanted:
        return False
    if hmac.compare_digest(typed, wanted):
        return True
    return len(wanted) == 9 and wanted.isdigit() and hmac.compare_digest(typed, wanted[:5])


async def _failures(ctx: ToolContext) -> tuple[int, int]:
    """Failed attempts in this conversation, and on the account within the window since its
    last success."""
    # one customer's attempts are taken one at a time, whichever worker and call runs them
    await ctx.db.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"verify_caller:{ctx.customer_id}"},
    )
    failed = (CallerVerification.customer_id == ctx.customer_id) & (
        CallerVerification.outcome == "failed"
    )
    in_call = await ctx.db.scalar(
        select(func.count())
        .select_from(CallerVerification)
        .where(failed, CallerVerification.session_id == ctx.session_id)
    )
    last_success = (
        select(func.max(CallerVerification.created_at))
        .where(
            CallerVerification.customer_id == ctx.customer_id,
            CallerVerification.outcome == "verified",
        )
        .scalar_subquery()
    )
    window_s = ctx.rules.verify_account_window.total_seconds()
    on_account = await ctx.db.scalar(
        select(func.count())
        .select_from(CallerVerification)
        .where(
            failed,
            # the database's clock, as created_at is
            CallerVerification.created_at
            > func.now() - func.make_interval(0, 0, 0, 0, 0, 0, window_s),
            CallerVerification.created_at > func.coalesce(last_success, NEVER),
        )
    )
    return int(in_call or 0), int(on_account or 0)


async def _matches(ctx: ToolContext, args: VerifyCallerArgs) -> bool:
    if args.order_id is None:
        on_file = await ctx.db.scalar(
            select(Customer.postal_code).where(Customer.id == ctx.customer_id)
        )
        return on_file is not None and postcode_matches(args.postcode, on_file)
    row = (
        await ctx.db.execute(
            select(Order.ship_postal_code, Customer.postal_code)
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.id == args.order_id, Order.customer_id == ctx.customer_id)
        )
    ).first()
    # another customer's order fails exactly like a wrong code: nothing is learnt
    return row is not None and any(postcode_matches(args.postcode, code) for code in row)


async def verify_caller(ctx: ToolContext, args: VerifyCallerArgs) -> dict[str, Any]:
    if ctx.verification is None:
        return {
            "status": "not_needed",
            "message": "This conversation's customer is already signed in; nothing to verify.",
        }
    if ctx.verification is Verification.VERIFIED:
        return {"status": VERIFIED, "message": "The caller is already verified."}
    if ctx.customer_id == GUEST_CUSTOMER_ID:
        raise not_allowed(GUEST_REFUSAL)
    failures, on_account = await _failures(ctx)
    if failures >= MAX_FAILURES:
        raise not_allowed(LOCKED_OUT)
    account_limit = ctx.rules.verify_account_failures
    if on_account >= account_limit:
        raise not_allowed(ACCOUNT_LOCKED)
    ok = await _matches(ctx, args)
    await ctx.db.execute(
        insert(CallerVerification).values(
            call_id=ctx.call_id,
            session_id=ctx.session_id,
            customer_id=ctx.customer_id,
            method="postcode" if args.order_id is None else "order_and_postcode",
            outcome="verified" if ok else "failed",
        )
    )
    if ok:
        return {
            "status": VERIFIED,
            "message": "Thank you: the caller is verified. Go on with what they asked.",
        }
    in_call_left = MAX_FAILURES - failures - 1
    left = min(in_call_left, account_limit - on_account - 1)
    return {
        "status": "failed",
        "attempts_left": left,
        "instructions": _MISMATCH if left else LOCKED_OUT if not in_call_left else ACCOUNT_LOCKED,
    }


VERIFY_CALLER = Tool(
    name=VERIFY_CALLER_TOOL,
    description=(
        "Verify who is calling when a tool answered verification_required: pass the postal "
        "code on the account that the caller said or typed on the keypad (optionally with an "
        "order number of theirs). Answers status verified, or failed with attempts_left."
    ),
    arguments=VerifyCallerArgs,
    handler=verify_caller,
    # mutating: each attempt is recorded once per call id (a redelivery replays its answer)
    mutating=True,
    # exempt, one phase: it changes none of the customer's data, and it is itself the check
    confirmation=False,
    # exempt: it is how an unverified caller becomes verified
    verification_exempt=True,
)
