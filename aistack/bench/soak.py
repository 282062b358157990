"""Soak: emulated RTSP cameras through a default `aistack run` pipeline, measured each minute.

`aistack bench soak --minutes N --cameras C` serves the clip as C looping RTSP cameras
(the GStreamer emulator), runs them as `aistack run` would (supervised live cameras,
the default lanes, a SQLite store) and records, for every minute: the process's RSS,
the deepest each buffer got (frames per camera, batches in the lanes, event batches per
sink), frames counted and dropped, reconnects and crossings. The results file and a plot
show whether memory, queues or drops creep up over hours.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from aistack.bench.suites import check_inputs, machine_info
from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.errors import AistackError, ConfigError, SourceError
from aistack.live.emulator import Emulator
from aistack.pipeline.metrics import PipelineMetrics
from aistack.pipeline.wiring import Pipeline
from aistack.sinks.sqlite import SqliteSink

SAMPLE_SECONDS = 5.0
MAX_CAMERAS = 64
# The bundled clip's walkway (as in `aistack demo`); another clip gets a line across the middle.
DEMO_LINE = [0.62, 0.80, 0.62, 0.30]
MIDDLE_LINE = [0.0, 0.5, 1.0, 0.5]


@dataclass(frozen=True)
class SoakResult:
    data: dict[str, Any]
    json_path: Path
    plot_path: Path | None
    markdown: str


def soak_config(urls: dict[str, str], store: Path, line: list[float]) -> AppConfig:
    """`aistack run`'s defaults for these cameras, with one line each and a store."""
    return AppConfig.model_validate(
        {
            "cameras": [
                {"name": name, "source": {"uri": url}, "lines": [{"name": "line", "points": line}]}
                for name, url in urls.items()
            ],
            "store": {"path": str(store)},
            "metrics": {"enabled": False},
        }
    )


def run_soak(
    minutes: float,
    cameras: int,
    out_dir: Path,
    source: Path | None = None,
    sample_seconds: float = SAMPLE_SECONDS,
) -> SoakResult:
    """Soak for `minutes` with `cameras` emulated cameras; write soak-<time>.json and .png."""
    if not (math.isfinite(minutes) and minutes > 0):
        raise ConfigError(f"--minutes {minutes}: give a finite number of minutes above 0")
    if not 1 <= cameras <= MAX_CAMERAS:
        raise ConfigError(f"--cameras {cameras}: give 1 to {MAX_CAMERAS}")
    clip = source or DEMO_CLIP
    check_inputs(clip, out_dir)
    _check_gstreamer()
    names = [f"cam{i + 1}" for i in range(cameras)]
    line = DEMO_LINE if clip.resolve() == DEMO_CLIP.resolve() else MIDDLE_LINE
    with (
        tempfile.TemporaryDirectory(prefix="aistack-soak-") as tmp,
        Emulator([clip] * cameras, port=0, names=names) as emulator,
    ):
        emulator.start()
        config = soak_config(emulator.urls, Path(tmp) / "soak.sqlite", line)
        metrics = PipelineMetrics()
        with SqliteSink(config.store.path, config.store.interval_seconds) as sqlite:
            pipeline = Pipeline(
                config, metrics=metrics, sinks={"sqlite": sqlite}, pace="native", supervise=True
            )
            rows = _soak(pipeline, metrics, names, minutes, sample_seconds)
        # Every crossing the metrics counted must be in the store once the sink has closed.
        counted = int(sum(_counters(metrics, names)["crossings"].values()))
        stored = _stored_events(config.store.path)
    data = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "clip": clip.name,
        "cameras": cameras,
        "minutes": minutes,
        "sample_seconds": sample_seconds,
        "pipeline": {
            "lanes": pipeline.lanes,
            "batch_size": config.pipeline.batch_size,
            "buffer_size": config.pipeline.buffer_size,
            "model": config.detector.model,
        },
        "per_minute": rows,
        "summary": {
            **_summary(rows),
            "crossings_counted": counted,
            "events_stored": stored,
            "events_lost": counted - stored,
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = out_dir / f"soak-{stamp}.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    plot_path = _plot(rows, out_dir / f"soak-{stamp}.png", cameras)
    return SoakResult(data, json_path, plot_path, _markdown(data))


def _stored_events(path: Path) -> int:
    with closing(sqlite3.connect(path)) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM events").fetchone()
    return int(count)


def _check_gstreamer() -> None:
    """GStreamer is there for the emulator, checked in a child: loaded here (gi, cairo) its
    freetype and Pillow's crash matplotlib's when the plot draws text."""
    code = (
        "from aistack.live.emulator import check_gstreamer\n"
        "try:\n    check_gstreamer()\nexcept Exception as error:\n"
        "    print(error)\n    raise SystemExit(1)\n"
    )
    root = str(Path(__file__).resolve().parents[2])  # this copy of aistack, installed or not
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    if done.returncode != 0:
        lines = done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["?"]
        raise SourceError(lines[-1])


def _soak(
    pipeline: Pipeline,
    metrics: PipelineMetrics,
    cameras: list[str],
    minutes: float,
    sample_seconds: float,
) -> list[dict[str, Any]]:
    failure: list[BaseException] = []

    def run() -> None:
        try:
            pipeline.run()
        except BaseException as error:  # reported by the sampling thread
            failure.append(error)

    worker = threading.Thread(target=run, name="soak-pipeline", daemon=True)
    process = psutil.Process()
    rows: list[dict[str, Any]] = []
    worker.start()
    try:
        started = time.monotonic()
        end = started + minutes * 60
        before = _counters(metrics, cameras)
        for minute in range(math.ceil(minutes)):
            minute_end = min(started + 60 * (minute + 1), end)
            began = time.monotonic()
            rss: list[float] = []
            depths: dict[str, int] = {}
            while True:
                rss.append(process.memory_info().rss / 2**20)
                for name, depth in pipeline.queue_depths().items():
                    depths[name] = max(depths.get(name, 0), depth)
                now = time.monotonic()
                if now >= minute_end or failure or not worker.is_alive():
                    break
                time.sleep(min(sample_seconds, minute_end - now))
            if failure:
                raise failure[0]
            if not worker.is_alive():
                raise SourceError("the pipeline stopped before the soak ended")
            after = _counters(metrics, cameras)
            seconds = time.monotonic() - began
            rows.append(_row(minute + 1, seconds, rss, depths, before, after))
            before = after
            print(_progress(rows[-1], math.ceil(minutes), len(cameras)), file=sys.stderr)
    finally:
        pipeline.stop()
        worker.join(timeout=60)
    if failure and isinstance(failure[0], AistackError):
        raise failure[0]
    return rows


def _counters(metrics: PipelineMetrics, cameras: list[str]) -> dict[str, dict[str, float]]:
    """Each counter's value per camera now (crossings summed over lines, classes, ways)."""
    registry = metrics.registry
    values: dict[str, dict[str, float]] = {}
    for name in ("frames", "frames_dropped", "reconnects", "decode_errors"):
        values[name] = {
            camera: registry.get_sample_value(f"aistack_{name}_total", {"camera": camera}) or 0.0
            for camera in cameras
        }
    crossings = dict.fromkeys(cameras, 0.0)
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "aistack_objects_crossed_total":
                camera = sample.labels["camera"]
                crossings[camera] = crossings.get(camera, 0.0) + sample.value
    values["crossings"] = crossings
    return values


def _row(
    minute: int,
    seconds: float,
    rss: list[float],
    depths: dict[str, int],
    before: dict[str, dict[str, float]],
    after: dict[str, dict[str, float]],
) -> dict[str, Any]:
    def delta(name: str) -> dict[str, int]:
        return {c: int(after[name][c] - before[name].get(c, 0.0)) for c in after[name]}

    frames = delta("frames")
    return {
        "minute": minute,
        "seconds": round(seconds, 1),
        "rss_mb": round(rss[-1], 1),
        "rss_max_mb": round(max(rss), 1),
        "queue_depth_max": depths,
        "frames": sum(frames.values()),
        "fps": round(sum(frames.values()) / seconds, 2) if seconds > 0 else 0.0,
        "frames_dropped": sum(delta("frames_dropped").values()),
        "reconnects": sum(delta("reconnects").values()),
        "decode_errors": sum(delta("decode_errors").values()),
        "crossings": sum(delta("crossings").values()),
        "by_camera": {
            camera: {
                "frames": frames[camera],
                "frames_dropped": delta("frames_dropped")[camera],
                "crossings": delta("crossings")[camera],
            }
            for camera in frames
        },
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    first, last = rows[0], rows[-1]
    seconds = sum(r["seconds"] for r in rows)
    frames = sum(r["frames"] for r in rows)
    return {
        "frames": frames,
        "fps": round(frames / seconds, 2) if seconds else 0.0,
        "frames_dropped": sum(r["frames_dropped"] for r in rows),
        "crossings": sum(r["crossings"] for r in rows),
        "reconnects": sum(r["reconnects"] for r in rows),
        "rss_first_minute_mb": first["rss_mb"],
        "rss_last_minute_mb": last["rss_mb"],
        "rss_growth_percent": round(100 * (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"], 2),
        "queue_depth_max": {
            name: max(r["queue_depth_max"].get(name, 0) for r in rows)
            for name in sorted({n for r in rows for n in r["queue_depth_max"]})
        },
    }


def _progress(row: dict[str, Any], minutes: int, cameras: int) -> str:
    return (
        f"aistack: soak minute {row['minute']}/{minutes}: {cameras} cameras, "
        f"{row['fps']:.1f} fps, {row['frames_dropped']} dropped, {row['crossings']} crossings, "
        f"RSS {row['rss_mb']:.0f} MB"
    )


def _markdown(data: dict[str, Any]) -> str:
    summary = data["summary"]
    lines = [
        f"# Soak: {data['cameras']} emulated camera(s) of {data['clip']} for "
        f"{data['minutes']:g} min ({data['when']})",
        "",
        f"lanes {data['pipeline']['lanes']}, batch {data['pipeline']['batch_size']}, "
        f"{summary['fps']:.1f} fps in all, RSS {summary['rss_first_minute_mb']:.0f} → "
        f"{summary['rss_last_minute_mb']:.0f} MB ({summary['rss_growth_percent']:+.1f} %), "
        f"{summary['crossings_counted']} crossings counted, {summary['events_stored']} stored "
        f"({summary['events_lost']} lost)",
        "",
        "| minute | RSS MB | fps | dropped | crossings | reconnects | deepest queue |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in data["per_minute"]:
        depths = row["queue_depth_max"]
        deepest = max(depths, key=lambda name: depths[name]) if depths else "-"
        shown = f"{deepest} {depths[deepest]}" if depths else "-"
        lines.append(
            f"| {row['minute']} | {row['rss_mb']:.0f} | {row['fps']:.1f} | "
            f"{row['frames_dropped']} | {row['crossings']} | {row['reconnects']} | {shown} |"
        )
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict[str, Any]], path: Path, cameras: int) -> Path | None:
    """RSS, deepest queues, drops and crossings per minute (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    minutes = [r["minute"] for r in rows]
    figure, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    axes[0].plot(minutes, [r["rss_mb"] for r in rows], marker="o")
    axes[0].set_ylabel("RSS (MB)")
    names = sorted({n for r in rows for n in r["queue_depth_max"]})
    for name in names:
        axes[1].plot(minutes, [r["queue_depth_max"].get(name, 0) for r in rows], label=name)
    axes[1].set_ylabel("deepest queue")
    if names:
        axes[1].legend(fontsize="small", ncol=3)
    axes[2].bar(minutes, [r["frames_dropped"] for r in rows])
    axes[2].set_ylabel("frames dropped")
    axes[3].bar(minutes, [r["crossings"] for r in rows])
    axes[3].set_ylabel("crossings")
    axes[3].set_xlabel("minute")
    figure.suptitle(f"aistack soak: {cameras} emulated cameras")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
