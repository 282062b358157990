"""What one benchmark suite cost: wall time, CPU %, peak memory and GPU load, children included.

Several suites run their comparison in child processes (independent pipelines,
Ultralytics workers), so CPU time counts this process and every child it waited
for, and a sampler thread adds the RSS of live children to this process's own.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

_SAMPLE_SECONDS = 0.2


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # those already waited for
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class SuiteUsage:
    """Measures a block: `with SuiteUsage(gpu) as usage: ...`, then `usage.summary()`.

    `gpu` returns NVML readings (a list of dicts per GPU, see `bench.gpu_readings`)
    or None without a GPU; it is sampled with memory so the busiest moment shows.
    """

    def __init__(self, gpu: Callable[[], list[dict[str, Any]] | None] | None = None) -> None:
        self._gpu = gpu
        self._stop = threading.Event()
        self._process = psutil.Process()
        self.peak_rss_bytes = 0
        self.peak_gpu: dict[str, dict[str, float]] = {}
        self._thread = threading.Thread(target=self._sample, name="bench-usage", daemon=True)

    def __enter__(self) -> SuiteUsage:
        self._cpu = _cpu_seconds()
        self._wall = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = _cpu_seconds() - self._cpu

    def summary(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "seconds": round(self.seconds, 1),
            "cpu_percent": round(100.0 * self.cpu_seconds / self.seconds, 1)
            if self.seconds
            else 0.0,
            "peak_rss_mb": round(self.peak_rss_bytes / 2**20, 1),
        }
        if self.peak_gpu:
            usage["gpu_peak"] = self.peak_gpu
        return usage

    def _sample(self) -> None:
        while True:
            self._sample_memory()
            if self._gpu is not None:
                self._sample_gpu(self._gpu)
            if self._stop.wait(_SAMPLE_SECONDS):
                return

    def _sample_memory(self) -> None:
        total = 0
        for process in [self._process, *self._process.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:  # a child that ended between listing and reading
                continue
        self.peak_rss_bytes = max(self.peak_rss_bytes, total)

    def _sample_gpu(self, read: Callable[[], list[dict[str, Any]] | None]) -> None:
        for device in read() or []:
            peak = self.peak_gpu.setdefault(str(device.get("gpu", "?")), {})
            for key, value in device.items():
                if isinstance(value, int | float) and key != "gpu":
                    peak[key] = max(peak.get(key, float(value)), float(value))
