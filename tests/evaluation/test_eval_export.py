"""Accuracy figures reach Prometheus (textfile collector) and a real InfluxDB."""

from __future__ import annotations

import json
import socket
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aistack.cli.eval import main
from aistack.evaluation.evaluate import EvalResult, evaluate
from tests.golden.generate import SCENARIOS, generate
from tests.servers import Server


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, EvalResult]:
    clip = generate(SCENARIOS["people_cross"], tmp_path_factory.mktemp("golden"))
    line = "door=" + ",".join(f"{v:g}" for v in clip.scenario.line)
    return (
        clip.video,
        clip.ground_truth_file,
        line,
        evaluate(clip.video, clip.ground_truth_file, [line]),
    )


def test_textfile_holds_the_gauges(
    result: tuple[Path, Path, str, EvalResult], tmp_path: Path
) -> None:
    video, gt, line, evaluated = result
    textfile = tmp_path / "collector" / "aistack_eval.prom"
    assert (
        main([str(video), "--gt", str(gt), "--line", line, "--prometheus-textfile", str(textfile)])
        == 0
    )
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(textfile.read_text())
        for s in family.samples
    }
    assert samples[("aistack_eval_hota", ())] == pytest.approx(evaluated.tracking.hota)
    in_error = samples[("aistack_eval_count_error", (("direction", "in"), ("line", "door")))]
    assert in_error == evaluated.lines[0].error("in")


@pytest.mark.services
def test_influxdb_gets_the_figures(
    result: tuple[Path, Path, str, EvalResult], influxdb: Server
) -> None:
    video, gt, line, evaluated = result
    database = "eval_export"
    code = main([str(video), "--gt", str(gt), "--line", line, "--influx-url", influxdb.url,
                 "--influx-database", database])  # fmt: skip
    assert code == 0
    query = urllib.parse.urlencode(
        {"db": database, "q": "SELECT truth, predicted FROM aistack_eval WHERE \"line\" = 'door'"}
    )
    body = json.loads(urllib.request.urlopen(f"{influxdb.url}/query?{query}", timeout=10).read())
    rows = body["results"][0]["series"][0]["values"]
    line = evaluated.lines[0]
    assert sorted((r[1], r[2]) for r in rows) == sorted(
        (getattr(line.truth, f"total_{d}"), getattr(line.predicted, f"total_{d}"))
        for d in ("in", "out")
    )
    query = urllib.parse.urlencode({"db": database, "q": "SELECT hota FROM aistack_eval"})
    body = json.loads(urllib.request.urlopen(f"{influxdb.url}/query?{query}", timeout=10).read())
    hota = [v for _, v in body["results"][0]["series"][0]["values"] if v is not None]
    assert hota == [pytest.approx(evaluated.tracking.hota)]


def _closed_port() -> int:
    """A localhost port nothing listens on: a real "server down"."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_failed_export_never_loses_the_result(
    result: tuple[Path, Path, str, EvalResult],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    video, gt, line, evaluated = result
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the textfile's folder should be")
    textfile = blocker / "aistack_eval.prom"
    arguments = [str(video), "--gt", str(gt), "--line", line]

    assert main([*arguments, "--prometheus-textfile", str(textfile)]) == 2
    captured = capsys.readouterr()
    assert "HOTA" in captured.out and "door" in captured.out  # the table came first
    assert _errors(captured.err) == [
        f"aistack: error: --prometheus-textfile {textfile}: cannot write the metrics textfile "
        f"({blocker} is a file, not a folder)"
    ]

    url = f"http://127.0.0.1:{_closed_port()}"
    assert main([*arguments, "--json", "--influx-url", url]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # exactly one JSON object, complete
    assert report["tracking"]["HOTA"] == pytest.approx(evaluated.tracking.hota, abs=1e-4)
    assert report["lines"][0]["truth"] == {"in": 3, "out": 1}
    (error,) = _errors(captured.err)
    assert error.startswith(f"aistack: error: InfluxDB {url}: cannot write the accuracy figures")


def _errors(stderr: str) -> list[str]:
    """The error lines, and nothing after them; the progress bar (\\r-separated) comes before."""
    lines = stderr.replace("\r", "\n").splitlines()
    errors = [line for line in lines if line.startswith("aistack:")]
    assert errors and lines[-len(errors) :] == errors, stderr[-300:]
    return errors
