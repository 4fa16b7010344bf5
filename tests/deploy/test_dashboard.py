"""The Grafana dashboard queries metrics the services really export, and ships as a ConfigMap
the dashboard sidecar picks up."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.deploy.manifests import K8S, ROOT, find

DASHBOARD = K8S / "base" / "dashboards" / "switchboard.json"
_SUFFIXES = ("", "_bucket", "_sum", "_count", "_total", "_created")


def exported_metric_names() -> set[str]:
    """Names passed to prometheus_client metric constructors (and to the metric families of
    custom collectors) in the services and shared code."""
    pattern = re.compile(
        r"(?:Counter|Gauge|Histogram|Summary)(?:MetricFamily)?\(\s*\"(switchboard_[a-z0-9_]+)\""
    )
    names: set[str] = set()
    for path in [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("shared/src/**/*.py")]:
        names.update(pattern.findall(path.read_text()))
    return names


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


def test_dashboard_uses_exported_metric_names() -> None:
    """Every switchboard_* series in a panel query is a metric a service exports (histograms and
    counters by their _bucket / _total series)."""
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_metric_names()
    assert len(exported) >= 10
    used = {m for e in _expressions(dashboard) for m in re.findall(r"switchboard_[a-z0-9_]+", e)}
    assert used
    unknown = {
        m
        for m in used
        if not any(m.removesuffix(s) in exported for s in _SUFFIXES if m.endswith(s))
    }
    assert unknown == set()


def test_dashboard_panels_are_well_formed() -> None:
    """Panels have unique ids, a title and a Prometheus query; the layout stays in 24 columns."""
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])


def test_dashboard_ships_as_a_sidecar_configmap(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Both overlays render the dashboard ConfigMap with the grafana_dashboard label."""
    for docs in rendered.values():
        config = find(docs, "ConfigMap", "switchboard-grafana-dashboard")
        assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(config["data"]["switchboard.json"]) == json.loads(DASHBOARD.read_text())
