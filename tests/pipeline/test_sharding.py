"""Camera sharding across worker replicas: camera i goes to shard i mod N."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.errors import ConfigError
from aistack.pipeline.sharding import Shard, select_cameras, shard_from_env

CAMERAS = [{"name": f"cam{i}", "source": {"uri": str(DEMO_CLIP)}} for i in range(5)]


def _config() -> AppConfig:
    return AppConfig.model_validate({"cameras": CAMERAS})


def test_off_without_a_count() -> None:
    assert shard_from_env({"HOSTNAME": "aistack-worker-3"}) is None
    assert select_cameras(_config(), None) == _config()


def test_index_from_env_or_the_pod_ordinal() -> None:
    assert shard_from_env({"AISTACK_SHARD_COUNT": "3", "AISTACK_SHARD_INDEX": "2"}) == Shard(2, 3)
    assert shard_from_env({"AISTACK_SHARD_COUNT": "3", "HOSTNAME": "aistack-worker-1"}) == Shard(
        1, 3
    )
    with pytest.raises(ConfigError, match="shard index is unknown"):
        shard_from_env({"AISTACK_SHARD_COUNT": "3", "HOSTNAME": "laptop"})
    with pytest.raises(ConfigError, match="positive number or auto"):
        shard_from_env({"AISTACK_SHARD_COUNT": "zero", "AISTACK_SHARD_INDEX": "0"})
    with pytest.raises(ConfigError, match=r"inside Kubernetes only|AISTACK_SHARD_STATEFULSET"):
        shard_from_env({"AISTACK_SHARD_COUNT": "auto", "AISTACK_SHARD_INDEX": "0"})


def test_every_camera_lands_on_exactly_one_shard() -> None:
    config = _config()
    seen: list[str] = []
    for index in range(3):
        part = select_cameras(config, Shard(index, 3))
        assert part is not None
        seen += [c.name for c in part.cameras]
    assert sorted(seen) == [c.name for c in config.cameras]
    first = select_cameras(config, Shard(0, 3))
    assert first is not None and [c.name for c in first.cameras] == ["cam0", "cam3"]
    assert select_cameras(config, Shard(7, 8)) is None  # more shards than cameras


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("index", "expected"), [(1, ["cam1"]), (5, [])])
def test_run_counts_only_its_share(tmp_path: Path, index: int, expected: list[str]) -> None:
    port = _free_port()
    config = tmp_path / "sharded.yaml"
    cameras = [
        {"name": f"cam{i}", "source": {"uri": str(DEMO_CLIP), "pace": "native", "loop": True}}
        for i in range(2)
    ]
    config.write_text(
        json.dumps(
            {
                "cameras": cameras,
                "store": {"path": str(tmp_path / "s.sqlite")},
                "metrics": {"port": port},
            }
        )
    )
    env = {"AISTACK_SHARD_COUNT": "2", "AISTACK_SHARD_INDEX": str(index), "PATH": "/usr/bin"}
    process = subprocess.Popen(
        [sys.executable, "-m", "aistack", "run", str(config)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    text = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(1)
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        except OSError:
            continue
        text = text.decode()
        if not expected or "aistack_frames_total{" in text:
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"aistack_shard_index {float(index)}" in text and "aistack_shards 2.0" in text
    counted = sorted(c for c in ("cam0", "cam1") if f'aistack_frames_total{{camera="{c}"}}' in text)
    assert counted == expected
    summary = json.loads(out)
    assert (summary["frames"] > 0) == bool(expected)
