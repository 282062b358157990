"""The monitoring stack from local binaries: detached daemons, their ports, health and stop.

Each service runs as its own session leader (it outlives the command that started it),
writes its log under the state folder and listens on 127.0.0.1 only. `aistack.stack.control` keeps
the PIDs in the state file; this module starts, checks and stops the processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from aistack.errors import AistackError
from aistack.stack.render import (
    WEBHOOK_PLACEHOLDER,
    render_alertmanager,
    render_influxdb,
    render_prometheus,
    service_argv,
)

logger = logging.getLogger(__name__)

# Compose service names, so that status reads the same in both modes.
SERVICES = ("prometheus", "alertmanager", "node-exporter", "influxdb")
DEFAULT_PORTS = {"prometheus": 9090, "alertmanager": 9093, "node-exporter": 9100, "influxdb": 8086}
HEALTH_PATHS = {
    "prometheus": "/-/ready",
    "alertmanager": "/-/ready",
    "node-exporter": "/metrics",
    "influxdb": "/ping",
}
# (executable names, Debian package): Debian's names first, then the upstream tarballs'.
BINARIES = {
    "prometheus": (("prometheus",), "prometheus"),
    "alertmanager": (("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager"),
    "node-exporter": (("prometheus-node-exporter", "node_exporter"), "prometheus-node-exporter"),
    "influxdb": (("influxd",), "influxdb"),
}
INFLUX_RPC_PORT = 8088  # influxd's backup/restore port; it must not clash either
INFLUX_DATABASE = "aistack"  # the v1 database the InfluxDB sink writes to by default
STOP_TIMEOUT = 10.0
# Folders this module creates under the state dir: `down --purge` removes these and no more.
OWNED_PATHS = ("prometheus", "alertmanager", "influxdb", "node-exporter", "logs")

# Daemons this process started: kept so they can be reaped (no zombies when the API
# starts and stops a stack within one process, as tests do).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class NativeService:
    """One daemon as recorded in the state file."""

    name: str
    port: int
    pid: int
    create_time: float  # guards against a recycled PID after a reboot or a long time
    log: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return self.url + HEALTH_PATHS[self.name]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "url": self.url, "health_url": self.health_url}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NativeService:
        return cls(
            str(data["name"]), int(data["port"]), int(data["pid"]),
            float(data["create_time"]), str(data["log"]),
        )  # fmt: skip


def find_binaries() -> tuple[dict[str, str], list[str]]:
    """The executable of each service, and the Debian packages of those that are missing."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for service, (names, package) in BINARIES.items():
        path = next((p for p in map(shutil.which, names) if p), None)
        if path is None:
            missing.append(package)
        else:
            found[service] = path
    return found, missing


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the Go servers do: a port with only TIME_WAIT leftovers is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _any_free_port(taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in taken:
            return port


def pick_ports() -> tuple[dict[str, int], list[str]]:
    """Default ports where free, else any free port; notes name each one that moved."""
    wanted = {**DEFAULT_PORTS, "influxdb-rpc": INFLUX_RPC_PORT}
    ports: dict[str, int] = {}
    notes: list[str] = []
    for name, default in wanted.items():
        port = default
        if default in ports.values() or not port_is_free(default):
            port = _any_free_port(set(ports.values()))
            notes.append(f"{name}: port {default} is taken, using {port}")
        ports[name] = port
    return ports, notes


def spawn(name: str, argv: Sequence[str], port: int, state_dir: Path) -> NativeService:
    """Start one daemon in its own session, so it outlives us and our terminal's Ctrl-C."""
    log = state_dir / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    workdir = state_dir / name
    workdir.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv), cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    _children[process.pid] = process
    try:
        create_time = psutil.Process(process.pid).create_time()
    except psutil.Error:  # it died at once; health polling reports why
        create_time = 0.0
    return NativeService(name, port, process.pid, create_time, str(log))


def is_running(service: NativeService) -> bool:
    """The recorded process is alive (and not a zombie, nor a newer process with its PID)."""
    child = _children.get(service.pid)
    if child is not None:
        return child.poll() is None
    try:
        process = psutil.Process(service.pid)
        same = abs(process.create_time() - service.create_time) < 1.0
        return same and bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def is_healthy(service: NativeService) -> bool:
    return is_running(service) and http_ok(service.health_url)


def _last_log_line(service: NativeService) -> str:
    try:
        lines = Path(service.log).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def wait_healthy(services: Sequence[NativeService], timeout: float) -> None:
    """Poll every health endpoint until all answer; AistackError if one dies or times out."""
    pending = list(services)
    deadline = time.monotonic() + timeout
    while pending:
        for service in list(pending):
            if not is_running(service):
                child = _children.get(service.pid)
                code = f" with code {child.returncode}" if child is not None else ""
                raise AistackError(
                    f"{service.name} exited{code} while starting; its log {service.log} "
                    f"ends: {_last_log_line(service)}"
                )
            if http_ok(service.health_url, timeout=1.0):
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            names = ", ".join(f"{s.name} ({s.health_url})" for s in pending)
            raise AistackError(
                f"not healthy after {timeout:g} s: {names}; logs in {pending[0].log}"
            )
        if pending:
            time.sleep(0.1)


def stop(services: Sequence[NativeService], timeout: float = STOP_TIMEOUT) -> list[str]:
    """SIGTERM every running service, SIGKILL those still alive after `timeout`."""
    notes: list[str] = []
    running = [s for s in services if is_running(s)]
    for service in running:
        _signal(service, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(map(is_running, running)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for service in running:
        if is_running(service):
            _signal(service, signal.SIGKILL)
            notes.append(f"{service.name} (pid {service.pid}) ignored SIGTERM; killed")
        else:
            notes.append(f"stopped {service.name} (pid {service.pid})")
    for service in running:
        child = _children.pop(service.pid, None)
        if child is not None:
            child.wait(timeout=timeout)
        else:
            while is_running(service) and time.monotonic() < deadline + timeout:
                time.sleep(0.05)
    return notes


def _signal(service: NativeService, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(service.pid, signum)


def create_database(influx_url: str, database: str = INFLUX_DATABASE) -> None:
    """CREATE DATABASE, which InfluxQL makes a no-op when it exists."""
    body = urllib.parse.urlencode({"q": f'CREATE DATABASE "{database}"'}).encode()
    try:
        with urllib.request.urlopen(f"{influx_url}/query", data=body, timeout=10) as response:
            response.read()
    except (urllib.error.URLError, OSError) as error:
        message = f"could not create InfluxDB database {database!r}: {error}"
        raise AistackError(message) from error


@dataclass(frozen=True)
class NativeStack:
    """What the state file records of a native stack."""

    services: tuple[NativeService, ...]
    targets: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"services": [s.to_json() for s in self.services], "targets": list(self.targets)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NativeStack:
        services = tuple(NativeService.from_json(s) for s in data["services"])
        return cls(services, tuple(data.get("targets", ())))


def start_stack(
    state_dir: Path,
    stack_dir: Path,
    targets: Sequence[str],
    timeout: float,
    record: Callable[[NativeStack], None],
) -> tuple[NativeStack, list[str]]:
    """Render every config, start every daemon, `record` their PIDs at once (so `down` can
    stop them even if we are interrupted), then wait until all are healthy."""
    binaries, missing = find_binaries()
    if missing:
        raise AistackError(f"native mode needs: apt-get install {' '.join(missing)}")
    ports, notes = pick_ports()
    webhook_url = os.environ.get("AISTACK_ALERT_WEBHOOK_URL", "").strip() or None
    if webhook_url is None:
        logger.warning(
            "AISTACK_ALERT_WEBHOOK_URL is not set: alerts go to the placeholder %s, so they "
            "are only visible in Alertmanager at http://127.0.0.1:%d",
            WEBHOOK_PLACEHOLDER, ports["alertmanager"],
        )  # fmt: skip
    folders = {name: state_dir / name for name in SERVICES}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    configs = {
        "prometheus": render_prometheus(stack_dir, folders["prometheus"], ports, targets),
        "alertmanager": render_alertmanager(stack_dir, folders["alertmanager"], webhook_url),
        "influxdb": render_influxdb(
            binaries["influxdb"], folders["influxdb"], ports["influxdb"], ports["influxdb-rpc"]
        ),
    }
    argv = service_argv(binaries, configs, state_dir, ports)
    services: list[NativeService] = []
    try:
        for name in SERVICES:
            services.append(spawn(name, argv[name], ports[name], state_dir))
        stack = NativeStack(tuple(services), tuple(targets))
        record(stack)
        wait_healthy(services, timeout)
        create_database(next(s.url for s in services if s.name == "influxdb"))
    except BaseException:
        stop(services)
        raise
    return stack, notes
