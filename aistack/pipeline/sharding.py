"""Split a config's cameras across worker replicas: camera i goes to shard i mod N.

Kubernetes runs workers as a StatefulSet, so each pod has a stable ordinal. The
index comes from $AISTACK_SHARD_INDEX (the pod-index label), or else the trailing
`-<n>` of $AISTACK_POD_NAME / $HOSTNAME. The count is $AISTACK_SHARD_COUNT: a number,
or `auto` to read `.spec.replicas` of $AISTACK_SHARD_STATEFULSET from the API server,
so a scaled StatefulSet reshards (a worker whose count changed stops, and Kubernetes
starts it again with its new share). With no count set, a worker counts every camera.
"""

from __future__ import annotations

import json
import logging
import os
import re
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aistack.config import AppConfig
from aistack.errors import ConfigError

log = logging.getLogger("aistack.sharding")

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_ORDINAL = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int
    auto: bool = False


def shard_from_env(env: Mapping[str, str] | None = None) -> Shard | None:
    """The shard this worker is, or None when sharding is off."""
    env = os.environ if env is None else env
    raw_count = env.get("AISTACK_SHARD_COUNT", "").strip()
    if not raw_count:
        return None
    index = _index(env)
    if raw_count == "auto":
        return Shard(index, statefulset_replicas(env), auto=True)
    if not raw_count.isdigit() or int(raw_count) < 1:
        raise ConfigError(f"AISTACK_SHARD_COUNT={raw_count!r}: give a positive number or auto")
    return Shard(index, int(raw_count))


def _index(env: Mapping[str, str]) -> int:
    raw = env.get("AISTACK_SHARD_INDEX", "").strip()
    if raw.isdigit():
        return int(raw)
    for name in ("AISTACK_POD_NAME", "HOSTNAME"):
        match = _ORDINAL.search(env.get(name, ""))
        if match:
            return int(match.group(1))
    raise ConfigError(
        "AISTACK_SHARD_COUNT is set but the shard index is unknown: set AISTACK_SHARD_INDEX, "
        "or run as a StatefulSet pod whose name ends in -<ordinal>"
    )


def statefulset_replicas(env: Mapping[str, str]) -> int:
    """`.spec.replicas` of this worker's StatefulSet, read with the pod's service account."""
    name = env.get("AISTACK_SHARD_STATEFULSET", "").strip()
    if not name:
        raise ConfigError("AISTACK_SHARD_COUNT=auto needs AISTACK_SHARD_STATEFULSET (its name)")
    try:
        namespace = (SERVICE_ACCOUNT / "namespace").read_text().strip()
        token = (SERVICE_ACCOUNT / "token").read_text().strip()
    except OSError:
        raise ConfigError(
            "AISTACK_SHARD_COUNT=auto works inside Kubernetes only (no service account token)"
        ) from None
    host = env.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    port = env.get("KUBERNETES_SERVICE_PORT", "443")
    url = f"https://{host}:{port}/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"
    context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(json.load(response)["spec"]["replicas"])
    except (OSError, KeyError, ValueError) as error:
        raise ConfigError(f"cannot read the replicas of statefulset {name}: {error}") from None


def select_cameras(config: AppConfig, shard: Shard | None) -> AppConfig | None:
    """This shard's cameras (original order and names kept), or None when it has none."""
    if shard is None:
        return config
    mine = [c for i, c in enumerate(config.cameras) if i % shard.count == shard.index]
    if not mine:
        log.warning(
            "shard %d of %d has no cameras (the config has %d); serving metrics only",
            shard.index, shard.count, len(config.cameras),
        )  # fmt: skip
        return None
    return config.model_copy(update={"cameras": mine})
