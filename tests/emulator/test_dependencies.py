"""The emulator stands alone: no database driver or broker client in its code, its own
dependencies or what it installs through the shared package (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

EMULATOR = Path(__file__).resolve().parents[2] / "services" / "realtime-emulator"
#: import names and distribution names of database drivers and broker or cache clients
FORBIDDEN_MODULES = {"sqlalchemy", "asyncpg", "psycopg", "psycopg2", "aio_pika", "aiormq", "redis"}
FORBIDDEN_DISTRIBUTIONS = {"sqlalchemy", "asyncpg", "psycopg", "psycopg2", "aio-pika", "redis"}

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
import switchboard.emulator as package
for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module("switchboard.emulator." + module.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_importing_every_emulator_module_loads_no_database_or_broker_client() -> None:
    """A fresh interpreter that imports every emulator module has loaded no driver or client."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "switchboard" in loaded
    assert loaded & FORBIDDEN_MODULES == set()


def test_the_emulator_declares_no_database_or_broker_dependency() -> None:
    """The emulator's own pyproject names no database driver or broker client."""
    project = tomllib.loads((EMULATOR / "pyproject.toml").read_text())["project"]
    names = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    assert "numpy" in names
    assert names & FORBIDDEN_DISTRIBUTIONS == set()


def _installed_with(lock: dict[str, Any], root: str) -> set[str]:
    """Every distribution uv.lock installs for *root* (its dependencies, their extras, and so on)."""
    packages: dict[str, dict[str, Any]] = {}
    for package in lock["package"]:
        packages.setdefault(package["name"], package)
    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(root, ())]
    while todo:
        name, extras = todo.pop()
        package = packages[name]
        deps = list(package.get("dependencies", []))
        for extra in extras:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        for dep in deps:
            key = (dep["name"], tuple(dep.get("extra", ())))
            if f"{key[0]}{key[1]}" not in seen:
                seen.add(f"{key[0]}{key[1]}")
                todo.append(key)
    return {entry.split("(")[0] for entry in seen}


def test_nothing_the_emulator_installs_is_a_database_or_broker_client() -> None:
    """Through the project's shared package too: uv.lock's closure of the emulator holds no
    driver or client (they are the shared package's optional extras), while the gateway's does
    hold the broker and Redis clients and the database driver (its postgres recording store) it
    asks for."""
    lock = tomllib.loads((EMULATOR.parents[1] / "uv.lock").read_text())
    emulator = _installed_with(lock, "switchboard-emulator")
    assert {"switchboard-shared", "numpy", "pydantic"} <= emulator
    assert emulator & FORBIDDEN_DISTRIBUTIONS == set()
    gateway = _installed_with(lock, "switchboard-gateway")
    assert {"aio-pika", "redis", "asyncpg"} <= gateway
