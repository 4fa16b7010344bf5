"""``switchboard phone``: call the phone bridge exactly as Twilio would (signed webhook, TwiML,
then the media websocket with µ-law frames at real-time pace), or, with ``--carrier acs``, as
Azure Communication Services would (Event Grid, Call Automation with a local stand-in of the
cloud, PCM 24 kHz media websocket); prints both sides and writes the reply audio."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from switchboard.cli.audio import read_wav, write_wav
from switchboard.cli.call_cmd import TurnAction
from switchboard.cli.phone_audio import PHONE_RATE, mulaw_to_pcm
from switchboard.cli.phone_sim import PhoneCallOptions, PhoneCallResult, PhoneTurn, place_call

__all__ = ["add_parser", "demo_caller", "run"]

DEFAULT_BRIDGE = "http://127.0.0.1:8083"
#: The bridge's development auth token (``TWILIO_AUTH_TOKEN``'s default).
DEV_TOKEN = "switchboard-dev-twilio-token"
#: The bridge's development ACS settings (``ACS_*`` defaults): its Call Automation endpoint and
#: JWKS are this simulator's, on port 8084.
DEV_ACS_PORT = 8084
DEV_ACS_ACCESS_KEY = "c3dpdGNoYm9hcmQtZGV2LWFjcy1hY2Nlc3Mta2V5"
DEV_ACS_RESOURCE_ID = "00000000-0000-0000-0000-00000000acs0"
DEV_EVENTGRID_SECRET = "switchboard-dev-eventgrid-secret"
DESCRIPTION = """\
Place a phone call on the local phone bridge as the carrier (Twilio) would: the voice webhook
signed with X-Twilio-Signature, the TwiML answer followed verb by verb, then the media stream:
20 ms µ-law frames in real time, keypad presses, and the bot's audio "played" with its marks
echoed.

What the caller does comes in order from --say / --wav / --keys; each waits for the bot's
answer. A call starts unverified: when the bot asks for the postal code on file, give it (for
example --keys 97201# for cus_0001). --customer calls from that customer's number and prints
the postal code on file (demo data, read from the database).

With --carrier acs the call comes as Azure Communication Services sends it: an Event Grid
IncomingCall, then Call Automation (served by a local stand-in of ACS on --acs-port, which the
bridge's development ACS_CONNECTION_STRING and ACS_JWKS_URL point at) answering with PCM 24 kHz
media streaming; keys are sent as DtmfData; no playback marks.
"""
EPILOG = """\
examples:
  switchboard phone --customer cus_0001 --say "Where is my order 100001?" --keys 97201#
  switchboard phone --from +15555760001 --wav question.wav --keys 97201#
  switchboard phone --customer cus_0002 --keys 100004# --say "What is the status of that order?"
  switchboard phone --from +15550009999 --say "Hello"       # an unknown number
  switchboard phone --carrier acs --customer cus_0001 --say "Where is my order 100001?"
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "phone",
        help="call the phone bridge like Twilio would (webhook, TwiML, media stream)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_argument_group("what the caller does (in order; repeatable)")
    what.add_argument("--say", action=TurnAction, metavar="TEXT", help="a sentence spoken for you")
    what.add_argument(
        "--wav", action=TurnAction, metavar="FILE", help="a recording of what you say"
    )
    what.add_argument(
        "--keys", action=TurnAction, metavar="DIGITS", help="keypad presses, e.g. 1234#"
    )
    who = parser.add_argument_group("who calls")
    who.add_argument("--from", dest="caller", metavar="NUMBER", help="the caller's number")
    who.add_argument(
        "--customer",
        metavar="ID",
        help="call from this customer's number and show their postal code (from DATABASE_URL)",
    )
    where = parser.add_argument_group("where")
    where.add_argument(
        "--bridge",
        default=os.environ.get("SWITCHBOARD_PHONE_URL", DEFAULT_BRIDGE),
        metavar="URL",
        help=f"the phone bridge (default {DEFAULT_BRIDGE}, or SWITCHBOARD_PHONE_URL)",
    )
    where.add_argument(
        "--auth-token",
        default=os.environ.get("TWILIO_AUTH_TOKEN", DEV_TOKEN),
        metavar="TOKEN",
        help="sign requests with this Twilio auth token (default TWILIO_AUTH_TOKEN or the dev one)",
    )
    acs = parser.add_argument_group("Azure Communication Services (--carrier acs)")
    parser.add_argument(
        "--carrier", choices=("twilio", "acs"), default="twilio", help="whose call (default twilio)"
    )
    acs.add_argument(
        "--acs-port",
        type=int,
        default=DEV_ACS_PORT,
        metavar="PORT",
        help=f"where the ACS stand-in listens (default {DEV_ACS_PORT})",
    )
    acs.add_argument(
        "--eventgrid-secret",
        default=os.environ.get("ACS_EVENTGRID_SECRET", DEV_EVENTGRID_SECRET),
        metavar="SECRET",
        help="the webhook secret (default ACS_EVENTGRID_SECRET or the dev one)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reply.wav"),
        metavar="FILE",
        help="reply audio ('-' skips)",
    )
    parser.add_argument("--barge-in", type=int, metavar="MS", help="talk over each answer after MS")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S", help="per answer")
    parser.set_defaults(turns=[])
    return parser


async def demo_caller(database_url: str, customer_id: str) -> tuple[str, str]:
    """(phone, postal code) of *customer_id* in the order database."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        row = await conn.fetchrow(
            "SELECT phone, postal_code FROM shop.customer WHERE id = $1", customer_id
        )
    finally:
        await conn.close()
    if row is None:
        raise ValueError(f"no customer {customer_id} in the database")
    return str(row["phone"]), str(row["postal_code"])


def build_turns(specs: list[tuple[str, str]], barge_in: int | None) -> list[PhoneTurn]:
    turns: list[PhoneTurn] = []
    for kind, value in specs:
        if kind == "keys":
            turns.append(PhoneTurn(label=f"keys {value}", keys=value, barge_in_ms=barge_in))
        elif kind == "wav":
            turns.append(PhoneTurn(Path(value).name, audio=read_wav(value), barge_in_ms=barge_in))
        else:
            from switchboard.cli.synth import synthesize

            turns.append(PhoneTurn(value, audio=synthesize(value), barge_in_ms=barge_in))
    if turns:
        last = turns[-1]
        turns[-1] = PhoneTurn(last.label, last.audio, last.keys, None)
    return turns


async def _call(args: argparse.Namespace) -> int:
    caller = args.caller
    if args.customer:
        from switchboard.settings import DatabaseSettings

        phone, postal = await demo_caller(DatabaseSettings().database_url, args.customer)
        caller = caller or phone
        print(f"{args.customer}'s postal code on file: {postal} (give it when asked)", flush=True)
    if not caller:
        print("switchboard phone: say who calls: --from NUMBER or --customer ID", file=sys.stderr)
        return 2

    def line(who: str, text: str) -> None:
        print(f"{who:>8} │ {text}", flush=True)

    print(f"calling {args.bridge} from {caller}", flush=True)
    if args.carrier == "acs":
        return await _acs_call(args, caller, line)
    result = await place_call(
        PhoneCallOptions(
            bridge=args.bridge,
            auth_token=args.auth_token,
            caller=caller,
            turns=build_turns(args.turns, args.barge_in),
            answer_timeout_s=args.timeout,
            on_event=line,
        )
    )
    return _report(args, result, PHONE_RATE)


def _report(args: argparse.Namespace, result: PhoneCallResult, rate: int) -> int:
    for answer in result.answers:
        latency = "no answer" if answer.latency_ms is None else f"{answer.latency_ms:.0f} ms"
        cut = ", cut by barge-in" if answer.cleared else ""
        print(
            f"{answer.label}: first answer audio after {latency}, {answer.played_ms} ms played{cut}"
        )
    if result.dialed:
        print(f"call moved to {result.dialed}")
    if str(args.out) != "-" and result.played:
        if rate == PHONE_RATE:
            samples = mulaw_to_pcm(bytes(result.played), PHONE_RATE)
        else:
            samples = np.frombuffer(bytes(result.played), dtype="<i2")
        write_wav(args.out, samples, rate)
        print(f"wrote {args.out} ({len(samples) / rate:.1f} s of audio played to the caller)")
    print(f"call ended: {result.outcome}")
    if result.failure:
        print(f"switchboard phone: {result.failure}", file=sys.stderr)
        return 1
    return 0


async def _acs_call(args: argparse.Namespace, caller: str, line: Callable[[str, str], None]) -> int:
    from switchboard.cli.acs_cloud import AcsCloud
    from switchboard.cli.phone_acs_sim import AcsCallOptions, place_acs_call

    key_path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cloud = await AcsCloud(
        access_key=DEV_ACS_ACCESS_KEY,
        resource_id=DEV_ACS_RESOURCE_ID,
        port=args.acs_port,
        key_path=key_path / "switchboard" / "acs-simulator-key.pem",
    ).start()
    try:
        result, _call = await place_acs_call(
            AcsCallOptions(
                bridge=args.bridge,
                cloud=cloud,
                eventgrid_secret=args.eventgrid_secret,
                caller=caller,
                turns=build_turns(args.turns, args.barge_in),
                answer_timeout_s=args.timeout,
                on_event=line,
            )
        )
    finally:
        await cloud.stop()
    for request in cloud.requests:
        line("ACS", f"{request.action} {request.call_connection_id}".strip())
    return _report(args, result, 24000)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_call(args))
    except (OSError, ValueError) as exc:
        print(f"switchboard phone: {exc}", file=sys.stderr)
        return 2
