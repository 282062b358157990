"""The `aistack eval` command: score a clip's tracks and line counts against ground truth."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aistack.errors import AistackError, report_error

_DESCRIPTION = """\
Run the real pipeline on CLIP (unpaced) and compare it with MOTChallenge ground truth:
tracking accuracy (HOTA, DetA, AssA, IDF1, MOTA, ID switches, from TrackEval) and, per
--line, the true crossings against the counted ones, by direction and class.

The true crossings are the ground-truth tracks fed through aistack's own line counter,
with the same anchor, jitter band, persistence and once-per-direction rules, so a
difference is a detection or tracking error, never a difference in geometry."""

_EPILOG = """\
ground truth (GT.txt): one row per object per frame,
  frame,id,x,y,w,h[,conf,class,visibility]   frame 1-based, box in pixels
  rows with conf 0 are not evaluated (as in MOTChallenge); rows without a class are class 1.

--gt-classes maps the class column to COCO classes:
  coco+1   (default) COCO id + 1: 1 person, 3 car, 6 bus, 8 truck (aistack's golden clips)
  mot      MOTChallenge 16/17: 1 pedestrian, 3 car, 4 bicycle, 5 motorbike; predictions on
           2 person on vehicle, 7 static person, 8 distractor, 12 reflection count neither way
  1=person,7=ignore   your own mapping; classes not named are not evaluated

metrics (higher is better, 1 is perfect):
  HOTA  geometric mean of detection (DetA) and association (AssA) accuracy
  IDF1  share of boxes given the right identity      MOTA  1 - (misses + false + switches) / truth
  IDSW  times a true object changed track id         error = counted - true crossings

examples:
  aistack eval clip.mp4 --gt clip.gt.txt --line door=0,270,640,270
  aistack eval MOT17-09.mp4 --gt gt/gt.txt --gt-classes mot --classes people --json"""


def add_eval_parser(
    subparsers: argparse._SubParsersAction[Any],
) -> argparse.ArgumentParser:
    """Add `eval` to the `aistack` command's subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "eval", help="score tracking (HOTA, IDF1, MOTA) and line counts against ground truth",
        description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _add_arguments(parser)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", metavar="CLIP", type=Path, help="video file")
    parser.add_argument("--gt", required=True, type=Path, metavar="GT.txt",
                        help="MOTChallenge ground truth of CLIP (see below)")  # fmt: skip
    parser.add_argument("--gt-classes", default=None, metavar="MAP",
                        help="coco+1 (default), mot, or ID=NAME,... (see below)")  # fmt: skip
    parser.add_argument(
        "--line", action="append", default=[], metavar="[NAME=]X1,Y1,X2,Y2",
        help="a counting line from P1 to P2, in pixels or in fractions (all values 0-1); "
        "repeat for more lines. Without one, only tracking is scored",
    )  # fmt: skip
    parser.add_argument(
        "--classes", default=None,
        help="comma-separated COCO classes or presets (people, traffic) to detect and score. "
        "Default: the classes the ground truth labels",
    )  # fmt: skip
    parser.add_argument(
        "--model", default="nanodet",
        help="'nanodet' (bundled; default) or YOLO weights for the ultralytics backend",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or mps")
    parser.add_argument("--confidence", type=float, default=None,
                        help="detector score threshold (default 0.25)")  # fmt: skip
    parser.add_argument(
        "--anchor", default="bottom_center",
        choices=["bottom_center", "center", "top_center", "center_left", "center_right"],
        help="the point of each box that must cross the line (default bottom_center)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--prometheus-textfile", type=Path, default=None, metavar="FILE.prom",
        help="also write the aistack_eval_* gauges here, for node-exporter's textfile collector",
    )  # fmt: skip
    parser.add_argument(
        "--influx-url", default=None, metavar="URL",
        help="also write the figures to InfluxDB (measurement aistack_eval; token from "
        "$AISTACK_INFLUX_TOKEN)",
    )  # fmt: skip
    parser.add_argument("--influx-database", default="aistack", help="InfluxDB database")


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate, print the table (or one JSON object with --json) and return 0."""
    from aistack.cli.args import config_from_options
    from aistack.evaluation.evaluate import evaluate
    from aistack.evaluation.mot import load_ground_truth, parse_gt_classes

    gt_classes = parse_gt_classes(args.gt_classes)
    classes = args.classes
    if classes is None:  # detect what the truth labels, as evaluate() does without a config
        classes = ",".join(load_ground_truth(args.gt, gt_classes).boxes.class_names() or
                           ["person"])  # fmt: skip
    config = config_from_options(
        str(args.clip), [], classes, args.model, args.device, args.anchor, args.confidence
    )
    result = evaluate(args.clip, args.gt, args.line, config, gt_classes=gt_classes, progress=True)
    report = result.to_dict()
    if args.prometheus_textfile is not None or args.influx_url is not None:
        from aistack.evaluation.export import write_influx, write_prometheus_textfile

        if args.prometheus_textfile is not None:
            write_prometheus_textfile(result, args.prometheus_textfile)
        if args.influx_url is not None:
            write_influx(result, Path(args.clip).name, args.influx_url, args.influx_database)
    if args.json:
        print(json.dumps(report))
    else:
        print(format_table(report))
    return 0


def format_table(report: dict[str, Any]) -> str:
    """The human-readable form of an `aistack eval --json` object."""
    out = [
        f"{report['clip']}: {report['frames']} frames, classes {', '.join(report['classes'])}; "
        f"truth {report['gt']} ({report['seconds']:.1f} s)",
        "",
        f"{'tracking':<16}{'HOTA':>7}{'DetA':>7}{'AssA':>7}{'IDF1':>7}{'MOTA':>8}"
        f"{'IDSW':>6}{'FP':>6}{'FN':>6}",
    ]
    tracking = report["tracking"]
    for name, row in [("all", tracking), *tracking.get("by_class", {}).items()]:
        out.append(
            f"  {name:<14}{row['HOTA']:>7.3f}{row['DetA']:>7.3f}{row['AssA']:>7.3f}"
            f"{row['IDF1']:>7.3f}{row['MOTA']:>8.3f}{row['IDSW']:>6}{row['FP']:>6}{row['FN']:>6}"
        )
    if not report["lines"]:
        out += ["", "no --line given: crossings not scored"]
        return "\n".join(out)
    out += [
        "",
        f"{'crossings':<16}{'dir':<5}{'truth':>6}{'counted':>9}{'error':>7}{'|error|%':>10}",
    ]
    for line in report["lines"]:
        classes = line["by_class"] if len(line["by_class"]) > 1 else {}
        for label, row in [(line["name"], line), *((f"  {c}", r) for c, r in classes.items())]:
            for direction in ("in", "out"):
                pct = row["abs_pct_error"][direction]
                out.append(
                    f"  {label:<14}{direction:<5}{row['truth'][direction]:>6}"
                    f"{row['predicted'][direction]:>9}{row['error'][direction]:>+7}"
                    f"{'n/a' if pct is None else f'{pct:.1f}':>10}"
                )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m aistack.cli.eval` runs the same command outside `aistack`."""
    parser = argparse.ArgumentParser(
        prog="aistack eval", description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_eval(args)
    except AistackError as error:
        return report_error(error)


if __name__ == "__main__":
    sys.exit(main())
