"""deploy/k8s as a cluster would receive it: every overlay rendered by a real kustomize, every
object validated offline against the Kubernetes JSON schemas (kubernetes-validate, strict:
unknown fields fail) or, for KEDA's and the Prometheus Operator's objects, against the
schemas in their CustomResourceDefinitions. Then what operators rely on: probes on the
metrics port, non-root read-only containers with limits, state on volumes, one watcher,
autoscaling within the partitions, and SASL_SSL with the password only in a Secret.

kustomize and the CRDs are fetched once into the newsflow cache (deploy/tools.py,
`make k8s-tools`); with them cached the test needs no network.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from newsflow.cli.main import SERVICE_COMMANDS
from newsflow.core import topics
from newsflow.core.settings import KafkaSettings, SettingsError, load
from newsflow.dedup.settings import DedupWorkerSettings
from newsflow.entities.settings import EntitiesWorkerSettings
from newsflow.sink.settings import SinkSettings
from newsflow.stance.claims import parse_claims
from newsflow.stance.settings import StanceWorkerSettings
from newsflow.watcher.settings import WatcherSettings
from tests.support.local import IMAGE_UID, load_script

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy/k8s"
OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if path.is_dir())
# The oldest Kubernetes release the manifests are meant for, and the newest schemas at hand.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())

SETTINGS = {
    "watcher": WatcherSettings,
    "dedup": DedupWorkerSettings,
    "entities": EntitiesWorkerSettings,
    "stance": StanceWorkerSettings,
    "sink": SinkSettings,
}
FAUST_WORKERS = ("dedup", "entities", "stance")
# Where a worker reads from: its consumer group lags on this topic.
INPUT_TOPIC = {
    "dedup": topics.RAW,
    "entities": topics.DEDUPED,
    "stance": topics.TAGGED,
    "sink": topics.ENRICHED,
}


def _load_tools():
    return load_script(REPO / "deploy" / "tools.py", "deploy_tools")


tools = _load_tools()


@pytest.fixture(scope="session")
def k8s_tools() -> tuple[Path, Path]:
    try:
        return tools.fetch_k8s()
    except tools.ToolsError as error:
        pytest.fail(f"kustomize or the CRDs are missing: {error}", pytrace=False)


def kustomize_build(kustomize: Path, folder: Path) -> list[dict[str, Any]]:
    built = subprocess.run(
        [str(kustomize), "build", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, f"kustomize build {folder} failed:\n{built.stderr}"
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@pytest.fixture(scope="module")
def rendered(k8s_tools, tmp_path_factory) -> dict[str, list[dict[str, Any]]]:
    """Every overlay, and production with the optional ServiceMonitor component."""
    kustomize, _ = k8s_tools
    renders = {name: kustomize_build(kustomize, K8S / "overlays" / name) for name in OVERLAYS}
    with_monitor = tmp_path_factory.mktemp("production-servicemonitor")
    (with_monitor / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # As an operator's own overlay on top of production would say it.
                "namespace": "newsflow",
                # kustomize takes no absolute paths here.
                "resources": [os.path.relpath(K8S / "overlays/production", with_monitor)],
                "components": [os.path.relpath(K8S / "components/servicemonitor", with_monitor)],
            }
        )
    )
    renders["production+servicemonitor"] = kustomize_build(kustomize, with_monitor)
    return renders


def every_object(rendered) -> Iterator[tuple[str, dict[str, Any]]]:
    for render, objects in rendered.items():
        for obj in objects:
            yield render, obj


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def where(render: str, obj: dict[str, Any]) -> str:
    return f"{render}: {obj['kind']}/{obj['metadata']['name']}"


# --- schemas ---------------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """A CRD's OpenAPI v3 schema as a JSON Schema that refuses what the API server would drop.

    The API server prunes fields a structural schema does not know (kubectl warns at best),
    so a misspelt field silently does nothing; here it fails. OpenAPI's `nullable` and
    Kubernetes' int-or-string become their JSON Schema equivalents.
    """
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _strict(value) for key, value in schema.items()}
    if converted.pop("x-kubernetes-int-or-string", False):
        converted.pop("type", None)
        converted["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if converted.pop("nullable", False) and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    if (
        "properties" in converted
        and "additionalProperties" not in converted
        and not converted.get("x-kubernetes-preserve-unknown-fields")
    ):
        converted["additionalProperties"] = False
    return converted


@pytest.fixture(scope="module")
def crd_validators(k8s_tools) -> dict[tuple[str, str], jsonschema.Validator]:
    _, crds = k8s_tools
    validators = {}
    for path in sorted(crds.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        assert crd["kind"] == "CustomResourceDefinition", path
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served"):
                continue
            schema = _strict(version["schema"]["openAPIV3Schema"])
            jsonschema.Draft4Validator.check_schema(schema)
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft4Validator(schema)
    assert ("keda.sh/v1alpha1", "ScaledObject") in validators
    assert ("monitoring.coreos.com/v1", "ServiceMonitor") in validators
    return validators


def test_every_overlay_renders_the_five_services_and_the_topics_job(rendered):
    for render, objects in rendered.items():
        assert sorted(of_kind(objects, "Deployment")) == sorted(SERVICE_COMMANDS), render
        [job] = of_kind(objects, "Job").values()
        assert job["spec"]["template"]["spec"]["containers"][0]["args"][0] == "topics"


def test_every_builtin_object_is_valid_against_the_kubernetes_schemas(rendered, crd_validators):
    checked = 0
    for render, obj in every_object(rendered):
        if (obj["apiVersion"], obj["kind"]) in crd_validators:
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path)
                pytest.fail(f"{where(render, obj)} (Kubernetes {version}): {path}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                pytest.fail(f"{where(render, obj)}: {error.message}")
            checked += 1
    assert checked > 0


def test_every_custom_resource_is_valid_against_its_crd(rendered, crd_validators):
    kinds = set()
    for render, obj in every_object(rendered):
        validator = crd_validators.get((obj["apiVersion"], obj["kind"]))
        if validator is None:
            continue
        problems = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
        assert not problems, f"{where(render, obj)}: " + "; ".join(
            f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems
        )
        kinds.add(obj["kind"])
    assert kinds == {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}


def test_the_crd_check_refuses_a_misspelt_field(rendered, crd_validators):
    scaled = copy.deepcopy(of_kind(rendered["production"], "ScaledObject")["dedup"])
    validator = crd_validators[("keda.sh/v1alpha1", "ScaledObject")]
    assert not list(validator.iter_errors(scaled))
    scaled["spec"]["maxReplicas"] = scaled["spec"].pop("maxReplicaCount")
    assert list(validator.iter_errors(scaled))


# --- what operators rely on -----------------------------------------------------------------


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def literal_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def config_maps_by_prefix(objects) -> dict[str, dict[str, str]]:
    # Generated ConfigMaps carry a hash suffix; pods refer to the suffixed name.
    return {name: cm.get("data", {}) for name, cm in of_kind(objects, "ConfigMap").items()}


def effective_env(objects, container: dict[str, Any]) -> dict[str, str]:
    """The environment the container starts with; values from Secrets as placeholders."""
    maps = config_maps_by_prefix(objects)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]])
        elif "secretRef" in source and source["secretRef"]["name"] == "newsflow-kafka-credentials":
            env.update(NEWSFLOW_KAFKA_SASL_USERNAME="user", NEWSFLOW_KAFKA_SASL_PASSWORD="password")
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif entry["name"] == "NEWSFLOW_SINK_STORE_URL":
            env[entry["name"]] = "postgresql://newsflow:password@postgres:5432/newsflow"
        else:
            pytest.fail(f"no placeholder for {entry['name']} from {entry['valueFrom']}")
    return env


def test_every_setting_the_manifests_give_is_one_the_service_reads(rendered, monkeypatch):
    """A misspelt variable would be ignored by the service; a bad value would stop it."""
    kafka_names = {f"NEWSFLOW_KAFKA_{name.upper()}" for name in KafkaSettings.model_fields}
    for render, objects in rendered.items():
        for name, deployment in of_kind(objects, "Deployment").items():
            settings_class = SETTINGS[name]
            prefix = settings_class.model_config["env_prefix"]
            known = kafka_names | {prefix + field.upper() for field in settings_class.model_fields}
            env = effective_env(objects, container_of(deployment))
            unknown = sorted(v for v in env if v.startswith("NEWSFLOW_") and v not in known)
            assert not unknown, f"{render}: {name} is given settings it does not have: {unknown}"
            for variable in [v for v in os.environ if v.startswith("NEWSFLOW_")]:
                monkeypatch.delenv(variable)
            for variable, value in env.items():
                monkeypatch.setenv(variable, value)
            try:
                settings = load(settings_class, _env_file=None)
            except SettingsError as error:
                pytest.fail(f"{render}: {name} would stop at start: {error}")
            assert settings.metrics_host == "0.0.0.0", "probes come from outside the pod"


def test_every_deployment_has_both_probes_on_its_metrics_port(rendered):
    for render, objects in rendered.items():
        for name, deployment in of_kind(objects, "Deployment").items():
            container = container_of(deployment)
            env = literal_env(container)
            port = int(env[f"NEWSFLOW_{name.upper()}_METRICS_PORT"])
            [declared] = container["ports"]
            assert (declared["name"], declared["containerPort"]) == ("metrics", port)
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                get = container[probe]["httpGet"]
                assert (get["path"], get["port"]) == (path, "metrics"), f"{render}: {name}"
            annotations = deployment["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true"
            assert annotations["prometheus.io/port"] == str(port)


def pods(objects) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ("Deployment", "Job"):
        for name, obj in of_kind(objects, kind).items():
            yield f"{kind}/{name}", obj["spec"]["template"]["spec"]


def test_every_container_runs_as_the_image_user_read_only_with_limits(rendered):
    images = set()
    for render, objects in rendered.items():
        for name, pod in pods(objects):
            security = pod["securityContext"]
            assert security["runAsNonRoot"] is True, f"{render}: {name}"
            assert security["runAsUser"] == IMAGE_UID, f"{render}: {name}"
            assert security["seccompProfile"]["type"] == "RuntimeDefault"
            assert pod["automountServiceAccountToken"] is False
            for container in pod["containers"]:
                locked = container["securityContext"]
                assert locked["readOnlyRootFilesystem"] is True, f"{render}: {name}"
                assert locked["allowPrivilegeEscalation"] is False
                assert locked["capabilities"]["drop"] == ["ALL"]
                for bound in ("requests", "limits"):
                    assert set(container["resources"][bound]) == {"cpu", "memory"}, name
                images.add(container["image"])
    assert all(re.search(r":[\w.-]+$", image) and not image.endswith(":latest") for image in images)


def test_everything_a_service_writes_is_on_a_volume(rendered):
    """With a read-only root file system, a folder that is not mounted cannot be written."""
    for render, objects in rendered.items():
        for name, deployment in of_kind(objects, "Deployment").items():
            pod = deployment["spec"]["template"]["spec"]
            container = container_of(deployment)
            volumes = {volume["name"]: volume for volume in pod["volumes"]}
            writable = {
                mount["mountPath"]: volumes[mount["name"]]
                for mount in container["volumeMounts"]
                if not mount.get("readOnly")
            }
            env = literal_env(container)
            written = [value for var, value in env.items() if var.endswith(("_DIR", "_INBOX"))]
            written = [w for w in written if not w.startswith("/opt/newsflow/models")]
            store = env.get("NEWSFLOW_SINK_STORE_URL", "")
            if store.startswith("sqlite:///"):
                written.append(str(Path(store.removeprefix("sqlite:///")).parent))
            for folder in [*written, "/tmp"]:
                mounted = [m for m in writable if folder == m or folder.startswith(m + "/")]
                assert mounted, f"{render}: {name} writes {folder}, which is on no volume"
            if name == "watcher":
                inbox = writable[env["NEWSFLOW_WATCHER_INBOX"]]
                state = writable["/var/lib/newsflow/watcher"]
                assert "persistentVolumeClaim" in inbox and "persistentVolumeClaim" in state
            if store.startswith("sqlite:///"):
                assert "persistentVolumeClaim" in writable["/var/lib/newsflow/data"]


def test_the_claims_configmap_is_a_claims_file_the_stance_worker_reads(rendered):
    example = parse_claims((REPO / "deploy/stance/claims.yaml").read_text())
    for render, objects in rendered.items():
        stance = of_kind(objects, "Deployment")["stance"]["spec"]["template"]["spec"]
        [claims_volume] = [v for v in stance["volumes"] if v["name"] == "claims"]
        data = config_maps_by_prefix(objects)[claims_volume["configMap"]["name"]]
        assert parse_claims(data["claims.yaml"]) == example, render


def test_the_watcher_is_one_instance_and_never_autoscaled(rendered):
    for render, objects in rendered.items():
        watcher = of_kind(objects, "Deployment")["watcher"]
        assert watcher["spec"]["replicas"] == 1
        assert watcher["spec"]["strategy"]["type"] == "Recreate", "never two at once"
        targets = {
            s["spec"]["scaleTargetRef"]["name"] for s in of_kind(objects, "ScaledObject").values()
        }
        assert "watcher" not in targets
        assert not of_kind(objects, "HorizontalPodAutoscaler"), render


def test_every_deployment_has_a_disruption_budget_that_lets_a_drain_proceed(rendered):
    for render, objects in rendered.items():
        budgets = of_kind(objects, "PodDisruptionBudget").values()
        for name, deployment in of_kind(objects, "Deployment").items():
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            covering = [
                b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
            ]
            assert len(covering) == 1, f"{render}: {name} has {len(covering)} budgets"
            assert covering[0]["spec"].get("maxUnavailable", 0) >= 1, "a drain must proceed"


def kafka_scaler_parameters(crds: Path) -> set[str]:
    source = (crds / "keda-kafka-scaler.go").read_text()
    return set(re.findall(r'"([A-Za-z]+)"', source))


def test_autoscaling_follows_consumer_lag_up_to_the_topics_partitions(rendered, k8s_tools):
    known_parameters = kafka_scaler_parameters(k8s_tools[1])
    production = rendered["production"]
    deployments = of_kind(production, "Deployment")
    scaled = of_kind(production, "ScaledObject")
    assert sorted(scaled) == sorted([*FAUST_WORKERS, "sink"])
    for name, scaled_object in scaled.items():
        spec = scaled_object["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert "replicas" not in deployments[name]["spec"], f"{name}: KEDA owns the count"
        [trigger] = spec["triggers"]
        assert trigger["type"] == "kafka"
        metadata = trigger["metadata"]
        unknown = set(metadata) - known_parameters
        assert not unknown, f"{name}: the Kafka scaler reads no {sorted(unknown)}"
        topic = topics.by_name(metadata["topic"])
        assert topic == INPUT_TOPIC[name]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= topic.partitions
        group = SETTINGS[name].model_fields["group_id"].default or f"newsflow-{name}"
        assert metadata["consumerGroup"] == group
        env = effective_env(production, container_of(deployments[name]))
        assert metadata["bootstrapServersFromEnv"] in env
    # Without a shared store the sink stays one instance (SQLite has one writer).
    assert "sink" not in of_kind(rendered["dev"], "ScaledObject")
    assert of_kind(rendered["dev"], "Deployment")["sink"]["spec"]["replicas"] == 1


def test_production_logs_in_with_sasl_ssl_and_the_password_comes_from_a_secret(rendered):
    for render in ("production", "production+servicemonitor"):
        objects = rendered[render]
        assert not of_kind(objects, "Secret"), "secrets are made by operators, not committed"
        for name, pod in pods(objects):
            [container] = pod["containers"]
            env = effective_env(objects, container)
            assert env["NEWSFLOW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
            assert env["NEWSFLOW_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
            secret_sources = [
                s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s
            ]
            assert secret_sources == ["newsflow-kafka-credentials"], name
            assert not any("PASSWORD" in var for var in literal_env(container)), name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            ca_folder = str(Path(env["NEWSFLOW_KAFKA_SSL_CAFILE"]).parent)
            ca_volume = {v["name"]: v for v in pod["volumes"]}[mounts[ca_folder]]
            assert ca_volume["secret"]["secretName"] == "newsflow-kafka-ca"
        authentications = of_kind(objects, "TriggerAuthentication")
        for name, scaled_object in of_kind(objects, "ScaledObject").items():
            [trigger] = scaled_object["spec"]["triggers"]
            assert trigger["metadata"]["sasl"] == "scram_sha512", name
            assert trigger["metadata"]["tls"] == "enable", name
            login = authentications[trigger["authenticationRef"]["name"]]["spec"]
            parameters = {ref["parameter"]: ref for ref in login["secretTargetRef"]}
            assert parameters["password"]["name"] == "newsflow-kafka-credentials"
            assert parameters["password"]["key"] == "NEWSFLOW_KAFKA_SASL_PASSWORD"
            assert set(parameters) == {"username", "password", "ca"}
    # Development stays PLAINTEXT and needs no Secret at all.
    for _, pod in pods(rendered["dev"]):
        assert not any("secretRef" in s for s in pod["containers"][0]["envFrom"])


def test_the_servicemonitor_scrapes_every_service(rendered):
    objects = rendered["production+servicemonitor"]
    [monitor] = of_kind(objects, "ServiceMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = [
        s
        for s in of_kind(objects, "Service").values()
        if selector.items() <= s["metadata"]["labels"].items()
    ]
    assert sorted(s["metadata"]["name"] for s in services) == sorted(SERVICE_COMMANDS)
    [endpoint] = monitor["spec"]["endpoints"]
    for service in services:
        assert [p["name"] for p in service["spec"]["ports"]] == [endpoint["port"]]


def test_every_namespaced_object_lands_in_the_overlays_namespace(rendered):
    for render, objects in rendered.items():
        [namespace] = of_kind(objects, "Namespace").values()
        labels = namespace["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        for obj in objects:
            if obj["kind"] != "Namespace":
                assert obj["metadata"]["namespace"] == namespace["metadata"]["name"], where(
                    render, obj
                )
