"""The `aistack` command: the parser, and count, run, demo and bench; the other commands have a
module each in this folder. Errors print one line and exit 2."""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from aistack.errors import EXIT_USAGE, AistackError, ConfigError, field_name, report_error
from aistack.redact import redact_text

DESCRIPTION = """\
aistack counts things in video: it detects objects, tracks them and counts them
crossing lines and occupying zones, by class and direction.

Quick start (no servers, no downloads):
  aistack demo                                  count the bundled clip, write an HTML report
  aistack count clip.mp4 --line 0,0.5,1,0.5     count crossings of a line across the middle

Direction: for a line P1→P2, an object whose anchor passes from the left of
P1→P2 to its right (looking along the line) counts "in"; the reverse is "out".
For a line drawn left to right, moving down the picture is "in".
"""


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(str(record.getMessage()))
        record.args = ()
        return True


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(logging.Formatter("aistack: %(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


def _minutes(text: str) -> float:
    """A finite number of minutes above 0 (float() would take nan and inf)."""
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not math.isfinite(minutes) or minutes <= 0:
        raise argparse.ArgumentTypeError(f"{text} minutes: give a finite number above 0")
    return minutes


class _Parser(argparse.ArgumentParser):
    """Usage mistakes get the same single error line as every other aistack error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"aistack: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from aistack.cli.args import add_detector_options

    parser = _Parser(
        prog="aistack",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    count = commands.add_parser(
        "count", help="count line crossings in a video file or stream, then print totals",
        description="Process SOURCE as fast as possible (files are not paced) and print the "
        "crossings of each --line by class and direction.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  aistack count clip.mp4 --line door=100,400,700,400 --classes people\n"
        "  aistack count rtsp://user:pass@cam/stream --line 0.5,0,0.5,1 --json",
    )  # fmt: skip
    count.add_argument(
        "source", metavar="SOURCE", help="video file, rtsp:// or http(s):// URL, or webcam index"
    )
    count.add_argument(
        "--line", action="append", default=[], metavar="[NAME=]X1,Y1,X2,Y2",
        help="a counting line from P1 to P2, in pixels or in fractions (all values 0-1); "
        "repeat for more lines. NAME is any text without '=' (door, café, 'my door'), as in "
        "a YAML config. Default: a horizontal line across the middle",
    )  # fmt: skip
    add_detector_options(count, pose=True)
    count.add_argument("--store", type=Path, default=None,
                       help="also write events to this SQLite file")  # fmt: skip
    count.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    run = commands.add_parser(
        "run", help="run a config: cameras, store and /metrics, until stopped",
        description="Long-running: reads every camera in CONFIG at its own pace, writes events "
        "to the configured store and serves Prometheus metrics. Stop with Ctrl-C.",
    )  # fmt: skip
    run.add_argument("config", type=Path, metavar="CONFIG", help="YAML config (see experiments/)")

    demo = commands.add_parser(
        "demo", help="count the bundled clip with the bundled model and write an HTML report",
        description="The embedded default: no docker, no servers, no downloads.",
    )  # fmt: skip
    demo.add_argument(
        "--out", type=Path, default=Path("aistack-demo"),
        help="output folder (default ./aistack-demo; replaced on each run)",
    )  # fmt: skip
    demo.add_argument("--source", type=Path, default=None, help="count another clip instead")

    from aistack.cli.emulate import add_emulate_parser  # cheap: imports neither gi nor cv2

    add_emulate_parser(commands)
    from aistack.cli.eval import add_eval_parser

    add_eval_parser(commands)
    from aistack.cli.annotate import add_annotate_parser

    add_annotate_parser(commands)
    from aistack.cli.stack import add_stack_parser

    add_stack_parser(commands)
    from aistack.cli.job import add_job_parser, add_report_parser

    add_job_parser(commands)
    add_report_parser(commands)

    bench = commands.add_parser(
        "bench", help="benchmarks; results go to files under experiments/bench/",
        description="Speed figures are ratios measured within one run, because shared "
        "machines are noisy.",
    )  # fmt: skip
    bench.add_argument(
        "suites", nargs="*", metavar="SUITE", default=[],
        help="pipeline (pipeline FPS / bare model FPS), cameras (4 cameras batched / 4 "
        "independent pipelines), latency (capture-to-event p95 / model latency), overload "
        "(lag in frames with 8 cameras), stores (SQLite, spool, InfluxDB write rates), "
        "ultralytics (aistack / Ultralytics ObjectCounter on the same ONNX model), memory "
        "(RSS growth over 10,000 frames). "
        "Default: all of these. `accuracy` (run on its own) measures counts instead: count "
        "error, HOTA/IDF1/MOTA and FPS on fixed real clips with ground truth "
        "(docs/accuracy.md). `soak` (on its own too): --cameras emulated RTSP cameras "
        "through a default run for --minutes, with RSS, queue depths, drops and counts "
        "per minute",
    )  # fmt: skip
    bench.add_argument("--source", type=Path, default=None, help="clip (default: bundled)")
    bench.add_argument("--out", type=Path, default=Path("experiments/bench"), help="results folder")
    bench.add_argument("--quick", action="store_true", help="a small smoke run (CI)")
    bench.add_argument(
        "--influx-url", default=None,
        help="InfluxDB for the stores suite, e.g. http://127.0.0.1:8086 (default: skip it)",
    )  # fmt: skip
    bench.add_argument(
        "--data", type=Path, default=Path("../shared/data"), metavar="DIR",
        help="accuracy: the folder holding the dev-set clips and ground truth "
        "(default: ../shared/data)",
    )  # fmt: skip
    from aistack.config import DEFAULT_PRESET, PRESETS  # already loaded by add_detector_options

    bench.add_argument(
        "--preset", choices=list(PRESETS), default=None,
        help=f"pipeline: the detector preset to time (default {DEFAULT_PRESET})",
    )  # fmt: skip
    bench.add_argument("--case", action="append", default=None, metavar="NAME",
                       help="accuracy: run only this case (repeatable)")  # fmt: skip
    bench.add_argument("--setting", action="append", default=None, metavar="NAME",
                       help="accuracy: run only this detector setting (repeatable)")  # fmt: skip
    bench.add_argument("--minutes", type=_minutes, default=60.0,
                       help="soak: how long to run (default 60)")  # fmt: skip
    bench.add_argument("--cameras", type=int, default=4,
                       help="soak: emulated RTSP cameras (default 4)")  # fmt: skip
    return parser


# Config fields as the options that set them, for errors found once `count` or `demo` runs.
_COUNT_OPTIONS = {
    "cameras[0].source.uri": "SOURCE", "cameras[0].lines": "--line", "detector.model": "--model",
    "detector.device": "--device", "store.path": "--store",
}  # fmt: skip
_DEMO_OPTIONS = {"cameras[0].source.uri": "--source"}


def _as_option(error: AistackError, options: dict[str, str]) -> AistackError:
    """`error` named by the option that set its field (config fields mean little here)."""
    if error.field is None:
        return error
    name = field_name(error.field)
    for field, option in options.items():
        if name == field or name.startswith((f"{field}[", f"{field}.")):
            return type(error)(f"{option}: {error}")
    return error


def _count(args: argparse.Namespace) -> int:
    from aistack.cli.args import config_from_options
    from aistack.pipeline.wiring import Pipeline
    from aistack.sinks.sqlite import SqliteSink

    lines = args.line or ["middle=0,0.5,1,0.5"]
    config = config_from_options(
        args.source, lines, args.classes, args.model, args.device, args.anchor,
        args.confidence, args.store, args.preset, args.precision, args.slices,
    )  # fmt: skip
    sinks = {}
    try:
        if args.store is not None:
            try:
                sinks["sqlite"] = SqliteSink(config.store.path, config.store.interval_seconds)
            except AistackError as error:
                raise error.at("store", "path") from None
        summary = Pipeline(config, sinks=sinks, pace="unpaced", progress=True).run()  # type: ignore[arg-type]
    except AistackError as error:
        raise _as_option(error, _COUNT_OPTIONS) from None
    finally:
        for sink in sinks.values():
            sink.close()
    result = summary.to_dict()
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['source']}: {result['frames']} frames in {result['seconds']:.1f} s "
          f"({result['fps']:.1f} fps)")  # fmt: skip
    for line in result["lines"]:
        print(f"  {line['name']:<12} in {line['in']:>5}  out {line['out']:>5}")
        for name, counts in line["by_class"].items():
            print(f"    {name:<10} in {counts['in']:>5}  out {counts['out']:>5}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from aistack.pipeline.runner import run_config

    pipeline_stop: list[object] = []

    def _graceful(signum: int, frame: FrameType | None) -> None:
        for stop in pipeline_stop:
            stop()  # type: ignore[operator]

    logging.getLogger("aistack").setLevel(logging.INFO)  # where metrics and the view are
    signal.signal(signal.SIGTERM, _graceful)
    signal.signal(signal.SIGINT, _graceful)
    summary = run_config(args.config, on_start=lambda stop: pipeline_stop.append(stop))
    print(json.dumps(summary.to_dict()))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from aistack.workbench.demo import run_demo

    try:
        result = run_demo(args.out, args.source)
    except AistackError as error:
        raise _as_option(error, _DEMO_OPTIONS) from None
    for line in result.summary.to_dict()["lines"]:
        print(f"{line['name']}: in {line['in']}, out {line['out']}", file=sys.stderr)
    print(result.report.resolve())
    return 0


def _bench(args: argparse.Namespace) -> int:
    from aistack.bench.suites import SUITES, run_bench

    if "accuracy" in args.suites:
        return _bench_accuracy(args)
    if "soak" in args.suites:
        return _bench_soak(args)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        raise ConfigError(
            f"unknown bench suite {', '.join(unknown)}; choose from {', '.join(SUITES)}"
        )
    if args.influx_url is not None:
        from aistack.config import check_url

        try:
            check_url(args.influx_url, ("http", "https"))
        except ValueError as error:
            raise ConfigError(f"--influx-url: {error}") from None
    result = run_bench(
        args.suites or list(SUITES),
        args.source,
        args.out,
        args.quick,
        args.influx_url,
        preset=args.preset,
    )
    print(result.markdown)
    print(f"results: {result.json_path}", file=sys.stderr)
    return 0


def _bench_soak(args: argparse.Namespace) -> int:
    from aistack.bench.soak import run_soak

    if args.suites != ["soak"]:
        raise ConfigError("bench soak runs on its own: `aistack bench soak --minutes N`")
    result = run_soak(args.minutes, args.cameras, args.out, args.source)
    print(result.markdown)
    print(f"results: {result.json_path}", file=sys.stderr)
    if result.plot_path is not None:
        print(f"plot: {result.plot_path}", file=sys.stderr)
    return 0


def _bench_accuracy(args: argparse.Namespace) -> int:
    from aistack.bench.accuracy.runner import run_accuracy

    if args.suites != ["accuracy"]:
        raise ConfigError("bench accuracy runs on its own: `aistack bench accuracy [--quick]`")
    result = run_accuracy(
        args.out, args.data, quick=args.quick, cases=args.case, settings=args.setting
    )
    print(result.markdown)
    print(f"results: {result.json_path}", file=sys.stderr)
    if result.plot_path is not None:
        print(f"plot: {result.plot_path}", file=sys.stderr)
    return 0


def _emulate(args: argparse.Namespace) -> int:
    from aistack.cli.emulate import run_emulate

    return run_emulate(args)


def _eval(args: argparse.Namespace) -> int:
    from aistack.cli.eval import run_eval

    return run_eval(args)


def _annotate(args: argparse.Namespace) -> int:
    from aistack.cli.annotate import run_annotate

    return run_annotate(args)


def _stack(args: argparse.Namespace) -> int:
    from aistack.cli.stack import run_stack

    return run_stack(args)


def _job(args: argparse.Namespace) -> int:
    from aistack.cli.job import run_job

    return run_job(args)


def _report(args: argparse.Namespace) -> int:
    from aistack.cli.job import run_report

    return run_report(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    handlers = {
        "count": _count, "run": _run, "demo": _demo, "bench": _bench, "emulate": _emulate,
        "eval": _eval, "annotate": _annotate, "stack": _stack, "job": _job, "report": _report,
    }  # fmt: skip
    try:
        return handlers[args.command](args)
    except AistackError as error:
        return report_error(error)
    except KeyboardInterrupt:
        print("aistack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
