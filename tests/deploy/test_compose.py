"""docker-compose.yml: valid against the Compose specification, and its start-up order, health
checks, hardening and drain times hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.manifests import ROOT, load_compose, parse_env_file

APP_SERVICES = ("emulator", "worker", "store", "gateway", "phone")
ONE_SHOTS = ("migrate", "seed")


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def services(compose_file: Path) -> dict[str, Any]:
    env = parse_env_file(ROOT / ".env.example").active
    loaded: dict[str, Any] = load_compose(compose_file, env)["services"]
    return loaded


def test_compose_matches_the_compose_spec(compose_file: Path, tmp_path: Path) -> None:
    """check-jsonschema accepts docker-compose.yml against the compose-spec schema, and rejects
    the same file with a misspelt key (so the check is strict)."""
    result = _check_jsonschema(compose_file)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        compose_file.read_text().replace("stop_grace_period:", "stop_grace_periods:", 1)
    )
    result = _check_jsonschema(broken)
    assert result.returncode != 0
    assert "stop_grace_periods" in result.stdout


def test_one_shots_run_in_order(services: dict[str, Any]) -> None:
    """migrate waits for a healthy Postgres; seed and every Postgres user wait for migrate to
    finish successfully; the one-shots are never restarted."""
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert (
        services["seed"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    )
    for name, service in services.items():
        if "DATABASE_URL" in service.get("environment", {}) and name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ONE_SHOTS:
        assert services[name]["restart"] == "no"
        assert services[name]["command"] == [name]


def test_health_checks_gate_the_start(services: dict[str, Any]) -> None:
    """Every long-running service has a health check, and a service_healthy dependency always
    points at one that has."""
    for name, service in services.items():
        if name not in ONE_SHOTS:
            assert "test" in service["healthcheck"], name
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
    for name in APP_SERVICES:
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert "/readyz" in probe or (name == "emulator" and "/healthz" in probe)


def test_app_containers_are_hardened(services: dict[str, Any]) -> None:
    """Switchboard's containers run read-only, with no capabilities and no privilege gain."""
    for name in (*APP_SERVICES, *ONE_SHOTS):
        service = services[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert "/tmp" in service["tmpfs"], name


def test_workers_scale(services: dict[str, Any]) -> None:
    """Workers have a replica count and nothing that stops several of them (a fixed container
    name or a published host port)."""
    worker = services["worker"]
    assert int(worker["deploy"]["replicas"]) >= 2
    assert "container_name" not in worker
    assert "ports" not in worker


def test_stop_grace_covers_the_drain(services: dict[str, Any]) -> None:
    """Docker waits longer than the gateway's drain deadline and the worker's and store's
    shutdown timeouts before it kills them."""

    def seconds(value: str) -> float:
        assert value.endswith("s")
        return float(value[:-1])

    for name, settings in (
        ("gateway", ("GATEWAY_DRAIN_TIMEOUT_S", "GATEWAY_DRAIN_HANDOVER_S")),
        ("worker", ("WORKER_SHUTDOWN_TIMEOUT_S",)),
        ("store", ("STORE_SHUTDOWN_TIMEOUT_S",)),
        ("phone", ("PHONE_DRAIN_TIMEOUT_S",)),
    ):
        service = services[name]
        deadline = sum(float(service["environment"][setting]) for setting in settings)
        assert seconds(service["stop_grace_period"]) >= deadline + 5, name


def test_builds_use_the_service_dockerfiles(services: dict[str, Any]) -> None:
    """Each built image comes from an existing Dockerfile with the repository as context."""
    built = {name: s["build"] for name, s in services.items() if "build" in s}
    assert set(built) == {"migrate", *APP_SERVICES}
    for build in built.values():
        assert build["context"] == "."
        assert (ROOT / build["dockerfile"]).is_file()
