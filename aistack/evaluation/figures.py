"""An evaluation's figures as flat numbers and as Prometheus gauges served at scrape time."""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from aistack.evaluation.result import DIRECTIONS, EvalResult, count


def accuracy_figures(result: EvalResult) -> dict[str, float]:
    """The accuracy figures as one flat dict of numbers, for a metrics store or InfluxDB.

    Keys: hota, deta, assa, idf1, mota, motp, idsw (only with MOT ground truth);
    weighted_count_error (when there are true crossings), caught, missed, spurious
    (when lines were scored); then `<line>.<direction>.truth`, `.predicted`,
    `.error` (predicted − truth) and `.abs_pct_error` (left out where the truth is
    0 and the count is not, as it has no value then), and `<line>.caught`,
    `.missed`, `.spurious`.
    """
    figures: dict[str, float] = {}
    t = result.tracking
    if t is not None:
        figures.update(hota=t.hota, deta=t.deta, assa=t.assa, idf1=t.idf1, mota=t.mota,
                       motp=t.motp, idsw=float(t.idsw))  # fmt: skip
    if (weighted := result.weighted_count_error) is not None:
        figures["weighted_count_error"] = weighted
    if result.lines:
        totals = result.matching
        figures.update(caught=float(totals.caught), missed=float(totals.missed),
                       spurious=float(totals.spurious))  # fmt: skip
    for line in result.lines:
        for direction in DIRECTIONS:
            key = f"{line.name}.{direction}"
            figures[f"{key}.truth"] = float(count(line.truth, direction))
            figures[f"{key}.predicted"] = float(count(line.predicted, direction))
            figures[f"{key}.error"] = float(line.error(direction))
            pct = line.abs_pct_error(direction)
            if pct is not None:
                figures[f"{key}.abs_pct_error"] = pct
        if line.match is not None:
            figures[f"{line.name}.caught"] = float(line.match.caught)
            figures[f"{line.name}.missed"] = float(len(line.match.missed))
            figures[f"{line.name}.spurious"] = float(len(line.match.spurious))
    return figures


class _EvalCollector:
    """Serves the latest evaluation's figures at scrape time."""

    def __init__(self, result: EvalResult) -> None:
        self.result = result

    def collect(self) -> Iterator[Metric]:
        t = self.result.tracking
        if t is not None:
            for name, value, what in (
                ("hota", t.hota, "Higher Order Tracking Accuracy of the last evaluation (0-1)"),
                ("idf1", t.idf1, "ID F1 score of the last evaluation (0-1)"),
                ("mota", t.mota, "Multiple Object Tracking Accuracy of the last evaluation (<= 1)"),
            ):
                yield GaugeMetricFamily(f"aistack_eval_{name}", what, value=value)
        if (weighted := self.result.weighted_count_error) is not None:
            yield GaugeMetricFamily(
                "aistack_eval_weighted_count_error",
                "Sum of |counted - true| over lines and directions, over the true crossings",
                value=weighted,
            )
        errors = GaugeMetricFamily(
            "aistack_eval_count_error",
            "Counted minus true line crossings in the last evaluation",
            labels=["line", "direction"],
        )
        for line in self.result.lines:
            for direction in DIRECTIONS:
                errors.add_metric([line.name, direction], line.error(direction))
        yield errors


_collectors: weakref.WeakKeyDictionary[CollectorRegistry, _EvalCollector] = (
    weakref.WeakKeyDictionary()
)


def publish(result: EvalResult, registry: CollectorRegistry) -> None:
    """Expose `aistack_eval_hota`, `_idf1`, `_mota`, `_weighted_count_error` and
    `_count_error{line,direction}`.

    Publishing again on the same registry replaces the figures, so lines that
    are gone disappear instead of keeping stale values.
    """
    collector = _collectors.get(registry)
    if collector is None:
        collector = _collectors[registry] = _EvalCollector(result)
        registry.register(collector)
    collector.result = result
