"""InfluxDB's write side: events as line protocol, credentials, and the v1/v2 writers.

The sink (`aistack.sinks.influx`) owns spooling and retrying; this module turns
events into points and sends one batch, saying whether a failure is worth a retry.
"""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from aistack.errors import SinkError
from aistack.types import Event

MEASUREMENT = "aistack_events"
TOKEN_ENV_VARS = ("AISTACK_INFLUX_TOKEN", "INFLUX_TOKEN")


def _escape_tag(value: str) -> str:
    # Line protocol: commas, equals signs and spaces end a tag value, so they
    # are escaped. A backslash cannot be written portably: InfluxDB 1.x keeps
    # an escaped backslash as two characters, 2.x as one, and one before a comma
    # or at the end escapes what follows. It becomes "/": camera a\b is a/b.
    value = value.replace("\\", "/")
    return value.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


class LineEncoder:
    """Turns events into line protocol with a unique timestamp per point.

    InfluxDB keeps one point per (measurement, tag set, timestamp); two people
    crossing a line in the same frame share a timestamp and would merge into
    one. Event times are floats, exact to about a microsecond, so the point's
    time is the event's microsecond and the three nanosecond digits below it
    number the events of one series within that microsecond (0, 1, 2, ...).
    """

    def __init__(self) -> None:
        # Per series: the microsecond last seen and how many points used it.
        # One entry per tag set, which is bounded (never a track id).
        self._last: dict[str, tuple[int, int]] = {}

    def encode(self, event: Event) -> str:
        tags = {
            "camera": event.camera,
            "class": event.class_name,
            "direction": event.direction,
            "kind": event.kind,
            "line": event.counter,
        }
        # An empty tag value is not valid line protocol; leaving the tag out is.
        series = MEASUREMENT + "".join(
            f",{key}={_escape_tag(value)}" for key, value in sorted(tags.items()) if value
        )
        micros = round(event.timestamp * 1_000_000)
        last_micros, used = self._last.get(series, (None, 0))
        tiebreak = used if last_micros == micros else 0
        self._last[series] = (micros, tiebreak + 1)
        # Beyond 1000 events of one series in one microsecond the time spills
        # into the next microsecond, which is still unique and off by < 1 µs.
        nanos = micros * 1000 + tiebreak
        fields = f"count=1i,frame_index={int(event.frame_index)}i,track_id={int(event.track_id)}i"
        return f"{series} {fields} {nanos}"


def influx_token(token: str | None) -> str | None:
    """The token given, else from AISTACK_INFLUX_TOKEN or INFLUX_TOKEN, else None."""
    if token:
        return token
    for name in TOKEN_ENV_VARS:
        value = os.environ.get(name)
        if value:
            return value
    return None


def split_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without `user:password@`, and that "user:password" (None if absent)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.username:
        return url.rstrip("/"), None
    userinfo = (
        f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    )
    bare = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urllib.parse.urlunsplit(bare).rstrip("/"), userinfo


def http_auth(url: str, token: str | None = None) -> tuple[str, dict[str, str]]:
    """The URL without credentials, and the headers that carry them.

    urllib cannot use `user:password@` in a URL, so it becomes Basic auth;
    otherwise a token becomes `Authorization: Token ...` (InfluxDB 1.8+ and 2.x).
    """
    base, userinfo = split_userinfo(url)
    if userinfo is not None:
        return base, {"Authorization": "Basic " + base64.b64encode(userinfo.encode()).decode()}
    return base, {"Authorization": f"Token {token}"} if token else {}


class _DeliveryError(Exception):
    """A batch did not reach the server; `permanent` means retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class _V1Writer:
    """POST /write?db=...&precision=ns (InfluxDB 1.x, or 2.x/3.x v1 compatibility)."""

    def __init__(self, url: str, database: str, token: str | None, timeout: float) -> None:
        self._base, self._headers = http_auth(url, token)
        self._headers["Content-Type"] = "text/plain; charset=utf-8"
        self._database = database
        self._timeout = timeout

    def _post(self, path: str, params: dict[str, str], body: bytes) -> None:
        url = f"{self._base}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=body, headers=self._headers, method="POST")
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            response.read()

    def write(self, lines: Sequence[str]) -> None:
        body = "\n".join(lines).encode()
        try:
            try:
                self._post("/write", {"db": self._database, "precision": "ns"}, body)
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
                # 404: the database does not exist (yet, or any more). CREATE
                # DATABASE is idempotent; a failure to create is reported as is.
                self._post("/query", {"q": f'CREATE DATABASE "{self._database}"'}, b"")
                self._post("/write", {"db": self._database, "precision": "ns"}, body)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace").strip()[:300]
            # 400: the server refuses the points themselves (a field type
            # conflict, say); sending them again would block everything behind.
            raise _DeliveryError(
                f"HTTP {error.code}: {detail or error.reason}", permanent=error.code == 400
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise _DeliveryError(str(reason) or type(error).__name__) from None

    def close(self) -> None:
        pass


class _V2Writer:
    """influxdb-client's synchronous write API (InfluxDB 2.x/3.x, VictoriaMetrics)."""

    def __init__(self, url: str, bucket: str, org: str, token: str | None, timeout: float) -> None:
        try:
            from influxdb_client.client.influxdb_client import InfluxDBClient
            from influxdb_client.client.write_api import SYNCHRONOUS
        except ImportError:
            raise SinkError(
                "the InfluxDB v2 API needs influxdb-client: pip install influxdb-client"
            ) from None
        base, userinfo = split_userinfo(url)
        # InfluxDB 1.8's v2 API takes "user:password" as the token.
        token = token or userinfo
        # retries=False: our loop owns retrying, so a dead server costs one timeout.
        self._client: Any = InfluxDBClient(
            url=base, token=token or "", org=org, timeout=int(timeout * 1000), retries=False
        )
        self._api: Any = self._client.write_api(write_options=SYNCHRONOUS)
        self._bucket = bucket
        self._org = org

    def write(self, lines: Sequence[str]) -> None:
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            self._api.write(
                bucket=self._bucket,
                org=self._org,
                record=list(lines),
                write_precision=WritePrecision.NS,
            )
        except ApiException as error:
            detail = str(error.body or error.reason or "").strip()[:300]
            raise _DeliveryError(
                f"HTTP {error.status}: {detail}", permanent=error.status == 400
            ) from None
        except Exception as error:  # urllib3 raises many kinds for a dead server
            raise _DeliveryError(_error_line(error)) from None

    def close(self) -> None:
        self._api.close()
        self._client.close()


def _error_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
