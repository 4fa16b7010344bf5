"""Parsing a tool-call request through its pydantic contract vs. plain ``json.loads``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bench.harness import BenchContext, Result
from switchboard.contracts import ToolCallRequest, parse_tool_call_request


async def run(ctx: BenchContext) -> list[Result]:
    raw = ToolCallRequest(
        call_id="call_123",
        session_id="sess_1",
        customer_id="cus_0001",
        tool="check_order_status",
        arguments={"order_id": 100001},
        deadline=datetime(2030, 1, 1, tzinfo=UTC),
    ).model_dump_json()
    n = 20_000 if ctx.quick else 200_000

    def timed(fn: Callable[[str], object]) -> float:
        start = time.perf_counter()
        for _ in range(n):
            fn(raw)
        return (time.perf_counter() - start) / n * 1e6

    baseline = timed(json.loads)
    value = timed(parse_tool_call_request)
    return [
        Result(
            bench="contracts",
            metric="parse tool call request",
            value=value,
            unit="µs/msg",
            baseline=baseline,
            baseline_label="json.loads",
        )
    ]
