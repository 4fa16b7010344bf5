"""Rendered deployment files, shared by the deploy tests (rendered once per run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.manifests import ROOT, copy_k8s_with_example_secrets, render_overlay

OVERLAYS = ("overlays/dev", "overlays/prod")


@pytest.fixture(scope="session")
def k8s_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_k8s_with_example_secrets(tmp_path_factory.mktemp("deploy"))


@pytest.fixture(scope="session")
def rendered(k8s_copy: Path) -> dict[str, list[dict[str, Any]]]:
    """Each overlay rendered by kustomize, with its secrets.env.example as secrets.env."""
    return {overlay: render_overlay(k8s_copy, overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def compose_file() -> Path:
    return ROOT / "docker-compose.yml"
