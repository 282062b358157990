"""Each counted crossing can leave a JPEG, linked from its row in the store."""

from __future__ import annotations

from pathlib import Path

import cv2

from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.pipeline.wiring import Pipeline
from aistack.sinks.sqlite import SqliteSink
from aistack.stores.sqlite import open_store


def test_crossings_link_to_readable_crops(tmp_path: Path) -> None:
    config = AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": "vtest",
                    "source": {"uri": str(DEMO_CLIP)},
                    "lines": [{"name": "walkway", "points": [0.62, 0.8, 0.62, 0.3]}],
                }
            ],
            "detector": {"classes": ["people"]},
            "snapshots": {"enabled": True, "directory": str(tmp_path / "snaps")},
            "metrics": {"enabled": False},
        }
    )
    with SqliteSink(tmp_path / "s.sqlite") as sink:
        summary = Pipeline(config, sinks={"sqlite": sink}, pace="unpaced", max_frames=250).run()
    events = open_store(tmp_path / "s.sqlite").events()
    counted = summary.cameras[0].lines[0]
    assert len(events) == counted.total_in + counted.total_out > 0
    for path in events["snapshot"]:
        image = cv2.imread(str(path))
        assert image is not None, path
        assert Path(path).is_relative_to(tmp_path / "snaps" / "vtest")
        height, width = image.shape[:2]
        assert 20 <= height < 576 and 10 <= width < 768  # a crop around one person
