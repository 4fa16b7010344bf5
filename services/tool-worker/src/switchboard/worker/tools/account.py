"""Account tools: read the caller's profile, and change their email, phone or language."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy import insert, select, update

from switchboard.contracts.tools import ProposedChange
from switchboard.db.shop import AccountChange, Customer
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import not_allowed, not_found
from switchboard.worker.proposals import Proposal, mask_email, mask_phone
from switchboard.worker.queries import CUSTOMER, OPEN_ORDERS
from switchboard.worker.registry import Tool, ToolArguments
from switchboard.worker.tools.common import address_text

__all__ = ["GET_CUSTOMER_INFO", "LANGUAGES", "UPDATE_ACCOUNT_INFO"]

#: Languages support can be given in, by code, with their spoken names.
LANGUAGES: dict[str, str] = {
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "de": "german",
    "it": "italian",
    "pt": "portuguese",
    "hi": "hindi",
    "zh": "chinese",
    "ja": "japanese",
}
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_NO_ACCOUNT = "I couldn't find your customer account."


class _Customer:
    """Loads the calling customer (identity from the call envelope) for a data-changing tool."""

    @staticmethod
    async def load(ctx: ToolContext, *, for_update: bool = False) -> Any:
        query = select(Customer.__table__).where(Customer.id == ctx.customer_id)
        if for_update:
            query = query.with_for_update()
        row = (await ctx.db.execute(query)).first()
        if row is None:
            raise not_found(_NO_ACCOUNT)
        return row


# -- get_customer_info -------------------------------------------------------------------------
class NoArgs(ToolArguments):
    pass


async def get_customer_info(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
    customer = await ctx.reads.row(CUSTOMER, customer_id=ctx.customer_id)
    if customer is None:
        raise not_found(_NO_ACCOUNT)
    open_orders = await ctx.reads.value(OPEN_ORDERS, customer_id=ctx.customer_id)
    return {
        "name": customer["name"],
        "email": customer["email"],
        "phone": customer["phone"],
        "preferred_language": customer["preferred_language"],
        "membership": customer["tier"],
        "address": address_text(
            customer["street"],
            customer["city"],
            customer["region"],
            customer["postal_code"],
            customer["country"],
        ),
        "open_orders": int(open_orders or 0),
    }


GET_CUSTOMER_INFO = Tool(
    name="get_customer_info",
    description=(
        "Get the calling customer's account details: name, email, phone, preferred language, "
        "membership, address and number of open orders."
    ),
    arguments=NoArgs,
    handler=get_customer_info,
    verification_exempt=False,
)


# -- update_account_info -----------------------------------------------------------------------
AccountField = Literal["email", "phone", "preferred_language"]


class AccountArgs(ToolArguments):
    field: AccountField = Field(
        description="Which account detail to change: email, phone or preferred_language."
    )
    value: str = Field(
        min_length=1,
        max_length=320,
        description=(
            "The new value: an address like name@example.com, a phone number with country "
            "code, or a language (code or name, e.g. es or Spanish)."
        ),
    )

    @field_validator("value")
    @classmethod
    def _valid_for_field(cls, value: str, info: ValidationInfo) -> str:
        field = info.data.get("field")
        if field == "email":
            email = value.strip().lower()
            if not _EMAIL.match(email):
                raise ValueError("not a valid email address (expected e.g. name@example.com)")
            return email
        if field == "phone":
            digits = re.sub(r"[\s().-]", "", value)
            if not re.fullmatch(r"\+?\d{7,15}", digits):
                raise ValueError(
                    "not a valid phone number (expected 7 to 15 digits, e.g. +1 555 123 4567)"
                )
            if not digits.startswith("+"):
                digits = f"+1{digits}" if len(digits) == 10 else f"+{digits}"
            return digits
        if field == "preferred_language":
            spoken = value.strip().lower()
            for code, name in LANGUAGES.items():
                if spoken in (code, name):
                    return code
            # "Spanish please", "switch it to French": exactly one language named
            words = set(re.findall(r"[a-z]+", spoken))
            named = [code for code, name in LANGUAGES.items() if name in words]
            if len(named) == 1:
                return named[0]
            raise ValueError(
                "not a supported language (supported: "
                + ", ".join(n.capitalize() for n in LANGUAGES.values())
                + ")"
            )
        return value


async def _current(ctx: ToolContext, args: AccountArgs, *, for_update: bool) -> str | None:
    """The value on file, or None when it already is ``args.value``; refuses an e-mail address
    another account uses (without saying whose)."""
    customer = await _Customer.load(ctx, for_update=for_update)
    old = str(customer._mapping[Customer.__table__.c[args.field]])
    if old == args.value:
        return None
    if args.field == "email":
        taken = await ctx.db.scalar(
            select(Customer.id).where(Customer.email == args.value, Customer.id != ctx.customer_id)
        )
        if taken is not None:
            raise not_allowed("That email address can't be used for this account.", field="value")
    return old


def _said(field: str, value: str) -> str:
    """A value as read back: an old e-mail or phone masked, a language by name."""
    if field == "email":
        return mask_email(value)
    if field == "phone":
        return mask_phone(value)
    return LANGUAGES.get(value, value).capitalize()


_FIELD_NAMES = {"email": "e-mail", "phone": "phone number", "preferred_language": "language"}


async def propose_update_account_info(
    ctx: ToolContext, args: AccountArgs
) -> Proposal | dict[str, Any]:
    old = await _current(ctx, args, for_update=False)
    if old is None:
        return {"updated": args.field, "value": args.value, "changed": False}
    new = LANGUAGES[args.value].capitalize() if args.field == "preferred_language" else args.value
    name = _FIELD_NAMES[args.field]
    return Proposal(
        read_back=(
            f"I'll change your {name} from {_said(args.field, old)} to {new}. Shall I go ahead?"
        ),
        changes=[ProposedChange(field=args.field, before=_said(args.field, old), after=new)],
    )


def _sensitive(args: AccountArgs) -> bool:
    """The e-mail and phone on file identify the account: changing them needs a verified
    caller where the channel has levels."""
    return args.field in ("email", "phone")


async def update_account_info(ctx: ToolContext, args: AccountArgs) -> dict[str, Any]:
    old = await _current(ctx, args, for_update=True)
    column = Customer.__table__.c[args.field]
    if old is None:
        return {"updated": args.field, "value": args.value, "changed": False}
    await ctx.db.execute(
        insert(AccountChange).values(
            customer_id=ctx.customer_id,
            field=args.field,
            old_value=old,
            new_value=args.value,
            call_id=ctx.call_id,
        )
    )
    await ctx.db.execute(
        update(Customer)
        .where(Customer.id == ctx.customer_id)
        .values({column: args.value, Customer.updated_at: ctx.now})
    )
    return {"updated": args.field, "value": args.value, "changed": True}


UPDATE_ACCOUNT_INFO = Tool(
    name="update_account_info",
    description=(
        "Change one detail of the customer's account: email, phone or preferred language. "
        "Nothing changes until the customer confirms: the answer is a read-back to say and an "
        "action_id for confirm_action."
    ),
    arguments=AccountArgs,
    handler=update_account_info,
    mutating=True,
    confirmation=True,
    propose=propose_update_account_info,
    sensitive=_sensitive,
    verification_exempt=False,
)
