"""The rule-based dialogue policy: a conversation over the session's tools (names, descriptions,
JSON schemas). It picks the tool the caller means (:mod:`.intent`), fills its arguments from what
was said across turns (:mod:`.slots`), asks for what is missing, asks which of two close tools the
caller means, has anything that changes data confirmed (:mod:`.confirmation`: by the tools' two
phases when the session has ``confirm_action``, else by its own read-back), takes corrections
("no, I said one oh one five nine seven"), makes several calls when one turn asks several things,
speaks tool results as a person would (:mod:`.replies`), and, when a tool answers
``verification_required`` (a phone caller not yet verified), asks for the postal code, calls
``verify_caller`` with it and makes the refused calls again (:mod:`.verification`). Pure logic:
no I/O, one instance (with its memory) per session.

It is a rule-based matcher, not a language model; docs/emulator.md lists what it cannot do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from switchboard.emulator.calls import Call, Reply
from switchboard.emulator.confirmation import (
    Proposal,
    ordinary_tools,
    read_back,
    spoken_results,
    two_phase,
)
from switchboard.emulator.intent import ToolSpec, choose_tool, default_reader, score_tools
from switchboard.emulator.numbers import read_identifier
from switchboard.emulator.replies import fallback, greeting, instructed_text
from switchboard.emulator.slots import extract, is_confirmation, is_id, question
from switchboard.emulator.text import (
    clauses,
    humanize,
    identifier_pieces,
    is_affirmative,
    is_negative,
    normalize,
    tokens,
)
from switchboard.emulator.verification import Verifying, after_results, verify_call

__all__ = ["Call", "DialoguePolicy", "Reply", "ToolSpec"]

_CORRECTION = re.compile(
    r"^\W*(?:no|nope|sorry|actually|oops|wait)\b|\bi (?:said|meant|mean)\b|\bnot that\b", re.I
)


def _call(spec: ToolSpec, arguments: dict[str, Any]) -> Reply:
    return Reply(calls=(Call(spec.name, dict(arguments)),))


@dataclass
class _Pending:
    """A call being assembled: asking for ``asking``, or (``asking`` None) awaiting a yes/no."""

    tool: ToolSpec
    arguments: dict[str, Any]
    asking: str | None


@dataclass
class DialoguePolicy:
    """Per-session dialogue state: the call being assembled, a question between two tools, and
    the last call made (so a correction can repeat it with the right value)."""

    today: date = field(default_factory=date.today)
    pending: _Pending | None = None
    clarifying: tuple[ToolSpec, ToolSpec, str] | None = None
    last_call: tuple[ToolSpec, dict[str, Any]] | None = None
    user_turns: list[str] = field(default_factory=list)
    #: the session's tools have the two-phase protocol (set by each :meth:`respond`)
    two_phase: bool = False
    #: the session's tool names (set by each :meth:`respond`)
    tool_names: frozenset[str] = frozenset()
    #: the calls of the latest reply that made calls (retried after a verification)
    made: tuple[Call, ...] = ()
    #: the postal code was asked for; the refused calls wait for it
    verifying: Verifying | None = None

    # -- entry points -------------------------------------------------------------------------

    def respond(
        self,
        *,
        user_text: str | None,
        tools: list[dict[str, Any]],
        tool_choice: Any = "auto",
        instructions: str = "",
        previous_call: tuple[str, dict[str, Any]] | None = None,
        proposal: Proposal | None = None,
    ) -> Reply:
        """The reply to the user's latest words (or to no words: a greeting / the instructions).

        *previous_call* is the conversation's last function call (name, arguments), for a
        session that did not make it itself (a conversation replayed into a new session);
        *proposal* the pending action these words answer (:func:`.confirmation.open_proposal`)."""
        self.tool_names = frozenset(str(t.get("name")) for t in tools)
        reply = self._respond(
            user_text=user_text,
            tools=tools,
            tool_choice=tool_choice,
            instructions=instructions,
            previous_call=previous_call,
            proposal=proposal,
        )
        if reply.calls:
            self.made = reply.calls
        return reply

    def _respond(
        self,
        *,
        user_text: str | None,
        tools: list[dict[str, Any]],
        tool_choice: Any,
        instructions: str,
        previous_call: tuple[str, dict[str, Any]] | None,
        proposal: Proposal | None,
    ) -> Reply:
        specs = [ToolSpec.from_tool(t) for t in tools]
        if self.last_call is None and previous_call is not None:
            spec = next((s for s in ordinary_tools(specs) if s.name == previous_call[0]), None)
            if spec is not None:
                self.last_call = (spec, dict(previous_call[1]))
        if tool_choice == "none":
            specs = []
        elif isinstance(tool_choice, dict):
            specs = [s for s in specs if s.name == tool_choice.get("name")]
        self.two_phase = two_phase(specs)
        specs = ordinary_tools(specs)
        if user_text is None or not user_text.strip():
            return Reply(text=instructed_text(instructions) or greeting(specs))
        self.user_turns.append(user_text)
        forced = tool_choice == "required" or isinstance(tool_choice, dict)
        verify = verify_call(self.verifying, user_text, self.tool_names)
        if verify is not None:  # the postal code asked for, spoken or on the keypad
            return Reply(calls=(verify,))
        if proposal is not None and self.two_phase:
            reply = self._answer_proposal(proposal, user_text, specs)
            if reply is not None:
                return reply
        for step in (self._continue_clarifying, self._continue_pending, self._correction):
            reply = step(user_text, specs)
            if reply is not None:
                return reply
        several = None if forced else self._several(user_text, specs)
        if several is not None:
            return several
        choice = choose_tool(user_text, specs, forced=forced)
        if choice.between is not None:
            first, second = choice.between
            self.clarifying = (first, second, user_text)
            return Reply(
                text=f"Would you like me to {first.spoken_name()}, or to {second.spoken_name()}?"
            )
        if choice.tool is None:
            follow_up = self._follow_up(user_text)
            if follow_up is not None:
                return follow_up
            reader = default_reader(user_text, specs)  # "is order 456789 stuck somewhere?"
            if reader is not None:
                return self._fill_and_call(reader, {}, user_text)
            return Reply(text=fallback(user_text, specs))
        return self._fill_and_call(choice.tool, {}, user_text)

    def summarize(self, tool_name: str | None, arguments: str | None, output: str) -> Reply:
        """Speak a tool's output as a person would (after function_call_output + response.create)."""
        return self.summarize_all([(tool_name, output)])

    def summarize_all(self, results: list[tuple[str | None, str]]) -> Reply:
        """Speak the outputs of several calls of one response, in order (a read-back last);
        with a verification in play, ask for the postal code, make the refused calls again
        once verified, or hand over to a person after the last failed attempt."""
        self.verifying, reply = after_results(
            self.verifying,
            results,
            made=self.made,
            tool_names=self.tool_names,
            say=lambda said: spoken_results(said, today=self.today),
        )
        if reply is not None:
            self.made = reply.calls or self.made
            return reply
        return Reply(text=spoken_results(results, today=self.today))

    # -- conversation steps (each returns None when it does not apply) ------------------------

    def _answer_proposal(
        self, proposal: Proposal, user_text: str, specs: list[ToolSpec]
    ) -> Reply | None:
        """The customer's answer to a read-back: yes confirms the pending action, a corrected
        number proposes again (superseding it), no cancels it; anything else is a new request."""
        if is_affirmative(user_text) and not _CORRECTION.search(user_text):
            return Reply(calls=(proposal.confirm(),))
        spec = next((s for s in specs if s.name == proposal.tool), None)
        corrected = dict(proposal.arguments)
        if spec is not None and self._corrected(spec, corrected, user_text, specs):
            return self._fill_and_call(spec, corrected, "")
        if is_negative(user_text):
            self.pending = None
            return Reply(calls=(proposal.cancel(),))
        return None

    def _continue_clarifying(self, user_text: str, specs: list[ToolSpec]) -> Reply | None:
        if self.clarifying is None:
            return None
        first, second, asked = self.clarifying
        self.clarifying = None
        if is_negative(user_text) and len(tokens(user_text)) <= 4:
            return Reply(text="Okay. What can I do for you?")
        ranked = {spec.name: score for score, spec in score_tools(user_text, [first, second])}
        if re.search(r"\b(second|latter|other|last)\b", user_text, re.I):
            chosen = second
        elif re.search(r"\b(first|former)\b", user_text, re.I):
            chosen = first
        elif ranked[first.name] == ranked[second.name]:
            return None  # neither: a new request
        else:
            chosen = first if ranked[first.name] > ranked[second.name] else second
        return self._fill_and_call(chosen, {}, f"{asked} {user_text}")

    def _continue_pending(self, user_text: str, specs: list[ToolSpec]) -> Reply | None:
        pending = self.pending
        if pending is None:
            return None
        if pending.asking is None:  # awaiting yes/no before a change
            if is_affirmative(user_text) and not _CORRECTION.search(user_text):
                self.pending = None
                self.last_call = (pending.tool, pending.arguments)
                return _call(pending.tool, pending.arguments)
            if self._corrected(pending.tool, pending.arguments, user_text, specs):
                return Reply(text=read_back(pending.tool, pending.arguments, self.today))
            if is_negative(user_text):
                self.pending = None
                return Reply(
                    text=f"Okay, I won't {pending.tool.spoken_name()}. Is there anything else I can do?"
                )
            self.pending = None
            return None  # something else: a new request
        asking_schema = pending.tool.properties.get(pending.asking, {})
        if asking_schema.get("type") == "boolean":
            if is_affirmative(user_text) or is_negative(user_text):
                pending.arguments[pending.asking] = is_affirmative(user_text)
                if not pending.arguments[pending.asking] and is_confirmation(
                    pending.asking, asking_schema
                ):
                    self.pending = None
                    return Reply(
                        text=f"Okay, I won't {pending.tool.spoken_name()}. Is there anything else I can do?"
                    )
                return self._fill_and_call(pending.tool, pending.arguments, "")
        elif is_negative(user_text) and len(tokens(user_text)) <= 4:
            self.pending = None
            return Reply(text="Okay, never mind. Is there anything else I can help you with?")
        # a clearly different request switches tools
        other = choose_tool(user_text, specs).tool
        if other is not None and other.name != pending.tool.name:
            self.pending = None
            return None
        value = self._extract(pending.asking, asking_schema, user_text, pending.tool, answer=True)
        if value is None:
            return Reply(
                text=f"Sorry, I didn't catch that. {question(pending.asking, asking_schema)}"
            )
        pending.arguments[pending.asking] = value
        return self._fill_and_call(pending.tool, pending.arguments, user_text)

    def _correction(self, user_text: str, specs: list[ToolSpec]) -> Reply | None:
        """ "No, I said one oh one five nine seven": the last call again with the corrected value."""
        if self.last_call is None or not _CORRECTION.search(user_text):
            return None
        spec, arguments = self.last_call
        corrected = dict(arguments)
        if not self._corrected(spec, corrected, user_text, specs):
            return None
        return self._fill_and_call(spec, corrected, "")

    def _follow_up(self, user_text: str) -> Reply | None:
        """ "And order 100003?": the last call again for another identifier."""
        if self.last_call is None:
            return None
        spec, arguments = self.last_call
        again = dict(arguments)
        if not self._corrected(spec, again, user_text, []):
            return None
        return self._fill_and_call(spec, again, "")

    def _corrected(
        self, spec: ToolSpec, arguments: dict[str, Any], user_text: str, specs: list[ToolSpec]
    ) -> bool:
        """Put a new value for an identifier argument of *spec* heard in *user_text* into
        *arguments*; True if one changed. Words that ask for another of *specs* ("actually,
        where is 100001?") correct nothing."""
        if choose_tool(user_text, specs).tool not in (None, spec):
            return False
        for name, schema in spec.properties.items():
            if not is_id(name, f"{humanize(name)} {schema.get('description', '')}".lower()):
                continue
            digits = read_identifier(user_text, schema, strict=True)
            if digits is None:
                continue
            value = self._extract(name, schema, digits, spec)
            if value is not None and value != arguments.get(name):
                arguments[name] = value
                return True
        return False

    def _several(self, user_text: str, specs: list[ToolSpec]) -> Reply | None:
        """Several read-only requests in one turn ("where is 100001 and who delivers 100004"),
        with two phases also one change among them ("... and cancel 100002": its read-back
        is said last), or one question about several identifiers: one call each, in order."""
        parts = clauses(user_text)
        calls: list[Call] = []
        if len(parts) >= 2:
            changes = 0  # with two phases, one change may join (the worker keeps one pending)
            for clause in parts:
                choice = choose_tool(clause, specs)
                if choice.tool is None:
                    return None
                changes += not choice.tool.reads_only
                if changes > (1 if self.two_phase else 0):
                    return None
                arguments = self._complete(choice.tool, clause)
                if arguments is None:
                    return None
                calls.append(Call(choice.tool.name, arguments))
        else:
            choice = choose_tool(user_text, specs)
            spec = choice.tool
            if spec is None or not spec.reads_only:
                return None
            ids = [n for n in spec.required if is_id(n, humanize(n))]
            if len(ids) != 1 or len(spec.required) != 1:
                return None
            pieces = identifier_pieces(normalize(user_text))
            values = []
            for piece in pieces:
                value = self._extract(ids[0], spec.properties[ids[0]], piece, spec)
                if value is not None and value not in values:
                    values.append(value)
            calls = [Call(spec.name, {ids[0]: v}) for v in values]
        if len(calls) < 2 or len({json.dumps([c.tool, c.arguments]) for c in calls}) < len(calls):
            return None
        self.pending = None
        return Reply(calls=tuple(calls))

    # -- arguments ----------------------------------------------------------------------------

    def _extract(
        self, name: str, schema: dict[str, Any], text: str, spec: ToolSpec, *, answer: bool = False
    ) -> Any:
        return extract(
            name, schema, text, spec, today=self.today, history=self.user_turns, answer=answer
        )

    def _complete(self, spec: ToolSpec, text: str) -> dict[str, Any] | None:
        """Every required argument of *spec* from *text* alone (defaults allowed), or None."""
        args: dict[str, Any] = {}
        for name, schema in spec.properties.items():
            value = self._extract(name, schema, text, spec)
            if value is not None:
                args[name] = value
        for name in spec.required:
            if name not in args:
                if "default" not in spec.properties[name]:
                    return None
                args[name] = spec.properties[name]["default"]
        return args

    def _fill_and_call(self, spec: ToolSpec, arguments: dict[str, Any], text: str) -> Reply:
        args = dict(arguments)
        if text:
            for name, schema in spec.properties.items():
                if name in args:
                    continue
                value = self._extract(name, schema, text, spec)
                if value is not None:
                    args[name] = value
        for name in spec.required:
            if name not in args:
                schema = spec.properties[name]
                if "default" in schema:
                    args[name] = schema["default"]
                    continue
                self.pending = _Pending(tool=spec, arguments=args, asking=name)
                return Reply(text=question(name, schema))
        if not spec.reads_only and not self.two_phase:  # two phases: the tool proposes
            self.pending = _Pending(tool=spec, arguments=args, asking=None)
            return Reply(text=read_back(spec, args, self.today))
        self.pending = None
        self.last_call = (spec, args)
        return _call(spec, args)
