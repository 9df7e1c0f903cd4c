"""Checks that the container setup hangs together, without Docker or a broker.

docker-compose.yml, .env, the Dockerfile, the Prometheus configs and the Grafana
provisioning must agree with each other and with the `newsflow` command line;
each test names what a user would hit if they did not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from newsflow.cli.main import SERVICE_COMMANDS

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_FILE = REPO_ROOT / ".env"
DOCKERFILE = REPO_ROOT / "Dockerfile"
PROMETHEUS_CONFIG = REPO_ROOT / "deploy/prometheus/prometheus.yml"
PROMETHEUS_LOCAL_CONFIG = REPO_ROOT / "deploy/prometheus/prometheus.local.yml"
GRAFANA_DATASOURCES = REPO_ROOT / "deploy/grafana/provisioning/datasources"
GRAFANA_DASHBOARD_PROVIDERS = REPO_ROOT / "deploy/grafana/provisioning/dashboards"
GRAFANA_DASHBOARDS = REPO_ROOT / "deploy/grafana/dashboards"

NEWSFLOW_IMAGE = "${NEWSFLOW_IMAGE}"
KAFKA_SERVICE = "kafka"
PROMETHEUS_SERVICE = "prometheus"
GRAFANA_SERVICE = "grafana"
PROMETHEUS_JOB = "newsflow"
# `newsflow` sub-commands that run once and exit, rather than serve.
ONE_SHOT_COMMANDS = frozenset({"topics"})
# Bind-mounted host folders that are not in git: users (or `make`) create them.
RUNTIME_CREATED_FOLDERS = frozenset({"inbox"})
RESTART_POLICIES = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
DEPENDENCY_CONDITIONS = {
    "service_started",
    "service_healthy",
    "service_completed_successfully",
}


# --- loading -------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@cache
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


@cache
def dotenv() -> dict[str, str]:
    values = {}
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str) -> str:
    """Substitute ${VAR} from .env, as docker compose does."""
    return re.sub(r"\$\{(\w+)\}", lambda match: dotenv().get(match[1], match[0]), text)


def all_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from all_strings(key)
            yield from all_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_strings(item)


# --- reading a compose service ---------------------------------------------------


def command_of(service: dict[str, Any]) -> str | None:
    command = service.get("command")
    if isinstance(command, str):
        command = command.split()
    return command[0] if command else None


def newsflow_services() -> dict[str, dict[str, Any]]:
    """Compose services started from the newsflow image."""
    return {name: svc for name, svc in services().items() if svc.get("image") == NEWSFLOW_IMAGE}


def pipeline_services() -> dict[str, dict[str, Any]]:
    """Newsflow services that keep running and serve metrics (not one-shots)."""
    return {
        name: svc
        for name, svc in newsflow_services().items()
        if command_of(svc) not in ONE_SHOT_COMMANDS
    }


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {name: str(value) for name, value in env.items()}


def metrics_port_variable(service: dict[str, Any]) -> str:
    return f"NEWSFLOW_{command_of(service).upper()}_METRICS_PORT"


def metrics_port(service: dict[str, Any]) -> int | None:
    value = environment(service).get(metrics_port_variable(service))
    return int(value) if value else None


def healthcheck_command(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test", [])
    return " ".join(test) if isinstance(test, list) else str(test)


def memory_limit(service: dict[str, Any]) -> str | None:
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    return limits.get("memory") or service.get("mem_limit")


def published_ports(service: dict[str, Any]) -> list[tuple[str, int]]:
    """(host port as written, container port) for every short-syntax port."""
    published = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        published.append((parts[-2] if len(parts) > 1 else "", int(parts[-1].split("/")[0])))
    return published


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of every bind mount."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
        else:
            source, target = interpolate(volume).split(":")[:2]
            if source.startswith((".", "/")):
                mounts.append((source, target))
    return mounts


def named_volumes(service: dict[str, Any]) -> list[str]:
    names = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "volume":
                names.append(volume["source"])
        else:
            source = interpolate(volume).split(":")[0]
            if not source.startswith((".", "/")):
                names.append(source)
    return names


def dependencies(service: dict[str, Any]) -> dict[str, Any]:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):  # short form: no conditions
        return {name: {} for name in depends_on}
    return depends_on


# --- reading Prometheus, Grafana and the Dockerfile ------------------------------


def prometheus_targets(path: Path) -> dict[str, list[str]]:
    """The `newsflow` job's targets by their `service` label."""
    targets: dict[str, list[str]] = {}
    for job in load_yaml(path)["scrape_configs"]:
        if job["job_name"] != PROMETHEUS_JOB:
            continue
        for group in job.get("static_configs", []):
            service = group.get("labels", {}).get("service")
            targets.setdefault(service, []).extend(group["targets"])
    return targets


def provisioned_datasources() -> list[dict[str, Any]]:
    return [
        datasource
        for path in sorted(GRAFANA_DATASOURCES.glob("*.y*ml"))
        for datasource in load_yaml(path).get("datasources", [])
    ]


def dashboard_providers() -> list[dict[str, Any]]:
    return [
        provider
        for path in sorted(GRAFANA_DASHBOARD_PROVIDERS.glob("*.y*ml"))
        for provider in load_yaml(path).get("providers", [])
    ]


def dashboard_files() -> list[Path]:
    return sorted(GRAFANA_DASHBOARDS.glob("*.json"))


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))  # panels inside collapsed rows


def datasource_references(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            else:
                yield from datasource_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_references(item)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), with continuation lines joined."""
    instructions, pending = [], ""
    for raw_line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def final_stage_instructions() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def dockerfile_base_images() -> list[str]:
    """Images the FROM lines pull, with global ARG defaults substituted."""
    build_args, stages, images = {}, set(), []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ARG" and not stages and "=" in arguments:
            name, _, value = arguments.partition("=")
            build_args[name] = value.strip("\"'")
        elif keyword == "FROM":
            words = [word for word in arguments.split() if not word.startswith("--")]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: build_args.get(m[1], m[0]), words[0])
            if image not in stages:
                images.append(image)
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.add(words[2])
    return images


def exec_form(arguments: str) -> list[str] | None:
    """The JSON list of an exec-form instruction; None for the shell form."""
    try:
        return json.loads(arguments)
    except ValueError:
        return None


def has_exact_version_tag(image: str) -> bool:
    """`python:3.11.9-slim` yes; `python:3.11-slim`, `python`, `x:latest` no."""
    name = image.split("@")[0]
    tag = name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else ""
    return bool(re.match(r"^v?\d+\.\d+\.\d+", tag))


# --- compose: every service ------------------------------------------------------


def test_compose_file_parses_and_defines_services():
    assert isinstance(compose(), dict), "docker-compose.yml is not a YAML mapping"
    assert services(), "docker-compose.yml defines no services"


def test_every_service_has_an_image_or_a_build():
    missing = [
        name for name, svc in services().items() if not (svc.get("image") or svc.get("build"))
    ]
    assert not missing, f"services with neither image nor build: {missing}"


def test_every_build_context_has_a_dockerfile():
    missing = []
    for name, svc in services().items():
        build = svc.get("build")
        if build is None:
            continue
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        if not (REPO_ROOT / context / dockerfile).is_file():
            missing.append(f"{name}: {context}/{dockerfile}")
    assert not missing, f"build contexts without their Dockerfile: {missing}"


def test_every_pulled_image_has_an_exact_version_tag():
    loose = [
        f"{name}: {interpolate(svc['image'])}"
        for name, svc in services().items()
        if "build" not in svc
        and svc.get("pull_policy") != "never"
        and not has_exact_version_tag(interpolate(svc["image"]))
    ]
    assert not loose, f"images without an exact version tag (set them in .env): {loose}"


def test_the_newsflow_image_is_built_once_and_never_pulled():
    """Built by one service (six builders of one image would each run the whole build)."""
    runs_it = {name: svc for name, svc in services().items() if svc.get("image") == NEWSFLOW_IMAGE}
    builders = [name for name, svc in runs_it.items() if "build" in svc]
    assert len(builders) == 1, f"services building {NEWSFLOW_IMAGE}: {builders}"
    assert runs_it[builders[0]].get("pull_policy") == "build"
    pulled = [
        n for n, svc in runs_it.items() if n not in builders and svc.get("pull_policy") != "never"
    ]
    assert not pulled, f"services that may pull the newsflow image from a registry: {pulled}"


def test_every_service_has_a_restart_policy():
    wrong = {
        name: svc.get("restart")
        for name, svc in services().items()
        if not RESTART_POLICIES.match(str(svc.get("restart", "")))
    }
    assert not wrong, f"services without a valid restart policy: {wrong}"


def test_one_shot_services_are_not_restarted():
    # `unless-stopped` would start the topic creator again every time it exits 0.
    wrong = {
        name: svc.get("restart")
        for name, svc in newsflow_services().items()
        if command_of(svc) in ONE_SHOT_COMMANDS and svc.get("restart") != "no"
    }
    assert not wrong, f'one-shot services must have restart: "no": {wrong}'


def test_every_long_running_service_has_a_healthcheck():
    missing = [
        name
        for name, svc in services().items()
        if command_of(svc) not in ONE_SHOT_COMMANDS
        and (not svc.get("healthcheck", {}).get("test") or svc["healthcheck"].get("disable"))
    ]
    assert not missing, f"services without a healthcheck: {missing}"


def test_every_service_has_a_memory_limit():
    missing = [name for name, svc in services().items() if not memory_limit(svc)]
    assert not missing, f"services without a memory limit: {missing}"


def test_every_dependency_is_a_defined_service_with_a_condition():
    problems = []
    for name, svc in services().items():
        for dependency, settings in dependencies(svc).items():
            if dependency not in services():
                problems.append(f"{name} depends on undefined service {dependency!r}")
            elif settings.get("condition") not in DEPENDENCY_CONDITIONS:
                problems.append(f"{name} -> {dependency}: condition {settings.get('condition')!r}")
    assert not problems, "; ".join(problems)


def test_dependencies_can_meet_their_condition():
    # Waiting for `healthy` on a service without a healthcheck, or for
    # `completed_successfully` on one that never exits, blocks `docker compose up`.
    problems = []
    for name, svc in services().items():
        for dependency, settings in dependencies(svc).items():
            target = services().get(dependency, {})
            condition = settings.get("condition")
            if condition == "service_healthy" and not target.get("healthcheck", {}).get("test"):
                problems.append(
                    f"{name} waits for {dependency} to be healthy, which has no healthcheck"
                )
            if condition == "service_completed_successfully" and target.get("restart") != "no":
                problems.append(f"{name} waits for {dependency} to complete, which is restarted")
    assert not problems, "; ".join(problems)


def test_every_host_path_mounted_exists():
    missing = []
    for name, svc in services().items():
        for source, _ in bind_mounts(svc):
            relative = Path(source).as_posix().removeprefix("./")
            if relative not in RUNTIME_CREATED_FOLDERS and not (REPO_ROOT / source).exists():
                missing.append(f"{name}: {source}")
    assert not missing, f"bind-mounted paths missing from the repository: {missing}"


def test_every_named_volume_is_declared():
    declared = set(compose().get("volumes") or {})
    undeclared = [
        f"{name}: {volume}"
        for name, svc in services().items()
        for volume in named_volumes(svc)
        if volume not in declared
    ]
    assert not undeclared, f"named volumes missing from the top-level volumes: {undeclared}"


def test_every_variable_is_defined_in_env_file():
    used = {
        match
        for text in all_strings(compose())
        for match in re.findall(r"(?<!\$)\$\{?([A-Za-z_]\w*)", text)
    }
    undefined = sorted(used - dotenv().keys())
    assert not undefined, f"variables used in docker-compose.yml but not set in .env: {undefined}"


def test_published_ports_come_from_env_file():
    hard_coded = [
        f"{name}: {host}"
        for name, svc in services().items()
        for host, _ in published_ports(svc)
        if "${" not in host
    ]
    assert not hard_coded, f"host ports not taken from .env: {hard_coded}"


# --- compose: newsflow services --------------------------------------------------


def test_every_newsflow_command_exists_in_the_cli():
    known = set(SERVICE_COMMANDS) | ONE_SHOT_COMMANDS
    unknown = {
        name: command_of(svc)
        for name, svc in newsflow_services().items()
        if command_of(svc) not in known
    }
    assert not unknown, (
        f"compose services run `newsflow` sub-commands that do not exist: {unknown} "
        f"(known: {sorted(known)})"
    )


def test_every_cli_service_and_the_topic_creator_run_in_compose():
    running = {command_of(svc) for svc in newsflow_services().values()}
    missing = sorted((set(SERVICE_COMMANDS) | ONE_SHOT_COMMANDS) - running)
    assert not missing, f"`newsflow` sub-commands with no compose service running them: {missing}"


def test_newsflow_services_use_the_kafka_service():
    listeners = interpolate(environment(services()[KAFKA_SERVICE])["KAFKA_ADVERTISED_LISTENERS"])
    advertised = {listener.partition("://")[2] for listener in listeners.split(",")}
    problems = {}
    for name, svc in newsflow_services().items():
        bootstrap = environment(svc).get("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", "")
        if not bootstrap or any(server not in advertised for server in bootstrap.split(",")):
            problems[name] = bootstrap
    assert not problems, (
        f"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS must be one of the {KAFKA_SERVICE} service's "
        f"advertised listeners {sorted(advertised)}: {problems}"
    )


def test_pipeline_services_set_their_metrics_port():
    missing = [
        f"{name}: {metrics_port_variable(svc)}"
        for name, svc in pipeline_services().items()
        if metrics_port(svc) is None
    ]
    assert not missing, f"services without their metrics port variable: {missing}"


def test_pipeline_services_serve_metrics_beyond_loopback():
    # The default bind address 127.0.0.1 is unreachable for Prometheus and the port mapping.
    wrong = {}
    for name, svc in pipeline_services().items():
        variable = f"NEWSFLOW_{command_of(svc).upper()}_METRICS_HOST"
        if environment(svc).get(variable) != "0.0.0.0":
            wrong[name] = f"{variable}={environment(svc).get(variable)}"
    assert not wrong, f"metrics must bind 0.0.0.0 in containers: {wrong}"


def test_pipeline_healthchecks_request_readyz_on_the_metrics_port():
    wrong = []
    for name, svc in pipeline_services().items():
        command = healthcheck_command(svc)
        on_port = metrics_port_variable(svc) in command or f":{metrics_port(svc)}/" in command
        if "/readyz" not in command or not on_port:
            wrong.append(f"{name}: {command!r}")
    assert not wrong, f"healthchecks must request /readyz on the service's metrics port: {wrong}"


def test_pipeline_services_publish_their_metrics_port():
    wrong = [
        name
        for name, svc in pipeline_services().items()
        if metrics_port(svc) not in {container for _, container in published_ports(svc)}
    ]
    assert not wrong, f"services not publishing their metrics port: {wrong}"


# --- Prometheus ------------------------------------------------------------------


def test_prometheus_loads_the_repository_config():
    prometheus = services()[PROMETHEUS_SERVICE]
    flags = prometheus.get("command", [])
    config_flag = next(flag for flag in flags if flag.startswith("--config.file="))
    mounted = dict(bind_mounts(prometheus))
    expected = "./" + PROMETHEUS_CONFIG.relative_to(REPO_ROOT).as_posix()
    assert mounted.get(expected) == config_flag.partition("=")[2], (
        f"{PROMETHEUS_SERVICE} must mount {expected} where {config_flag} points"
    )


def test_prometheus_scrapes_every_pipeline_service():
    targets = prometheus_targets(PROMETHEUS_CONFIG)
    wrong = {}
    for name, svc in pipeline_services().items():
        label, expected = command_of(svc), f"{name}:{metrics_port(svc)}"
        if expected not in targets.get(label, []):
            wrong[name] = f"want {expected} with service={label}, have {targets.get(label)}"
    assert not wrong, f"{PROMETHEUS_CONFIG.name}: missing scrape targets: {wrong}"


def test_local_prometheus_scrapes_the_same_services_on_loopback():
    in_compose = prometheus_targets(PROMETHEUS_CONFIG)
    local = prometheus_targets(PROMETHEUS_LOCAL_CONFIG)
    expected = {
        service: [f"127.0.0.1:{target.rpartition(':')[2]}" for target in targets]
        for service, targets in in_compose.items()
    }
    assert local == expected, (
        f"{PROMETHEUS_LOCAL_CONFIG.name} must scrape what {PROMETHEUS_CONFIG.name} scrapes, on "
        f"127.0.0.1: want {expected}, have {local}"
    )


# --- Grafana ---------------------------------------------------------------------


def test_grafana_datasource_points_at_the_prometheus_service():
    prometheus_port = published_ports(services()[PROMETHEUS_SERVICE])[0][1]
    expected = f"http://{PROMETHEUS_SERVICE}:{prometheus_port}"
    urls = [ds.get("url") for ds in provisioned_datasources() if ds.get("type") == "prometheus"]
    assert urls == [expected], f"expected one Prometheus datasource at {expected}, found {urls}"


def test_grafana_loads_the_mounted_dashboards():
    mounted = {
        target
        for source, target in bind_mounts(services()[GRAFANA_SERVICE])
        if Path(source) == Path("./deploy/grafana/dashboards")
    }
    paths = {provider.get("options", {}).get("path") for provider in dashboard_providers()}
    assert paths and paths <= mounted, (
        f"dashboard providers read {paths}, but deploy/grafana/dashboards is mounted at {mounted}"
    )


def test_grafana_provisioning_is_mounted():
    mounted = {Path(source): target for source, target in bind_mounts(services()[GRAFANA_SERVICE])}
    provisioning = {GRAFANA_DATASOURCES: "datasources", GRAFANA_DASHBOARD_PROVIDERS: "dashboards"}
    for folder, kind in provisioning.items():
        source = Path("./" + folder.relative_to(REPO_ROOT).as_posix())
        whole = Path("./" + folder.parent.relative_to(REPO_ROOT).as_posix())
        assert mounted.get(source) == f"/etc/grafana/provisioning/{kind}" or (
            mounted.get(whole) == "/etc/grafana/provisioning"
        ), f"{GRAFANA_SERVICE} does not mount {source} at /etc/grafana/provisioning/{kind}"


def test_grafana_home_dashboard_exists():
    home = environment(services()[GRAFANA_SERVICE]).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home is None:
        return
    mounted = {target: source for source, target in bind_mounts(services()[GRAFANA_SERVICE])}
    folder, _, file_name = home.rpartition("/")
    assert folder in mounted and (REPO_ROOT / mounted[folder] / file_name).is_file(), (
        f"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH={home} is not a mounted dashboard file"
    )


def test_dashboards_parse_and_have_unique_uids():
    assert dashboard_files(), f"no dashboards in {GRAFANA_DASHBOARDS}"
    uids: dict[str, list[str]] = {}
    for path in dashboard_files():
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        uids.setdefault(dashboard.get("uid"), []).append(path.name)
    problems = {uid: names for uid, names in uids.items() if not uid or len(names) > 1}
    assert not problems, f"dashboards with a missing or shared uid: {problems}"


def test_dashboards_use_the_provisioned_datasource():
    provisioned = {source["uid"] for source in provisioned_datasources()}
    wrong = []
    for path in dashboard_files():
        for reference in datasource_references(json.loads(path.read_text(encoding="utf-8"))):
            uid = reference.get("uid") if isinstance(reference, dict) else reference
            if uid not in provisioned:
                wrong.append(f"{path.name}: {reference!r}")
    assert not wrong, f"datasources other than the provisioned uids {provisioned}: {wrong}"


def test_every_dashboard_panel_has_a_unit():
    missing = []
    for path in dashboard_files():
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in all_panels(dashboard.get("panels", [])):
            unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
            if panel.get("type") != "row" and not unit:
                missing.append(f"{path.name}: {panel.get('title')!r}")
    assert not missing, f"panels without a unit: {missing}"


# --- Dockerfile ------------------------------------------------------------------


def test_dockerfile_base_images_have_exact_version_tags():
    images = dockerfile_base_images()
    loose = sorted({image for image in images if not has_exact_version_tag(image)})
    assert images and not loose, f"Dockerfile base images without an exact version tag: {loose}"


def test_compose_builds_on_the_dockerfiles_own_base_unless_told_otherwise():
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert default, "the Dockerfile names no default PYTHON_IMAGE"
    assert dotenv()["PYTHON_IMAGE"] == default[1]


def test_dockerfile_runs_as_a_non_root_user():
    users = [arguments for keyword, arguments in final_stage_instructions() if keyword == "USER"]
    assert users, "the final Dockerfile stage has no USER: the services would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}, f"the final stage runs as {users[-1]}"


def test_dockerfile_entrypoint_is_newsflow():
    entrypoints = [args for keyword, args in final_stage_instructions() if keyword == "ENTRYPOINT"]
    assert entrypoints and exec_form(entrypoints[-1]) == ["newsflow"], (
        f'the image must have ENTRYPOINT ["newsflow"] (exec form), has {entrypoints}'
    )
