"""The embedded event store: events and per-interval counts in one SQLite file.

The file is in WAL mode with `synchronous=NORMAL`: a commit is durable against a
crash or SIGKILL of the writer (not against power loss), and readers never
block the writer. `aistack.stores.sqlite` is the read side.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from aistack.errors import SinkError
from aistack.redact import redact_text, redact_url
from aistack.types import Closing, Event

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    camera TEXT NOT NULL,
    counter TEXT NOT NULL,
    kind TEXT NOT NULL,
    class TEXT NOT NULL,
    direction TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    frame_index INTEGER NOT NULL,
    snapshot TEXT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE TABLE IF NOT EXISTS counts (
    interval_start REAL NOT NULL,
    camera TEXT NOT NULL,
    counter TEXT NOT NULL,
    kind TEXT NOT NULL,
    class TEXT NOT NULL,
    direction TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (interval_start, camera, counter, kind, class, direction)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL NULL,
    source TEXT NOT NULL,
    config_json TEXT NOT NULL,
    summary_json TEXT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_INSERT_EVENT = """
INSERT INTO events (ts, camera, counter, kind, class, direction, track_id, frame_index, snapshot)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_UPSERT_COUNT = """
INSERT INTO counts (interval_start, camera, counter, kind, class, direction, count)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (interval_start, camera, counter, kind, class, direction)
DO UPDATE SET count = count + excluded.count
"""

_CountKey = tuple[float, str, str, str, str, str]


def _rollback(connection: sqlite3.Connection) -> None:
    # SQLite may already have rolled back (disk full, I/O error); a second
    # ROLLBACK would then raise and hide the error that matters.
    if connection.in_transaction:
        connection.execute("ROLLBACK")


def _error_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class SqliteSink(Closing):
    """Appends events to a SQLite file and keeps per-interval counts beside them.

    One writer thread uses a sink; the lock only protects against misuse, such
    as a `close()` from another thread while a write is in flight.
    """

    def __init__(self, path: Path, interval_seconds: float = 60.0) -> None:
        if not interval_seconds > 0:
            raise SinkError(f"store {path}: interval_seconds must be > 0, got {interval_seconds}")
        self.path = Path(path)
        self.interval_seconds = float(interval_seconds)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        if self.path.is_dir():
            raise SinkError(
                f"store {self.path}: is a folder; give a file in it, e.g. "
                f"{self.path / 'aistack.sqlite'}"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SinkError(
                f"cannot create the folder for store {self.path}: {_error_line(error)}"
            ) from None
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one write()
            # is exactly one transaction whatever the statements inside it.
            connection = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
        except sqlite3.Error as error:
            raise SinkError(f"cannot open store {self.path}: {_error_line(error)}") from None
        try:
            self._prepare(connection)
        except sqlite3.Error as error:
            connection.close()
            raise SinkError(f"cannot open store {self.path}: {_error_line(error)}") from None
        except SinkError:
            connection.close()
            raise
        self._connection = connection

    def _prepare(self, connection: sqlite3.Connection) -> None:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise SinkError(f"store {self.path}: cannot switch to WAL mode (got {mode})")
        connection.execute("PRAGMA synchronous=NORMAL")
        # BEGIN IMMEDIATE takes the write lock first, so two processes creating
        # the same store cannot both see version 0 and both create it.
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            if version == 0:
                self._create(connection)
            elif version > SCHEMA_VERSION:
                raise SinkError(
                    f"store {self.path} has schema version {version}, newer than this "
                    f"aistack's {SCHEMA_VERSION}: upgrade aistack or use a new store file"
                )
            self._check_interval(connection)
            connection.execute("COMMIT")
        except BaseException:
            _rollback(connection)
            raise

    def _create(self, connection: sqlite3.Connection) -> None:
        tables = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone()[0]
        if tables:
            raise SinkError(f"{self.path} is a SQLite file but not an aistack store")
        # executescript() would commit first; run the statements inside our transaction.
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(
            "INSERT INTO meta (key, value) VALUES ('interval_seconds', ?)",
            (repr(self.interval_seconds),),
        )
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_interval(self, connection: sqlite3.Connection) -> None:
        # The counts table is bucketed by one interval; mixing two would make
        # overlapping buckets whose sums mean nothing.
        row = connection.execute("SELECT value FROM meta WHERE key = 'interval_seconds'").fetchone()
        stored = float(row[0]) if row else self.interval_seconds
        if not math.isclose(stored, self.interval_seconds):
            raise SinkError(
                f"store {self.path} keeps counts per {stored:g} s, not "
                f"{self.interval_seconds:g} s: use interval_seconds={stored:g} or a new store file"
            )

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise SinkError(f"store {self.path} is closed")
        return self._connection

    def write(self, events: Sequence[Event]) -> None:
        """Append events and add them to the interval counts, in one transaction."""
        if not events:
            return
        interval = self.interval_seconds
        rows = []
        counts: Counter[_CountKey] = Counter()
        for event in events:
            # Event has no snapshot yet; a snapshot sink may attach its file path.
            snapshot = getattr(event, "snapshot", None)
            rows.append(
                (
                    event.timestamp,
                    event.camera,
                    event.counter,
                    event.kind,
                    event.class_name,
                    event.direction,
                    event.track_id,
                    event.frame_index,
                    snapshot,
                )
            )
            start = math.floor(event.timestamp / interval) * interval
            counts[
                (start, event.camera, event.counter, event.kind, event.class_name, event.direction)
            ] += 1
        with self._lock:
            connection = self._open()
            try:
                connection.execute("BEGIN")
                try:
                    connection.executemany(_INSERT_EVENT, rows)
                    connection.executemany(_UPSERT_COUNT, [(*key, n) for key, n in counts.items()])
                    connection.execute("COMMIT")
                except BaseException:
                    _rollback(connection)
                    raise
            except sqlite3.Error as error:
                raise SinkError(
                    f"cannot write {len(rows)} events to store {self.path}: {_error_line(error)}"
                ) from None

    def start_run(self, source: str, config: Mapping[str, object]) -> int:
        """Record that a run began; returns its id for `finish_run`."""
        # A config may hold stream URLs; the runs table must never keep a password.
        config_json = redact_text(json.dumps(config, default=str, sort_keys=True))
        with self._lock:
            connection = self._open()
            try:
                cursor = connection.execute(
                    "INSERT INTO runs (started, source, config_json) VALUES (?, ?, ?)",
                    (time.time(), redact_url(source), config_json),
                )
            except sqlite3.Error as error:
                raise SinkError(
                    f"cannot record a run in store {self.path}: {_error_line(error)}"
                ) from None
        run_id = cursor.lastrowid
        assert run_id is not None  # an INSERT into a rowid table always sets it
        return run_id

    def finish_run(self, run_id: int, summary: Mapping[str, object]) -> None:
        """Record when a run ended and what it counted."""
        summary_json = json.dumps(summary, default=str, sort_keys=True)
        with self._lock:
            connection = self._open()
            try:
                cursor = connection.execute(
                    "UPDATE runs SET finished = ?, summary_json = ? WHERE id = ?",
                    (time.time(), summary_json, run_id),
                )
            except sqlite3.Error as error:
                raise SinkError(
                    f"cannot finish run {run_id} in store {self.path}: {_error_line(error)}"
                ) from None
        if cursor.rowcount != 1:
            raise SinkError(f"store {self.path} has no run {run_id}")

    def close(self) -> None:
        """Close the file; later writes raise SinkError. Closing twice is harmless."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
