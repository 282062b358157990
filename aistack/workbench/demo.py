"""The embedded default: count the bundled clip with the bundled model into SQLite and report."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.errors import ConfigError
from aistack.pipeline.wiring import Pipeline, RunSummary
from aistack.sinks.sqlite import SqliteSink
from aistack.stores.sqlite import open_store
from aistack.workbench.report import write_report

# A walkway in OpenCV's vtest clip: people cross the vertical line left↔right, and the
# zone covers the open plaza. Drawn bottom→top, so left→right is "in".
DEMO_CONFIG: dict[str, Any] = {
    "cameras": [
        {
            "name": "vtest",
            "source": {"uri": str(DEMO_CLIP)},
            "lines": [{"name": "walkway", "points": [0.62, 0.80, 0.62, 0.30]}],
            "zones": [
                {
                    "name": "plaza",
                    "polygon": [[0.02, 0.33], [0.45, 0.33], [0.45, 0.62], [0.02, 0.55]],
                }
            ],
            "classes": ["person"],
        }
    ],
    "detector": {"classes": ["people"]},  # the default preset's bundled model
    "metrics": {"enabled": False},
}


# What a demo writes; only a folder holding nothing else is replaced.
DEMO_FILES = frozenset(
    {"report.html", "annotated.jpg", "aistack.sqlite", "aistack.sqlite-wal", "aistack.sqlite-shm"}
)


def _fresh_folder(out_dir: Path) -> None:
    """An empty `out_dir`, replacing an earlier demo's; never another folder's files."""
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir():
            raise ConfigError(f"--out {out_dir}: exists and is not a folder; give a folder")
        try:
            others = sorted(p.name for p in out_dir.iterdir() if p.name not in DEMO_FILES)
        except OSError as error:
            raise ConfigError(f"--out {out_dir}: cannot read it ({error.strerror})") from None
        if others:
            raise ConfigError(
                f"--out {out_dir}: holds other files than a demo's ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}); give a new or empty folder"
            )
    try:
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        probe = out_dir / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"--out {out_dir}: cannot write there ({error.strerror or error}); "
            "give a writable folder"
        ) from None


@dataclass(frozen=True)
class DemoResult:
    report: Path
    store: Path
    summary: RunSummary


def demo_config(store: Path, source: Path | None = None) -> AppConfig:
    data = json.loads(json.dumps(DEMO_CONFIG))
    if source is not None:
        data["cameras"][0]["source"]["uri"] = str(source)
    data["store"] = {"path": str(store), "interval_seconds": 10}
    return AppConfig.model_validate(data)


def run_demo(out_dir: Path, source: Path | None = None, progress: bool = True) -> DemoResult:
    """Count, store and report; the out dir is replaced so each demo stands alone."""
    _fresh_folder(out_dir)
    store_path = out_dir / "aistack.sqlite"
    config = demo_config(store_path, source)
    with SqliteSink(store_path, config.store.interval_seconds) as sink:
        run_id = sink.start_run(config.cameras[0].source.uri, config.model_dump(mode="json"))
        pipeline = Pipeline(config, sinks={"sqlite": sink}, pace="unpaced", progress=progress,
                            keep_snapshot=True)  # fmt: skip
        summary = pipeline.run()
        sink.finish_run(run_id, summary.to_dict())
    if summary.snapshot is not None:
        cv2.imwrite(str(out_dir / "annotated.jpg"), summary.snapshot)
    report = write_report(
        out_dir / "report.html",
        open_store(store_path),
        title="aistack demo: people crossing a walkway",
        summary={
            key: value
            for key, value in summary.to_dict().items()
            if key not in ("lines", "cameras")
        }
        | {"model": _model_in_words(config), "tracker": config.tracker.type},
        annotated_frame=summary.snapshot,
        interval="10s",
    )
    return DemoResult(report, store_path, summary)


def _model_in_words(config: AppConfig) -> str:
    """The detector the demo ran, for its report: "centernet 448 px high, fp32 (bundled)"."""
    detector = config.detector
    return (
        f"{detector.model} {detector.nanodet_size} px high, {detector.precision} "
        f"(bundled ONNX, preset {config.preset})"
    )
