"""deploy/kubernetes, the Kustomize base: every manifest valid against the Kubernetes API
schemas (kubernetes-validate, offline, strict: no unknown field), and what the stack needs of
it — one scheduler, probes on /health and /ready, shared ReadWriteMany storage, secrets kept
out of the base, the images at the stack's version, only declared settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from toucan.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy/kubernetes"
# The oldest Kubernetes minor still maintained upstream when this base was written, and the newest known.
VERSIONS = ["1.32.0", "1.37.0"]


def _kustomization() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return document


def _documents() -> list[dict[str, Any]]:
    return [
        document
        for name in _kustomization()["resources"]
        for document in yaml.safe_load_all((BASE / name).read_text())
        if document
    ]


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _documents() if d["kind"] == kind}


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(_kustomization()["resources"])
    present = {path.name for path in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_for_the_kubernetes_api(version: str) -> None:
    for document in _documents():
        kubernetes_validate.validate(document, version, strict=True)  # raises, naming the field


def test_a_broken_manifest_is_caught() -> None:
    """The validation above can fail: a misspelt field and a wrong type are refused."""
    backend = _by_kind("Deployment")["backend"]
    misspelt = {**backend, "spec": {**backend["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, VERSIONS[-1], strict=True)
    wrong = {**backend, "spec": {**backend["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, VERSIONS[-1], strict=True)


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_the_stack_s_processes_are_there_with_what_they_need() -> None:
    deployments = _by_kind("Deployment")
    assert set(deployments) == {"backend", "worker", "scheduler", "frontend"}
    commands = {name: _pod(d)["containers"][0].get("args") for name, d in deployments.items()}
    assert commands["backend"] == ["toucan-ctl", "serve", "--production"]
    assert commands["worker"][:2] == ["toucan-ctl", "worker"]
    assert commands["scheduler"] == ["toucan-ctl", "scheduler"]
    assert deployments["backend"]["spec"]["replicas"] >= 2
    # Exactly one scheduler, even while it is being replaced.
    scheduler = deployments["scheduler"]["spec"]
    assert scheduler["replicas"] == 1 and scheduler["strategy"]["type"] == "Recreate"

    backend = _pod(deployments["backend"])["containers"][0]
    assert backend["livenessProbe"]["httpGet"]["path"] == "/health"
    assert backend["readinessProbe"]["httpGet"]["path"] == "/ready"

    claim = _by_kind("PersistentVolumeClaim")["toucan-storage"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for name in ("backend", "worker", "scheduler"):
        pod = _pod(deployments[name])
        assert {"name": "storage", "persistentVolumeClaim": {"claimName": "toucan-storage"}} in pod["volumes"]
        container = pod["containers"][0]
        assert {"name": "storage", "mountPath": "/storage"} in container["volumeMounts"]
        assert {"secretRef": {"name": "toucan-secrets"}} in container["envFrom"], name
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert isinstance(pod["securityContext"]["runAsUser"], int), "a named user cannot be checked as non-root"
    assert _by_kind("ConfigMap")["toucan-config"]["data"]["TOUCAN_DATA_DIR"] == "/storage"


def test_secrets_are_not_in_the_base() -> None:
    assert _by_kind("Secret") == {}
    assert "secretGenerator" not in _kustomization()
    config = _by_kind("ConfigMap")["toucan-config"]["data"]
    for name in ("TOUCAN_SECRET_KEY", "TOUCAN_DATABASE_URL", "TOUCAN_REDIS_URL", "TOUCAN_SUPER_ADMIN_PASSWORD"):
        assert name not in config


def test_only_declared_settings_are_set() -> None:
    declared = {f"TOUCAN_{name.upper()}" for name in Settings.model_fields}
    config = _by_kind("ConfigMap")["toucan-config"]["data"]
    env = [
        item["name"]
        for deployment in _by_kind("Deployment").values()
        for container in _pod(deployment)["containers"]
        for item in container.get("env", [])
    ]
    unknown = sorted({name for name in [*config, *env] if name.startswith("TOUCAN_")} - declared)
    assert unknown == []


def test_services_and_the_ingress_reach_the_pods() -> None:
    deployments = _by_kind("Deployment")
    services = _by_kind("Service")
    for name, service in services.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        ports = {p["name"] for c in _pod(deployments[name])["containers"] for p in c.get("ports", [])}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports, name
    rules = _by_kind("Ingress")["toucan"]["spec"]["rules"]
    targets = {path["backend"]["service"]["name"] for rule in rules for path in rule["http"]["paths"]}
    assert targets == {"frontend", "backend"}


def test_the_images_are_the_stack_s_version() -> None:
    version = (ROOT / "VERSION").read_text().strip()
    assert {image["name"]: image["newTag"] for image in _kustomization()["images"]} == {
        "toucan-backend": version,
        "toucan-frontend": version,
    }
