"""`aistack stack up|status|down`: the native stack as real daemons, compose through a fake
`docker` on PATH (no images can be pulled here), and the errors a user sees."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from aistack.errors import AistackError, ConfigError
from aistack.stack import native
from aistack.stack.control import (
    StackStatus,
    compose_argv,
    compose_command,
    parse_compose_ps,
    resolve_mode,
    stack_down,
    stack_status,
    stack_up,
)
from aistack.stack.render import (
    WEBHOOK_PLACEHOLDER,
    render_alertmanager,
    render_prometheus,
    targets_file,
)
from tests.servers import require_service

REPO = Path(__file__).resolve().parents[2]
STACK_DIR = REPO / "stack"


def _stack_command() -> list[str]:
    """`python -m aistack stack` once cli.py wires it in, else the module's own main()."""
    from aistack.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "stack" in commands.choices:
        return [sys.executable, "-m", "aistack", "stack"]
    return [sys.executable, "-m", "aistack.cli.stack"]


def aistack_stack(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_stack_command(), *args], capture_output=True, text=True, timeout=timeout,
        env=env, cwd=REPO, check=False,
    )  # fmt: skip


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return int(response.status), response.read()


def _influxql(url: str, query: str) -> Any:
    status, body = _get(f"{url}/query?" + urllib.parse.urlencode({"q": query, "db": "aistack"}))
    assert status == 200
    return json.loads(body)


def _port_answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def _wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)
    return result


@pytest.fixture
def binaries() -> None:
    _, missing = native.find_binaries()
    if missing:
        require_service(", ".join(missing), f"apt-get install {' '.join(missing)}")


@pytest.fixture
def aistack_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, binaries: None) -> Iterator[Path]:
    """A fresh $AISTACK_HOME; whatever a test leaves running there is stopped afterwards."""
    home = tmp_path / "home"
    monkeypatch.setenv("AISTACK_HOME", str(home))
    monkeypatch.delenv("AISTACK_ALERT_WEBHOOK_URL", raising=False)
    yield home
    stack_down(home / "stack")


@pytest.fixture
def busy_node_exporter_port() -> Iterator[int]:
    """Hold node-exporter's default port, as another exporter on this host would."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # despite TIME_WAIT
        try:
            holder.bind(("127.0.0.1", native.DEFAULT_PORTS["node-exporter"]))
            holder.listen()
        except OSError:
            pass  # something else holds it already: just as good
        yield native.DEFAULT_PORTS["node-exporter"]


@pytest.mark.services
def test_native_up_is_healthy_idempotent_and_down_stops_everything(
    aistack_home: Path, busy_node_exporter_port: int
) -> None:
    worker = "127.0.0.1:59108"
    started = time.monotonic()
    status = stack_up("native", targets=[worker])
    print(f"native stack up in {time.monotonic() - started:.2f} s")

    assert status.mode == "native" and status.healthy
    assert [s.name for s in status.services] == list(native.SERVICES)
    assert status.state_dir == aistack_home / "stack"
    for service in status.services:
        assert service.healthy and service.mode == "native" and service.pid
        code, _ = _get(service.url + native.HEALTH_PATHS[service.name])
        assert 200 <= code < 300, service
    # The taken default port moved, and the real URL is what status reports.
    node_url = status.url("node-exporter")
    assert not node_url.endswith(f":{busy_node_exporter_port}")
    assert any(f"port {busy_node_exporter_port} is taken" in note for note in status.notes)
    assert b"node_cpu_seconds_total" in _get(node_url + "/metrics")[1]

    # Prometheus loaded the shipped rules and scrapes the worker given as a target.
    prometheus = status.url("prometheus")

    def worker_target() -> list[dict[str, Any]]:
        targets = json.loads(_get(prometheus + "/api/v1/targets")[1])["data"]["activeTargets"]
        return [t for t in targets if t["labels"]["instance"] == worker]

    (target,) = _wait_for(worker_target, 30, "the aistack target in Prometheus")
    assert target["labels"]["job"] == "aistack"
    assert target["scrapeUrl"] == f"http://{worker}/metrics"
    rules = json.loads(_get(prometheus + "/api/v1/rules")[1])["data"]["groups"]
    assert {"aistack-recording", "aistack-alerts"} <= {g["name"] for g in rules}
    alertmanagers = json.loads(_get(prometheus + "/api/v1/alertmanagers")[1])["data"]
    _wait_for(
        lambda: json.loads(_get(prometheus + "/api/v1/alertmanagers")[1])["data"][
            "activeAlertmanagers"
        ],
        30,
        "Prometheus to find Alertmanager",
    )
    assert "activeAlertmanagers" in alertmanagers

    influx = status.url("influxdb")
    databases = _influxql(influx, "SHOW DATABASES")["results"][0]["series"][0]["values"]
    assert ["aistack"] in databases

    again = stack_up("native", targets=[worker])
    assert "already up" in again.notes and again.healthy
    assert [s.pid for s in again.services] == [s.pid for s in status.services]
    assert stack_status().healthy

    notes = stack_down()
    assert len(notes) == 4 and all(note.startswith("stopped ") for note in notes)
    for service in status.services:
        assert service.pid is not None and _gone(service.pid), service
        assert not _port_answers(int(service.url.rsplit(":", 1)[1])), service
    after = stack_status()
    assert not after.up and not after.healthy and after.services == []
    assert not (aistack_home / "stack" / "state.json").exists()
    # Data stays for the next `up` unless purged.
    assert (aistack_home / "stack" / "prometheus" / "data").is_dir()
    assert stack_down() == ["the stack is not up"]


@pytest.mark.services
def test_cli_up_status_down_with_restart_and_persistent_data(aistack_home: Path) -> None:
    env = {**os.environ, "AISTACK_HOME": str(aistack_home)}
    up = aistack_stack("up", "--mode", "native", "--json", env=env)
    assert up.returncode == 0, up.stderr
    document = json.loads(up.stdout)
    assert document["mode"] == "native" and document["healthy"] is True
    assert [s["healthy"] for s in document["services"]] == [True] * 4
    assert "AISTACK_ALERT_WEBHOOK_URL is not set" in up.stderr  # the placeholder warning
    urls = {s["name"]: s["url"] for s in document["services"]}
    pids = {s["name"]: s["pid"] for s in document["services"]}

    # The daemons outlived the command that started them.
    status = aistack_stack("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["services"] == document["services"]
    table = aistack_stack("status", env=env)
    assert table.returncode == 0 and table.stdout.splitlines()[0].split() == [
        "SERVICE", "MODE", "URL", "HEALTHY", "PID",
    ]  # fmt: skip
    assert urls["prometheus"] in table.stdout

    write = urllib.request.Request(
        urls["influxdb"] + "/write?db=aistack", data=b"crossings,camera=door value=7i 1000000000"
    )
    with urllib.request.urlopen(write, timeout=5) as response:
        assert response.status == 204

    # A dead service makes status fail, and `up` starts the stack again.
    os.kill(pids["node-exporter"], 9)
    _wait_for(lambda: _gone(pids["node-exporter"]), 10, "node-exporter to die")
    broken = aistack_stack("status", env=env)
    assert broken.returncode == 1
    assert [line.split()[3] for line in broken.stdout.splitlines()[1:]] == [
        "yes", "yes", "NO", "yes",
    ]  # fmt: skip
    again = aistack_stack("up", "--mode", "native", "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert "restarting the stack: node-exporter had stopped" in again.stderr
    restarted = json.loads(again.stdout)
    assert restarted["healthy"] is True

    influx = next(s["url"] for s in restarted["services"] if s["name"] == "influxdb")
    points = _influxql(influx, "SELECT value FROM crossings")["results"][0]["series"][0]
    assert points["values"] == [["1970-01-01T00:00:01Z", 7]]

    down = aistack_stack("down", env=env)
    assert down.returncode == 0, down.stderr
    assert down.stderr.count("aistack: stopped ") == 4
    for service in restarted["services"]:
        assert _gone(service["pid"])
    after = aistack_stack("status", env=env)
    assert after.returncode == 1
    assert after.stdout == ""
    assert "the monitoring stack is not up" in after.stderr and "aistack stack up" in after.stderr

    purge = aistack_stack("down", "--purge", env=env)
    assert purge.returncode == 0 and "removed" in purge.stderr
    assert not (aistack_home / "stack").exists()


@pytest.mark.services
def test_a_service_that_cannot_start_is_named_and_nothing_is_left(
    aistack_home: Path, tmp_path: Path
) -> None:
    stack_dir = tmp_path / "broken-stack"
    shutil.copytree(STACK_DIR / "prometheus", stack_dir / "prometheus")
    shutil.copytree(STACK_DIR / "alertmanager", stack_dir / "alertmanager")
    broken = "groups: [{name: x, rules: [{record: y, expr: 'sum(('}]}]\n"
    (stack_dir / "prometheus" / "rules" / "broken.rules.yml").write_text(broken)
    with pytest.raises(AistackError) as raised:
        stack_up("native", stack_dir=stack_dir)
    message = str(raised.value)
    assert message.startswith("prometheus exited with code 1 while starting; its log ")
    assert "\n" not in message and "error loading config" in message
    assert not stack_status().up
    leftovers = [
        p.info["pid"] for p in psutil.process_iter(["pid", "cmdline"])
        if str(aistack_home) in " ".join(p.info["cmdline"] or []) and not _gone(p.info["pid"])
    ]  # fmt: skip
    assert leftovers == []


# --- rendered configs, checked by the servers' own tools ---------------------------------


PORTS = {**native.DEFAULT_PORTS, "influxdb-rpc": native.INFLUX_RPC_PORT}


def test_rendered_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool") or require_service("promtool", "apt-get install prometheus")
    ports = {**PORTS, "alertmanager": 19093, "node-exporter": 19100}
    rendered = render_prometheus(STACK_DIR, tmp_path, ports, ["a:9108", "b:9108"])
    check = subprocess.run([promtool, "check", "config", str(rendered)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    config = yaml.safe_load(rendered.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "static_configs" not in jobs["aistack"] and "static_configs" not in jobs["cadvisor"]
    assert jobs["node"]["static_configs"] == [{"targets": ["127.0.0.1:19100"]}]
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [
        {"targets": ["127.0.0.1:19093"]}
    ]
    targets = yaml.safe_load(targets_file(tmp_path).read_text())
    assert targets == [{"targets": ["a:9108", "b:9108"]}]
    assert all(Path(path).is_absolute() for path in config["rule_files"])


def test_rendered_alertmanager_config_fills_webhook_and_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    amtool = shutil.which("amtool") or require_service(
        "amtool", "apt-get install prometheus-alertmanager"
    )
    monkeypatch.setenv("ALERTMANAGER_SMTP_PASSWORD", "s3cret")
    monkeypatch.delenv("ALERTMANAGER_SLACK_API_URL", raising=False)
    url = "https://hooks.example.org/alerts?a=1&b=x|y"
    rendered = render_alertmanager(STACK_DIR, tmp_path, url)
    check = subprocess.run([amtool, "check-config", str(rendered)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    config = yaml.safe_load(rendered.read_text())
    webhook = next(r for r in config["receivers"] if r["name"] == "webhook")
    assert webhook["webhook_configs"][0]["url"] == url
    password = Path(config["global"]["smtp_auth_password_file"])
    assert password.read_text() == "s3cret"
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    assert Path(config["global"]["slack_api_url_file"]).read_text() == ""
    placeholder = render_alertmanager(STACK_DIR, tmp_path / "p", None).read_text()
    assert WEBHOOK_PLACEHOLDER in placeholder


# --- compose: command lines, and the flow through a fake docker --------------------------


def test_compose_command_lines() -> None:
    docker = ["docker", "compose"]
    base = [*docker, "-f", str(STACK_DIR / "docker-compose.yml")]
    base += ["--env-file", str(STACK_DIR / ".env")]
    assert compose_argv(docker, STACK_DIR, "up") == [*base, "up", "-d", "--wait"]
    assert compose_argv(docker, STACK_DIR, "down") == [*base, "down"]
    assert compose_argv(docker, STACK_DIR, "down", purge=True) == [*base, "down", "--volumes"]
    assert compose_argv(docker, STACK_DIR, "ps") == [*base, "ps", "--all", "--format", "json"]


PS_ROWS = [
    {"Service": "prometheus", "State": "running", "Health": "healthy",
     "Publishers": [{"URL": "127.0.0.1", "TargetPort": 9090, "PublishedPort": 9090}]},
    {"Service": "aistack", "State": "running", "Health": "starting",
     "Publishers": [{"URL": "0.0.0.0", "TargetPort": 8090, "PublishedPort": 8090},
                    {"URL": "0.0.0.0", "TargetPort": 9108, "PublishedPort": 9108}]},
    {"Service": "node-exporter", "State": "running", "Health": "", "Publishers": []},
    {"Service": "cadvisor", "State": "exited", "Health": "", "Publishers": None},
]  # fmt: skip


@pytest.mark.parametrize("layout", ["array", "lines"])
def test_parse_compose_ps(layout: str) -> None:
    text = json.dumps(PS_ROWS) if layout == "array" else "\n".join(map(json.dumps, PS_ROWS))
    services = {s.name: s for s in parse_compose_ps(text)}
    assert services["prometheus"].healthy and services["prometheus"].url == "http://127.0.0.1:9090"
    assert not services["aistack"].healthy  # still starting
    assert services["aistack"].url == "http://127.0.0.1:9108"
    assert services["node-exporter"].healthy and services["node-exporter"].url is None
    assert not services["cadvisor"].healthy
    assert all(s.mode == "compose" and s.pid is None for s in services.values())
    assert parse_compose_ps("") == []


FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "{log}"
case "$*" in
  "compose version --short") echo "{version}" ;;
  "version") [ "{daemon}" = up ] || {{ echo "Cannot connect to the Docker daemon" >&2; exit 1; }} ;;
  *" ps --all --format json") cat "{ps}" ;;
esac
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Put a `docker` on PATH that logs its arguments; returns the log."""

    def install(version: str = "2.29.1", daemon: str = "up") -> Path:
        folder = tmp_path / "bin"
        folder.mkdir(exist_ok=True)
        log, ps = tmp_path / "docker.log", tmp_path / "ps.json"
        ps.write_text("\n".join(map(json.dumps, PS_ROWS[:1])))
        script = folder / "docker"
        script.write_text(FAKE_DOCKER.format(log=log, version=version, daemon=daemon, ps=ps))
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
        return log

    return install


def test_compose_detection(fake_docker: Callable[..., Path]) -> None:
    fake_docker()
    command, _ = compose_command()
    assert command is not None and command[1:] == ["compose"]
    fake_docker(daemon="down")
    assert compose_command() == (None, "the Docker daemon does not answer")
    fake_docker(version="1.29.2")
    command, why = compose_command()
    assert command is None and "Compose v2" in why


def test_compose_up_status_down_through_fake_docker(
    fake_docker: Callable[..., Path], tmp_path: Path
) -> None:
    log = fake_docker()
    stack_dir = tmp_path / "stack"
    shutil.copytree(STACK_DIR / "prometheus", stack_dir / "prometheus")
    with pytest.raises(ConfigError, match=r"\.env is missing: cp .*\.env\.example"):
        stack_up("compose", state_dir=tmp_path / "state", stack_dir=stack_dir)
    (stack_dir / ".env").write_text("")
    status = stack_up("compose", state_dir=tmp_path / "state", stack_dir=stack_dir)
    assert status.mode == "compose" and status.healthy
    assert status.url("prometheus") == "http://127.0.0.1:9090"
    compose = f"compose -f {stack_dir}/docker-compose.yml --env-file {stack_dir}/.env"
    assert f"{compose} up -d --wait" in log.read_text().splitlines()
    with pytest.raises(AistackError, match="already up in compose mode"):
        stack_up("native", state_dir=tmp_path / "state", stack_dir=stack_dir)
    assert stack_up(state_dir=tmp_path / "state", stack_dir=stack_dir).healthy  # compose again
    assert log.read_text().count(" up -d --wait") == 2
    (tmp_path / "ps.json").unlink()  # now `ps` fails
    broken = stack_status(tmp_path / "state")
    assert broken.up and not broken.healthy
    assert "ps --all --format json` failed: " in broken.notes[0]
    assert stack_down(tmp_path / "state", purge=True)[-1].startswith("compose stack stopped")
    assert f"{compose} down --volumes" in log.read_text().splitlines()
    assert not stack_status(tmp_path / "state").up


# --- errors ------------------------------------------------------------------------------


def test_no_mode_possible_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, no servers
    with pytest.raises(AistackError) as raised:
        resolve_mode("auto")
    message = str(raised.value)
    assert "\n" not in message and "docker is not installed" in message
    assert "apt-get install prometheus prometheus-alertmanager" in message
    assert "influxdb" in message
    with pytest.raises(AistackError, match="native mode needs: apt-get install prometheus"):
        resolve_mode("native")

    env = {**os.environ, "PATH": str(tmp_path), "AISTACK_HOME": str(tmp_path / "home")}
    result = aistack_stack("up", env=env)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("aistack: error: cannot run the monitoring stack")


@pytest.mark.parametrize("target", ["9108", "host:", "host:port", "http://a:1", ":9108"])
def test_bad_targets_are_config_errors(target: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not HOST:PORT"):
        stack_up("native", targets=[target], state_dir=tmp_path)


def test_status_of_nothing(tmp_path: Path) -> None:
    status = stack_status(tmp_path / "none")
    assert status == StackStatus(None, [], tmp_path / "none")
    assert not status.healthy and not status.up
    with pytest.raises(KeyError, match="the stack is not up"):
        status.url("prometheus")
