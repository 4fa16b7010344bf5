"""The Kubernetes manifests: every rendered object is valid for its schema (Kubernetes' own,
strict; the vendored CRD schemas for KEDA and the Prometheus operator; an unknown kind fails),
references resolve, and the scaling, drain, security and network rules hold."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError

from switchboard.amqp import Topology
from tests.deploy.manifests import (
    COMPONENTS,
    K8S,
    ROOT,
    container_env,
    crd_schema,
    find,
    pod_specs,
    pod_template_labels,
)

OVERLAYS = ("overlays/dev", "overlays/prod")
#: The oldest Kubernetes minor the manifests are meant for, and the newest schemas shipped.
KUBERNETES_VERSIONS = ("1.30", "1.37")


class UnknownKindError(Exception):
    """A manifest of a kind with neither a Kubernetes schema nor a vendored CRD schema."""


def validate(doc: dict[str, Any], version: str) -> None:
    """Strict validation: Kubernetes kinds by kubernetes-validate, custom ones by k8s/schemas."""
    schema = crd_schema(doc["apiVersion"], doc["kind"])
    if schema is not None:
        jsonschema.Draft202012Validator(schema).validate(doc)
        return
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except SchemaNotFoundError as exc:
        raise UnknownKindError(f"{doc['apiVersion']} {doc['kind']}") from exc


# -- schemas -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_is_valid(
    overlay: str, version: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """Each object an overlay renders passes strict schema validation."""
    docs = rendered[overlay]
    assert len(docs) > 20
    for doc in docs:
        try:
            validate(doc, version)
        except (jsonschema.ValidationError, UnknownKindError) as exc:
            pytest.fail(f"{overlay} {doc['kind']}/{doc['metadata']['name']}: {exc}")


def test_custom_kinds_use_the_vendored_schemas(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """KEDA and Prometheus-operator objects are checked against k8s/schemas, not skipped."""
    kinds = {
        d["kind"]
        for docs in rendered.values()
        for d in docs
        if crd_schema(d["apiVersion"], d["kind"])
    }
    assert kinds == {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}


def test_an_unknown_kind_fails() -> None:
    """A kind with no schema anywhere is an error, not a pass."""
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(UnknownKindError):
        validate(doc, "1.37")


def test_strict_validation_rejects_an_unknown_field(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """A misspelt field in a Deployment and in a ScaledObject is rejected."""
    docs = rendered["overlays/dev"]
    deployment = find(docs, "Deployment", "switchboard-worker")
    bad = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(jsonschema.ValidationError):
        validate(bad, "1.37")
    scaled = find(docs, "ScaledObject", "switchboard-worker")
    bad = {**scaled, "spec": {**scaled["spec"], "minReplicas": 2}}
    with pytest.raises(jsonschema.ValidationError):
        validate(bad, "1.37")


def test_vendored_schemas_are_documented() -> None:
    """Every vendored schema says where it came from (k8s/schemas/README.md names it)."""
    readme = (K8S / "schemas" / "README.md").read_text()
    for path in (K8S / "schemas").glob("*/*.json"):
        assert str(path.relative_to(K8S / "schemas")) in readme


# -- references --------------------------------------------------------------------------------


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _pod_labels(docs: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [pod_template_labels(w) for w, _ in pod_specs(docs)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_references_resolve(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    """ConfigMaps, Secret keys, service accounts, scale targets, Service selectors and ports,
    ServiceMonitor and PDB selectors and Ingress backends all point at rendered objects."""
    docs = rendered[overlay]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}

    for workload, spec in pod_specs(docs):
        assert ("ServiceAccount", spec.get("serviceAccountName", "default")) in names or (
            "serviceAccountName" not in spec
        )
        for container in spec["containers"]:
            container_env(docs, container)  # raises on a missing ConfigMap
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref is None:
                    continue
                secret = secrets.get(ref["name"])
                assert secret is not None, f"{workload['metadata']['name']}: no Secret {ref}"
                if not ref.get("optional"):
                    assert ref["key"] in secret["data"], f"Secret key {ref['key']} missing"

    for auth in (d for d in docs if d["kind"] == "TriggerAuthentication"):
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in secrets[ref["name"]]["data"]

    for scaler in (d for d in docs if d["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")):
        target = scaler["spec"]["scaleTargetRef"]
        deployment = find(docs, "Deployment", target["name"])
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        for trigger in scaler["spec"].get("triggers", []):
            if "authenticationRef" not in trigger:  # cpu, and Prometheus inside the cluster
                continue
            assert ("TriggerAuthentication", trigger["authenticationRef"]["name"]) in names

    services = [d for d in docs if d["kind"] == "Service"]
    for service in services:
        selector = service["spec"]["selector"]
        pods = [
            (w, s) for w, s in pod_specs(docs) if _labels_match(selector, pod_template_labels(w))
        ]
        assert pods, f"Service {service['metadata']['name']} selects no pods"
        port_names = {
            p["name"] for _, s in pods for c in s["containers"] for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names

    for monitor in (d for d in docs if d["kind"] == "ServiceMonitor"):
        selected = [
            s
            for s in services
            if _labels_match(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        assert len(selected) == 1
        ports = {p["name"] for p in selected[0]["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports

    for pdb in (d for d in docs if d["kind"] == "PodDisruptionBudget"):
        assert any(
            _labels_match(pdb["spec"]["selector"]["matchLabels"], labels)
            for labels in _pod_labels(docs)
        )

    for ingress in (d for d in docs if d["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = find(docs, "Service", backend["name"])
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_no_secret_values_in_git() -> None:
    """No Secret manifest is committed; the generated Secrets come from git-ignored env files."""
    for path in K8S.rglob("*.yaml"):
        assert not re.search(r"^kind:\s*Secret\s*$", path.read_text(), re.MULTILINE), path
    for overlay in OVERLAYS:
        secrets_env = K8S / overlay / "secrets.env"
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(secrets_env)], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f"{secrets_env} is not git-ignored"
        example = (K8S / overlay / "secrets.env.example").read_text()
        for line in example.splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                assert "REPLACE_ME" in line, f"example value that looks real: {line}"


# -- pods: security, probes, resources, spread ------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Every pod runs as non-root with a read-only root filesystem, no capabilities, no
    privilege escalation, no API token, resource requests and a memory limit."""
    for workload, spec in pod_specs(rendered[overlay]):
        name = workload["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_have_probes_and_spread(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """Every Deployment has startup, liveness and readiness probes on its own port, and
    spreads its pods over nodes."""
    for deployment in (d for d in rendered[overlay] if d["kind"] == "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        keys = [c["topologyKey"] for c in spec["topologySpreadConstraints"]]
        assert "kubernetes.io/hostname" in keys
        assert len(keys) == len(set(keys)), "one constraint per topology key"
        for container in spec["containers"]:
            ports = {p["name"] for p in container["ports"]}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = container[probe]["httpGet"]
                assert get["port"] in ports
                assert get["path"] in ("/healthz", "/readyz")
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_container_ports_match_the_port_settings(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """A container listens where its settings say (GATEWAY_PORT, WORKER_HTTP_PORT, ...) on all
    interfaces."""
    settings = {
        "gateway": ("GATEWAY_HOST", "GATEWAY_PORT"),
        "store": ("STORE_HTTP_HOST", "STORE_HTTP_PORT"),
        "worker": ("WORKER_HTTP_HOST", "WORKER_HTTP_PORT"),
        "emulator": ("EMULATOR_HOST", "EMULATOR_PORT"),
    }
    docs = rendered[overlay]
    for _, spec in pod_specs(docs):
        for container in spec["containers"]:
            if container["name"] not in settings:
                continue
            host, port = settings[container["name"]]
            env = container_env(docs, container)
            assert env[host] == "0.0.0.0"
            assert [p["containerPort"] for p in container["ports"]] == [int(env[port] or 0)]


# -- drain, scaling, ingress -------------------------------------------------------------------


def _pre_stop_seconds(container: dict[str, Any]) -> int:
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    if not command:
        return 0
    assert command[0] == "sleep"
    return int(command[1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_grace_covers_the_drain(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """terminationGracePeriodSeconds covers preStop plus the gateway's drain deadlines (the
    drain, then the handover at a quiet moment; and the worker's shutdown timeout) with at
    least 5 s to spare."""
    docs = rendered[overlay]
    deadlines = {
        "gateway": ("GATEWAY_DRAIN_TIMEOUT_S", "GATEWAY_DRAIN_HANDOVER_S"),
        "worker": ("WORKER_SHUTDOWN_TIMEOUT_S",),
        "store": ("STORE_SHUTDOWN_TIMEOUT_S",),
        "phone": ("PHONE_DRAIN_TIMEOUT_S",),
    }
    for component, settings in deadlines.items():
        deployment = find(docs, "Deployment", f"switchboard-{component}")
        spec = deployment["spec"]["template"]["spec"]
        container = spec["containers"][0]
        env = container_env(docs, container)
        drain = sum(float(env[setting] or 0) for setting in settings)
        needed = _pre_stop_seconds(container) + drain + 5
        assert spec["terminationGracePeriodSeconds"] >= needed, component
    gateway = find(docs, "Deployment", "switchboard-gateway")["spec"]["template"]["spec"]
    assert _pre_stop_seconds(gateway["containers"][0]) >= 3, "the gateway needs a preStop pause"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_keeps_websockets_open_for_a_whole_session(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """nginx's proxy read/send timeouts are at least the longest session the gateway allows."""
    docs = rendered[overlay]
    ingress = find(docs, "Ingress", "switchboard-gateway")
    gateway = find(docs, "Deployment", "switchboard-gateway")["spec"]["template"]["spec"]
    longest = float(container_env(docs, gateway["containers"][0])["GATEWAY_MAX_SESSION_S"] or 0)
    annotations = ingress["metadata"]["annotations"]
    for key in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{key}"]) >= longest
    assert ingress["spec"]["ingressClassName"] == "nginx"


def _ingress_exposes(ingress: dict[str, Any], url_path: str) -> bool:
    """Whether an Ingress routes *url_path* (Kubernetes Prefix/Exact matching)."""
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            prefix = path["path"].rstrip("/")
            if path["pathType"] == "Exact" and url_path == path["path"]:
                return True
            if path["pathType"] == "Prefix" and (
                prefix == "" or url_path == prefix or url_path.startswith(prefix + "/")
            ):
                return True
    return False


def test_prod_ingress_exposes_only_the_client_api(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """In production the ingress routes the Realtime websocket and client secrets, never
    /metrics, health, or the admin API; TLS covers every host."""
    ingress = find(rendered["overlays/prod"], "Ingress", "switchboard-gateway")
    for public in ("/v1/realtime", "/v1/realtime/client_secrets"):
        assert _ingress_exposes(ingress, public)
    for internal in ("/metrics", "/healthz", "/readyz", "/admin/sessions", "/dev/customers"):
        assert not _ingress_exposes(ingress, internal), internal
    tls_hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
    assert {r["host"] for r in ingress["spec"]["rules"]} <= tls_hosts


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_triggers_watch_the_real_queues(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """The worker trigger's regex matches every tool queue of the deployed namespace and not the
    dead-letter queue; the store trigger names the store's queue; workers never scale to 0."""
    from switchboard.worker.tools import default_registry

    docs = rendered[overlay]
    namespace = find(docs, "ConfigMap", "switchboard-common")["data"]["SWITCHBOARD_NAMESPACE"]
    topology = Topology(namespace)

    worker = find(docs, "ScaledObject", "switchboard-worker")["spec"]
    assert worker["minReplicaCount"] >= 1
    (trigger,) = worker["triggers"]
    meta = trigger["metadata"]
    assert (trigger["type"], meta["protocol"], meta["mode"]) == ("rabbitmq", "http", "QueueLength")
    assert meta["useRegex"] == "true"
    pattern = re.compile(meta["queueName"])
    for tool in default_registry():
        assert pattern.fullmatch(topology.tool_queue(tool)), tool
    for other in (
        topology.tools_dead_letter_queue,
        topology.store_events_queue,
        Topology("other").tool_queue("check_order_status"),
    ):
        assert not pattern.fullmatch(other), other
    worker_config = find(docs, "ConfigMap", "switchboard-worker")["data"]
    assert int(meta["value"]) == int(worker_config["WORKER_PREFETCH"])

    store = find(docs, "ScaledObject", "switchboard-store")["spec"]
    store_meta = store["triggers"][0]["metadata"]
    assert store_meta["queueName"] == topology.store_events_queue
    store_config = find(docs, "ConfigMap", "switchboard-store")["data"]
    assert int(store_meta["value"]) == int(store_config["STORE_PREFETCH"])
    assert store["minReplicaCount"] >= 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_autoscaler_per_deployment(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """The phone bridge has an HPA; the gateway, workers and store a KEDA ScaledObject; none
    has two."""
    docs = rendered[overlay]
    targets = [
        d["spec"]["scaleTargetRef"]["name"]
        for d in docs
        if d["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")
    ]
    assert sorted(targets) == [
        "switchboard-gateway",
        "switchboard-phone",
        "switchboard-store",
        "switchboard-store-assembler",
        "switchboard-worker",
    ]
    hpa = find(docs, "HorizontalPodAutoscaler", "switchboard-phone")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateways_scale_on_active_sessions(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """The gateway's scaler sums the live-conversation gauge the gateways export, over this
    overlay's namespace and the gateway Service's scrape job, with CPU as a second trigger; the
    metric in the query is the one the gateway really exports."""
    from prometheus_client import CollectorRegistry

    from switchboard.gateway.metrics import GatewayMetrics

    docs = rendered[overlay]
    [namespace] = [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"]
    spec = find(docs, "ScaledObject", "switchboard-gateway")["spec"]
    assert spec["minReplicaCount"] >= 1
    assert spec["scaleTargetRef"]["name"] == "switchboard-gateway"
    sessions, cpu = spec["triggers"]
    assert (sessions["type"], sessions["metricType"]) == ("prometheus", "AverageValue")
    assert (cpu["type"], cpu["metricType"]) == ("cpu", "Utilization")
    query = sessions["metadata"]["query"]
    metric = re.match(r"sum\((\w+)\{", query)
    assert metric is not None
    exported = {m.name for m in GatewayMetrics(CollectorRegistry()).registry.collect()}
    assert metric.group(1) in exported, exported
    assert f'namespace="{namespace}"' in query
    service = find(docs, "Service", "switchboard-gateway")
    assert f'job="{service["metadata"]["name"]}"' in query
    assert int(sessions["metadata"]["threshold"]) > 0


# -- network policy ----------------------------------------------------------------------------


def _egress_ports(docs: list[dict[str, Any]], labels: dict[str, str]) -> set[int]:
    ports: set[int] = set()
    for policy in (d for d in docs if d["kind"] == "NetworkPolicy"):
        if not _labels_match(policy["spec"]["podSelector"].get("matchLabels", {}), labels):
            continue
        for rule in policy["spec"].get("egress", []):
            ports |= {p["port"] for p in rule.get("ports", [])}
    return ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_limits_who_reaches_what(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """All pods start denied; only the gateway (the upstream), the phone bridge (the carrier's
    REST API), the store and its recording assembler (Azure Blob recordings) get 443; only
    workers, the store, its assembler and retention CronJob, the phone bridge (caller lookup),
    the gateway (recordings) and the database Jobs get Postgres; the emulator reaches nothing
    but DNS."""
    docs = rendered[overlay]
    deny = find(docs, "NetworkPolicy", "switchboard-default-deny")["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "egress" not in deny
    for labels in _pod_labels(docs):
        assert _labels_match(deny["podSelector"]["matchLabels"], labels)
        name = labels["app.kubernetes.io/name"].removeprefix("switchboard-")
        ports = _egress_ports(docs, labels)
        assert (443 in ports) == (name in ("gateway", "phone", "store", "store-assembler")), name
        database_users = {
            "worker",
            "store",
            "store-assembler",
            "store-retention",
            "migrate",
            "seed",
            "phone",
            "gateway",
        }
        assert (5432 in ports) == (name in database_users), name
        if name == "emulator":
            assert ports == {53}


def test_every_service_component_is_deployed(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Dev runs every component (with the emulator); prod every one but the emulator."""
    for overlay, expected in (
        ("overlays/dev", set(COMPONENTS) - {"cli"} | {"migrate", "seed", "retention", "assembler"}),
        (
            "overlays/prod",
            set(COMPONENTS) - {"cli", "emulator"} | {"migrate", "retention", "assembler"},
        ),
    ):
        names = {c["name"] for _, s in pod_specs(rendered[overlay]) for c in s["containers"]}
        assert names == expected, overlay


def test_base_renders_on_its_own(k8s_copy: Path) -> None:
    """The base builds without an overlay (the Secret is the overlays' to generate)."""
    from tests.deploy.manifests import render_overlay

    docs = render_overlay(k8s_copy, "base")
    assert not [d for d in docs if d["kind"] == "Secret"]
    assert ROOT.joinpath("k8s/base/kustomization.yaml").exists()
