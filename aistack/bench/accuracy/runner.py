"""`aistack bench accuracy`: every case under every detector setting, written to files."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from aistack.bench.accuracy.cases import AccuracyCase, find_cases, scaled_copy
from aistack.bench.accuracy.report import markdown, plot
from aistack.bench.suites import machine_info
from aistack.config import AppConfig
from aistack.errors import ConfigError
from aistack.evaluation.evaluate import evaluate
from aistack.evaluation.result import DIRECTIONS, EvalResult, count

# Named settings, each a set of config overrides on the defaults: the three presets a user
# can pick (`balanced` is the default), and "before": aistack as it counted before issue #16
# (every frame stretched to 416x416, ByteTrack, no crowd rules), kept so that every run shows the
# change against the same baseline.
SETTINGS: dict[str, dict[str, Any]] = {
    "before": {
        "detector": {"model": "nanodet", "nanodet_size": "416x416", "precision": "fp32"},
        "tracker": {
            "type": "bytetrack",
            "track_activation_threshold": 0.4,
            "high_conf_det_threshold": 0.4,
        },
        "counting": {"motion_direction": False, "duplicates": False, "stitch": False},
    },
    "fast": {"preset": "fast"},
    "balanced": {"preset": "balanced"},
    "accurate": {"preset": "accurate"},
}
QUICK_FRAMES = 90  # per case in --quick (CI): enough for a few crossings, seconds per case
TOLERANCE_SECONDS = 1.0  # evaluation's own default: one second of the clip


@dataclass(frozen=True)
class AccuracyResult:
    data: dict[str, Any]
    json_path: Path
    markdown: str
    plot_path: Path | None


def run_accuracy(
    out_dir: Path,
    data_dir: Path,
    *,
    quick: bool = False,
    cases: Sequence[str] | None = None,
    settings: Sequence[str] | None = None,
    progress: bool = True,
    custom: Mapping[str, Mapping[str, Any]] | None = None,
) -> AccuracyResult:
    """Evaluate every case × setting; write accuracy-<time>.json, .md and .png under out_dir.

    `custom` replaces the named settings with settings of one's own (name → config
    overrides), for experiments such as comparing trackers.
    """
    chosen = {k: dict(v) for k, v in custom.items()} if custom else _settings(settings)
    found = find_cases(data_dir, names=cases)
    runnable = [c for c in found if c.missing is None]
    skipped = [{"case": c.name, "reason": c.missing} for c in found if c.missing is not None]
    if not runnable:
        reasons = "; ".join(f"{s['case']}: {s['reason']}" for s in skipped)
        raise ConfigError(f"no accuracy case can run here (--data {data_dir}): {reasons}")
    runs: list[dict[str, Any]] = []
    work = [(case, name) for case in runnable for name in chosen]
    for case, name in tqdm(work, desc="aistack bench accuracy", unit="run", disable=not progress):
        result = _evaluate(scaled_copy(case), chosen[name], QUICK_FRAMES if quick else None)
        runs.append(_run_record(case, name, result))
    data: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "quick": quick,
        "tolerance_seconds": TOLERANCE_SECONDS,
        "settings": {name: chosen[name] for name in chosen},
        "runs": runs,
        "skipped": skipped,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = out_dir / f"accuracy-{stamp}.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    text = markdown(data)
    suffix = "-quick" if quick else ""
    (out_dir / f"accuracy-latest{suffix}.md").write_text(text)
    plot_path = plot(data, out_dir / f"accuracy-latest{suffix}.png")
    return AccuracyResult(data, json_path, text, plot_path)


def _settings(names: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    if not names:
        return dict(SETTINGS)
    if unknown := [n for n in names if n not in SETTINGS]:
        raise ConfigError(
            f"unknown accuracy setting {', '.join(unknown)}; choose from {', '.join(SETTINGS)}"
        )
    return {name: SETTINGS[name] for name in names}


def _config(overrides: Mapping[str, Any]) -> AppConfig:
    """The defaults with the setting's overrides, counting people (every case is pedestrians)."""
    data: dict[str, Any] = {
        "cameras": [{"source": {"uri": "unused"}}],  # evaluate() puts the clip here
        "metrics": {"enabled": False},
    }
    for section, values in overrides.items():
        data[section] = dict(values) if isinstance(values, Mapping) else values
    data.setdefault("detector", {}).setdefault("classes", ["person"])
    return AppConfig.model_validate(data)


def _evaluate(case: AccuracyCase, overrides: Mapping[str, Any], frames: int | None) -> EvalResult:
    config = _config(overrides)
    if case.truth_kind == "mot":
        return evaluate(case.clip, case.truth, case.lines, config, max_frames=frames)
    return evaluate(case.clip, None, case.lines, config, crossings=case.truth, max_frames=frames)


def _run_record(case: AccuracyCase, setting: str, result: EvalResult) -> dict[str, Any]:
    lines: list[dict[str, Any]] = [
        {
            "name": line.name,
            **{
                d: {"truth": count(line.truth, d), "counted": count(line.predicted, d)}
                for d in DIRECTIONS
            },
        }
        for line in result.lines
    ]
    weighted = result.weighted_count_error
    tracking = None if result.tracking is None else result.tracking.to_dict()
    matching = result.matching.to_dict()
    return {
        "setting": setting,
        "case": case.name,
        "scale": case.scale,
        "truth_kind": case.truth_kind,
        "frames": result.frames,
        "fps": round(result.fps, 2),
        "count_error_pct": None if weighted is None else round(100 * weighted, 1),
        "truth_total": sum(line[d]["truth"] for line in lines for d in DIRECTIONS),
        "counted_total": sum(line[d]["counted"] for line in lines for d in DIRECTIONS),
        "matching": matching,
        "tracking": tracking,
        "lines": lines,
    }
