"""Validation of the preview (beta) Realtime dialect through the ``openai`` SDK's beta types
(``openai.types.beta.realtime``), as :mod:`switchboard.contracts.realtime` does for GA.

Azure's ``/openai/realtime?api-version=...`` preview endpoints speak this dialect.
"""

from __future__ import annotations

from typing import Annotated, Any, Union, get_args

from openai.types.beta.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import Field, TypeAdapter

__all__ = [
    "PREVIEW_CLIENT_EVENT_TYPES",
    "PREVIEW_SERVER_EVENT_TYPES",
    "preview_client_event_adapter",
    "preview_server_event_adapter",
    "validate_preview_client_event",
    "validate_preview_server_event",
]


def _members(alias: Any) -> tuple[type, ...]:
    return get_args(get_args(alias)[0])


def _event_types(members: tuple[type, ...]) -> frozenset[str]:
    names: set[str] = set()
    for model in members:
        names.update(get_args(model.model_fields["type"].annotation))  # type: ignore[attr-defined]
    return frozenset(names)


_client_members = _members(RealtimeClientEvent)
_server_members = _members(RealtimeServerEvent)

PREVIEW_CLIENT_EVENT_TYPES = _event_types(_client_members)
PREVIEW_SERVER_EVENT_TYPES = _event_types(_server_members)

preview_client_event_adapter: TypeAdapter[Any] = TypeAdapter(
    Annotated[Union[_client_members], Field(discriminator="type")]  # type: ignore[arg-type]  # noqa: UP007 - a Union built from a runtime tuple
)
preview_server_event_adapter: TypeAdapter[Any] = TypeAdapter(
    Annotated[Union[_server_members], Field(discriminator="type")]  # type: ignore[arg-type]  # noqa: UP007 - a Union built from a runtime tuple
)


def validate_preview_client_event(data: dict[str, Any] | str | bytes) -> Any:
    """Validate one preview client event; raises ``pydantic.ValidationError`` when it is not one."""
    if isinstance(data, dict):
        return preview_client_event_adapter.validate_python(data)
    return preview_client_event_adapter.validate_json(data)


def validate_preview_server_event(data: dict[str, Any] | str | bytes) -> Any:
    """Validate one preview server event; raises ``pydantic.ValidationError`` when it is not one."""
    if isinstance(data, dict):
        return preview_server_event_adapter.validate_python(data)
    return preview_server_event_adapter.validate_json(data)
