"""Display events round-trip and refuse what they do not define."""

import pytest
from pydantic import ValidationError

from switchboard.contracts.display import (
    SessionInfo,
    ToolCompletedDisplay,
    ToolStartedDisplay,
    parse_display_event,
)


@pytest.mark.parametrize(
    "event",
    [
        SessionInfo(session_id="s1", customer_id="cus_0001", upstream="emulator", model="m"),
        ToolStartedDisplay(call_id="c1", tool="check_order_status", summary="Order 100001"),
        ToolCompletedDisplay(
            call_id="c1",
            tool="check_order_status",
            ok=True,
            summary="Order 100001 is shipped",
            card={"order_id": "100001", "status": "shipped"},
            duration_ms=12.5,
        ),
    ],
)
def test_round_trip(event: SessionInfo | ToolStartedDisplay | ToolCompletedDisplay) -> None:
    parsed = parse_display_event(event.model_dump_json())
    assert parsed == event
    assert parsed.type.startswith("switchboard.")


def test_unknown_type_and_extra_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        parse_display_event('{"type": "switchboard.other", "event_id": "x"}')
    with pytest.raises(ValidationError):
        parse_display_event(
            '{"type": "switchboard.tool.started", "call_id": "c", "tool": "t",'
            ' "summary": "s", "customer_id": "cus_0002"}'
        )
