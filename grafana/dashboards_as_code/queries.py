"""Grafana's data sources and the queries panels send them: PromQL and raw InfluxQL.

The SDK has builders for Prometheus queries but none for InfluxDB, so `InfluxQL` adds one
in the style of the SDK's `prometheus.Dataquery`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Self

from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as model

PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid="prometheus")
INFLUXDB = model.DataSourceRef(type_val="influxdb", uid="influxdb")


@dataclass
class InfluxQLQuery(cogvariants.Dataquery):
    """One raw InfluxQL query of Grafana's InfluxDB data source."""

    ref_id: str = ""
    query: str = ""
    alias: str | None = None
    result_format: Literal["time_series", "table"] = "time_series"
    datasource: model.DataSourceRef = field(default_factory=lambda: INFLUXDB)

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": self.datasource,
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        return payload


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Builder for `InfluxQLQuery`, in the style of the SDK's `prometheus.Dataquery`."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(query=query)

    def build(self) -> InfluxQLQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self

    def table(self) -> Self:
        self._internal.result_format = "table"
        return self


# What a panel's targets may be: any query these dashboards send.
Target = prometheus.Dataquery | InfluxQL


def promql(expr: str, legend: str | None = None, *, instant: bool = False) -> prometheus.Dataquery:
    """A PromQL query, over the time range or (`instant`) at its end only."""
    query = prometheus.Dataquery().expr(expr).datasource(PROMETHEUS)
    if legend is not None:
        query = query.legend_format(legend)
    return query.instant() if instant else query.range()


def influxql(query: str, alias: str | None = None, *, as_table: bool = False) -> InfluxQL:
    """A raw InfluxQL query with its whitespace collapsed, as time series or a table."""
    built = InfluxQL(" ".join(query.split()))
    if alias is not None:
        built = built.alias(alias)
    return built.table() if as_table else built


def numbered(targets: Sequence[Target]) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    """Targets with refIds A, B, ... (the SDK leaves them empty)."""
    with_ids: list[cogbuilder.Builder[cogvariants.Dataquery]] = []
    for index, target in enumerate(targets):
        with_ids.append(target.ref_id(chr(ord("A") + index)))
    return with_ids


def single_datasource(targets: Sequence[Target]) -> model.DataSourceRef:
    """The one data source of a panel's targets; Grafana's panel-level datasource."""
    sources = [target.build().datasource for target in targets]
    first = sources[0]
    if first is None or any(s is None or s.uid != first.uid for s in sources):
        raise ValueError("a panel's targets must all name one data source")
    return first
