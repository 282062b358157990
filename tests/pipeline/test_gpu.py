"""GPU gauges: absent cleanly without a GPU, read at scrape time where NVML answers."""

from __future__ import annotations

import logging
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from aistack.pipeline.gpu import HELP, register_gpu_metrics

RULES = Path(__file__).resolve().parents[2] / "stack/prometheus/rules/aistack.rules.yml"
HAS_GPU = shutil.which("nvidia-smi") is not None


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """(metric name, gpu index) -> value of one scrape."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels.get("gpu", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _gpu_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "aistack.gpu"]


class _Memory:
    def __init__(self, used: int, total: int) -> None:
        self.used, self.total = used, total


class _Utilization:
    def __init__(self, gpu: int) -> None:
        self.gpu = gpu


def fake_nvml(devices: list[dict[str, Any]]) -> Any:
    """A stand-in for pynvml over `devices`: name, util, used, total, temp, power_mw.

    A value that is an exception instance is raised when read, as NVML does.
    """
    nvml = types.SimpleNamespace()

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):
        pass

    class NVMLError_GpuIsLost(NVMLError):
        pass

    def field(handle: int, key: str) -> Any:
        value = devices[handle][key]
        if isinstance(value, Exception):
            raise value
        return value

    nvml.NVMLError = NVMLError
    nvml.NVMLError_NotSupported = NVMLError_NotSupported
    nvml.NVMLError_GpuIsLost = NVMLError_GpuIsLost
    nvml.NVML_TEMPERATURE_GPU = 0
    nvml.calls = {"init": 0, "shutdown": 0}

    def init() -> None:
        nvml.calls["init"] += 1

    def shutdown() -> None:
        nvml.calls["shutdown"] += 1

    nvml.nvmlInit = init
    nvml.nvmlShutdown = shutdown
    nvml.nvmlDeviceGetCount = lambda: len(devices)
    nvml.nvmlDeviceGetHandleByIndex = lambda i: i
    nvml.nvmlDeviceGetName = lambda h: field(h, "name")
    nvml.nvmlDeviceGetUtilizationRates = lambda h: _Utilization(field(h, "util"))
    nvml.nvmlDeviceGetMemoryInfo = lambda h: _Memory(field(h, "used"), field(h, "total"))
    nvml.nvmlDeviceGetTemperature = lambda h, sensor: field(h, "temp")
    nvml.nvmlDeviceGetPowerUsage = lambda h: field(h, "power_mw")
    return nvml


L4 = {"name": b"NVIDIA L4", "util": 37, "used": 2 * 2**30, "total": 24 * 2**30,
      "temp": 61, "power_mw": 71_500}  # fmt: skip


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")
def test_without_a_gpu_nothing_registers_one_info_line_and_scrapes_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    with caplog.at_level(logging.DEBUG, logger="aistack.gpu"):
        assert register_gpu_metrics(registry) is False
        for _ in range(3):
            text = generate_latest(registry).decode()
    (record,) = _gpu_records(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith("GPU metrics off:")
    assert "aistack_gpu" not in text


def test_without_nvidia_ml_py_registration_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    registry = CollectorRegistry()
    with caplog.at_level(logging.DEBUG, logger="aistack.gpu"):
        assert register_gpu_metrics(registry) is False
    (record,) = _gpu_records(caplog)
    assert record.levelno == logging.INFO
    assert "nvidia-ml-py is not installed" in record.getMessage()
    assert generate_latest(registry) == b""


def test_nvml_without_gpus_registers_nothing_and_shuts_nvml_down(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    nvml = fake_nvml([])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    with caplog.at_level(logging.DEBUG, logger="aistack.gpu"):
        assert register_gpu_metrics(CollectorRegistry()) is False
    (record,) = _gpu_records(caplog)
    assert record.getMessage() == "GPU metrics off: NVML finds no GPU"
    assert nvml.calls == {"init": 1, "shutdown": 1}


def test_gauges_are_read_at_scrape_time_per_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    devices = [dict(L4), dict(L4, name="NVIDIA A100-SXM4-40GB", temp=74)]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(devices))
    registry = CollectorRegistry()
    assert register_gpu_metrics(registry) is True

    samples = _samples(registry)
    assert samples[("aistack_gpu_utilization_percent", "0")] == 37
    assert samples[("aistack_gpu_memory_used_bytes", "0")] == 2 * 2**30
    assert samples[("aistack_gpu_memory_total_bytes", "0")] == 24 * 2**30
    assert samples[("aistack_gpu_temperature_celsius", "1")] == 74
    assert samples[("aistack_gpu_power_watts", "0")] == 71.5  # from milliwatts

    devices[0]["temp"] = 88  # read live, not cached at registration
    assert _samples(registry)[("aistack_gpu_temperature_celsius", "0")] == 88

    text = generate_latest(registry).decode()
    assert 'aistack_gpu_temperature_celsius{gpu="1",name="NVIDIA A100-SXM4-40GB"} 74.0' in text
    assert 'name="NVIDIA L4"' in text  # bytes names from older pynvml are decoded


def test_unsupported_readings_are_left_out_silently(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    devices = [dict(L4)]
    nvml = fake_nvml(devices)
    devices[0]["power_mw"] = nvml.NVMLError_NotSupported()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    registry = CollectorRegistry()
    assert register_gpu_metrics(registry)
    with caplog.at_level(logging.DEBUG, logger="aistack.gpu"):
        samples = _samples(registry)
    assert ("aistack_gpu_power_watts", "0") not in samples
    assert ("aistack_gpu_temperature_celsius", "0") in samples
    assert _gpu_records(caplog) == []


def test_a_lost_gpu_warns_once_keeps_the_others_and_recovers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    devices = [dict(L4), dict(L4)]
    nvml = fake_nvml(devices)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    registry = CollectorRegistry()
    assert register_gpu_metrics(registry)

    lost = nvml.NVMLError_GpuIsLost("GPU is lost")
    devices[1].update(util=lost, used=lost, temp=lost, power_mw=lost)
    with caplog.at_level(logging.DEBUG, logger="aistack.gpu"):
        for _ in range(5):
            samples = _samples(registry)
    assert ("aistack_gpu_temperature_celsius", "0") in samples
    assert not [key for key in samples if key[1] == "1"]
    warnings = [r.getMessage() for r in _gpu_records(caplog)]
    assert len(warnings) == 4  # one per reading, not one per scrape
    assert all(w.startswith("GPU 1 (NVIDIA L4): cannot read") for w in warnings)

    caplog.clear()
    devices[1].update(L4)
    with caplog.at_level(logging.DEBUG, logger="aistack.gpu"):
        assert _samples(registry)[("aistack_gpu_temperature_celsius", "1")] == 61
    assert len(_gpu_records(caplog)) == 4  # "readable again", once each


def test_the_alert_rules_use_the_gauges_gpu_py_exports() -> None:
    rules = yaml.safe_load(RULES.read_text())
    exprs = " ".join(
        rule["expr"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule
    )
    used = {word for word in exprs.replace("(", " ").split() if word.startswith("aistack_gpu_")}
    assert used == {"aistack_gpu_temperature_celsius", "aistack_gpu_memory_used_bytes",
                    "aistack_gpu_memory_total_bytes"}  # fmt: skip
    assert used <= set(HELP)


@pytest.mark.skipif(not HAS_GPU, reason="no NVIDIA GPU (nvidia-smi) on this machine")
def test_on_a_gpu_machine_the_gauges_have_values() -> None:
    registry = CollectorRegistry()
    assert register_gpu_metrics(registry) is True
    samples = _samples(registry)
    assert samples[("aistack_gpu_memory_total_bytes", "0")] > 0
    assert (
        0
        <= samples[("aistack_gpu_memory_used_bytes", "0")]
        <= samples[("aistack_gpu_memory_total_bytes", "0")]
    )
    assert 0 <= samples[("aistack_gpu_utilization_percent", "0")] <= 100
    assert 0 < samples[("aistack_gpu_temperature_celsius", "0")] < 120
