"""The emulator stands alone: no database driver or broker client in its code or its own
dependencies (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

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
