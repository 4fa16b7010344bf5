"""The newcomer's first five minutes: every command the README shows works verbatim in a fresh
shell (a clean environment: no virtualenv, no ``uv`` on the PATH, nothing exported), and
``make call`` really talks to a running emulator."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _clean_env(*, with_uv: bool = False) -> dict[str, str]:
    """What a fresh login shell has: HOME and the system PATH (plus ~/.local/bin if asked)."""
    home = os.environ.get("HOME", "/root")
    path = "/usr/local/bin:/usr/bin:/bin"
    if with_uv:
        path = f"{home}/.local/bin:{path}"
    return {"HOME": home, "PATH": path, "LANG": "C.UTF-8"}


def readme_commands() -> list[str]:
    """Command lines of the README's bash blocks and inline ``make``/``uv run`` commands."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    commands += re.findall(r"`((?:make|uv run) [^`]+)`", README)
    return list(dict.fromkeys(commands))


def test_readme_shows_no_command_a_fresh_shell_cannot_find() -> None:
    """No README command starts with a program a fresh shell does not have (``switchboard``,
    ``uv`` without saying where it is)."""
    assert readme_commands()
    for command in readme_commands():
        first = shlex.split(command)[0]
        assert first != "switchboard", f"{command!r}: not on a fresh shell's PATH"
        if first == "uv":
            assert "~/.local/bin" in README, "the README must say where uv is"


@pytest.mark.parametrize(
    "command", [c for c in readme_commands() if c.startswith(("make ", "uv run "))]
)
def test_readme_command_resolves_in_a_clean_environment(command: str) -> None:
    """Each ``make`` command's target exists and resolves (dry run), and each ``uv run``
    command's program starts (``--help``), from an environment with nothing set."""
    args = shlex.split(command)
    if args[0] == "make":
        run = ["make", "-n", *args[1:]]
        env = _clean_env()
    else:
        program = [a for a in args[2:4] if a != "..."]  # "uv run switchboard ..." → the program
        run = ["uv", "run", "--frozen", *program, "--help"]
        env = _clean_env(with_uv=True)
    done = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command!r} failed in a clean environment:\n{done.stderr}"


async def test_make_call_talks_to_the_bot_from_a_clean_environment(
    emulator: Emulator, tmp_path: Path
) -> None:
    """``make call SAY=...`` from an environment with nothing set speaks the words and prints
    the bot's spoken answer (here straight to the emulator, as ``make run`` is not up)."""
    env = {**_clean_env(), "EMULATOR_API_KEY": emulator.api_key}
    process = await asyncio.create_subprocess_exec(
        "make",
        "call",
        "SAY=Hello there",
        f"CALL_ARGS=--upstream-direct {emulator.ws} --out {tmp_path / 'reply.wav'}",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert "you │ hello there" in text.lower(), text  # heard through the emulator's recogniser
    assert "bot │ i heard: hello there." in text.lower(), text  # a session without tools
    assert (tmp_path / "reply.wav").stat().st_size > 24_000  # the spoken reply, written
