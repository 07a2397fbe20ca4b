"""The deployment files agree with the Dockerfile and the code: one port, one user, one config path,
probes on the endpoints that exist, a config that loads, secrets only in the Secret."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from watcher import settings as settings_mod

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def dockerfile() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    return {
        "user": re.search(r"^USER (\S+)", text, re.M).group(1),
        "expose": re.search(r"^EXPOSE (\d+)", text, re.M).group(1),
        "config": re.search(r"WATCHER_CONFIG=(\S+)", text).group(1),
        "port": re.search(r"WATCHER_HTTP_PORT=(\d+)", text).group(1),
        "healthcheck": re.search(r"^HEALTHCHECK .*\n.*", text, re.M).group(0),
        "entrypoint": re.search(r"^ENTRYPOINT (.+)", text, re.M).group(1),
        "text": text,
    }


def kubernetes() -> dict[str, dict]:
    docs = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            docs[doc["kind"]] = doc
    return docs


def test_the_image_is_non_root_serves_8080_and_checks_its_health():
    d = dockerfile()
    assert d["user"].split(":")[0] not in ("0", "root")
    assert d["expose"] == d["port"] == "8080"
    assert "/healthz" in d["healthcheck"] and "curl" not in d["healthcheck"]
    assert d["entrypoint"] == '["watcher"]' and 'CMD ["run"]' in d["text"]
    assert "ARG BASE_IMAGE=python:3.12-slim" in d["text"] and "FROM ${BASE_IMAGE}" in d["text"]


def test_the_kubernetes_manifests_agree_with_the_image(tmp_path):
    d, k = dockerfile(), kubernetes()
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "Kustomization"} <= set(k)
    deploy = k["Deployment"]["spec"]
    assert deploy["replicas"] == 2
    pod = deploy["template"]["spec"]
    assert str(pod["securityContext"]["runAsUser"]) == d["user"].split(":")[0]
    assert pod["terminationGracePeriodSeconds"] > 10  # SIGTERM finishes within 10 s
    [container] = pod["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [int(d["port"])]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["WATCHER_CONFIG"] == d["config"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")["mountPath"]
    assert d["config"].startswith(mount + "/")
    assert k["PodDisruptionBudget"]["spec"]["selector"] == deploy["selector"]
    assert k["Service"]["spec"]["selector"] == deploy["selector"]["matchLabels"]

    # The ConfigMap's file loads, with the Secret's keys as the environment.
    secret = k["Secret"]["stringData"]
    path = tmp_path / "watcher.yaml"
    path.write_text(k["ConfigMap"]["data"]["watcher.yaml"], encoding="utf-8")
    loaded = settings_mod.load(path, env=dict(secret))
    assert loaded.database.startswith("postgresql+psycopg://")
    assert "CHANGE-ME" not in k["ConfigMap"]["data"]["watcher.yaml"]  # secrets only in the Secret


def test_compose_runs_the_image_on_postgresql_with_a_mail_catcher():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert {"watcher", "postgres", "mail"} <= set(compose)
    watcher = compose["watcher"]
    assert watcher["build"]["dockerfile"] == "Dockerfile"
    assert watcher["environment"]["WATCHER_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert any(p.endswith(f":{dockerfile()['port']}") for p in watcher["ports"])
    assert all(p.startswith("127.0.0.1:") for s in compose.values() for p in s.get("ports", []))


def test_the_systemd_unit_runs_the_service_and_allows_it_to_stop():
    unit = (DEPLOY / "watcher.service").read_text(encoding="utf-8")
    assert re.search(r"^ExecStart=\S*watcher run$", unit, re.M)
    assert int(re.search(r"^TimeoutStopSec=(\d+)", unit, re.M).group(1)) > 10
    assert re.search(r"^User=watcher$", unit, re.M)
    assert not re.search(r"^[A-Za-z]+=[^\n]*[ \t]#", unit, re.M)  # systemd has no end-of-line comments
