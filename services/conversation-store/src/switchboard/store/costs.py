"""Cost of sessions from their stored token usage (``audit.response_usage``) and the price table.

Tokens are summed in SQL per session (or bucket) and model, and priced here with Decimal
arithmetic: cost is linear in tokens, so pricing the sums equals summing the priced responses.
Usage of a model the table has no price for is never counted as 0: it is reported by model name
(the "no price" marker), and a session with any of it has no cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.store.pricing import PriceTable, TokenUsage
from switchboard.store.schemas import ModelUsage

__all__ = ["TOKEN_SUMS", "CostTotal", "session_costs", "usage_of"]

#: The token sums of usage rows ``u`` (columns named as :class:`TokenUsage`'s fields).
TOKEN_SUMS = (
    "sum(u.input_text_tokens) AS input_text, sum(u.input_audio_tokens) AS input_audio, "
    "sum(u.cached_text_tokens) AS cached_text, sum(u.cached_audio_tokens) AS cached_audio, "
    "sum(u.output_text_tokens) AS output_text, sum(u.output_audio_tokens) AS output_audio, "
    "count(*) AS responses, bool_or(u.estimated) AS estimated"
)

_BY_SESSION = f"""
SELECT u.session_id, u.model, {TOKEN_SUMS}
FROM audit.response_usage u WHERE u.session_id = ANY(:ids)
GROUP BY u.session_id, u.model
"""


def usage_of(row: Any) -> TokenUsage:
    return TokenUsage(
        int(row.input_text),
        int(row.input_audio),
        int(row.cached_text),
        int(row.cached_audio),
        int(row.output_text),
        int(row.output_audio),
    )


@dataclass
class CostTotal:
    """The cost of a group of responses: what is priced, what is not, whether estimated."""

    priced_usd: Decimal = Decimal(0)
    priced_responses: int = 0
    responses: int = 0
    estimated: bool = False
    unpriced_models: set[str] = field(default_factory=set)
    models: list[ModelUsage] = field(default_factory=list)

    def add(self, prices: PriceTable, model: str, row: Any) -> None:
        usage = usage_of(row)
        cost = prices.cost(model, usage)
        responses = int(row.responses)
        self.responses += responses
        self.estimated = self.estimated or bool(row.estimated)
        if cost is None:
            self.unpriced_models.add(model)
        else:
            self.priced_usd += cost
            self.priced_responses += responses
        self.models.append(
            ModelUsage(
                model=model,
                responses=responses,
                estimated=bool(row.estimated),
                input_text_tokens=usage.input_text,
                input_audio_tokens=usage.input_audio,
                cached_text_tokens=usage.cached_text,
                cached_audio_tokens=usage.cached_audio,
                output_text_tokens=usage.output_text,
                output_audio_tokens=usage.output_audio,
                cost_usd=cost,
            )
        )

    @property
    def cost_usd(self) -> Decimal | None:
        """The whole cost: None without usage, or when some of it has no price."""
        if not self.responses or self.unpriced_models:
            return None
        return self.priced_usd

    def fields(self) -> dict[str, Any]:
        """The cost fields of a :class:`~switchboard.store.schemas.SessionSummary`."""
        return {
            "cost_usd": self.cost_usd,
            "cost_estimated": self.estimated,
            "unpriced_models": sorted(self.unpriced_models),
        }


async def session_costs(
    conn: AsyncConnection, ids: Sequence[str], prices: PriceTable
) -> dict[str, CostTotal]:
    """The cost of each session in *ids* that has usage."""
    totals: dict[str, CostTotal] = {}
    if not ids:
        return totals
    rows: Iterable[Any] = await conn.execute(text(_BY_SESSION), {"ids": list(ids)})
    for r in sorted(rows, key=lambda r: (r.session_id, r.model)):
        totals.setdefault(r.session_id, CostTotal()).add(prices, r.model, r)
    return totals
