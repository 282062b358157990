"""Memory benchmark: resident set size growth of a long pipeline run (target ≤ 5 %)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil

from aistack.analytics.camera import FrameResult
from aistack.config import AppConfig
from aistack.pipeline.wiring import Pipeline


def rss_growth(clip: Path, frames: int, warmup_fraction: float = 0.1) -> dict[str, Any]:
    """RSS after warm-up versus at the end of `frames` looping frames, with counting on.

    Per-track state (line sides, class votes, zone presence) is pruned as tracks die,
    so a long run over a looping clip with ever-new track ids must stay flat.
    """
    config = AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": "soak",
                    "source": {"uri": str(clip), "loop": True},
                    "lines": [{"name": "middle", "points": [0.5, 0.0, 0.5, 1.0]}],
                    "zones": [{"name": "left", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
                }
            ],
            "metrics": {"enabled": False},
        }
    )
    process = psutil.Process()
    samples: list[tuple[int, int]] = []
    warmup = max(1, int(frames * warmup_fraction))
    step = max(1, frames // 50)
    seen = 0

    def sample(result: FrameResult) -> None:
        nonlocal seen
        seen += 1
        if seen == warmup or seen % step == 0:
            samples.append((seen, process.memory_info().rss))

    pipeline = Pipeline(config, pace="unpaced", max_frames=frames, on_result=sample)
    summary = pipeline.run()
    tracked = sum(len(line._tracks) for line in pipeline.cameras["soak"].lines)
    after_warmup = next(rss for n, rss in samples if n >= warmup)
    end = samples[-1][1]
    peak = max(rss for _, rss in samples)
    return {
        "frames": summary.frames,
        "rss_after_warmup_mb": round(after_warmup / 2**20, 1),
        "rss_end_mb": round(end / 2**20, 1),
        "rss_peak_mb": round(peak / 2**20, 1),
        "growth_percent": round(100 * (end - after_warmup) / after_warmup, 2),
        "target_percent": 5.0,
        "line_tracks_held_at_end": tracked,
    }
