"""Product tool: price, stock and return policy of products found by name, SKU or id."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from switchboard.worker.context import ToolContext
from switchboard.worker.errors import not_found
from switchboard.worker.queries import MAX_PRODUCT_WORDS, PRODUCTS
from switchboard.worker.registry import Tool, ToolArguments
from switchboard.worker.tools.common import money

__all__ = ["GET_PRODUCT_INFO"]


class ProductArgs(ToolArguments):
    product_name: str = Field(
        min_length=2,
        max_length=200,
        description="The product's name (or part of it), SKU or product id, e.g. wireless earbuds.",
    )


def _words(text: str) -> list[str]:
    found = re.findall(r"[a-z0-9']+", text.lower())
    return [w for w in found if len(w) >= 2][:MAX_PRODUCT_WORDS]


async def get_product_info(ctx: ToolContext, args: ProductArgs) -> dict[str, Any]:
    text = args.product_name.strip()
    # the id or SKU exactly, or every word in the name (a plural's "s" dropped)
    patterns = {
        f"w{i}": f"%{w.rstrip('s') if len(w) > 3 else w}%" for i, w in enumerate(_words(text))
    }
    rows = await ctx.reads.rows(PRODUCTS[len(patterns)], text=text, sku=text.upper(), **patterns)
    if not rows:
        raise not_found(f"I couldn't find a product matching {text!r}.", field="product_name")
    return {
        "count": len(rows),
        "products": [
            {
                "name": row["name"],
                "product_id": row["id"],
                "sku": row["sku"],
                "price": money(row["price_cents"], row["currency"]),
                "in_stock": row["stock"] > 0,
                "stock": row["stock"],
                "returnable": row["returnable"],
                "return_window_days": row["return_window_days"],
                "description": row["description"],
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
    # exempt: the catalogue (prices, stock, return policy) is no one's account data
    verification_exempt=True,
)
