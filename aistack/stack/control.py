"""The monitoring stack (Prometheus, Alertmanager, node-exporter, InfluxDB) up, checked, down.

Two modes: `compose` runs stack/docker-compose.yml when Docker Compose v2 and its daemon
answer (`aistack.stack.compose`); `native` runs the same services from local binaries as
detached daemons (`aistack.stack.native`). Either way a JSON state file under
$AISTACK_HOME/stack/ says what runs, so `status` and `down` work from any later command.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from aistack.config import default_data_dir
from aistack.errors import AistackError, ConfigError
from aistack.stack import native
from aistack.stack.compose import COMPOSE_MAIN_PORTS as COMPOSE_MAIN_PORTS  # re-exported
from aistack.stack.compose import compose_argv, compose_command, compose_run, parse_compose_ps
from aistack.stack.render import write_targets
from aistack.stack.status import ServiceStatus, StackStatus

Mode = Literal["auto", "native", "compose"]
MODES = ("auto", "native", "compose")
DEFAULT_TARGETS = ("127.0.0.1:9108",)  # `aistack run` serves /metrics there by default
STATE_FILE = "state.json"
STATE_VERSION = 1

__all__ = [
    "DEFAULT_TARGETS",
    "ServiceStatus",
    "StackStatus",
    "default_state_dir",
    "stack_down",
    "stack_status",
    "stack_up",
]


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
        candidates += [Path(__file__).resolve().parents[2] / "stack", Path.cwd() / "stack"]
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
    compose_run(compose_argv(command, stack_dir, "up"), "docker compose up")
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
            compose_run(argv, "docker compose down")
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
