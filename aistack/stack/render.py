"""The stack/ configs rendered for the native stack: this host's ports and absolute paths.

Compose reaches services by name (prometheus:9090); natively everything is on 127.0.0.1,
on ports chosen at `up`, so each config is rewritten into the state dir. The files under
stack/ stay the single source: edit those, then `aistack stack down && aistack stack up`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from aistack.errors import AistackError

WEBHOOK_PLACEHOLDER = "http://aistack-alert-webhook.invalid/alerts"
SECRETS_PREFIX = "/run/secrets/"  # where compose mounts them; natively, files in the state dir


def _native_address(target: str, ports: Mapping[str, int]) -> str | None:
    """A compose host:port as this host sees it; None for hosts the native stack lacks."""
    host, _, port = target.rpartition(":")
    if host in ("localhost", "prometheus") and port == "9090":
        return f"127.0.0.1:{ports['prometheus']}"
    if host in ports:  # a compose service name
        return f"127.0.0.1:{ports[host]}"
    return None  # `aistack` comes from --target; cadvisor and the like do not run natively


def _map_static_configs(configs: list[dict[str, Any]], ports: Mapping[str, int]) -> list[Any]:
    mapped = []
    for group in configs:
        targets = [a for t in group.get("targets", []) if (a := _native_address(t, ports))]
        if targets:
            mapped.append({**group, "targets": targets})
    return mapped


def render_prometheus(
    stack_dir: Path, folder: Path, ports: Mapping[str, int], targets: Sequence[str]
) -> Path:
    """stack/prometheus/prometheus.yml for this host: absolute rule and target paths, our
    ports, and the aistack workers to scrape in a file_sd file of the state dir."""
    source = stack_dir / "prometheus"
    config = yaml.safe_load((source / "prometheus.yml").read_text())
    config["rule_files"] = [str(source / path) for path in config.get("rule_files", [])]
    for manager in config.get("alerting", {}).get("alertmanagers", []):
        manager["static_configs"] = _map_static_configs(manager.get("static_configs", []), ports)
    for job in config.get("scrape_configs", []):
        if "static_configs" in job:
            job["static_configs"] = _map_static_configs(job["static_configs"], ports)
            if not job["static_configs"]:
                del job["static_configs"]
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(source / path) for path in sd["files"]]
        if job["job_name"] == "aistack":
            job.setdefault("file_sd_configs", []).append(
                {"files": [str(targets_file(folder))], "refresh_interval": "30s"}
            )
    write_targets(folder, targets)
    rendered = folder / "prometheus.yml"
    header = f"# Rendered by `aistack stack up` from {source / 'prometheus.yml'}; edit that.\n"
    rendered.write_text(header + yaml.safe_dump(config, sort_keys=False))
    return rendered


def targets_file(prometheus_folder: Path) -> Path:
    return prometheus_folder / "targets" / "aistack-stack-up.yml"


def write_targets(prometheus_folder: Path, targets: Sequence[str]) -> None:
    """The `--target` workers; Prometheus notices a change to this file by itself."""
    path = targets_file(prometheus_folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    groups = [{"targets": list(targets)}] if targets else []
    text = "# Written by `aistack stack up --target HOST:PORT`.\n" + yaml.safe_dump(groups)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)  # never a half-written file for Prometheus to read


def _replace_strings(node: Any, change: Callable[[str], str]) -> Any:
    if isinstance(node, dict):
        return {key: _replace_strings(value, change) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_strings(value, change) for value in node]
    return change(node) if isinstance(node, str) else node


def render_alertmanager(stack_dir: Path, folder: Path, webhook_url: str | None) -> Path:
    """stack/alertmanager/alertmanager.yml with the webhook URL filled in and its
    /run/secrets/NAME files written from $ALERTMANAGER_NAME (empty when unset), mode 0600."""
    source = stack_dir / "alertmanager"
    config = yaml.safe_load((source / "alertmanager.yml").read_text())
    secrets = folder / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)

    def change(value: str) -> str:
        if value == WEBHOOK_PLACEHOLDER and webhook_url:
            return webhook_url
        if value.startswith(SECRETS_PREFIX):
            name = value.removeprefix(SECRETS_PREFIX)
            path = secrets / name
            # Verbatim: Alertmanager sends a password file as it is, trailing newline included.
            path.touch(mode=0o600)
            path.write_text(os.environ.get(f"ALERTMANAGER_{name.upper()}", ""))
            return str(path)
        return value

    config = _replace_strings(config, change)
    config["templates"] = [str(source / path) for path in config.get("templates", [])]
    rendered = folder / "alertmanager.yml"
    rendered.write_text(yaml.safe_dump(config, sort_keys=False))
    return rendered


def render_influxdb(influxd: str, folder: Path, http_port: int, rpc_port: int) -> Path:
    """`influxd config` with its folders under `folder`, 127.0.0.1 binds, no telemetry."""
    try:
        template = subprocess.run(
            [influxd, "config"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        message = f"`{influxd} config` failed ({error}); native mode needs InfluxDB 1.x"
        raise AistackError(message) from error
    if "[http]" not in template or "[meta]" not in template:
        raise AistackError(f"{influxd} is not InfluxDB 1.x, which native mode needs")
    section = ""
    out: list[str] = []
    folders = {("meta", "dir"): "meta", ("data", "dir"): "data", ("data", "wal-dir"): "wal"}
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]")
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else ""
        if section == "" and key == "bind-address":
            line = f'bind-address = "127.0.0.1:{rpc_port}"'
        elif section == "" and key == "reporting-enabled":
            line = "reporting-enabled = false"
        elif (section, key) in folders:
            line = f'  {key} = "{folder / folders[section, key]}"'
        elif section == "http" and key == "bind-address":
            line = f'  bind-address = "127.0.0.1:{http_port}"'
        elif section == "http" and key == "log-enabled":
            line = "  log-enabled = false"  # else every health check is a log line
        elif section == "monitor" and key == "store-enabled":
            line = "  store-enabled = false"
        out.append(line)
    rendered = folder / "influxdb.conf"
    rendered.write_text("\n".join(out) + "\n")
    return rendered


def service_argv(
    binaries: Mapping[str, str],
    configs: Mapping[str, Path],
    state_dir: Path,
    ports: Mapping[str, int],
) -> dict[str, list[str]]:
    """The command line of each service."""
    return {
        "prometheus": [
            binaries["prometheus"],
            f"--config.file={configs['prometheus']}",
            f"--storage.tsdb.path={state_dir / 'prometheus' / 'data'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
            "--web.enable-lifecycle",  # POST /-/reload, as in compose
        ],
        "alertmanager": [
            binaries["alertmanager"],
            f"--config.file={configs['alertmanager']}",
            f"--storage.path={state_dir / 'alertmanager' / 'data'}",
            f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
            "--cluster.listen-address=",  # no gossip cluster, else it also binds 0.0.0.0:9094
        ],
        "node-exporter": [
            binaries["node-exporter"],
            f"--web.listen-address=127.0.0.1:{ports['node-exporter']}",
        ],
        "influxdb": [binaries["influxdb"], "run", "-config", str(configs["influxdb"])],
    }
