"""Product tool: price, stock and return policy of products found by name, SKU or id."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field
from sqlalchemy import and_, or_, select

from switchboard.db.shop import Product
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import not_found
from switchboard.worker.registry import Tool, ToolArguments
from switchboard.worker.tools.common import money

__all__ = ["GET_PRODUCT_INFO"]

MAX_MATCHES = 5


class ProductArgs(ToolArguments):
    product_name: str = Field(
        min_length=2,
        max_length=200,
        description="The product's name (or part of it), SKU or product id, e.g. wireless earbuds.",
    )


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", text.lower()) if len(w) >= 2][:6]


async def get_product_info(ctx: ToolContext, args: ProductArgs) -> dict[str, Any]:
    text = args.product_name.strip()
    exact = or_(Product.id == text, Product.sku == text.upper())
    words = _words(text)
    by_name = [Product.name.ilike(f"%{w.rstrip('s') if len(w) > 3 else w}%") for w in words]
    condition = or_(exact, and_(*by_name)) if by_name else exact
    rows = (
        await ctx.db.execute(
            select(Product.__table__).where(condition).order_by(Product.id).limit(MAX_MATCHES)
        )
    ).all()
    if not rows:
        raise not_found(f"I couldn't find a product matching {text!r}.", field="product_name")
    return {
        "count": len(rows),
        "products": [
            {
                "name": row.name,
                "product_id": row.id,
                "sku": row.sku,
                "price": money(row.price_cents, row.currency),
                "in_stock": row.stock > 0,
                "stock": row.stock,
                "returnable": row.returnable,
                "return_window_days": row.return_window_days,
                "description": row.description,
            }
            for row in rows
        ],
    }


GET_PRODUCT_INFO = Tool(
    name="get_product_info",
    description=(
        "Look up products by name, SKU or id: price, whether they are in stock, and the return "
        "policy."
    ),
    arguments=ProductArgs,
    handler=get_product_info,
)
