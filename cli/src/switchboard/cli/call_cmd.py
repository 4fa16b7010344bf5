"""``switchboard call``: talk to the bot from a terminal, with a WAV file, a sentence to speak
or typed text; prints both sides of the conversation, tool activity and reply latency."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from switchboard.cli.audio import duration_ms, read_wav, write_wav
from switchboard.cli.call import CallOptions, CallResult, Turn, run_call
from switchboard.cli.endpoint import (
    Endpoint,
    EndpointError,
    direct_endpoint,
    gateway_endpoint,
    http_base,
)

__all__ = ["TurnAction", "add_parser", "run"]

DEFAULT_GATEWAY = "http://127.0.0.1:8080"
DESCRIPTION = """\
Call the support bot like a phone caller would: your audio is streamed at real-time pace
(24 kHz 16-bit mono; other WAV formats are converted), the bot's reply is printed as it comes,
saved to a WAV file, and the delay from the end of your speech to the bot's first audio is
measured for every turn.

Say something with --wav FILE (a recording), --say "TEXT" (spoken by a built-in voice) or
--text "TEXT" (typed, no audio). Repeat them for a longer conversation; they are played in
the order given, each after the bot has finished answering the previous one.

By default the call goes through the Switchboard gateway (make run starts it on :8080) as demo
customer cus_0001, with a client secret from the gateway's development route. In production
mode pass the shop backend's server key (--server-key or SWITCHBOARD_SERVER_KEY).

Through the gateway the call resumes by itself when its socket drops or the gateway is
drained (close 1012): "reconnecting…", then a resume secret for the same conversation, on
whichever gateway answers.
"""
EPILOG = """\
examples:
  switchboard call --say "Where is my order 100001?"
  switchboard call --customer cus_0002 --wav question.wav --out reply.wav
  switchboard call --say "I want to return order 100002" --say "It does not fit" --say "Yes, please"
  switchboard call --text "What is the status of order 100004?"
  switchboard call --upstream-direct ws://127.0.0.1:8082 --say "Hello"   # the emulator alone
"""


class TurnAction(argparse.Action):
    """Collects turn options (--wav/--say/--text here, --keys for phone calls) into one ordered
    list of (kind, value)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        turns = list(getattr(namespace, "turns", None) or [])
        turns.append((self.dest, values))
        namespace.turns = turns


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``call`` and ``loadtest``: where to connect and as whom."""
    where = parser.add_argument_group("where to connect")
    where.add_argument(
        "--gateway",
        default=os.environ.get("SWITCHBOARD_GATEWAY_URL", DEFAULT_GATEWAY),
        metavar="URL",
        help=f"Switchboard gateway (default {DEFAULT_GATEWAY}, or SWITCHBOARD_GATEWAY_URL)",
    )
    where.add_argument(
        "--server-key",
        default=os.environ.get("SWITCHBOARD_SERVER_KEY"),
        metavar="KEY",
        help="mint client secrets with this server key (POST /v1/realtime/client_secrets) "
        "instead of the development route; default SWITCHBOARD_SERVER_KEY",
    )
    where.add_argument(
        "--upstream-direct",
        metavar="URL",
        help="skip the gateway and talk to a Realtime endpoint directly, e.g. the emulator "
        "ws://127.0.0.1:8082 (no tools, no customer; for testing audio and latency)",
    )
    where.add_argument(
        "--api-key",
        default=os.environ.get("EMULATOR_API_KEY", "emulator-dev-key"),
        metavar="KEY",
        help="API key for --upstream-direct (default EMULATOR_API_KEY or the emulator's dev key)",
    )
    where.add_argument(
        "--model", default=None, help="model/deployment name to ask for (default: the server's)"
    )


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "call",
        help="talk to the bot from a WAV file, a sentence or text; print the transcript",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_argument_group("what you say (in order; repeatable)")
    what.add_argument(
        "--wav", action=TurnAction, metavar="FILE", help="a recording of what you say"
    )
    what.add_argument(
        "--say",
        action=TurnAction,
        metavar="TEXT",
        help="a sentence spoken for you by a built-in voice (numbers like 100001 are read digit by digit)",
    )
    what.add_argument(
        "--text", action=TurnAction, metavar="TEXT", help="typed text instead of speech"
    )
    parser.add_argument(
        "--customer",
        default="cus_0001",
        metavar="ID",
        help="the customer you call as (default cus_0001, Priya Sharma; see README for the demo customers)",
    )
    add_connection_options(parser)
    out = parser.add_argument_group("output")
    out.add_argument(
        "--out",
        type=Path,
        default=Path("reply.wav"),
        metavar="FILE",
        help="where to write the bot's reply audio (default reply.wav; '-' to skip)",
    )
    out.add_argument(
        "--json", action="store_true", help="print a JSON report at the end instead of a summary"
    )
    out.add_argument("--quiet", action="store_true", help="no live transcript")
    timing = parser.add_argument_group("timing")
    timing.add_argument(
        "--barge-in",
        type=int,
        metavar="MS",
        help="start each next turn MS milliseconds into the bot's reply (talk over it)",
    )
    timing.add_argument(
        "--turn-timeout",
        type=float,
        default=45.0,
        metavar="S",
        help="give up on a reply when the line stays silent for S seconds (default 45)",
    )
    parser.set_defaults(turns=[])
    return parser


def build_turns(specs: list[tuple[str, str]]) -> list[Turn]:
    turns: list[Turn] = []
    for kind, value in specs:
        if kind == "wav":
            turns.append(Turn(label=Path(value).name, audio=read_wav(value)))
        elif kind == "say":
            from switchboard.cli.synth import synthesize

            turns.append(Turn(label=value, audio=synthesize(value)))
        else:
            turns.append(Turn(label=value, text=value))
    return turns


async def resolve_endpoint(args: argparse.Namespace, customer: str) -> Endpoint:
    if args.upstream_direct:
        return direct_endpoint(
            args.upstream_direct, api_key=args.api_key, model=args.model or "switchboard-cli"
        )
    return await gateway_endpoint(
        args.gateway, customer, server_key=args.server_key, model=args.model
    )


async def resume_secret(
    gateway: str, customer_id: str, session_id: str, *, server_key: str | None = None
) -> str:
    """A client secret resuming *session_id* (the server-key route with a key, else the
    development route)."""
    base = http_base(gateway)
    body = {"customer_id": customer_id, "resume_session_id": session_id}
    url = f"{base}/v1/realtime/client_secrets" if server_key else f"{base}/dev/client_secrets"
    headers = {"Authorization": f"Bearer {server_key}"} if server_key else {}
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise EndpointError(f"cannot reach the gateway at {base}: {exc}") from exc
    if response.status_code >= 400:
        raise EndpointError(
            f"{url} answered {response.status_code}: {response.text[:300]}",
            status=response.status_code,
        )
    return str(response.json()["value"])


def resumer(
    args: argparse.Namespace, customer: str, endpoint: Endpoint
) -> Callable[[str], Awaitable[Endpoint]] | None:
    """How a call through the gateway gets a new endpoint for the same conversation."""
    if endpoint.kind != "gateway":
        return None

    async def resume(session_id: str) -> Endpoint:
        secret = await resume_secret(args.gateway, customer, session_id, server_key=args.server_key)
        return Endpoint(
            url=endpoint.url, headers={"Authorization": f"Bearer {secret}"}, kind="gateway"
        )

    return resume


def _printer(quiet: bool) -> Any:
    def line(kind: str, text: str) -> None:
        if not quiet:
            print(f"{kind:>9} │ {text}", flush=True)

    return line


def report(result: CallResult) -> dict[str, Any]:
    state = result.state
    return {
        "session_id": state.session_id,
        "customer_id": state.customer_id,
        "model": state.model,
        "connect_ms": round(result.connect_ms, 1),
        "duration_s": round(result.duration_s, 2),
        "turns": [t.as_dict() for t in state.turns],
        "errors": state.errors,
        "failure": result.failure,
        "resumes": result.resumes,
    }


async def _call(args: argparse.Namespace) -> int:
    turns = build_turns(args.turns)
    endpoint = await resolve_endpoint(args, args.customer)
    line = _printer(args.quiet or args.json)
    if not (args.quiet or args.json):
        who = "" if endpoint.kind == "direct" else f" as {args.customer}"
        print(f"calling {endpoint.url.split('?')[0]} ({endpoint.kind}){who}", flush=True)
    options = CallOptions(
        endpoint=endpoint,
        turns=turns,
        barge_in_ms=args.barge_in,
        turn_timeout_s=args.turn_timeout,
        resume=resumer(args, args.customer, endpoint),
    )
    result = await run_call(options, on_line=line)
    audio = result.state.reply_audio()
    if str(args.out) != "-":
        write_wav(args.out, audio)
    if args.json:
        print(json.dumps(report(result), indent=2))
    else:
        for turn in result.state.turns:
            latency = "no reply audio" if turn.latency_ms is None else f"{turn.latency_ms:.0f} ms"
            extra = (
                ""
                if turn.after_vad_ms is None
                else f" (after server VAD {turn.after_vad_ms:.0f} ms)"
            )
            print(f"turn {turn.index}: end of speech → first reply audio {latency}{extra}")
        if str(args.out) != "-":
            print(f"wrote {args.out} ({duration_ms(audio) / 1000:.1f} s of reply audio)")
        if result.failure:
            print(f"call ended badly: {result.failure}", file=sys.stderr)
    failed = result.failure or any(t.timed_out for t in result.state.turns)
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    if not args.turns:
        print(
            "switchboard call: say something: --wav FILE, --say TEXT or --text TEXT "
            "(see switchboard call --help)",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(_call(args))
    except EndpointError as exc:
        print(f"switchboard call: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, EOFError) as exc:
        print(f"switchboard call: {exc}", file=sys.stderr)
        return 2
