"""The environment variables given to each container in docker-compose.yml and the Kubernetes
overlays are exactly those its service's Settings class reads, and their values are accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.deploy.manifests import (
    COMPONENTS,
    ROOT,
    compose_variables,
    container_env,
    load_compose,
    parse_env_file,
    pod_specs,
    settings_env_names,
)

#: Settings deliberately left to their defaults, per deployment target and component, and why.
LEFT_TO_DEFAULT: dict[tuple[str, str], dict[str, str]] = {
    ("compose", "worker"): {
        "WORKER_ID": "the default <container hostname>-<pid> is unique per replica",
        "WORKER_TODAY": "pins the shop's date for tests; refused in production",
    },
    ("compose", "gateway"): {
        "GATEWAY_ID": "the default <container hostname>-<pid> is unique per replica",
        "GATEWAY_PROMPT_FILE": "the prompt shipped in the image",
    },
    ("compose", "store"): {
        "STORE_INSTANCE_ID": "the default <container hostname>-<pid> is unique per replica",
    },
    ("k8s", "worker"): {"WORKER_TODAY": "pins the shop's date for tests; refused in production"},
    ("k8s", "gateway"): {"GATEWAY_PROMPT_FILE": "the prompt shipped in the image"},
}

#: Compose service (or Kubernetes container) name -> the component it runs.
RUNS = {
    "migrate": "cli",
    "seed": "cli",
    "gateway": "gateway",
    "store": "store",
    "worker": "worker",
    "emulator": "emulator",
    "phone": "phone",
    "retention": "store",
}
INFRA = {"postgres", "rabbitmq", "redis"}
#: Compose runs everything but the retention CronJob (on one host, cron runs it: docs/deploy.md).
COMPOSE_RUNS = sorted(set(RUNS) - {"retention"})

#: Stand-ins for values that come from Secrets or the downward API in Kubernetes.
SECRET_STAND_INS = {
    "DATABASE_URL": "postgresql://app:x@postgres.example.internal:5432/switchboard",
    "AMQP_URL": "amqp://app:x@rabbitmq.example.internal:5672/",
    "REDIS_URL": "redis://:x@redis.example.internal:6379/0",
    "GATEWAY_SERVER_KEY": "a-server-key-from-the-secret",
    "UPSTREAM_API_KEY": "an-upstream-key-from-the-secret",
    "RECORDING_DATABASE_URL": "postgresql://app:x@postgres.example.internal:5432/switchboard",
    "RECORDING_AZURE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=x;"
    "AccountKey=eA==;EndpointSuffix=core.windows.net",
    "EMULATOR_API_KEY": "an-emulator-key-from-the-secret",
    "GATEWAY_ID": "switchboard-gateway-7d9f-abcde",
    "WORKER_ID": "switchboard-worker-7d9f-abcde",
    "STORE_INSTANCE_ID": "switchboard-store-7d9f-abcde",
    "STORE_USERS": "lee:admin:{hash}",
    "TWILIO_AUTH_TOKEN": "a-twilio-auth-token-from-the-secret",
    "PHONE_GATEWAY_SERVER_KEY": "a-server-key-from-the-secret",
    "ACS_CONNECTION_STRING": "endpoint=https://contoso.communication.azure.com/;"
    "accesskey=YW4tYWNzLWFjY2Vzcy1rZXktZnJvbS10aGUtc2VjcmV0",
    "ACS_EVENTGRID_SECRET": "an-event-grid-secret-from-the-secret",
}


def _stand_in(name: str) -> str:
    value = SECRET_STAND_INS[name]
    if "{hash}" in value:
        from switchboard.store.auth import hash_password

        value = value.format(hash=hash_password("a password from the secret store"))
    return value


def _expected(target: str, component: str) -> set[str] | None:
    cls = COMPONENTS[component].settings_class()
    if cls is None:
        return None
    return settings_env_names(cls) - set(LEFT_TO_DEFAULT.get((target, component), {}))


def _settings_accept(component: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the component's Settings from exactly *env* (no .env file, nothing inherited)."""
    cls = COMPONENTS[component].settings_class()
    assert cls is not None
    for name in settings_env_names(cls):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        cls(_env_file=None)  # type: ignore[call-arg]
    except ValidationError as exc:
        pytest.fail(f"{component} refuses its deployed settings: {exc}")


# -- Compose -----------------------------------------------------------------------------------


def _compose_env_example() -> dict[str, str]:
    return parse_env_file(ROOT / ".env.example").active


def _compose_services(compose_file: Path) -> dict[str, Any]:
    services: dict[str, Any] = load_compose(compose_file, _compose_env_example())["services"]
    return services


def test_every_compose_service_is_known(compose_file: Path) -> None:
    """Each Compose service is infrastructure or runs a known Switchboard component."""
    assert set(_compose_services(compose_file)) <= INFRA | set(RUNS)


@pytest.mark.parametrize("service", COMPOSE_RUNS)
def test_compose_env_is_exactly_what_the_service_reads(
    service: str, compose_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Compose service's environment names exactly its component's settings, which accept the
    values .env.example leads to."""
    component = RUNS[service]
    expected = _expected("compose", component)
    if expected is None:
        pytest.skip(f"{component} has no settings module yet")
    env = {k: str(v) for k, v in _compose_services(compose_file)[service]["environment"].items()}
    assert set(env) - expected == set(), f"{service}: variables {component} does not read"
    assert expected - set(env) == set(), f"{service}: settings of {component} not set"
    _settings_accept(component, env, monkeypatch)


def test_env_example_lists_every_setting_and_compose_variable(compose_file: Path) -> None:
    """.env.example names every setting of every built service and every variable Compose
    interpolates, and nothing else."""
    listed = parse_env_file(ROOT / ".env.example").names
    settings: set[str] = set()
    pending: list[str] = []
    for component in COMPONENTS.values():
        cls = component.settings_class()
        if cls is None:
            pending.append(component.name)
        else:
            settings |= settings_env_names(cls)
    wanted = settings | compose_variables(compose_file)
    assert wanted - listed == set(), "missing from .env.example"
    unknown = listed - wanted
    if pending:  # names of services still being built are checked once they exist
        prefixes = tuple(f"{name.upper()}_" for name in pending)
        unknown = {n for n in unknown if not n.startswith(prefixes)}
    assert unknown == set(), "listed in .env.example but read by nothing"


# -- Kubernetes --------------------------------------------------------------------------------


def _containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for _, spec in pod_specs(docs) for c in spec["containers"]]


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_k8s_env_is_exactly_what_each_service_reads(
    overlay: str,
    rendered: dict[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every container's environment (env, ConfigMaps, Secret keys) names exactly its component's
    settings, and the component accepts the values, with and without optional Secret keys."""
    docs = rendered[overlay]
    checked = 0
    for container in _containers(docs):
        component = RUNS[container["name"]]
        expected = _expected("k8s", component)
        if expected is None:
            continue
        env = container_env(docs, container)
        where = f"{overlay} container {container['name']}"
        assert set(env) - expected == set(), f"{where}: variables {component} does not read"
        assert expected - set(env) == set(), f"{where}: settings of {component} not set"
        values = {k: _stand_in(k) if v is None else v for k, v in env.items()}
        with monkeypatch.context() as patch:
            _settings_accept(component, values, patch)
        optional = {
            item["name"]
            for item in container.get("env", [])
            if item.get("valueFrom", {}).get("secretKeyRef", {}).get("optional")
        }
        if optional:  # the Secret may lack those keys: the service must start without them
            with monkeypatch.context() as patch:
                _settings_accept(
                    component, {k: v for k, v in values.items() if k not in optional}, patch
                )
        checked += 1
    assert checked, "no container was checked"
