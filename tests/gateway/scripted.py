"""A scripted GA upstream for gateway tests that need the model to do exactly one thing: it
answers the session handshake, echoes the items it is given (user messages typed by the
client, a committed audio turn, tool outputs) and answers each client ``response.create`` with
the next response of its script: a number of function calls in one response, or nothing. The
gateway's own ``response.create`` (after tool outputs, ids ``sbgw_*``) gets an empty response.

And a stand-in tool worker: a consumer on one tool's queue that records every envelope
(:class:`ToolCallRequest`) and answers ok, so a test sees exactly what the gateway sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import websockets
from websockets.asyncio.server import ServerConnection

from switchboard.amqp import Topology
from switchboard.contracts.tools import ToolCallRequest, ToolCallResult, parse_tool_call_request

__all__ = ["Call", "ScriptedUpstream", "ToolRecorder", "scripted_upstream", "tool_recorder"]


@dataclass(frozen=True)
class Call:
    """One function call the scripted model makes."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


#: a response decided when it is asked for, from what the model was given so far
Later = Callable[["ScriptedUpstream"], list[Call]]


class ScriptedUpstream:
    """The model's script: ``responses`` is consumed one entry per client ``response.create``
    (a list of calls, or a function of the upstream that returns them when the response is
    asked for; an empty list answers with nothing). ``after_outputs`` is consumed the same way
    by the gateway's own ``response.create`` after tool outputs (a model that goes on calling
    tools without the customer saying anything)."""

    def __init__(self) -> None:
        self.responses: list[list[Call] | Later] = []
        self.after_outputs: list[list[Call] | Later] = []
        self.user_items: list[str] = []  # ids of the user items, in order
        #: the tool outputs the gateway handed the model, by call id (parsed JSON)
        self.outputs: dict[str, dict[str, Any]] = {}
        #: every client event of every connection, as (connection number, event)
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.connections = 0
        self.url = ""

    async def handle(self, ws: ServerConnection) -> None:
        async def send(event: dict[str, Any]) -> None:
            await ws.send(json.dumps({"event_id": _id("event"), **event}))

        self.connections += 1
        connection = self.connections
        await send({"type": "session.created", "session": _session({})})
        async for raw in ws:
            event = json.loads(raw)
            self.received.append((connection, event))
            kind = event.get("type")
            if kind == "session.update":
                await send({"type": "session.updated", "session": _session(event["session"])})
            elif kind == "conversation.item.create":
                item = dict(event.get("item") or {})
                item.setdefault("id", _id("item"))
                item["status"] = "completed"
                if item.get("role") == "user":
                    self.user_items.append(item["id"])
                if item.get("type") == "function_call_output":
                    self.outputs[item["call_id"]] = json.loads(item.get("output") or "{}")
                for done in ("conversation.item.added", "conversation.item.done"):
                    await send({"type": done, "previous_item_id": None, "item": item})
            elif kind == "input_audio_buffer.commit":
                item_id = _id("item")
                self.user_items.append(item_id)
                await send(
                    {
                        "type": "input_audio_buffer.committed",
                        "item_id": item_id,
                        "previous_item_id": None,
                    }
                )
                item = {
                    "id": item_id,
                    "type": "message",
                    "role": "user",
                    "status": "completed",
                    "content": [{"type": "input_audio", "transcript": None}],
                }
                await send(
                    {"type": "conversation.item.added", "previous_item_id": None, "item": item}
                )
            elif kind == "response.create":
                gateway_own = str(event.get("event_id") or "").startswith("sbgw_")
                queue = self.after_outputs if gateway_own else self.responses
                entry = queue.pop(0) if queue else []
                await self._respond(send, entry(self) if callable(entry) else entry)

    async def _respond(self, send: Any, calls: list[Call]) -> None:
        response_id = _id("resp")
        base = {"id": response_id, "object": "realtime.response", "output": []}
        await send({"type": "response.created", "response": {**base, "status": "in_progress"}})
        output = []
        for index, call in enumerate(calls):
            item = {
                "id": _id("item"),
                "type": "function_call",
                "status": "completed",
                "call_id": _id("call"),
                "name": call.name,
                "arguments": json.dumps(call.arguments),
            }
            at = {"response_id": response_id, "output_index": index}
            await send({"type": "response.output_item.added", **at, "item": item})
            await send({"type": "conversation.item.added", "previous_item_id": None, "item": item})
            await send(
                {
                    "type": "response.function_call_arguments.done",
                    **at,
                    "item_id": item["id"],
                    "call_id": item["call_id"],
                    "name": call.name,
                    "arguments": item["arguments"],
                }
            )
            await send({"type": "response.output_item.done", **at, "item": item})
            output.append(item)
        await send(
            {
                "type": "response.done",
                "response": {**base, "status": "completed", "output": output},
            }
        )


def _session(update: dict[str, Any]) -> dict[str, Any]:
    return {"type": "realtime", "object": "realtime.session", "id": "sess_scripted", **update}


@contextlib.asynccontextmanager
async def scripted_upstream() -> AsyncIterator[ScriptedUpstream]:
    """A :class:`ScriptedUpstream` listening on 127.0.0.1 (``.url`` for ``UPSTREAM_URL``)."""
    script = ScriptedUpstream()
    async with websockets.serve(script.handle, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        script.url = f"ws://127.0.0.1:{port}"
        yield script


class ToolRecorder:
    """The envelopes one tool's queue received, each answered ok."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self.requests: list[ToolCallRequest] = []
        self._channel = channel
        self._arrived = asyncio.Event()

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            request = parse_tool_call_request(message.body)
            self.requests.append(request)
            self._arrived.set()
            result = ToolCallResult(
                call_id=request.call_id,
                ok=True,
                output={"recorded": True},
                duration_ms=0,
                worker="test-recorder",
            )
            assert message.reply_to
            await self._channel.default_exchange.publish(
                aio_pika.Message(
                    body=result.model_dump_json().encode(),
                    content_type="application/json",
                    correlation_id=message.correlation_id,
                ),
                routing_key=message.reply_to,
            )

    async def until(self, count: int, *, within_s: float = 20) -> list[ToolCallRequest]:
        async with asyncio.timeout(within_s):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.requests


@contextlib.asynccontextmanager
async def tool_recorder(
    connection: aio_pika.abc.AbstractRobustConnection, namespace: str, tool: str
) -> AsyncIterator[ToolRecorder]:
    """A :class:`ToolRecorder` serving *tool* on *namespace* (its queue deleted afterwards)."""
    channel = await connection.channel()
    recorder = ToolRecorder(channel)
    topology = Topology(namespace)
    await topology.declare_dead_letters(channel)
    queue = await topology.declare_tool_queue(channel, tool)
    tag = await queue.consume(recorder.on_message)
    try:
        yield recorder
    finally:
        await queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
        await channel.close()
