"""Accuracy figures reach Prometheus (textfile collector) and a real InfluxDB."""

from __future__ import annotations

import json
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
    assert samples[("aistack_eval_count_error", (("direction", "in"), ("line", "door")))] == 0


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
    assert sorted((r[1], r[2]) for r in rows) == [(1, 1), (3, 3)]  # out 1/1, in 3/3
    query = urllib.parse.urlencode({"db": database, "q": "SELECT hota FROM aistack_eval"})
    body = json.loads(urllib.request.urlopen(f"{influxdb.url}/query?{query}", timeout=10).read())
    hota = [v for _, v in body["results"][0]["series"][0]["values"] if v is not None]
    assert hota == [pytest.approx(evaluated.tracking.hota)]
