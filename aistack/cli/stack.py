"""The `aistack stack up|down|status` command: the monitoring stack, in compose or natively."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from aistack.errors import EXIT_USAGE, AistackError

if TYPE_CHECKING:  # aistack.stack.control is imported only when a stack command runs
    from aistack.stack.control import ServiceStatus

EXIT_UNHEALTHY = 1

_EPILOG = """\
examples:
  aistack stack up                              Prometheus, Alertmanager, node-exporter, InfluxDB
  aistack stack up --target 127.0.0.1:9108 --target cam-host:9108
  aistack stack status --json                   exit code 0 only when every service is healthy
  aistack stack down                            stop; data stays for the next `up`
  aistack stack down --purge                    stop and delete the data

Modes: compose runs stack/docker-compose.yml (needs Docker Compose v2 and a running daemon);
native starts the same services from local binaries (apt-get install prometheus
prometheus-alertmanager prometheus-node-exporter influxdb) as background daemons listening on
127.0.0.1, with their state, logs and data under $AISTACK_HOME/stack. auto (default) prefers
compose. Alerts go to $AISTACK_ALERT_WEBHOOK_URL. See docs/stack-native.md."""


def add_stack_parser(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """Add `stack` (with up, down and status) to the `aistack` command's subcommands."""
    stack: argparse.ArgumentParser = subparsers.add_parser(
        "stack", help="start, check or stop the monitoring stack (Prometheus, InfluxDB, ...)",
        description="The monitoring stack: Prometheus (with the aistack rules), Alertmanager, "
        "node-exporter and InfluxDB, in docker compose or as local processes.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    actions = stack.add_subparsers(dest="stack_action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir", type=Path, default=None,
        help="where the state, logs and data live (default: $AISTACK_HOME/stack)",
    )  # fmt: skip
    up = actions.add_parser(
        "up", parents=[common], help="start the stack and wait until every service is healthy",
        description="Start the stack, or report it when it is already up. Returns once every "
        "service answers its health check; prints each service's URL.",
    )  # fmt: skip
    up.add_argument(
        "--mode", choices=["auto", "native", "compose"], default="auto",
        help="auto (default): compose if docker compose works, else native",
    )  # fmt: skip
    up.add_argument(
        "--target", action="append", default=None, metavar="HOST:PORT",
        help="an aistack worker's /metrics for Prometheus to scrape; repeat for more "
        "(default 127.0.0.1:9108). On a stack that is up, replaces the targets",
    )  # fmt: skip
    up.add_argument(
        "--stack-dir", type=Path, default=None,
        help="the stack/ folder with the configs (default: this checkout's)",
    )  # fmt: skip
    up.add_argument(
        "--timeout", type=_seconds, default=60.0,
        help="seconds to wait for every service to be healthy (default 60)",
    )  # fmt: skip
    up.add_argument("--json", action="store_true", help="print the status as one JSON object")
    status = actions.add_parser(
        "status", parents=[common], help="health-check every service (exit 0 only if all healthy)"
    )
    status.add_argument("--json", action="store_true", help="print one JSON object")
    down = actions.add_parser("down", parents=[common], help="stop the stack")
    down.add_argument(
        "--purge", action="store_true",
        help="also delete its data (Prometheus TSDB, InfluxDB, Alertmanager)",
    )  # fmt: skip
    return stack


def _seconds(text: str) -> float:
    """A finite number of seconds above 0 (float() would take nan and inf)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(seconds):
        raise argparse.ArgumentTypeError(f"{text} seconds: the number must be finite")
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text} seconds: must be above 0")
    return seconds


def run_stack(args: argparse.Namespace) -> int:
    """Run `aistack stack ACTION`; AistackError propagates to the caller (exit 2)."""
    from aistack.stack.control import DEFAULT_TARGETS, stack_down, stack_status, stack_up

    if args.stack_action == "down":
        for note in stack_down(args.state_dir, purge=args.purge):
            print(f"aistack: {note}", file=sys.stderr)
        return 0
    if args.stack_action == "up":
        status = stack_up(
            args.mode, args.target or DEFAULT_TARGETS, args.state_dir,
            stack_dir=args.stack_dir, timeout=args.timeout,
        )  # fmt: skip
    else:
        status = stack_status(args.state_dir)
    for note in status.notes:
        print(f"aistack: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(status.to_dict()))
    elif status.up:
        print(format_table(status.services))
    if not status.up:
        print(
            f"aistack: the monitoring stack is not up (no state in {status.state_dir}); "
            "start it with: aistack stack up",
            file=sys.stderr,
        )
    return 0 if status.healthy else EXIT_UNHEALTHY


def format_table(services: Sequence[ServiceStatus]) -> str:
    """The status table: one row a service."""
    rows = [("SERVICE", "MODE", "URL", "HEALTHY", "PID")]
    rows += [
        (s.name, s.mode, s.url or "-", "yes" if s.healthy else "NO", str(s.pid or "-"))
        for s in services
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"aistack: error: {message} (see '{self.prog} --help')\n")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m aistack.cli.stack ACTION ...`: the same as `aistack stack ACTION ...`."""
    parser = _Parser(prog="aistack")
    add_stack_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["stack", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.WARNING, format="aistack: %(levelname)s: %(message)s")
    try:
        return run_stack(args)
    except AistackError as error:
        print(f"aistack: error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aistack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
