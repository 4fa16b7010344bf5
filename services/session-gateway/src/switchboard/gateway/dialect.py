"""The upstream's dialect: GA, or the preview (beta) dialect of Azure's
``/openai/realtime?api-version=...`` deployments. Client events go GA → preview; server events
come back preview → GA, so clients only ever see GA events. The translation itself is
:mod:`switchboard.contracts.dialect`, shared with the emulator; this module dispatches events
onto it (pure logic)."""

from __future__ import annotations

from typing import Any

from switchboard.contracts.dialect import (
    GA_SERVER_EVENT,
    item_to_ga,
    item_to_preview,
    response_create_to_preview,
    response_object_to_ga,
    session_object_to_ga,
    session_update_to_preview,
)

__all__ = ["GaDialect", "PreviewDialect", "UpstreamDialect"]

_HOT_SERVER_TYPES = frozenset({"response.output_audio.delta", "response.audio.delta"})


class UpstreamDialect:
    """GA: nothing to translate."""

    name = "ga"

    def client_event(self, event: dict[str, Any]) -> dict[str, Any]:
        return event

    def server_events(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return [event]


class GaDialect(UpstreamDialect):
    pass


class PreviewDialect(UpstreamDialect):
    """The preview (beta) dialect: event names, item content types and session shapes."""

    name = "preview"

    def client_event(self, event: dict[str, Any]) -> dict[str, Any]:
        kind = event.get("type")
        if kind == "session.update":
            return {**event, "session": session_update_to_preview(event.get("session") or {})}
        if kind == "response.create" and event.get("response") is not None:
            return {**event, "response": response_create_to_preview(event["response"])}
        if kind == "conversation.item.create":
            return {**event, "item": item_to_preview(event.get("item") or {})}
        return event

    def server_events(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = str(event.get("type"))
        if kind in _HOT_SERVER_TYPES:
            return [{**event, "type": "response.output_audio.delta"}]
        ga = {**event, "type": GA_SERVER_EVENT.get(kind, kind)}
        if isinstance(ga.get("item"), dict):
            ga["item"] = item_to_ga(ga["item"])
        if kind in ("session.created", "session.updated") and isinstance(ga.get("session"), dict):
            ga["session"] = session_object_to_ga(ga["session"])
        if kind in ("response.created", "response.done") and isinstance(ga.get("response"), dict):
            ga["response"] = response_object_to_ga(ga["response"])
        if isinstance(ga.get("part"), dict):
            part = ga["part"]
            if part.get("type") == "text":
                ga["part"] = {**part, "type": "text"}
        out = [ga]
        if (
            kind == "conversation.item.created"
            and (ga.get("item") or {}).get("status") == "completed"
        ):
            # GA announces a finished item twice (added, then done); the preview only once
            out.append({**ga, "type": "conversation.item.done"})
        elif kind == "response.output_item.done" and isinstance(ga.get("item"), dict):
            out.append(
                {
                    "type": "conversation.item.done",
                    "event_id": f"{event.get('event_id', 'event')}_done",
                    "item": ga["item"],
                }
            )
        return out
