"""Realtime protocol validation through the official ``openai`` SDK's GA event types.

The SDK marks its unions with its own discriminator annotation; here they are rebuilt as pydantic
discriminated unions so one ``TypeAdapter`` validates any client or server event.
"""

from __future__ import annotations

from typing import Annotated, Any, Union, get_args

from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import Field, TypeAdapter

__all__ = [
    "CLIENT_EVENT_TYPES",
    "SERVER_EVENT_TYPES",
    "client_event_adapter",
    "server_event_adapter",
    "validate_client_event",
    "validate_server_event",
]


def _members(alias: Any) -> tuple[type, ...]:
    union = get_args(alias)[0]
    return get_args(union)


def _event_types(members: tuple[type, ...]) -> frozenset[str]:
    names: set[str] = set()
    for model in members:
        annotation = model.model_fields["type"].annotation  # type: ignore[attr-defined]
        names.update(get_args(annotation))
    return frozenset(names)


_client_members = _members(RealtimeClientEvent)
_server_members = _members(RealtimeServerEvent)

CLIENT_EVENT_TYPES = _event_types(_client_members)
SERVER_EVENT_TYPES = _event_types(_server_members)

client_event_adapter: TypeAdapter[Any] = TypeAdapter(
    Annotated[Union[_client_members], Field(discriminator="type")]  # type: ignore[arg-type]  # noqa: UP007 - a Union built from a runtime tuple
)
server_event_adapter: TypeAdapter[Any] = TypeAdapter(
    Annotated[Union[_server_members], Field(discriminator="type")]  # type: ignore[arg-type]  # noqa: UP007 - a Union built from a runtime tuple
)


def validate_client_event(data: dict[str, Any] | str | bytes) -> Any:
    """Validate one GA client event; raises ``pydantic.ValidationError`` when it is not one."""
    if isinstance(data, dict):
        return client_event_adapter.validate_python(data)
    return client_event_adapter.validate_json(data)


def validate_server_event(data: dict[str, Any] | str | bytes) -> Any:
    """Validate one GA server event; raises ``pydantic.ValidationError`` when it is not one."""
    if isinstance(data, dict):
        return server_event_adapter.validate_python(data)
    return server_event_adapter.validate_json(data)
