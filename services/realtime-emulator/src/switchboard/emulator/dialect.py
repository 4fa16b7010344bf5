"""The two wire dialects. The session engine speaks GA; :class:`PreviewDialect` translates the
preview (beta) client events into GA ones and GA server events into preview ones, with the
translation shared with the gateway (:mod:`switchboard.contracts.dialect`). Pure logic."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from switchboard.contracts.dialect import (
    PREVIEW_SERVER_EVENT,
    item_to_ga,
    item_to_preview,
    response_create_to_ga,
    response_object_to_preview,
    session_object_to_preview,
    session_update_to_ga,
)
from switchboard.contracts.realtime import client_event_adapter
from switchboard.contracts.realtime_preview import preview_client_event_adapter
from switchboard.emulator.config import check_unknown_fields, protocol_error_from_validation
from switchboard.emulator.errors import ProtocolError

__all__ = ["Dialect", "GaDialect", "PreviewDialect"]

#: GA events the preview dialect has no counterpart for.
_PREVIEW_DROPS = {"conversation.item.done", "input_audio_buffer.timeout_triggered"}


def _parse(raw: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(
            f"The client event is not valid JSON: {exc}", code="invalid_json"
        ) from exc
    if not isinstance(data, dict):
        raise ProtocolError("The client event must be a JSON object.", code="invalid_json")
    if not isinstance(data.get("type"), str):
        raise ProtocolError(
            "Missing required parameter: 'type'.", code="missing_required_parameter", param="type"
        )
    return data


class Dialect:
    """The GA dialect (base): validates client events against the SDK's GA types."""

    name = "ga"
    adapter = client_event_adapter

    def parse(self, raw: str | bytes) -> dict[str, Any]:
        """A validated client event as a GA dict; raises ``ProtocolError`` naming the param."""
        data = _parse(raw)
        try:
            model = self.adapter.validate_python(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            if error["type"] == "union_tag_invalid":
                raise ProtocolError(
                    f"Invalid value: '{data['type']}'. It is not a client event type this endpoint supports.",
                    code="invalid_value",
                    param="type",
                ) from exc
            raise protocol_error_from_validation(exc) from exc
        if data["type"] in ("session.update", "response.create"):
            key = "session" if data["type"] == "session.update" else "response"
            check_unknown_fields(getattr(model, key, None), key)
        return self.to_ga(data)

    def to_ga(self, event: dict[str, Any]) -> dict[str, Any]:
        return event

    def outgoing(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The server event as this dialect sends it (None: not sent in this dialect)."""
        return event


class GaDialect(Dialect):
    """GA: ``/openai/v1/realtime`` and ``/v1/realtime``."""


class PreviewDialect(Dialect):
    """Preview (beta): ``/openai/realtime?api-version=...&deployment=...``."""

    name = "preview"
    adapter = preview_client_event_adapter

    def to_ga(self, event: dict[str, Any]) -> dict[str, Any]:
        kind = event["type"]
        if kind == "transcription_session.update":
            raise ProtocolError(
                "The emulator does not support transcription sessions.", param="type"
            )
        if kind == "session.update":
            return {**event, "session": session_update_to_ga(event["session"])}
        if kind == "response.create" and event.get("response") is not None:
            return {**event, "response": response_create_to_ga(event["response"])}
        if kind == "conversation.item.create":
            return {**event, "item": item_to_ga(event["item"])}
        return event

    def outgoing(self, event: dict[str, Any]) -> dict[str, Any] | None:
        kind = event["type"]
        if kind in _PREVIEW_DROPS:
            return None
        event = {**event, "type": PREVIEW_SERVER_EVENT.get(kind, kind)}
        if "item" in event:
            event["item"] = item_to_preview(event["item"])
        if kind in ("session.created", "session.updated"):
            event["session"] = session_object_to_preview(event["session"])
        if kind in ("response.created", "response.done"):
            event["response"] = response_object_to_preview(event["response"])
        return event
