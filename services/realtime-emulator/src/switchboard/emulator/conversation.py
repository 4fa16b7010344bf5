"""The conversation of one session: its items in order, the audio produced for each assistant
message, and the questions a response asks of them. Pure logic: it raises
:class:`~switchboard.emulator.errors.ProtocolError` for client mistakes and never sends anything."""

from __future__ import annotations

import json
import math
from typing import Any

from switchboard.emulator.errors import ProtocolError
from switchboard.emulator.ids import new_id

__all__ = ["Conversation", "last_call", "trailing_outputs", "truncated_transcript"]


class Conversation:
    """The items of one conversation, in order, and how much audio each assistant message has."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        #: ms of audio produced so far per assistant message (cut back by a truncation)
        self.audio_ms: dict[str, int] = {}

    def find(self, item_id: str, param: str) -> dict[str, Any]:
        """The item with *item_id*; a missing one is the client's mistake in *param*."""
        for item in self.items:
            if item["id"] == item_id:
                return item
        raise ProtocolError(
            f"Item with item_id not found: {item_id}", code="item_not_found", param=param
        )

    def previous_id(self, item: dict[str, Any]) -> str | None:
        """The id of the item before *item*, or None for the first."""
        index = self.items.index(item)
        return self.items[index - 1]["id"] if index > 0 else None

    def append(self, item: dict[str, Any]) -> str | None:
        """Add *item* at the end; return the id of the item it follows."""
        previous = self.items[-1]["id"] if self.items else None
        self.items.append(item)
        return previous

    def create(self, item: dict[str, Any], previous_item_id: str | None) -> dict[str, Any]:
        """Add a client's ``conversation.item.create`` item after *previous_item_id* (None: at the
        end, ``"root"``: first) and return the stored item (id, object and status filled in)."""
        item = {
            **item,
            "id": item.get("id") or new_id("item"),
            "object": "realtime.item",
            "status": "completed",
        }
        if any(existing["id"] == item["id"] for existing in self.items):
            raise ProtocolError(
                f"Item with id {item['id']} already exists.",
                code="item_already_exists",
                param="item.id",
            )
        if item["type"] == "function_call_output" and not any(
            i.get("type") == "function_call" and i.get("call_id") == item["call_id"]
            for i in self.items
        ):
            raise ProtocolError(
                f"No function call found with call_id {item['call_id']!r}.", param="item.call_id"
            )
        if previous_item_id is None:
            self.items.append(item)
        elif previous_item_id == "root":
            self.items.insert(0, item)
        else:
            previous = self.find(previous_item_id, "previous_item_id")
            self.items.insert(self.items.index(previous) + 1, item)
        return item

    def delete(self, item_id: str) -> dict[str, Any]:
        """Remove the item with *item_id* and return it."""
        item = self.find(item_id, "item_id")
        self.items.remove(item)
        return item

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> dict[str, Any]:
        """Cut an assistant message's audio (and its transcript, in proportion) at
        *audio_end_ms*; return the item. Refused beyond the audio produced, as the service does."""
        item = self.find(item_id, "item_id")
        if item.get("role") != "assistant" or item.get("type") != "message":
            raise ProtocolError("Only assistant messages can be truncated.", param="item_id")
        content = item.get("content") or []
        if (
            not 0 <= content_index < len(content)
            or content[content_index].get("type") != "output_audio"
        ):
            raise ProtocolError(
                f"Content index {content_index} is not an audio part.", param="content_index"
            )
        if audio_end_ms < 0:
            raise ProtocolError("audio_end_ms must not be negative.", param="audio_end_ms")
        produced = self.audio_ms.get(item_id, 0)
        if audio_end_ms > produced:
            raise ProtocolError(
                f"Audio content of {produced}ms is already shorter than {audio_end_ms}ms",
                code="invalid_value",
                param="audio_end_ms",
            )
        part = content[content_index]
        part["transcript"] = truncated_transcript(
            part.get("transcript") or "", audio_end_ms, produced
        )
        self.audio_ms[item_id] = audio_end_ms
        return item

    def call_names(self) -> dict[Any, Any]:
        """The tool name of every function call in the conversation, by ``call_id``."""
        return {
            i.get("call_id"): i.get("name") for i in self.items if i.get("type") == "function_call"
        }


def truncated_transcript(transcript: str, audio_end_ms: int, produced_ms: int) -> str:
    """The words of *transcript* heard by *audio_end_ms* of *produced_ms*, in proportion."""
    words = transcript.split()
    keep = math.floor(len(words) * audio_end_ms / produced_ms) if produced_ms else 0
    return " ".join(words[:keep])


def trailing_outputs(
    items: list[dict[str, Any]], names: dict[Any, Any]
) -> list[tuple[str | None, str]]:
    """(tool name, output) of every function_call_output in *items* since the last user message,
    in the order of their calls (several calls in one response are answered together); *names*
    maps a ``call_id`` to its tool (:meth:`Conversation.call_names`)."""
    outputs: list[dict[str, Any]] = []
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "user":
            break
        if item.get("type") == "function_call_output":
            outputs.append(item)
    return [(names.get(o.get("call_id")), str(o.get("output", ""))) for o in reversed(outputs)]


def last_call(
    items: list[dict[str, Any]], *, skip: frozenset[str] = frozenset()
) -> tuple[str, dict[str, Any]] | None:
    """The conversation's last function call as (name, arguments), if any (calls of the tools
    in *skip* left out)."""
    for item in reversed(items):
        if item.get("type") == "function_call" and item.get("name") and item["name"] not in skip:
            try:
                arguments = json.loads(item.get("arguments") or "{}")
            except json.JSONDecodeError:
                arguments = {}
            return str(item["name"]), arguments if isinstance(arguments, dict) else {}
    return None
