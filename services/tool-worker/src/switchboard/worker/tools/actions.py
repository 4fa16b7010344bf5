"""The second phase of data-changing tools: confirm or cancel a pending action (the rules are in
:mod:`switchboard.worker.confirmations`)."""

from __future__ import annotations

from switchboard.contracts.tools import CANCEL_ACTION_TOOL, CONFIRM_ACTION_TOOL
from switchboard.worker.confirmations import ActionArgs, cancel_action, confirm_action
from switchboard.worker.registry import Tool

__all__ = ["CANCEL_ACTION", "CONFIRM_ACTION"]

CONFIRM_ACTION = Tool(
    name=CONFIRM_ACTION_TOOL,
    description=(
        "Make a change the customer has just agreed to: call it only after you read the "
        "proposed change back and the customer said yes in their own words, with the action_id "
        "from the proposal. Never in the same turn as the proposal."
    ),
    arguments=ActionArgs,
    handler=confirm_action,
    mutating=True,
    # it is the second phase itself: it commits only a change the customer already heard
    confirmation=False,
    verification_exempt=False,
)

CANCEL_ACTION = Tool(
    name=CANCEL_ACTION_TOOL,
    description=(
        "Drop a proposed change the customer said no to (nothing is changed), with the "
        "action_id from the proposal."
    ),
    arguments=ActionArgs,
    handler=cancel_action,
    mutating=True,
    # it changes no customer data: it closes a pending action
    confirmation=False,
    verification_exempt=False,
)
