"""The disk spool: order, acks, bounds, exclusive use, and survival of a SIGKILLed writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aistack.errors import SinkError
from aistack.sinks.spool import Spool

ROOT = Path(__file__).resolve().parents[2]


def test_lines_come_back_in_order_until_acked(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.spool") as spool:
        spool.append(["a", "b", "c"])
        spool.append(["d"])
        assert spool.pending() == 4
        first = spool.peek(2)
        assert [line for _, line in first] == ["a", "b"]
        # Peeking does not remove: a sender that dies before ack sends them again.
        assert [line for _, line in spool.peek(2)] == ["a", "b"]
        spool.ack([point_id for point_id, _ in first])
        assert spool.pending() == 2
        assert [line for _, line in spool.peek(10)] == ["c", "d"]


def test_reopened_spool_replays_in_insertion_order(tmp_path: Path) -> None:
    path = tmp_path / "s.spool"
    with Spool(path) as spool:
        spool.append([f"x{i}" for i in range(5)])
        spool.ack([point_id for point_id, _ in spool.peek(5)])
        # Ids are never reused, so lines added after the queue emptied still sort last.
        spool.append([f"y{i}" for i in range(3)])
        spool.append([f"z{i}" for i in range(3)])
    with Spool(path) as spool:
        assert spool.pending() == 6
        assert [line for _, line in spool.peek(100)] == [
            *(f"y{i}" for i in range(3)),
            *(f"z{i}" for i in range(3)),
        ]


def test_full_spool_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.spool", max_points=5) as spool:
        spool.append([f"p{i}" for i in range(4)])
        stale = spool.peek(2)
        spool.append([f"q{i}" for i in range(3)])
        assert spool.pending() == 5
        assert spool.dropped == 2
        assert [line for _, line in spool.peek(10)] == ["p2", "p3", "q0", "q1", "q2"]
        # A batch dropped while in flight is acked later: harmless, and not double-counted.
        spool.ack([point_id for point_id, _ in stale])
        assert spool.pending() == 5
        spool.append([f"r{i}" for i in range(8)])
        assert spool.dropped == 2 + 5 + 3
        assert [line for _, line in spool.peek(10)] == [f"r{i}" for i in range(3, 8)]


def test_one_process_owns_a_spool(tmp_path: Path) -> None:
    path = tmp_path / "s.spool"
    with Spool(path), pytest.raises(SinkError, match="in use"):
        Spool(path)
    # Released on close.
    Spool(path).close()


def test_unusable_spool_path_is_a_sink_error(tmp_path: Path) -> None:
    not_sqlite = tmp_path / "junk.spool"
    not_sqlite.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SinkError, match="cannot open spool"):
        Spool(not_sqlite)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SinkError, match="cannot open spool"):
        Spool(blocker / "sub" / "s.spool")
    with pytest.raises(SinkError, match="max_points"):
        Spool(tmp_path / "ok.spool", max_points=0)


def test_closed_spool_refuses_appends(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool")
    spool.close()
    spool.close()
    with pytest.raises(SinkError, match="closed"):
        spool.append(["a"])


_WRITER = """
import sys
from aistack.sinks.spool import Spool
spool = Spool(sys.argv[1])
batch = 0
while True:
    spool.append([f"{batch}:{i}" for i in range(10)])
    batch += 1
    print(batch, flush=True)
"""


def test_appends_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "killed.spool"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    confirmed = 0
    try:
        while confirmed < 200:
            line = child.stdout.readline()
            assert line, "the writer died before it was killed"
            confirmed = int(line)
    finally:
        # SIGKILL mid-stream: no close(), no atexit, possibly in the middle of a commit.
        child.send_signal(signal.SIGKILL)
        child.wait()
    # Appends it reported after our last read are still in the pipe.
    confirmed = max([confirmed, *(int(line) for line in child.stdout.read().split())])
    with Spool(path) as spool:
        lines = [line for _, line in spool.peek(10_000_000)]
    # Every append that returned is there; one more may have committed unreported.
    batches = len(lines) // 10
    assert len(lines) % 10 == 0
    assert confirmed <= batches <= confirmed + 1
    assert lines == [f"{b}:{i}" for b in range(batches) for i in range(10)]
