"""The workbench notebooks: committed clean, parameterised for papermill and nbmake, and runnable
with parameters other than their defaults (`pytest --nbmake notebooks/` runs the defaults)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest

from aistack.workbench import experiment, jobs

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# The parameters of the notebooks this module owns; a job's --param names.
PARAMETERS = {
    "03_inference_job.ipynb": ["config", "source", "model", "device", "max_frames",
                               "duration_s", "output_dir", "interval", "overrides"],
    "04_analyze.ipynb": ["store", "path", "url", "database", "start", "end", "interval",
                         "prometheus_url", "grafana_url"],
    "05_benchmarks.ipynb": ["run", "quick", "suites", "bench_dir"],
}  # fmt: skip


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path: Path) -> None:
    notebook = _read(path)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name} cell {index} has outputs: clear them"
        assert cell.execution_count is None, f"{path.name} cell {index} has an execution count"


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_parameters_cell_is_what_papermill_and_nbmake_see(name: str) -> None:
    path = ROOT / "notebooks" / name
    notebook = _read(path)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    # Every line parses: papermill silently drops one it cannot read.
    assert list(papermill.inspect_notebook(str(path))) == PARAMETERS[name]
    mocks = tagged[0].metadata.get("nbmake", {}).get("mock", {})
    assert set(mocks) <= set(PARAMETERS[name]), "nbmake mocks set parameters only"
    assert notebook.metadata.kernelspec.name == "python3"


def test_job_notebook_is_small_under_nbmake() -> None:
    notebook = _read(ROOT / "notebooks" / "03_inference_job.ipynb")
    (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert cell.metadata["nbmake"]["mock"]["max_frames"] <= 100
    bench = _read(ROOT / "notebooks" / "05_benchmarks.ipynb")
    (cell,) = [c for c in bench.cells if "parameters" in c.metadata.get("tags", [])]
    # nbmake must not write results into the committed experiments/bench/.
    assert cell.metadata["nbmake"]["mock"]["bench_dir"].startswith("experiments/runs/")


def _execute(name: str, out: Path, parameters: dict[str, Any]) -> Any:
    out.mkdir(parents=True, exist_ok=True)
    executed = out / name
    jobs.execute(
        ROOT / "notebooks" / name, executed, parameters, log=out / "log.txt", progress=False
    )
    return _read(executed)


def _html(notebook: Any) -> str:
    return "".join(
        str(output.get("data", {}).get("text/html", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def test_analyze_notebook_reads_a_given_store(tmp_path: Path) -> None:
    run = experiment.run_experiment(
        ROOT / "experiments" / "people_walkway.yaml", max_frames=40, output_dir=tmp_path / "run"
    )
    executed = _execute("04_analyze.ipynb", tmp_path, {"path": str(run.store_path),
                                                       "interval": "2s"})  # fmt: skip
    html = _html(executed)
    assert html.count("* plotly.js v") == 1
    outputs = json.dumps([c.outputs for c in executed.cells if c.cell_type == "code"])
    assert str(run.store_path) in outputs  # the headline names the store it read
    assert "/d/aistack-overview?from=" in outputs


def test_benchmarks_notebook_loads_saved_results(tmp_path: Path) -> None:
    results = {"pipeline": {"ratio_pipeline_over_bare": 0.95, "target_ratio": 0.9}}
    (tmp_path / "bench-20250101T000000Z.json").write_text(json.dumps({"results": results}))
    executed = _execute("05_benchmarks.ipynb", tmp_path / "out",
                        {"run": False, "bench_dir": str(tmp_path)})  # fmt: skip
    html = _html(executed)
    assert "pipeline FPS / bare model FPS" in html and "plotly-graph-div" in html
    assert "Benchmarks across runs" in html  # the one kept run, dated by its file name
