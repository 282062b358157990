"""Pytest fixtures that run real InfluxDB, VictoriaMetrics, Prometheus, Alertmanager and
node-exporter servers as plain processes on 127.0.0.1, each with its own temporary folder.

Use them from a test module with `pytest_plugins = ["tests.servers"]`. A missing binary
skips the test, or fails it under AISTACK_REQUIRE_SERVICES=1 (CI), see `require_service`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import pytest
import yaml

from aistack.stack.render import render_influxdb

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def require_service(name: str, reason: str) -> NoReturn:
    """Skip the test because `name` is unavailable, or fail it when CI requires services."""
    message = f"{name} not installed: {reason}"
    if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def find_binary(name: str, apt_package: str) -> str:
    """The path of executable `name`, or `require_service` naming the package to install."""
    path = shutil.which(name)
    if path is None:
        require_service(name, f"apt-get install {apt_package}")
    return path


def free_port() -> int:
    # The port is free when we close the probe; a server started right after
    # gets it unless another process races us, which tests on one host never do.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    # If pytest itself is killed, its servers must not linger holding ports and dirs.
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


class Server:
    """One server process: started, polled until healthy, stopped with terminate then kill."""

    def __init__(
        self, name: str, argv: Sequence[str], port: int, workdir: Path, health_path: str
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.workdir = workdir
        self.health_path = health_path
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the process (again, on the same port and folder) and wait until it is healthy."""
        if self.running:
            return
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._fail(f"exited with code {self._process.returncode}")
            if _http_ok(self.url + self.health_path):
                return
            time.sleep(0.05)
        self.stop()
        self._fail(f"not healthy at {self.url}{self.health_path} after {STARTUP_TIMEOUT:g} s")

    def stop(self) -> None:
        """Terminate the process, killing it if it does not exit in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _fail(self, what: str) -> NoReturn:
        # A server that is installed but will not start is a real failure, never a skip.
        pytest.fail(f"{self.name} {what}; last log lines:\n{self.log_tail()}", pytrace=False)


def start_influxdb(workdir: Path) -> Server:
    """Start influxd 1.x with its config, data and WAL under `workdir`."""
    influxd = find_binary("influxd", "influxdb")
    http_port, rpc_port = free_port(), free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    # The same config `aistack stack up` runs natively: our folders, 127.0.0.1, no telemetry.
    config = render_influxdb(influxd, workdir, http_port, rpc_port)
    server = Server(
        "influxd", [influxd, "run", "-config", str(config)], http_port, workdir, "/ping"
    )
    server.start()
    return server


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A shared influxd for the session; tests must not stop it (use `own_influxdb`)."""
    server = start_influxdb(tmp_path_factory.mktemp("influxdb"))
    yield server
    server.stop()


@pytest.fixture
def own_influxdb(tmp_path: Path) -> Iterator[Server]:
    """An influxd for one test, which may `.stop()` and `.start()` it on the same port and data."""
    server = start_influxdb(tmp_path / "influxdb")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxdb_client_library() -> None:
    """The influxdb-client package, which the sink's v2 API needs; same skip/fail rule."""
    try:
        import influxdb_client  # noqa: F401
    except ImportError:
        require_service("influxdb-client", "pip install influxdb-client")


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = find_binary("victoria-metrics", "victoria-metrics")
    workdir = tmp_path_factory.mktemp("victoria-metrics")
    port = free_port()
    argv = [
        binary,
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={workdir / 'data'}",
        # Without this, new points stay invisible to PromQL for about 30 s.
        "-search.latencyOffset=0s",
        "-retentionPeriod=100y",
    ]
    server = Server("victoria-metrics", argv, port, workdir, "/health")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def node_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = find_binary("prometheus-node-exporter", "prometheus-node-exporter")
    workdir = tmp_path_factory.mktemp("node-exporter")
    port = free_port()
    argv = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    server = Server("node-exporter", argv, port, workdir, "/metrics")
    server.start()
    yield server
    server.stop()


# (targets, rule files, alertmanager URLs) -> a started Prometheus. Targets are
# "host:port" strings for job "aistack", or a mapping of job name to targets.
PrometheusFactory = Callable[..., Server]


def _target(address: str) -> str:
    return address.split("://", 1)[-1].rstrip("/")


@pytest.fixture
def prometheus_server(tmp_path: Path) -> Iterator[PrometheusFactory]:
    binary = find_binary("prometheus", "prometheus")
    started: list[Server] = []

    def start(
        targets: Sequence[str] | Mapping[str, Sequence[str]] = (),
        rule_files: Sequence[Path] = (),
        alertmanagers: Sequence[str] = (),
    ) -> Server:
        jobs = dict(targets) if isinstance(targets, Mapping) else {"aistack": list(targets)}
        workdir = tmp_path / f"prometheus-{len(started)}"
        workdir.mkdir()
        config: dict[str, object] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": job,
                    "scrape_interval": "1s",
                    "static_configs": [{"targets": [_target(t) for t in job_targets]}],
                }
                for job, job_targets in jobs.items()
            ],
            "rule_files": [str(Path(path).resolve()) for path in rule_files],
        }
        if alertmanagers:
            config["alerting"] = {
                "alertmanagers": [
                    {"static_configs": [{"targets": [_target(a) for a in alertmanagers]}]}
                ]
            }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        argv = [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # With the default 1m, the first alert reaches Alertmanager only after ~61 s.
            "--rules.alert.resend-delay=1s",
        ]
        server = Server("prometheus", argv, port, workdir, "/-/ready")
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


_NULL_ALERTMANAGER_CONFIG = "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"


@pytest.fixture
def alertmanager_server(tmp_path: Path) -> Iterator[Callable[[Path | None], Server]]:
    """A factory: `alertmanager_server(config_file)` starts Alertmanager (None: a null receiver)."""
    binary = find_binary("prometheus-alertmanager", "prometheus-alertmanager")
    started: list[Server] = []

    def start(config: Path | None = None) -> Server:
        workdir = tmp_path / f"alertmanager-{len(started)}"
        workdir.mkdir()
        if config is None:
            config = workdir / "alertmanager.yml"
            config.write_text(_NULL_ALERTMANAGER_CONFIG)
        port = free_port()
        argv = [
            binary,
            f"--config.file={Path(config).resolve()}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # Empty: no gossip cluster; otherwise it also binds 0.0.0.0:9094.
            "--cluster.listen-address=",
        ]
        server = Server("alertmanager", argv, port, workdir, "/-/ready")
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()
