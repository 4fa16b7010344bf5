"""The short chaos run inside ``make test``: the whole product as processes, a few callers with
real speech (one of each fault's cancels an order), six faults (a worker SIGKILLed mid-load,
RabbitMQ cut off, the store stopped, a gateway drained, a gateway SIGKILLed, every client socket
cut for 2 s: conversations resume), hostile client events, bad secrets and
the analyst API without rights. ``make chaos`` runs the full set with 50 callers, every fault and
a soak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.__main__ import main, parse_args

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(600)
async def test_short_chaos_run_loses_nothing(tmp_path: Path, infra: object) -> None:
    out = tmp_path / "chaos.json"
    args = parse_args(
        [
            "--quick",
            "--no-soak",
            "--callers",
            "3",
            "--duration",
            "16",
            "--outage",
            "3",
            "--store-outage",
            "5",
            "--hostile",
            "300",
            "--only",
            "kill -9,restart RabbitMQ,stop store,drain gateway,drop client sockets,hostile",
            "--out",
            str(out),
        ]
    )
    status = await main(args)
    report = json.loads(out.read_text())
    rows = {row["fault"]: row for row in report["rows"]}
    assert set(rows) >= {
        "kill -9 tool worker",
        "restart RabbitMQ",
        "stop store",
        "drain gateway",
        "kill -9 gateway",
        "drop client sockets",
        "hostile client events",
        "bad client secrets",
        "another customer's order",
        "analyst API without rights",
    }
    for row in rows.values():
        assert row["passed"], f"{row['fault']}: {row['notes']}"
        assert row["lost"] == 0 and row["duplicated"] == 0
    assert rows["drain gateway"]["recovery_s"] is not None
    # a gateway SIGKILLed, every client socket cut for 2 s: each conversation live at the fault
    # resumed (on the other gateway, or after the outage), none lost
    for fault in ("kill -9 gateway", "drop client sockets"):
        row = rows[fault]
        assert row["resumed"] >= 1 and row["conversations_lost"] == 0, row["notes"]
        assert row["resume_p95_s"] is not None
    faults = (
        "kill -9 tool worker",
        "restart RabbitMQ",
        "stop store",
        "drain gateway",
        "kill -9 gateway",
        "drop client sockets",
    )
    for fault in faults:
        assert rows[fault]["errors"] == sum(rows[fault]["error_kinds"].values())
        assert rows[fault]["events_published"] > 0
        assert rows[fault]["events_stored"] == rows[fault]["events_published"]
        # every cancellation a caller heard succeed exists, and no order was cancelled twice
        assert rows[fault]["effects"] >= rows[fault]["effects_confirmed"]
    # one caller of each fault asks to cancel an order: the double-effect check saw effects
    assert sum(rows[fault]["effects"] for fault in faults) >= 1
    assert status == 0
