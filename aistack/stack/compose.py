"""The monitoring stack under Docker Compose: find a working Compose v2, run it, read `ps`.

`aistack.stack.control` decides the mode and keeps the state file; this module only speaks to
`docker compose` for stack/docker-compose.yml.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from aistack.errors import AistackError
from aistack.stack.status import ServiceStatus

# The port whose URL `status` shows for a compose service that publishes several.
COMPOSE_MAIN_PORTS = {
    "prometheus": 9090, "alertmanager": 9093, "influxdb": 8086, "grafana": 3000,
    "aistack": 9108, "mediamtx": 8554,
}  # fmt: skip


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


def compose_run(argv: list[str], what: str) -> None:
    try:
        code = subprocess.run(argv, stdin=subprocess.DEVNULL).returncode
    except OSError as error:
        raise AistackError(f"{what} could not run: {error}") from error
    if code != 0:
        raise AistackError(f"{what} failed with exit code {code} (see its messages above)")
