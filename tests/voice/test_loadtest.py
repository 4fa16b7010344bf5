"""``switchboard loadtest``: callers are distinct customers asking about their own orders, and a
short run against the emulator reports every call, turn and latency."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from switchboard.cli.loadtest import Caller, demo_callers, demo_cancel_callers, percentile
from switchboard.cli.seed import build_dataset
from tests.support.product import EMULATOR_KEY


def test_demo_callers_ask_about_their_own_orders() -> None:
    """Each caller is a different customer and the order in their question is one of theirs."""
    callers = demo_callers(12)
    assert len({c.customer_id for c in callers}) == 12
    owner = {o["id"]: o["customer_id"] for o in build_dataset(as_of=date(2026, 11, 1)).orders}
    for caller in callers:
        order = int(caller.question.split("order ")[1].rstrip("?").split()[0])
        assert owner[order] == caller.customer_id


def test_demo_cancel_callers_cancel_their_own_unshipped_orders() -> None:
    """Each canceller is a different customer outside *exclude*, asking to cancel one of their
    own orders that has not shipped; batches with successive starts take different orders."""
    askers = frozenset(c.customer_id for c in demo_callers(40))
    first = demo_cancel_callers(10, exclude=askers)
    second = demo_cancel_callers(10, start=10, exclude=askers)
    orders = {o["id"]: o for o in build_dataset(as_of=date(2026, 11, 1)).orders}

    def order_of(caller: Caller) -> int:
        return int(caller.question.split("order ")[1].split(",")[0])

    for caller in first + second:
        assert caller.question.startswith("Please cancel order ")
        order = orders[order_of(caller)]
        assert order["customer_id"] == caller.customer_id
        assert order["status"] in ("placed", "packed")
        assert caller.customer_id not in askers
    assert len({c.customer_id for c in first}) == 10
    assert not {order_of(c) for c in first} & {order_of(c) for c in second}


def test_demo_cancel_callers_refuse_more_than_there_are() -> None:
    with pytest.raises(ValueError, match="have an order to cancel"):
        demo_cancel_callers(100_000)


def test_percentile_nearest_rank() -> None:
    """Percentiles are nearest-rank values from the sample, and None without samples."""
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (
        50.0,
        95.0,
        100.0,
    )
    assert percentile([], 50) is None


def test_loadtest_reports_calls_and_latency(emulator_url: str) -> None:
    """Two concurrent callers each complete a call; the JSON summary counts calls, turns and
    latencies and shows no errors."""
    proc = subprocess.run(
        [
            sys.executable, "-m", "switchboard.cli.main", "loadtest",
            "--upstream-direct", emulator_url, "--api-key", EMULATOR_KEY,
            "--sessions", "2", "--duration", "1", "--no-goodbye", "--json", "-",
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["calls"] == {"started": 2, "completed": 2, "failed": 0, "resumed": 0}
    assert report["turns"] == {"total": 2, "without_reply": 0}
    assert report["latency_ms"]["count"] == 2 and report["latency_ms"]["p50"] > 0
    assert report["errors"] == {}
    assert "load test summary" in proc.stderr
