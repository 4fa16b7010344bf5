"""The order tools, one module per area; :func:`default_registry` serves them all."""

from __future__ import annotations

from switchboard.worker.registry import Registry, Tool
from switchboard.worker.tools.account import GET_CUSTOMER_INFO, UPDATE_ACCOUNT_INFO
from switchboard.worker.tools.actions import CANCEL_ACTION, CONFIRM_ACTION
from switchboard.worker.tools.addresses import UPDATE_SHIPPING_ADDRESS
from switchboard.worker.tools.caller import VERIFY_CALLER
from switchboard.worker.tools.orders import (
    CANCEL_ORDER,
    CHECK_ORDER_STATUS,
    LIST_RECENT_ORDERS,
    TRACK_SHIPMENT,
)
from switchboard.worker.tools.products import GET_PRODUCT_INFO
from switchboard.worker.tools.returns import PROCESS_RETURN
from switchboard.worker.tools.support import ESCALATE_TO_HUMAN, SCHEDULE_CALLBACK

__all__ = ["ALL_TOOLS", "default_registry"]

ALL_TOOLS: tuple[Tool, ...] = (
    GET_CUSTOMER_INFO,
    LIST_RECENT_ORDERS,
    CHECK_ORDER_STATUS,
    TRACK_SHIPMENT,
    GET_PRODUCT_INFO,
    PROCESS_RETURN,
    CANCEL_ORDER,
    UPDATE_SHIPPING_ADDRESS,
    UPDATE_ACCOUNT_INFO,
    SCHEDULE_CALLBACK,
    ESCALATE_TO_HUMAN,
    CONFIRM_ACTION,
    CANCEL_ACTION,
    VERIFY_CALLER,
)


def default_registry() -> Registry:
    """Every tool this worker package implements."""
    return Registry(ALL_TOOLS)
