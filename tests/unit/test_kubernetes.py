"""deploy/kubernetes: every manifest is valid against the Kubernetes JSON schemas (offline, from the
``kubernetes-validate`` package) and follows our operating rules: probes, non-root, read-only root
filesystem, workers no wider than their topics, configuration only through known QG_* settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contracts import topics
from services.common.settings import Settings

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="test extra kubernetes-validate missing")

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
K8S_VERSIONS = ("1.29.0", "1.33.0")   # oldest and a recent release we support
WORKER_TOPICS = {"ingest": [topics.ENFORCEMENT], "roster": [topics.CHAT, topics.ROSTER],
                 "rules": [topics.CHAT, topics.ROSTER, topics.POLICY, topics.CLOCK],
                 "penalties": [topics.VIOLATIONS, topics.ROSTER, topics.POLICY]}


def _documents() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(ROOT.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return out


DOCS = _documents()


def _pods(kind: str | None = None) -> list[tuple[str, dict, dict]]:
    return [(d["metadata"]["name"], d, d["spec"]["template"]["spec"]) for _, d in DOCS
            if d["kind"] in ("Deployment", "Job") and (kind is None or d["kind"] == kind)]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name,doc", DOCS, ids=[f"{n}:{d['kind']}:{d['metadata']['name']}" for n, d in DOCS])
def test_every_manifest_is_valid_against_the_kubernetes_schema(name, doc, version):
    kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_every_manifest_file():
    listed = set(yaml.safe_load((ROOT / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in ROOT.glob("*.yaml")} - {"kustomization.yaml"}


def test_each_service_has_an_api_with_probes_a_service_and_a_worker():
    names = {d["metadata"]["name"]: d for _, d in DOCS}
    for svc in ("ingest", "roster", "rules", "penalties"):
        api = names[f"qunguard-{svc}-api"]["spec"]["template"]["spec"]["containers"][0]
        assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert api["args"] == ["serve", svc]
        assert names[f"qunguard-{svc}"]["kind"] == "Service"
        assert names[f"qunguard-{svc}-worker"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["work", svc]
    assert names["qunguard-clock"]["spec"]["replicas"] == 1
    assert names["qunguard-topics"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["topics", "create"]


def test_workers_never_outnumber_the_partitions_of_their_widest_topic():
    for name, doc, _ in _pods("Deployment"):
        if name.endswith("-worker"):
            svc = name.removeprefix("qunguard-").removesuffix("-worker")
            assert doc["spec"]["replicas"] <= max(t.partitions for t in WORKER_TOPICS[svc])


def test_every_container_runs_as_non_root_with_a_read_only_root_filesystem_and_limits():
    for name, _, pod in _pods():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"], name


def test_configuration_uses_only_known_settings():
    known = {f"QG_{field.upper()}" for field in Settings.model_fields}
    config = next(d for _, d in DOCS if d["kind"] == "ConfigMap")["data"]
    secret = next(d for _, d in DOCS if d["kind"] == "Secret")["stringData"]
    assert set(config) <= known
    assert set(secret) - {"tokens"} <= known


def test_example_secret_holds_token_hashes_not_tokens():
    secret = next(d for _, d in DOCS if d["kind"] == "Secret")["stringData"]
    for line in secret["tokens"].strip().splitlines():
        digest, roles, name = line.split(":")
        assert len(digest) == 64 and all(ch in "0123456789abcdef" for ch in digest) and roles and name
