"""The shipping-address tool: change an order's delivery address before it ships (proposed,
read back, confirmed, like every data-changing tool)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator
from sqlalchemy import insert, update

from switchboard.contracts.tools import ProposedChange
from switchboard.db.shop import (
    NOT_SHIPPED,
    AddressChange,
    Order,
    OrderStatus,
)
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import not_allowed
from switchboard.worker.proposals import Proposal
from switchboard.worker.registry import Tool, ToolArguments
from switchboard.worker.tools.common import (
    OrderId,
    address_text,
    load_order,
)

__all__ = ["UPDATE_SHIPPING_ADDRESS", "US_STATES"]


# -- update_shipping_address -------------------------------------------------------------------
US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
    ]
)
_US_ZIP = re.compile(r"^\d{5}(-\d{4})?$")


class AddressArgs(ToolArguments):
    order_id: OrderId
    street: str = Field(
        min_length=3, max_length=200, description="Street address, e.g. 12 Maple Street Apt 4."
    )
    city: str = Field(min_length=2, max_length=100, description="City name.")
    region: str = Field(
        min_length=2, max_length=100, description="State or region; for the US a code such as WA."
    )
    # not "postal_code": a name ending in "code" reads as an identifier to simple slot fillers
    postcode: str = Field(
        min_length=3,
        max_length=20,
        description="The ZIP or postal code; for the US five digits such as 98101.",
    )
    country: str = Field(
        default="US", description="Two-letter country code such as US.", pattern=r"^[A-Za-z]{2}$"
    )

    @field_validator("country", "region")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper() if len(value) <= 3 else value

    @field_validator("street")
    @classmethod
    def _street(cls, value: str) -> str:
        if not re.search(r"[A-Za-z]", value):
            raise ValueError("a street address must contain a street name")
        return value

    @model_validator(mode="after")
    def _us_address(self) -> AddressArgs:
        if self.country == "US":
            if self.region not in US_STATES:
                raise ValueError("region: for a US address, give the two-letter state code")
            if not _US_ZIP.match(self.postcode):
                raise ValueError("postcode: a US ZIP code has five digits")
        return self


async def _readdressable(
    ctx: ToolContext, args: AddressArgs, *, for_update: bool
) -> tuple[Any, dict[str, str], dict[str, str]]:
    """The caller's order if its address can still change, with its old and new address."""
    order = await load_order(ctx, args.order_id, for_update=for_update)
    status = OrderStatus(order.status)
    if status not in NOT_SHIPPED:
        raise not_allowed(
            f"Order {order.id} is {status.value.replace('_', ' ')}, so its shipping address can "
            "no longer be changed.",
            field="order_id",
        )
    old = {
        "street": order.ship_street,
        "city": order.ship_city,
        "region": order.ship_region,
        "postal_code": order.ship_postal_code,
        "country": order.ship_country,
    }
    new = {
        "street": args.street,
        "city": args.city,
        "region": args.region,
        "postal_code": args.postcode,
        "country": args.country,
    }
    return order, old, new


async def propose_update_shipping_address(ctx: ToolContext, args: AddressArgs) -> Proposal:
    order, old, new = await _readdressable(ctx, args, for_update=False)
    return Proposal(
        read_back=(
            f"I'll change the shipping address of order {order.id} to {address_text(**new)}. "
            "Shall I go ahead?"
        ),
        changes=[
            ProposedChange(
                field=f"order {order.id} shipping address",
                before=address_text(**old),
                after=address_text(**new),
            )
        ],
    )


async def update_shipping_address(ctx: ToolContext, args: AddressArgs) -> dict[str, Any]:
    order, old, new = await _readdressable(ctx, args, for_update=True)
    status = OrderStatus(order.status)
    await ctx.db.execute(
        insert(AddressChange).values(
            order_id=order.id,
            customer_id=ctx.customer_id,
            old_address=old,
            new_address=new,
            call_id=ctx.call_id,
        )
    )
    await ctx.db.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(
            ship_street=args.street,
            ship_city=args.city,
            ship_region=args.region,
            ship_postal_code=args.postcode,
            ship_country=args.country,
            updated_at=ctx.now,
        )
    )
    return {
        "order_id": order.id,
        "status": str(status),
        "shipping_address": address_text(**new),
        "previous_address": address_text(**old),
    }


UPDATE_SHIPPING_ADDRESS = Tool(
    name="update_shipping_address",
    description=(
        "Change the shipping address of one of the customer's orders. Only possible before it "
        "ships (status placed or packed). Nothing changes until the customer confirms: the "
        "answer is a read-back to say and an action_id for confirm_action."
    ),
    arguments=AddressArgs,
    handler=update_shipping_address,
    mutating=True,
    confirmation=True,
    propose=propose_update_shipping_address,
    verification_exempt=False,
)
