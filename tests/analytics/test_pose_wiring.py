"""Pose wired into config, the pipeline, metrics, zones and drawing, on the real clip."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from aistack.analytics.camera import FrameResult
from aistack.analytics.pose import PoseSettings
from aistack.config import AppConfig, DetectorConfig, PoseConfig
from aistack.data import DEMO_CLIP
from aistack.detect import backend_for, load_detector
from aistack.detect.movenet import MoveNetDetector
from aistack.errors import ModelError
from aistack.pipeline.metrics import PipelineMetrics
from aistack.pipeline.wiring import Pipeline


def test_pose_config_mirrors_the_analyzer_settings() -> None:
    config = PoseConfig()
    settings = PoseSettings()
    shared = config.model_dump(exclude={"enabled"})
    assert set(shared) <= {f.name for f in dataclasses.fields(PoseSettings)}
    assert shared == {name: getattr(settings, name) for name in shared}
    with pytest.raises(ValidationError, match="upright_angle"):
        PoseConfig(upright_angle=70, lying_angle=60)


def test_movenet_is_chosen_by_name_and_type() -> None:
    assert backend_for("movenet") == "movenet"
    config = DetectorConfig(type="movenet")
    assert config.model == "movenet"
    detector = load_detector(config.model_copy(update={"input_size": 384, "confidence": 0.2}))
    assert isinstance(detector, MoveNetDetector) and detector.input_size == 384
    with pytest.raises(ModelError, match="movenet backend"):
        load_detector(DetectorConfig(type="movenet", model="nosuch.onnx"))
    with pytest.raises(ValidationError, match="multiple of 32"):
        DetectorConfig(type="movenet", input_size=300)


def test_a_pose_run_exports_postures_and_draws_skeletons(tmp_path: Path) -> None:
    config = AppConfig.model_validate({
        "cameras": [{
            "name": "vtest", "source": {"uri": str(DEMO_CLIP)},
            "zones": [{"name": "plaza", "polygon": [[0, 0.3], [1, 0.3], [1, 1], [0, 1]]}],
        }],
        "detector": {"type": "movenet", "confidence": 0.2, "classes": ["people"]},
        "tracker": {"track_activation_threshold": 0.25, "high_conf_det_threshold": 0.25},
        "counting": {"anchor": "keypoints"},
        "pose": {"enabled": True},
        "store": {"path": str(tmp_path / "s.sqlite")},
        "metrics": {"enabled": False},
    })  # fmt: skip
    metrics = PipelineMetrics()
    results: list[FrameResult] = []
    summary = Pipeline(
        config, metrics=metrics, pace="unpaced", max_frames=40, keep_snapshot=True,
        on_result=results.append,
    ).run()  # fmt: skip
    assert summary.frames == 40
    standing = metrics.registry.get_sample_value(
        "aistack_posture_count", {"camera": "vtest", "posture": "standing"}
    )
    assert standing is not None and standing >= 2
    assert metrics.registry.get_sample_value("aistack_pose_falls_total", {"camera": "vtest"}) in (
        None, 0.0,
    )  # fmt: skip
    assert [e for r in results for e in r.events if e.kind == "fall"] == []
    assert any("standing" in r.postures.values() for r in results)
    assert summary.cameras[0].zones["plaza"].get("person", 0) >= 1
    assert summary.snapshot is not None
    # The skeleton's limb colours are in the snapshot (left limbs: BGR (255, 170, 60)).
    assert (np.abs(summary.snapshot.astype(int) - (255, 170, 60)).sum(axis=2) < 30).sum() > 20
