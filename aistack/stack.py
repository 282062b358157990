"""The monitoring stack (Prometheus, Alertmanager, node-exporter, InfluxDB) up, checked, down.

Two modes: `compose` runs stack/docker-compose.yml when Docker Compose v2 and its daemon
answer; `native` runs the same services from local binaries as detached daemons
(`aistack.stack_native`). Either way a JSON state file under $AISTACK_HOME/stack/ says what
runs, so `status` and `down` work from any later command.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aistack import stack_native as native
from aistack.config import default_data_dir
from aistack.errors import AistackError, ConfigError
from aistack.stack_render import write_targets

Mode = Literal["auto", "native", "compose"]
MODES = ("auto", "native", "compose")
DEFAULT_TARGETS = ("127.0.0.1:9108",)  # `aistack run` serves /metrics there by default
STATE_FILE = "state.json"
STATE_VERSION = 1
# The port whose URL `status` shows for a compose service that publishes several.
COMPOSE_MAIN_PORTS = {
    "prometheus": 9090, "alertmanager": 9093, "influxdb": 8086, "grafana": 3000,
    "aistack": 9108, "mediamtx": 8554,
}  # fmt: skip

__all__ = [
    "DEFAULT_TARGETS",
    "ServiceStatus",
    "StackStatus",
    "default_state_dir",
    "stack_down",
    "stack_status",
    "stack_up",
]


@dataclass(frozen=True)
class ServiceStatus:
    """One service of the stack as last checked."""

    name: str
    url: str | None  # None: a compose service that publishes no port
    healthy: bool
    pid: int | None  # None in compose mode
    mode: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "url": self.url, "healthy": self.healthy,
            "pid": self.pid, "mode": self.mode,
        }  # fmt: skip


@dataclass(frozen=True)
class StackStatus:
    """The whole stack: which mode runs it (None when it is not up) and each service."""

    mode: str | None
    services: list[ServiceStatus]
    state_dir: Path
    notes: list[str] = field(default_factory=list)  # what `up` did: ports moved, already up

    @property
    def up(self) -> bool:
        return self.mode is not None

    @property
    def healthy(self) -> bool:
        return bool(self.services) and all(s.healthy for s in self.services)

    def url(self, name: str) -> str:
        """The URL of service `name`, e.g. `status.url("prometheus")`."""
        for service in self.services:
            if service.name == name and service.url is not None:
                return service.url
        known = ", ".join(s.name for s in self.services) or "none (the stack is not up)"
        raise KeyError(f"no URL for service {name!r}; services: {known}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "healthy": self.healthy, "state_dir": str(self.state_dir),
            "services": [s.to_dict() for s in self.services], "notes": list(self.notes),
        }  # fmt: skip


def default_state_dir() -> Path:
    return default_data_dir() / "stack"


def find_stack_dir(stack_dir: Path | None = None) -> Path:
    """The folder with docker-compose.yml and prometheus/: given, $AISTACK_STACK_DIR, the
    checkout this package lives in, or ./stack."""
    if stack_dir is not None:
        candidates = [Path(stack_dir)]
    else:
        env = os.environ.get("AISTACK_STACK_DIR")
        candidates = [Path(env)] if env else []
        candidates += [Path(__file__).resolve().parents[1] / "stack", Path.cwd() / "stack"]
    for candidate in candidates:
        if (candidate / "prometheus" / "prometheus.yml").is_file():
            return candidate.resolve()
    raise ConfigError(
        f"no stack folder (with prometheus/prometheus.yml) at {candidates[0]}; run from an "
        "aistack checkout or pass --stack-dir"
    )


def _validate_targets(targets: Sequence[str]) -> tuple[str, ...]:
    if isinstance(targets, str):
        targets = [targets]
    for target in targets:
        host, sep, port = target.rpartition(":")
        if not sep or not host or "/" in target or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"scrape target {target!r} is not HOST:PORT, e.g. 127.0.0.1:9108")
    return tuple(targets)


# --- state file ---------------------------------------------------------------------------


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise AistackError(f"unreadable stack state {path}: {error}; remove it") from error
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise AistackError(f"stack state {path} is from another aistack version; remove it")
    return data


def _write_state(state_dir: Path, data: dict[str, Any]) -> None:
    path = state_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"version": STATE_VERSION, **data}, indent=2) + "\n")
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """One `up` or `down` at a time per state dir."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- compose ------------------------------------------------------------------------------


def compose_command() -> tuple[list[str] | None, str]:
    """`docker compose` (or a v2 `docker-compose`) when it and its daemon work, else why not."""
    candidates: list[list[str]] = []
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    if standalone := shutil.which("docker-compose"):
        candidates.append([standalone])
    if not candidates:
        return None, "docker is not installed"
    reason = ""
    for command in candidates:
        version = _quiet([*command, "version", "--short"])
        major = re.match(r"v?(\d+)\.", version or "")
        if major is None:
            reason = f"`{' '.join(command)} version` failed"
            continue
        if int(major[1]) < 2:
            reason = f"{' '.join(command)} is {version}; stack/docker-compose.yml needs Compose v2"
            continue
        probe = [docker, "version"] if docker else [*command, "ls", "--quiet"]
        if _quiet(probe) is None:
            return None, "the Docker daemon does not answer"
        return command, ""
    return None, reason


def _quiet(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def compose_argv(
    command: Sequence[str],
    stack_dir: Path,
    action: Literal["up", "down", "ps"],
    purge: bool = False,
) -> list[str]:
    """The compose command line for `action` on stack/docker-compose.yml with stack/.env."""
    base = [*command, "-f", str(stack_dir / "docker-compose.yml")]
    base += ["--env-file", str(stack_dir / ".env")]
    if action == "up":
        return [*base, "up", "-d", "--wait"]
    if action == "down":
        return [*base, "down", *(["--volumes"] if purge else [])]
    return [*base, "ps", "--all", "--format", "json"]


def parse_compose_ps(text: str) -> list[ServiceStatus]:
    """`ps --format json`: a JSON array (Compose < 2.21) or one object a line (later)."""
    text = text.strip()
    if not text:
        return []
    rows = json.loads(text) if text.startswith("[") else [json.loads(x) for x in text.splitlines()]
    services = []
    for row in rows:
        name = str(row.get("Service") or row.get("Name"))
        state, health = str(row.get("State", "")).lower(), str(row.get("Health", "")).lower()
        healthy = state == "running" and health in ("", "healthy")
        services.append(ServiceStatus(name, _compose_url(name, row), healthy, None, "compose"))
    return sorted(services, key=lambda s: s.name)


def _compose_url(name: str, row: dict[str, Any]) -> str | None:
    published = [p for p in row.get("Publishers") or [] if p.get("PublishedPort")]
    if not published:
        return None
    main = COMPOSE_MAIN_PORTS.get(name)
    chosen = next((p for p in published if p.get("TargetPort") == main), published[0])
    host = chosen.get("URL") or "127.0.0.1"
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    scheme = "rtsp" if chosen.get("TargetPort") == 8554 else "http"
    return f"{scheme}://{host}:{chosen['PublishedPort']}"


def _compose_run(argv: list[str], what: str) -> None:
    try:
        code = subprocess.run(argv, stdin=subprocess.DEVNULL).returncode
    except OSError as error:
        raise AistackError(f"{what} could not run: {error}") from error
    if code != 0:
        raise AistackError(f"{what} failed with exit code {code} (see its messages above)")


# --- the API ------------------------------------------------------------------------------


def resolve_mode(mode: str) -> tuple[str, list[str] | None]:
    """The mode to run in, and the compose command when that is compose."""
    if mode not in MODES:
        raise ConfigError(f"unknown stack mode {mode!r}; choose from {', '.join(MODES)}")
    _, missing = native.find_binaries()
    if mode == "native" and missing:
        raise AistackError(f"native mode needs: apt-get install {' '.join(missing)}")
    if mode == "native":
        return "native", None
    command, why_not = compose_command()
    if command is not None:
        return "compose", command
    if mode == "compose":
        raise AistackError(f"compose mode unavailable: {why_not}")
    if not missing:
        return "native", None
    raise AistackError(
        f"cannot run the monitoring stack: no Docker Compose ({why_not}), and native mode "
        f"lacks binaries: apt-get install {' '.join(missing)} (or install Docker with the "
        "compose plugin)"
    )


def stack_up(
    mode: Mode = "auto",
    targets: Sequence[str] = DEFAULT_TARGETS,
    state_dir: Path | None = None,
    *,
    stack_dir: Path | None = None,
    timeout: float = 60.0,
) -> StackStatus:
    """Start the stack (or find it up) and return once every service is healthy.

    `targets` are the aistack workers (HOST:PORT of their /metrics) Prometheus scrapes;
    on a stack that is already up, `up` only updates them. Raises AistackError when a
    service cannot start, naming it and its log.
    """
    state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
    targets = _validate_targets(targets)
    stack_dir = find_stack_dir(stack_dir)
    with _locked(state_dir):
        state = _read_state(state_dir)
        if state is not None and mode not in ("auto", state["mode"]):
            raise AistackError(
                f"the stack is already up in {state['mode']} mode (state in {state_dir}); "
                "run `aistack stack down` first"
            )
        notes: list[str] = []
        if state is not None and state["mode"] == "compose":
            mode = "compose"  # `compose up` again: it is idempotent and restarts what stopped
        elif state is not None:
            reused, notes = _native_reuse(state_dir, state, targets, timeout)
            if reused:
                return stack_status(state_dir, notes=notes)
            mode = "native"
        chosen, command = resolve_mode(mode)
        if chosen == "compose":
            assert command is not None
            return _compose_up(state_dir, stack_dir, command, targets)
        started_at = time.time()

        def record(stack: native.NativeStack) -> None:
            _write_state(state_dir, {"mode": "native", "started_at": started_at, **stack.to_json()})

        try:
            _, started = native.start_stack(state_dir, stack_dir, targets, timeout, record)
        except BaseException:
            (state_dir / STATE_FILE).unlink(missing_ok=True)
            raise
    return stack_status(state_dir, notes=notes + started)


def _native_reuse(
    state_dir: Path, state: dict[str, Any], targets: tuple[str, ...], timeout: float
) -> tuple[bool, list[str]]:
    """(True, notes) when the recorded stack is still up, its targets updated; (False, notes)
    when it must start again, after stopping what is left of it."""
    stack = native.NativeStack.from_json(state)
    dead = [s.name for s in stack.services if not native.is_running(s)]
    if dead:
        native.stop(stack.services)
        (state_dir / STATE_FILE).unlink()
        return False, [f"restarting the stack: {', '.join(dead)} had stopped"]
    native.wait_healthy(stack.services, timeout)  # it may still be starting
    notes = ["already up"]
    if targets != stack.targets:
        write_targets(state_dir / "prometheus", targets)
        _write_state(state_dir, {**state, "targets": list(targets)})
        notes.append(f"Prometheus now scrapes {', '.join(targets) or 'no aistack targets'}")
    return True, notes


def _compose_up(
    state_dir: Path, stack_dir: Path, command: list[str], targets: tuple[str, ...]
) -> StackStatus:
    if not (stack_dir / ".env").is_file():
        raise ConfigError(
            f"{stack_dir / '.env'} is missing: cp {stack_dir / '.env.example'} "
            f"{stack_dir / '.env'} and fill in every empty value"
        )
    notes = []
    if targets != DEFAULT_TARGETS:
        notes.append(
            "compose mode scrapes its own aistack service; list other workers in "
            f"{stack_dir / 'prometheus/targets/aistack/'}"
        )
    # Recorded first and kept on failure: whatever compose did start, `down` removes.
    _write_state(state_dir, {"mode": "compose", "command": command, "stack_dir": str(stack_dir)})
    _compose_run(compose_argv(command, stack_dir, "up"), "docker compose up")
    return stack_status(state_dir, notes=notes)


def stack_status(state_dir: Path | None = None, *, notes: Sequence[str] = ()) -> StackStatus:
    """Health-check every recorded service; `mode` is None when the stack is not up."""
    state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
    state = _read_state(state_dir)
    if state is None:
        return StackStatus(None, [], state_dir, list(notes))
    if state["mode"] == "compose":
        argv = compose_argv(state["command"], Path(state["stack_dir"]), "ps")
        services: list[ServiceStatus] = []
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
                raise ValueError(last)
            services = parse_compose_ps(done.stdout)
        except (OSError, subprocess.SubprocessError, ValueError) as error:
            notes = [*notes, f"`{' '.join(argv)}` failed: {error}"]
        return StackStatus("compose", services, state_dir, list(notes))
    stack = native.NativeStack.from_json(state)
    services = [
        ServiceStatus(s.name, s.url, native.is_healthy(s), s.pid, "native") for s in stack.services
    ]
    return StackStatus("native", services, state_dir, list(notes))


def stack_down(state_dir: Path | None = None, *, purge: bool = False) -> list[str]:
    """Stop the stack and forget it; `purge` also deletes its data. Returns what it did."""
    state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
    if not state_dir.exists():
        return ["the stack is not up"]
    with _locked(state_dir):
        state = _read_state(state_dir)
        notes = ["the stack is not up"] if state is None else []
        if state is not None and state["mode"] == "compose":
            argv = compose_argv(state["command"], Path(state["stack_dir"]), "down", purge)
            _compose_run(argv, "docker compose down")
            notes.append("compose stack stopped" + (", volumes removed" if purge else ""))
        elif state is not None:
            notes += native.stop(native.NativeStack.from_json(state).services)
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        owned = [state_dir / name for name in native.OWNED_PATHS]
        if purge and any(path.exists() for path in owned):
            for path in owned:
                shutil.rmtree(path, ignore_errors=True)
            notes.append(f"removed the native stack's data in {state_dir}")
    if purge:
        (state_dir / ".lock").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            state_dir.rmdir()  # only if nothing else lives there
    return notes
