"""A durable first-in first-out queue of text lines on disk, for sinks whose server may be down.

The spool is one SQLite file in WAL mode with `synchronous=NORMAL`: an `append()`
that returned survives a crash or SIGKILL of the process (not a power loss,
which would need an fsync per append and stall the caller). Lines come back
from `peek()` in the order they were appended, across restarts, and leave
only when `ack()`ed, so a sender that dies between sending and acking sends
them again: delivery is at least once.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from aistack.errors import SinkError
from aistack.types import Closing

DEFAULT_MAX_POINTS = 1_000_000

# AUTOINCREMENT: ids are never reused after a delete, so id order stays
# insertion order even when the queue empties and fills again.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)"
)


def _error_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class Spool(Closing):
    """Lines waiting to be sent, oldest first, bounded by `max_points`.

    When full, `append()` drops the oldest lines to make room and counts them
    in `dropped`: a long outage loses its start rather than stalling counting.
    One process owns a spool file at a time (an exclusive lock beside it), so
    two sinks never send the same lines twice. Thread-safe.
    """

    def __init__(self, path: Path, max_points: int = DEFAULT_MAX_POINTS) -> None:
        if max_points < 1:
            raise SinkError(f"spool {path}: max_points must be >= 1, got {max_points}")
        self.path = Path(path)
        self.max_points = int(max_points)
        self.dropped = 0
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(
                self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644
            )
        except OSError as error:
            raise SinkError(f"cannot open spool {self.path}: {_error_line(error)}") from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise SinkError(
                f"spool {self.path} is in use by another process; give each sink its own spool_path"
            ) from None
        try:
            connection = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
        except sqlite3.Error as error:
            self._unlock()
            raise SinkError(f"cannot open spool {self.path}: {_error_line(error)}") from None
        try:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise SinkError(f"spool {self.path}: cannot switch to WAL mode (got {mode})")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(_SCHEMA)
            self._count = int(connection.execute("SELECT count(*) FROM spool").fetchone()[0])
        except sqlite3.Error as error:
            connection.close()
            self._unlock()
            raise SinkError(f"cannot open spool {self.path}: {_error_line(error)}") from None
        except SinkError:
            connection.close()
            self._unlock()
            raise
        self._connection = connection

    def _unlock(self) -> None:
        # Closing the descriptor releases the flock.
        os.close(self._lock_fd)

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise SinkError(f"spool {self.path} is closed")
        return self._connection

    def append(self, lines: Sequence[str]) -> None:
        """Add lines at the end, in one transaction; drop the oldest if over `max_points`."""
        if not lines:
            return
        # Only the newest max_points of this call could ever survive.
        kept = list(lines[-self.max_points :])
        skipped = len(lines) - len(kept)
        with self._lock:
            connection = self._open()
            overflow = max(0, self._count + len(kept) - self.max_points)
            try:
                connection.execute("BEGIN")
                try:
                    if overflow:
                        connection.execute(
                            "DELETE FROM spool WHERE id IN "
                            "(SELECT id FROM spool ORDER BY id LIMIT ?)",
                            (overflow,),
                        )
                    connection.executemany(
                        "INSERT INTO spool (line) VALUES (?)", [(line,) for line in kept]
                    )
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise SinkError(
                    f"cannot append {len(kept)} lines to spool {self.path}: {_error_line(error)}"
                ) from None
            self._count += len(kept) - overflow
            self.dropped += overflow + skipped

    def peek(self, n: int) -> list[tuple[int, str]]:
        """The oldest `n` lines as (id, line), without removing them."""
        with self._lock:
            connection = self._open()
            try:
                rows = connection.execute(
                    "SELECT id, line FROM spool ORDER BY id LIMIT ?", (int(n),)
                ).fetchall()
            except sqlite3.Error as error:
                raise SinkError(f"cannot read spool {self.path}: {_error_line(error)}") from None
        return [(int(row[0]), str(row[1])) for row in rows]

    def ack(self, ids: Iterable[int]) -> None:
        """Remove lines that were delivered; ids no longer present are ignored."""
        rows = [(int(i),) for i in ids]
        if not rows:
            return
        with self._lock:
            connection = self._open()
            try:
                connection.execute("BEGIN")
                try:
                    before = connection.total_changes
                    connection.executemany("DELETE FROM spool WHERE id = ?", rows)
                    removed = connection.total_changes - before
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise SinkError(f"cannot update spool {self.path}: {_error_line(error)}") from None
            self._count -= removed

    def pending(self) -> int:
        """How many lines wait to be sent."""
        with self._lock:
            return self._count

    def close(self) -> None:
        """Close the file and release it to the next process. Closing twice is harmless."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
                self._unlock()
