"""The tool catalog as the voice model sees it: well-formed schemas without customer ids, and
arguments the offline emulator's rule-based policy fills from speech that the worker accepts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

import pytest

from switchboard.contracts.tools import PendingAction, ToolCallResult
from switchboard.db.shop import OrderStatus
from switchboard.emulator.policy import DialoguePolicy
from switchboard.worker.registry import Registry, Tool, ToolArguments
from switchboard.worker.tools import ALL_TOOLS, default_registry
from tests.conftest import SEED_AS_OF
from tests.support.shop import ShopFactory

Call = Callable[..., Awaitable[ToolCallResult]]
REALTIME_TOOLS = [entry.realtime_tool() for entry in default_registry().catalog()]


@pytest.mark.parametrize("tool", ALL_TOOLS, ids=lambda t: t.name)
def test_every_schema_is_plain_described_and_free_of_customer_ids(tool: Tool) -> None:
    """Each tool's parameters are a closed object schema with described properties, no
    references or unions a simple client can't read, and nothing about customer ids."""
    entry = tool.catalog_entry()
    schema = entry.parameters
    text = json.dumps(schema)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert "customer_id" not in text and "customer id" not in text.lower()
    assert not {"$ref", "$defs", "anyOf", "allOf", "title"} & set(_keys(schema))
    assert set(schema.get("required", [])) <= set(schema["properties"])
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{tool.name}.{name} has no description"
    assert 20 <= len(entry.description) <= 1024
    if "order_id" in schema["properties"]:
        assert "integer" in schema["properties"]["order_id"]["type"]


def _keys(node: object) -> list[str]:
    if isinstance(node, dict):
        return [*node, *(k for v in node.values() for k in _keys(v))]
    if isinstance(node, list):
        return [k for v in node for k in _keys(v)]
    return []


def test_a_tool_taking_a_customer_id_is_refused_at_registration() -> None:
    """A tool whose arguments include a customer id can't even be registered."""

    class Leaky(ToolArguments):
        customer_id: str

    async def handler(ctx: object, args: object) -> dict[str, object]:
        return {}

    leaky = Tool(name="leaky", description="leaks", arguments=Leaky, handler=handler)
    with pytest.raises(ValueError, match="customer id"):
        Registry([leaky])


def test_worker_tools_selects_a_subset_and_refuses_unknown_names() -> None:
    """WORKER_TOOLS picks tools by name; a misspelt name is a start-up error."""
    registry = default_registry()
    assert list(registry.select(["track_shipment"])) == ["track_shipment"]
    with pytest.raises(ValueError, match="trak_shipment"):
        registry.select(["trak_shipment"])


async def test_the_emulator_policy_fills_arguments_the_worker_accepts(
    call: Call, commit: Call, shop: ShopFactory
) -> None:
    """For typical caller requests the emulator's policy picks the intended tool from the
    catalog, and the worker runs the arguments it filled. The catalog has confirm_action, so
    the policy calls a data-changing tool at once (the worker's proposal is its read-back) and
    those arguments also pass the commit step once the customer says yes."""
    cid = await shop.customer()
    delivered = await shop.order(cid, OrderStatus.DELIVERED, placed_days_ago=4)
    placed = await shop.order(cid, OrderStatus.PLACED)
    email = f"caller.{uuid.uuid4().hex[:8]}@example.org"
    cases = [
        ("cus_0001", "Where is my order 100001?", "check_order_status"),
        (
            "cus_0001",
            "Can you track my package for order one zero zero zero zero one",
            "track_shipment",
        ),
        ("cus_0001", "What were my last orders?", "list_recent_orders"),
        ("cus_0001", "What's my account information?", "get_customer_info"),
        (cid, f"I want to return order {delivered} because it's too small", "process_return"),
        (cid, f"Please cancel order {placed}", "cancel_order"),
        (cid, f"Change my email to {email}", "update_account_info"),
        (cid, "Update my phone number to 206 555 0199", "update_account_info"),
        (cid, "I'd like to change my preferred language to Spanish", "update_account_info"),
        (cid, "Can someone call me back tomorrow at 3 pm", "schedule_callback"),
        (cid, "I want to talk to a human, my package arrived damaged", "escalate_to_human"),
    ]
    confirming = {tool.name for tool in ALL_TOOLS if tool.confirmation}
    assert "escalate_to_human" not in confirming
    for customer, words, expected in cases:
        policy = DialoguePolicy(today=SEED_AS_OF)
        reply = policy.respond(user_text=words, tools=REALTIME_TOOLS)
        assert reply.tool == expected, (words, reply)
        result = await call(reply.tool, reply.arguments or {}, customer_id=customer)
        assert result.ok, (words, reply.arguments, result.error)
        if expected in confirming:
            assert PendingAction.from_output(result.output) is not None, (words, result.output)
            done = await commit(reply.tool, reply.arguments or {}, customer_id=customer)
            assert done.ok, (words, reply.arguments, done.error)
        else:
            assert PendingAction.from_output(result.output) is None, (words, result.output)
