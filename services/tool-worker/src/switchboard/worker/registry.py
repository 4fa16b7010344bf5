"""Tool definitions: a name, a description and a pydantic argument model (whose JSON schema is
what the voice model sees) bound to an async handler, and the set of tools a worker serves.

A data-changing tool (``mutating``) must say whether it runs in two phases: ``confirmation=True``
with a ``propose`` step (validate, change nothing, say what would change) and the handler as the
commit step, run by ``confirm_action``; or ``confirmation=False``, an explicit exemption with a
reason beside it. A registry refuses a mutating tool that says neither.

Every tool also says whether it runs for an **unverified** caller (a phone call before the caller
proved who they are): ``verification_exempt=True`` for tools that read or change no account
data (general questions, a transfer, ``verify_caller`` itself), with a reason beside it;
``verification_exempt=False`` for the rest, which the executor refuses with
``verification_required`` while the envelope says ``unverified``. A registry refuses a tool
that says neither."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from switchboard.contracts.tools import ToolCatalogEntry, ToolErrorCode
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import ToolFailure
from switchboard.worker.proposals import Proposal

__all__ = ["Handler", "Proposer", "Registry", "Tool", "ToolArguments", "model_schema"]

Handler = Callable[[ToolContext, Any], Awaitable[dict[str, Any]]]
#: The first phase: a :class:`Proposal`, or a plain answer when there is nothing to change.
Proposer = Callable[[ToolContext, Any], Awaitable[Proposal | dict[str, Any]]]


class ToolArguments(BaseModel):
    """Base of every argument model: unknown arguments (a customer id above all) are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


@dataclass(frozen=True, slots=True)
class Tool:
    """One tool as served by a worker."""

    name: str
    description: str
    arguments: type[ToolArguments]
    handler: Handler
    mutating: bool = False
    version: str = "1"
    #: two phases (propose, then commit on confirm_action); None = not declared
    confirmation: bool | None = None
    propose: Proposer | None = None
    #: the change needs a verified caller where the channel has levels (e-mail, phone)
    sensitive: Callable[[Any], bool] | None = None
    #: runs for an unverified caller (no account data); None = not declared
    verification_exempt: bool | None = None

    def is_sensitive(self, args: ToolArguments) -> bool:
        return self.sensitive is not None and self.sensitive(args)

    def parse(self, raw: Mapping[str, Any]) -> ToolArguments:
        """Validate the model's arguments; a failure names the field and what is expected."""
        try:
            return self.arguments.model_validate(dict(raw))
        except ValidationError as exc:
            raise _invalid(self.arguments, exc) from None

    def catalog_entry(self) -> ToolCatalogEntry:
        return ToolCatalogEntry(
            name=self.name,
            description=self.description,
            parameters=model_schema(self.arguments),
            tool_version=self.version,
            mutating=self.mutating,
            confirmation=bool(self.confirmation),
            verification_exempt=bool(self.verification_exempt),
        )


def _invalid(model: type[BaseModel], exc: ValidationError) -> ToolFailure:
    error = exc.errors(include_url=False)[0]
    loc = error.get("loc") or ()
    field = str(loc[0]) if loc else None
    msg = str(error["msg"]).removeprefix("Value error, ")
    if field is None:
        # model-level checks name their field as "field: what is wrong"
        head, sep, rest = msg.partition(": ")
        if sep and head in model.model_fields:
            field, msg = head, rest
    if error["type"] == "extra_forbidden":
        return ToolFailure(
            ToolErrorCode.INVALID_ARGUMENTS,
            f"{field} is not an argument of this tool.",
            field=field,
        )
    info = model.model_fields.get(field or "")
    expected = f" Expected: {info.description}" if info is not None and info.description else ""
    what = "missing" if error["type"] == "missing" else msg.rstrip(".")
    message = f"{field}: {what}.{expected}" if field else f"{what}."
    return ToolFailure(ToolErrorCode.INVALID_ARGUMENTS, message, field=field)


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of *model* as a function's ``parameters``: no titles, nullable fields as
    ``type`` lists (no ``anyOf``), no additional properties."""
    schema = _clean(model.model_json_schema())
    schema.setdefault("properties", {})
    schema["additionalProperties"] = False
    return schema


def _clean(node: Any) -> Any:
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _clean(v) for k, v in node.items() if k != "title"}
    variants = out.get("anyOf")
    if isinstance(variants, list) and all(
        isinstance(v, dict) and set(v) <= {"type", "format", "minimum", "maximum"} for v in variants
    ):
        merged: dict[str, Any] = {}
        types: list[str] = []
        for variant in variants:
            types.append(variant["type"])
            merged.update({k: v for k, v in variant.items() if k != "type"})
        del out["anyOf"]
        out = {"type": types, **merged, **out}
    return out


def _check_phases(tool: Tool) -> None:
    if tool.mutating and tool.confirmation is None:
        raise ValueError(
            f"tool {tool.name!r} changes data: declare confirmation=True (two phases) or "
            "confirmation=False (an explicit exemption)"
        )
    if tool.confirmation and (not tool.mutating or tool.propose is None):
        raise ValueError(
            f"tool {tool.name!r} declares confirmation: it must be mutating and propose"
        )
    if tool.verification_exempt is None:
        raise ValueError(
            f"tool {tool.name!r}: declare verification_exempt=False (needs a verified caller "
            "where the channel has levels) or verification_exempt=True (no account data)"
        )


class Registry(Mapping[str, Tool]):
    """The tools one worker serves, by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"tool {tool.name!r} is defined twice")
            if "customer_id" in tool.arguments.model_fields:
                raise ValueError(f"tool {tool.name!r} must not take a customer id argument")
            _check_phases(tool)
            self._tools[tool.name] = tool

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def select(self, names: Iterable[str]) -> Registry:
        """Only the named tools (``WORKER_TOOLS``); an unknown name is a configuration error."""
        wanted = list(names)
        if not wanted:
            return self
        unknown = [n for n in wanted if n not in self._tools]
        if unknown:
            raise ValueError(f"unknown tool(s) in WORKER_TOOLS: {', '.join(unknown)}")
        return Registry(self._tools[n] for n in wanted)

    def catalog(self) -> list[ToolCatalogEntry]:
        return [tool.catalog_entry() for tool in self._tools.values()]
