"""Jobs: a notebook executed by papermill with parameters into a run folder, and its HTML report.

A job run folder holds the executed notebook, `report.html` (the outputs only,
plotly.js inlined once, so it opens offline), `params.json`, `job.log` (what
the notebook printed), and whatever the notebook wrote there itself.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from aistack.errors import AistackError, ConfigError
from aistack.workbench.experiment import (
    RUNS_DIR,
    check_parameters,
    configure,
    new_run_dir,
    project_root,
)

JOB_NOTEBOOK = Path("notebooks/03_inference_job.ipynb")
REPORT_NAME = "report.html"
PARAMS_NAME = "params.json"
LOG_NAME = "job.log"
# What a job's parameters may say beside the notebook's own names: config fields by dotted path.
OVERRIDES_PARAMETER = "overrides"

# nbconvert's lab template, minus what it fetches from CDNs (require.js, MathJax, mermaid,
# widgets): require.js would also make plotly.js register as an AMD module, not window.Plotly.
_TEMPLATE_NAME = "aistack_report.html.j2"
_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}
<style>
body.jp-Notebook { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
.jp-RenderedHTMLCommon table { font-size: 13px; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
</style>
{%- endblock extra_css -%}
"""


@dataclass(frozen=True)
class JobResult:
    """Where a job wrote its executed notebook and report, and how long it took."""

    run_dir: Path
    notebook: Path
    report: Path
    seconds: float


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` strings as a dict; values are read as YAML (60 → int, null → None)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--param {pair!r}: expected KEY=VALUE, e.g. max_frames=60")
        try:
            params[key] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            params[key] = text
    return params


def notebook_parameters(notebook: Path) -> dict[str, str]:
    """The names in the notebook's `parameters` cell, with their default values as text."""
    import papermill

    try:
        found = papermill.inspect_notebook(str(notebook))
    except Exception as error:
        raise ConfigError(f"{notebook}: cannot read the notebook: {error}") from None
    return {name: str(info["default"]) for name, info in found.items()}


def job_parameters(notebook: Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` checked against the notebook's parameters; dotted keys become `overrides`."""
    known = notebook_parameters(notebook)
    if not known:
        raise ConfigError(f"{notebook}: no cell tagged 'parameters', so a job cannot set any")
    direct: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for key, value in params.items():
        if key in known:
            direct[key] = value
        elif "." in key and OVERRIDES_PARAMETER in known:
            overrides[key] = value
        else:
            hint = (
                " or a config field such as detector.confidence"
                if OVERRIDES_PARAMETER in known
                else ""
            )
            raise ConfigError(
                f"unknown parameter {key!r} for {notebook.name}: use one of "
                f"{', '.join(sorted(known))}{hint}"
            )
    if overrides:
        given = direct.get(OVERRIDES_PARAMETER) or {}
        if not isinstance(given, Mapping):
            raise ConfigError(f"parameter {OVERRIDES_PARAMETER} must be a mapping, got {given!r}")
        direct[OVERRIDES_PARAMETER] = {**given, **overrides}
    check_parameters(direct)
    return direct


def _check_experiment(parameters: Mapping[str, Any]) -> None:
    """Fail before starting a kernel when the config or an override is wrong."""
    overrides = parameters.get(OVERRIDES_PARAMETER) or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"parameter {OVERRIDES_PARAMETER} must be a mapping, got {overrides!r}")
    configure(
        parameters["config"],
        source=parameters.get("source"),
        model=parameters.get("model"),
        device=parameters.get("device"),
        overrides=overrides,
    )


def find_notebook(notebook: str | Path | None) -> Path:
    if notebook is not None:
        path = Path(notebook)
        if not path.is_file():
            raise ConfigError(f"{path}: no such notebook")
        return path.resolve()
    path = project_root() / JOB_NOTEBOOK
    if not path.is_file():
        raise ConfigError(
            f"cannot find {JOB_NOTEBOOK} at or above {Path.cwd()}: run from the project "
            "folder or pass --notebook"
        )
    return path


def run_job(
    config: str | Path,
    *,
    device: str | None = None,
    params: Mapping[str, Any] | None = None,
    notebook: str | Path | None = None,
    out: str | Path | None = None,
    runs_dir: Path = RUNS_DIR,
    progress: bool = True,
) -> JobResult:
    """Execute the job notebook for `config` into a new run folder and write its report.

    The folder is `out`, or experiments/runs/<UTC time>-<config name>/. A failing
    cell is an AistackError naming the cell and the exception; the executed
    notebook and the log stay in the folder for debugging.
    """
    config_path = Path(config)
    if not config_path.is_file():
        raise ConfigError(f"{config_path}: no such config file")
    source_notebook = find_notebook(notebook)
    given = dict(params or {})
    for key, option in (("config", "the CONFIG argument"), ("output_dir", "--out DIR")):
        if key in given:
            raise ConfigError(f"--param {key}: a job sets {key} from {option}")
    if device is not None:
        given["device"] = device
    parameters = job_parameters(source_notebook, given)
    known = notebook_parameters(source_notebook)
    if "config" in known:
        parameters["config"] = str(config_path.resolve())
        _check_experiment(parameters)
    run_dir = Path(out) if out is not None else new_run_dir(config_path.stem, runs_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir = run_dir.resolve()
    if "output_dir" in known:
        parameters["output_dir"] = str(run_dir)
    executed = run_dir / source_notebook.name
    record = {
        "config": str(config_path.resolve()),
        "notebook": str(source_notebook),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": parameters,
    }
    (run_dir / PARAMS_NAME).write_text(json.dumps(record, indent=2, default=str) + "\n")
    started = time.perf_counter()
    execute(source_notebook, executed, parameters, log=run_dir / LOG_NAME, progress=progress)
    report = export_report(executed, run_dir / REPORT_NAME)
    return JobResult(run_dir, executed, report, time.perf_counter() - started)


def execute(
    notebook: Path, executed: Path, parameters: Mapping[str, Any], *, log: Path, progress: bool
) -> None:
    """papermill with the kernel's stdout and stderr in `log`; failures as AistackError."""
    try:
        import papermill
        from papermill.exceptions import PapermillExecutionError
    except ImportError:
        raise AistackError(
            "jobs need papermill, nbconvert and ipykernel: "
            "pip install papermill nbconvert ipykernel"
        ) from None
    from jupyter_client.kernelspec import NoSuchKernel

    with log.open("w", encoding="utf-8") as stream:
        try:
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=dict(parameters),
                progress_bar=progress, stdout_file=stream, stderr_file=stream,
                cwd=str(Path.cwd()), extra_arguments=["--log-level=ERROR"],
            )  # fmt: skip
        except PapermillExecutionError as error:
            raise AistackError(_failure(notebook, executed, error)) from None
        except NoSuchKernel as error:
            raise AistackError(
                f"{notebook.name}: no Jupyter kernel {error.name!r}: pip install ipykernel"
            ) from None
        except (RuntimeError, OSError) as error:  # the kernel died or never started
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise AistackError(f"{notebook.name}: the kernel failed: {first}") from None


def _failure(notebook: Path, executed: Path, error: Any) -> str:
    lines = str(error.evalue).strip().splitlines() or [""]
    more = f" (+{len(lines) - 1} more lines in the notebook)" if len(lines) > 1 else ""
    return (
        f"{notebook.name}: cell {error.exec_count} failed with {error.ename}: "
        f"{lines[0]}{more}; executed notebook kept at {executed}"
    )


def export_report(executed: Path, out: Path | None = None) -> Path:
    """The notebook's outputs as one self-contained HTML page (no code, no CDN)."""
    try:
        import nbformat
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter
    except ImportError:
        raise AistackError("reports need nbconvert: pip install nbconvert") from None
    out = out or executed.with_name(REPORT_NAME)
    text = _notebook_text(executed)
    try:
        notebook = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as error:  # nbformat raises JSON, schema and attribute errors alike
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigError(f"{executed}: not a valid Jupyter notebook: {first}") from None
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab",
        template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    title = f"{executed.parent.name} · aistack {executed.stem}"
    try:
        body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    except Exception as error:  # a notebook that reads but does not render
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigError(f"{executed}: cannot render the notebook: {first}") from None
    try:
        out.write_text(body, encoding="utf-8")
    except OSError as error:
        raise AistackError(f"cannot write {out}: {error.strerror or error}") from None
    return out


def _notebook_text(path: Path) -> str:
    """The notebook's JSON text, refused early when it is not a JSON object at all."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the notebook: {error}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{path}: not a valid Jupyter notebook: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: not a valid Jupyter notebook: it holds a JSON {type(data).__name__}, "
            "not an object with cells and metadata"
        )
    return text


def rebuild_report(run_dir: str | Path) -> Path:
    """Write run_dir/report.html again from the executed notebook in it."""
    folder = Path(run_dir)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"{folder}: is a file, not a run folder; give the job's folder that holds the "
            "executed notebook"
        )
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such run folder")
    preferred = folder / JOB_NOTEBOOK.name
    notebooks = [preferred] if preferred.is_file() else sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise ConfigError(f"{folder}: no executed notebook (.ipynb) in this run folder")
    if len(notebooks) > 1:
        names = ", ".join(n.name for n in notebooks)
        raise ConfigError(f"{folder}: several notebooks ({names}); keep one")
    return export_report(notebooks[0], folder / REPORT_NAME)


def describe(result: JobResult) -> str:
    """What the CLI prints when a job ends."""
    cwd = Path(os.getcwd())
    try:
        shown = result.report.relative_to(cwd)
    except ValueError:
        shown = result.report
    return f"{shown} ({result.seconds:.1f} s)"
