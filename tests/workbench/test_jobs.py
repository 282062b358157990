"""Jobs end to end (papermill → executed notebook → offline HTML report), their errors, and the
pieces the workbench notebooks call: config overrides, device choice, figures and tables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from aistack.cli.job import main
from aistack.config import DetectorConfig
from aistack.errors import ConfigError
from aistack.workbench import analysis, experiment, jobs, notebook_data

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "people_walkway.yaml"
JOB_NOTEBOOK = ROOT / "notebooks" / "03_inference_job.ipynb"
PLOTLY_JS_BANNER = "* plotly.js v"


@pytest.fixture(scope="module")
def job_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One real job of 60 frames, shared by the tests that read what it wrote."""
    out = tmp_path_factory.mktemp("job") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        code = main(["job", "run", str(EXPERIMENT), "--param", "max_frames=60", "--out", str(out),
                     "--no-progress"])  # fmt: skip
    assert code == 0
    yield out


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("aistack: error: ")
    return lines[0]


def test_job_writes_notebook_params_log_and_store(job_run: Path) -> None:
    for name in ("03_inference_job.ipynb", "report.html", "params.json", "job.log",
                 "aistack.sqlite", "summary.json", "config.yaml", "annotated.jpg"):  # fmt: skip
        assert (job_run / name).is_file(), name
    params = json.loads((job_run / "params.json").read_text())
    assert params["parameters"]["max_frames"] == 60
    assert params["parameters"]["config"] == str(EXPERIMENT)
    executed = nbformat.read(job_run / "03_inference_job.ipynb", as_version=4)
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "error"]
    summary = json.loads((job_run / "summary.json").read_text())
    assert summary["frames"] == 60
    assert summary["device_requested"] == summary["device_used"] == "cpu"


def test_report_is_offline_with_plotly_once_and_no_code(job_run: Path) -> None:
    page = (job_run / "report.html").read_text(encoding="utf-8")
    assert page.count(PLOTLY_JS_BANNER) == 1  # inlined once, however many figures
    assert page.count('class="plotly-graph-div"') >= 3
    assert not re.search(r"<script[^>]*\ssrc=", page), "the report must not fetch scripts"
    assert 'jp-InputArea-editor"' not in page and "hl-ipython3" not in page  # no code cells
    assert "run_experiment(" not in page and "import os" not in page
    assert "device <strong>cpu</strong>" in page  # the device actually used, stated
    assert "people_walkway" in page


def test_report_command_rebuilds_the_report(
    job_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = job_run / "report.html"
    report.unlink()
    assert main(["report", str(job_run)]) == 0
    assert capsys.readouterr().out.strip() == str(report)
    assert report.read_text(encoding="utf-8").count(PLOTLY_JS_BANNER) == 1


def test_unknown_parameter_is_one_line_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["job", "run", str(EXPERIMENT), "--param", "max_fraems=60", "--out", str(out)])
    assert code == 2
    line = _one_error_line(capsys)
    assert "unknown parameter 'max_fraems'" in line and "max_frames" in line
    assert not out.exists()


def test_bad_values_are_config_errors_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["job", "run", str(EXPERIMENT), "--device", "gpu", "--out", str(out)]) == 2
    assert "parameters: detector.device: device must be" in _one_error_line(capsys)
    args = ["job", "run", str(EXPERIMENT), "--param", "detector.confidense=0.4", "--out", str(out)]
    assert main(args) == 2
    assert "unknown key 'confidense'" in _one_error_line(capsys)
    assert main(["job", "run", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: no such config file" in _one_error_line(capsys)
    assert main(["job", "run", str(EXPERIMENT), "--param", "max_frames"]) == 2
    assert "expected KEY=VALUE" in _one_error_line(capsys)
    assert main(["job", "run", str(EXPERIMENT), "--param", f"output_dir={out}"]) == 2
    assert "a job sets output_dir from --out DIR" in _one_error_line(capsys)
    assert not out.exists()


def test_failing_cell_names_cell_and_exception_and_keeps_the_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "run"
    args = ["job", "run", str(EXPERIMENT), "--param", f"source={tmp_path / 'gone.mp4'}",
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert re.search(r"03_inference_job\.ipynb: cell \d+ failed with SourceError: ", line), line
    assert "no such video file" in line and str(out / "03_inference_job.ipynb") in line
    kept = nbformat.read(out / "03_inference_job.ipynb", as_version=4)
    errors = [o for c in kept.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert errors and errors[0].ename == "SourceError"
    assert not (out / "report.html").exists()


def test_report_of_a_folder_without_notebook_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no executed notebook" in _one_error_line(capsys)


def test_params_are_yaml_and_dotted_keys_become_overrides() -> None:
    params = jobs.parse_params(["max_frames=60", "source=clip.mp4", "duration_s=null",
                                "device=cuda:0", "detector.confidence=0.4"])  # fmt: skip
    assert params == {"max_frames": 60, "source": "clip.mp4", "duration_s": None,
                      "device": "cuda:0", "detector.confidence": 0.4}  # fmt: skip
    split = jobs.job_parameters(JOB_NOTEBOOK, params)
    assert split["overrides"] == {"detector.confidence": 0.4}
    assert "detector.confidence" not in split and split["max_frames"] == 60


def test_configure_applies_overrides_through_pydantic() -> None:
    config = experiment.configure(
        EXPERIMENT, source="other.mp4", device="cuda:1",
        overrides={"detector.confidence": 0.4, "cameras.0.lines.0.name": "door"},
    )  # fmt: skip
    assert config.cameras[0].source.uri == "other.mp4"
    assert config.detector.device == "cuda:1" and config.detector.confidence == 0.4
    assert config.cameras[0].lines[0].name == "door"
    with pytest.raises(ConfigError, match=r"parameters: detector\.confidence: .*less than 1"):
        experiment.configure(EXPERIMENT, overrides={"detector.confidence": 4})
    with pytest.raises(ConfigError, match=r"cameras\.5 is not an item"):
        experiment.configure(EXPERIMENT, overrides={"cameras.5.name": "x"})
    two = ROOT / "experiments" / "two_cameras.yaml"
    with pytest.raises(ConfigError, match="one-camera config"):
        experiment.configure(two, source="x.mp4")


def test_a_preset_or_model_parameter_switches_the_detector_and_its_tracker() -> None:
    # The dumped config holds every key the old preset filled in; switching must still work.
    accurate = experiment.configure(EXPERIMENT, overrides={"preset": "accurate"})
    assert accurate.preset == "accurate" and accurate.detector.model == "centernet"
    assert (
        accurate.detector.precision == "fp32" and accurate.tracker.high_conf_det_threshold == 0.35
    )
    back = experiment.configure(accurate, model="nanodet")
    assert back.detector.model == "nanodet" and back.tracker.high_conf_det_threshold == 0.45
    pose = experiment.configure(EXPERIMENT, model="movenet")
    assert pose.tracker.type == "bytetrack" and pose.tracker.high_conf_det_threshold == 0.4
    mine = experiment.configure(
        EXPERIMENT,
        overrides={"preset": "accurate", "detector.nanodet_size": 416,
                   "tracker.high_conf_det_threshold": 0.5},
    )  # fmt: skip
    assert mine.detector.model == "centernet" and mine.detector.nanodet_size == 416
    assert mine.tracker.high_conf_det_threshold == 0.5
    with pytest.raises(ConfigError, match="preset"):
        experiment.configure(EXPERIMENT, overrides={"preset": "turbo"})


def test_live_source_without_a_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set max_frames or duration_s"):
        experiment.run_experiment(EXPERIMENT, source="rtsp://127.0.0.1:1/x", output_dir=tmp_path)


def test_cuda_without_a_gpu_runs_on_the_cpu_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    choice = experiment.resolve_device(DetectorConfig(device="cuda:0"))
    assert (choice.requested, choice.used) == ("cuda:0", "cpu")
    assert "no CUDA provider" in choice.note
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPU"]
    )
    assert experiment.resolve_device(DetectorConfig(device="cuda:0")).used == "cuda:0"
    assert experiment.resolve_device(DetectorConfig()) == experiment.DeviceChoice("cpu", "cpu")


def test_ultralytics_on_cuda_without_a_gpu_runs_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1", "0"):
        config = DetectorConfig(type="ultralytics", model="yolov8n.pt", device=device)
        choice = experiment.resolve_device(config)
        assert choice.used == "cpu" and "torch sees no CUDA GPU" in choice.note


def _counts() -> pd.DataFrame:
    times = pd.to_datetime([0, 0, 10, 3600 * 5], unit="s", utc=True)
    return pd.DataFrame({
        "time": times, "camera": "cam", "line": ["door", "door", "door", "plaza"],
        "class": ["person", "person", "car", "person"], "direction": ["in", "out", "in", "out"],
        "count": [3, 1, 2, 4],
    })  # fmt: skip


def test_counts_and_cumulative_figures_have_a_trace_per_series() -> None:
    counts = _counts()
    figure = analysis.counts_figure(counts, "10s")
    names = sorted({trace.name for trace in figure.data})
    assert names == ["car in", "person in", "person out"]
    out = next(t for t in figure.data if t.name == "person out" and len(t.y) == 1 and t.y[0] < 0)
    assert list(out.customdata) == [1] and out.width == pytest.approx(9000)
    cumulative = analysis.cumulative_figure(counts, "10s")
    door_in = next(t for t in cumulative.data if t.name == "door in")
    assert list(door_in.y) == [0, 3, 5, 5]
    empty = analysis.counts_figure(counts.iloc[0:0], "10s")
    assert "Nothing counted" in empty.layout.annotations[0].text


def test_hour_of_day_heatmap_sums_counts_or_events() -> None:
    figure = analysis.hour_of_day_heatmap(_counts())
    z = np.asarray(figure.data[0].z)
    assert z.shape == (1, 24) and z[0, 0] == 6 and z[0, 5] == 4
    events = _counts().drop(columns="count")
    assert np.asarray(analysis.hour_of_day_heatmap(events).data[0].z)[0, 0] == 3


def test_intervals_totals_and_rates() -> None:
    times = pd.Series(pd.to_datetime([0, 600], unit="s", utc=True))
    assert analysis.resolve_interval("auto", times) == "15s"
    assert analysis.resolve_interval("5min", times) == "5min"
    with pytest.raises(ConfigError, match="unknown interval"):
        analysis.resolve_interval("5 minutes", times)
    totals = analysis.totals_table(_counts())
    assert totals.loc[("cam", "door", "person")].to_dict() == {"in": 3, "out": 1, "total": 4}
    rate = analysis.frame_rate([0.1, 0.2, 0.9, 1.5])
    assert list(rate["value"]) == [3.0, pytest.approx(2.0)]


def test_grafana_link_names_dashboard_and_range_in_ms() -> None:
    link = analysis.grafana_link(
        "http://grafana:3000/", "aistack-overview", 1000, "1970-01-01 00:20"
    )
    assert link == "http://grafana:3000/d/aistack-overview?from=1000000&to=1200000"
    with pytest.raises(ConfigError, match="grafana_url"):
        analysis.grafana_link("grafana:3000", "x", 0, 1)


def test_offline_renderer_is_set_once() -> None:
    before = pio.renderers.default
    try:
        analysis.use_offline_plotly()
        analysis.use_offline_plotly()
        assert pio.renderers.default == "plotly_mimetype+aistack_offline"
        bundle = pio.renderers[analysis.OFFLINE_RENDERER].to_mimebundle({"data": [], "layout": {}})
        assert "mathjax" not in bundle["text/html"].lower()
    finally:
        pio.renderers.default = before


def test_store_data_reads_the_jobs_store(job_run: Path) -> None:
    data = notebook_data.load_store_data("sqlite", path=job_run / "aistack.sqlite", interval="1s")
    assert data.events is not None and len(data.events) == int(data.counts["count"].sum())
    assert data.start <= data.events["time"].min() < data.end
    assert data.performance.per_run and len(data.performance.fps) == 1
    with pytest.raises(ConfigError, match="needs url"):
        notebook_data.load_store_data("influx")
    with pytest.raises(ConfigError, match="store must be one of"):
        notebook_data.load_store_data("mysql")


def test_bench_results_load_and_compare_with_targets(tmp_path: Path) -> None:
    results = {
        "pipeline": {"ratio_pipeline_over_bare": 0.8, "target_ratio": 0.9},
        "latency": {"latency_p95_over_model": 1.2},
        "stores": {"sqlite": {"events_per_second": 150_000, "target": 100_000}, "influx": {}},
    }
    (tmp_path / "bench-20250101T000000Z.json").write_text(json.dumps({"results": results}))
    data, path = notebook_data.bench_results(run=False, suites=[], quick=True, bench_dir=tmp_path)
    assert path.name == "bench-20250101T000000Z.json"
    ratios = notebook_data.bench_ratios(data)
    assert ratios["meets"].to_dict() == {
        "pipeline FPS / bare model FPS": False,
        "latency p95 / model latency": True,
        "SQLite event writes": True,
    }
    figure = analysis.bench_figure(ratios)
    assert len(figure.data) == 3
    assert len(figure.layout.shapes) == 3  # each panel's dashed target line
    with pytest.raises(ConfigError, match="no bench-"):
        notebook_data.bench_results(run=False, suites=[], quick=True, bench_dir=tmp_path / "none")
