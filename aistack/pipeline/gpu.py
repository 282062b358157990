"""GPU utilisation, memory, temperature and power from NVML, read when Prometheus scrapes."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

log = logging.getLogger("aistack.gpu")

LABELS = ("gpu", "name")
UTILIZATION = "aistack_gpu_utilization_percent"
MEMORY_USED = "aistack_gpu_memory_used_bytes"
MEMORY_TOTAL = "aistack_gpu_memory_total_bytes"
TEMPERATURE = "aistack_gpu_temperature_celsius"
POWER = "aistack_gpu_power_watts"

HELP = {
    UTILIZATION: "Share of the last sample period in which a kernel ran on the GPU",
    MEMORY_USED: "GPU memory in use, all processes",
    MEMORY_TOTAL: "GPU memory installed",
    TEMPERATURE: "GPU core temperature",
    POWER: "GPU board power draw",
}


@dataclass(frozen=True)
class GpuDevice:
    """One GPU as NVML enumerated it when the collector was made."""

    index: str
    name: str
    handle: Any


# One NVML call per reading; each may fail on its own (power is unsupported on some boards).
Reading = Callable[[ModuleType, Any], dict[str, float]]


def _utilization(nvml: ModuleType, handle: Any) -> dict[str, float]:
    return {UTILIZATION: float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)}


def _memory(nvml: ModuleType, handle: Any) -> dict[str, float]:
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    return {MEMORY_USED: float(memory.used), MEMORY_TOTAL: float(memory.total)}


def _temperature(nvml: ModuleType, handle: Any) -> dict[str, float]:
    return {TEMPERATURE: float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))}


def _power(nvml: ModuleType, handle: Any) -> dict[str, float]:
    return {POWER: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0}  # NVML reports milliwatts


READINGS: dict[str, Reading] = {
    "utilization": _utilization,
    "memory": _memory,
    "temperature": _temperature,
    "power": _power,
}


class GpuCollector:
    """A prometheus_client collector: every scrape reads NVML for each GPU.

    A reading that fails is left out of that scrape: unsupported ones silently,
    others with one warning until they work again, so a lost GPU neither breaks
    /metrics nor floods the log.
    """

    def __init__(self, nvml: ModuleType, devices: list[GpuDevice]) -> None:
        self._nvml = nvml
        self._unsupported: type[Exception] | tuple[()] = getattr(nvml, "NVMLError_NotSupported", ())
        self.devices = devices
        self._failing: set[tuple[str, str]] = set()
        self._lock = threading.Lock()  # scrapes may run in parallel server threads

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(name, HELP[name], labels=LABELS) for name in HELP]

    def collect(self) -> Iterable[Metric]:
        families = {name: GaugeMetricFamily(name, HELP[name], labels=LABELS) for name in HELP}
        for device in self.devices:
            for reading, read in READINGS.items():
                values = self._read(device, reading, read)
                for name, value in values.items():
                    families[name].add_metric([device.index, device.name], value)
        return list(families.values())

    def _read(self, device: GpuDevice, reading: str, read: Reading) -> dict[str, float]:
        key = (device.index, reading)
        try:
            values = read(self._nvml, device.handle)
        except self._unsupported:
            return {}
        # Any error, not only NVML's: one bad reading must never fail the whole /metrics page.
        except Exception as error:
            with self._lock:
                first = key not in self._failing
                self._failing.add(key)
            if first:
                log.warning(
                    "GPU %s (%s): cannot read %s: %s", device.index, device.name, reading, error
                )
            return {}
        with self._lock:
            recovered = key in self._failing
            self._failing.discard(key)
        if recovered:
            log.info("GPU %s (%s): %s readable again", device.index, device.name, reading)
        return values


def _load_nvml() -> ModuleType | None:
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        log.info("GPU metrics off: nvidia-ml-py is not installed")
        return None


def _name(nvml: ModuleType, handle: Any) -> str:
    name = nvml.nvmlDeviceGetName(handle)
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def _devices(nvml: ModuleType) -> list[GpuDevice]:
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
    return [GpuDevice(str(i), _name(nvml, handle), handle) for i, handle in enumerate(handles)]


def register_gpu_metrics(registry: CollectorRegistry) -> bool:
    """Export the aistack_gpu_* gauges on `registry` if NVML finds a GPU.

    Without nvidia-ml-py, a driver or a GPU this logs one info line and
    returns False; nothing is registered, so scrapes cost nothing.
    """
    nvml = _load_nvml()
    if nvml is None:
        return False
    try:
        nvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound on machines without a driver
        log.info("GPU metrics off: NVML unavailable (%s)", error)
        return False
    try:
        devices = _devices(nvml)
    except Exception as error:
        log.info("GPU metrics off: NVML cannot list GPUs (%s)", error)
        nvml.nvmlShutdown()
        return False
    if not devices:
        log.info("GPU metrics off: NVML finds no GPU")
        nvml.nvmlShutdown()
        return False
    registry.register(GpuCollector(nvml, devices))
    names = ", ".join(f"{d.index}: {d.name}" for d in devices)
    log.info("GPU metrics on for %d GPU(s) (%s)", len(devices), names)
    return True
