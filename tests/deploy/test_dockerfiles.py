"""The Dockerfiles, read as a builder would (no Docker engine here): multi-stage uv builds from
the lock, non-root, a health check on the service's own port, the service's entry point, and
only sources that exist and that .dockerignore lets through."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deploy.manifests import ROOT

#: Dockerfile -> (package, port setting and its default, health path); None = a one-shot.
IMAGES = {
    "services/session-gateway/Dockerfile": ("switchboard-gateway", ("GATEWAY_PORT", 8080)),
    "services/conversation-store/Dockerfile": ("switchboard-store", ("STORE_HTTP_PORT", 8081)),
    "services/realtime-emulator/Dockerfile": ("switchboard-emulator", ("EMULATOR_PORT", 8082)),
    "services/tool-worker/Dockerfile": ("switchboard-worker", ("WORKER_HTTP_PORT", 8090)),
    "services/phone-bridge/Dockerfile": ("switchboard-phone", ("PHONE_PORT", 8083)),
    "cli/Dockerfile": ("switchboard-cli", None),
}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> list[Stage]:
    """Stages and their instructions (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            parts = rest.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 else None))
        elif stages:
            stages[-1].instructions.append((op, rest.strip()))
    return stages


def _members() -> dict[str, Path]:
    """Workspace member package name -> its directory."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: dict[str, Path] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for directory in sorted(ROOT.glob(pattern)):
            if (directory / "pyproject.toml").exists():
                project = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
                members[project["name"]] = directory
    return members


def _dockerignored(relative: str) -> bool:
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        rule = rule.lstrip("!").rstrip("/")
        candidates = [rule, rule.removeprefix("**/")]
        if any(
            fnmatch.fnmatch(relative, c)
            or relative.startswith(c + "/")
            or fnmatch.fnmatch(relative.split("/")[-1], c)
            for c in candidates
        ):
            ignored = not negate
    return ignored


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_dockerfile_builds_from_the_lock_as_non_root(dockerfile: str) -> None:
    """A uv builder stage syncs exactly the service's package from uv.lock without dev tools;
    the runtime stage runs it as a numeric non-root user with its own entry point."""
    package, port = IMAGES[dockerfile]
    stages = parse(ROOT / dockerfile)
    assert len([s for s in stages if s.name != "uv"]) >= 2, "multi-stage"
    builder = next(s for s in stages if s.name == "builder")
    syncs = [rest for op, rest in builder.instructions if op == "RUN" and "uv sync" in rest]
    assert syncs
    for sync in syncs:
        for flag in ("--frozen", "--no-dev", f"--package {package}"):
            assert flag in sync, (dockerfile, flag)
    runtime = stages[-1]
    assert runtime.name == "runtime"
    ops = dict(runtime.instructions)
    assert re.fullmatch(r"[1-9]\d{3,}(:[1-9]\d{3,})?", ops["USER"]), "numeric non-root user"
    project = tomllib.loads((_members()[package] / "pyproject.toml").read_text())["project"]
    (script,) = project["scripts"]
    assert ops["ENTRYPOINT"] == f'["{script}"]'
    if port is None:
        assert ops["HEALTHCHECK"] == "NONE"
    else:
        setting, default = port
        assert f"{setting}={default}" in ops["ENV"]
        assert ops["EXPOSE"] == str(default)
        assert "/healthz" in ops["HEALTHCHECK"] and setting in ops["HEALTHCHECK"]


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_dockerfile_copies_what_exists_and_is_in_the_context(dockerfile: str) -> None:
    """Every COPY source exists and is not excluded by .dockerignore, and every workspace
    member's pyproject.toml is copied (uv needs the whole workspace to read the lock)."""
    package, _ = IMAGES[dockerfile]
    if not (_members()[package] / "src").exists():
        pytest.skip(f"{package} has no sources yet")
    copied: list[str] = []
    for stage in parse(ROOT / dockerfile):
        for op, rest in stage.instructions:
            if op != "COPY" or rest.startswith("--from"):
                continue
            copied.extend(rest.split()[:-1])
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not _dockerignored(source.rstrip("/")), f"{source} is excluded by .dockerignore"
    for directory in _members().values():
        assert str((directory / "pyproject.toml").relative_to(ROOT)) in copied, directory


def test_dockerignore_keeps_secrets_and_caches_out() -> None:
    """.env files, secrets.env, virtualenvs and git metadata never reach a build context."""
    for path in (
        ".env",
        ".env.production",
        "k8s/overlays/prod/secrets.env",
        ".venv",
        ".git",
        "shared/src/switchboard/__pycache__",
    ):
        assert _dockerignored(path), path
    assert not _dockerignored("uv.lock")
