"""The `aistack eval` command: score a clip's line counts (and tracks) against the truth."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aistack.cli.args import add_detector_options, config_from_options
from aistack.cli.subcommand import add_subcommand, standalone_main
from aistack.errors import EXIT_USAGE, AistackError, report_error

if TYPE_CHECKING:
    from aistack.evaluation.result import EvalResult

# aistack.evaluation.ground_truth.FORMAT_CHOICES, written out so that building the parser
# for every aistack command does not import the evaluation (a test keeps them equal).
GT_FORMATS = ("auto", "mot15", "mot16", "aistack")

_DESCRIPTION = """\
Run the real pipeline on CLIP (unpaced) and compare it with the truth, one of:
  --gt GT.txt           MOTChallenge-style ground truth (a box per person per frame):
                        tracking accuracy (HOTA, DetA, AssA, IDF1, MOTA, ID switches, from
                        TrackEval) and, per --line, true crossings against counted ones;
  --truth crossings.csv the true crossings themselves (aistack's count-audit file): per
                        --line only, no tracking figures.

Every counted crossing is also matched to a true one (same line, direction and class,
within --match-frames), so a miss and a phantom that cancel out in the counts still show.

With --gt, the true crossings are the ground-truth tracks fed through aistack's own line
counter, with the same anchor, jitter band, persistence and once-per-direction rules, so a
difference is a detection or tracking error, never a difference in geometry."""

_EPILOG = """\
ground truth (--gt GT.txt): one row per object per frame, frame 1-based, box in pixels;
rows with conf 0 are not evaluated (as in MOTChallenge). --gt-format says which layout:
  auto     (default) from the file: 10 columns mot15; 6-8 aistack; 9 columns mot16 or
           aistack, refused unless every class is 1 or --gt-format/--gt-classes says which
  mot15    frame,id,x,y,w,h,conf,wx,wy,wz  2D MOT 2015: no class column, all pedestrians
  mot16    frame,id,x,y,w,h,conf,class,visibility  MOT16/17/20, classes as --gt-classes mot
  aistack  frame,id,x,y,w,h[,conf[,class[,visibility]]]  class = COCO id + 1 (golden clips)
  every row needs the same number of columns; a mix is refused.

--gt-classes maps the class column to COCO classes (default: the format's own):
  coco+1   COCO id + 1: 1 person, 3 car, 6 bus, 8 truck (aistack's golden clips)
  mot      MOTChallenge 16/17: 1 pedestrian, 3 car, 4 bicycle, 5 motorbike; predictions on
           2 person on vehicle, 7 static person, 8 distractor, 12 reflection count neither way
  1=person,7=ignore   your own mapping; classes not named are not evaluated

crossings truth (--truth crossings.csv): header line,frame,direction,class,note; frame
0-based; every line the file names must be given with --line NAME=... (a given line the
file never names had no true crossings).

metrics (higher is better, 1 is perfect):
  HOTA  geometric mean of detection (DetA) and association (AssA) accuracy
  IDF1  share of boxes given the right identity      MOTA  1 - (misses + false + switches) / truth
  IDSW  times a true object changed track id         error = counted - true crossings
  weighted count error  sum of |counted - true| over lines and directions / sum of true (0 best)
  caught / missed / spurious  counted crossings paired one to one with true ones (same line,
        direction and class, closest in frames first, at most --match-frames apart)

examples:
  aistack eval clip.mp4 --gt clip.gt.txt --gt-format aistack --line door=0,270,640,270
  aistack eval vtest.mp4 --gt PETS09-S2L1/gt.txt --line v=476,0,476,576   # MOT15, detected
  aistack eval MOT17-09.mp4 --gt gt/gt.txt --gt-format mot16 --classes people --json
  aistack eval clip.mp4 --truth crossings.csv --line door=0,270,640,270"""


def add_eval_parser(
    subparsers: argparse._SubParsersAction[Any],
) -> argparse.ArgumentParser:
    """Add `eval` to the `aistack` command's subcommands."""
    return add_subcommand(
        subparsers, "eval",
        summary="score tracking (HOTA, IDF1, MOTA) and line counts against ground truth",
        description=_DESCRIPTION, epilog=_EPILOG, add_arguments=_add_arguments,
    )  # fmt: skip


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", metavar="CLIP", type=Path, help="video file")
    truth = parser.add_mutually_exclusive_group(required=True)
    truth.add_argument("--gt", type=Path, metavar="GT.txt",
                       help="MOTChallenge-style ground truth of CLIP (see below)")  # fmt: skip
    truth.add_argument("--truth", type=Path, metavar="crossings.csv",
                       help="the true crossings of CLIP instead (see below)")  # fmt: skip
    parser.add_argument(
        "--gt-format", default="auto", choices=GT_FORMATS,
        help="the layout of GT.txt (default auto: from the file; see below)",
    )  # fmt: skip
    parser.add_argument(
        "--gt-classes", default=None, metavar="MAP",
        help="coco+1, mot, or ID=NAME,... (default: the format's; see below)",
    )  # fmt: skip
    parser.add_argument(
        "--match-frames", type=int, default=None, metavar="N",
        help="frames a counted crossing may be from its true one (default: one second of CLIP)",
    )  # fmt: skip
    parser.add_argument(
        "--max-frames", type=int, default=None, metavar="N",
        help="stop after N frames and score only the truth before them",
    )  # fmt: skip
    parser.add_argument(
        "--line", action="append", default=[], metavar="[NAME=]X1,Y1,X2,Y2",
        help="a counting line from P1 to P2, in pixels or in fractions (all values 0-1); "
        "repeat for more lines. Without one, only tracking is scored",
    )  # fmt: skip
    add_detector_options(parser, classes_default="the classes the truth labels")
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
    """Evaluate and print the table (or one JSON object with --json), then export.

    The figures are printed before any export, so an unwritable textfile or a dead
    InfluxDB costs the export (reported, exit 2), never the evaluation's result.
    """
    from aistack.evaluation.evaluate import evaluate, truth_classes
    from aistack.evaluation.mot import parse_gt_classes

    gt_classes = parse_gt_classes(args.gt_classes) if args.gt_classes is not None else None
    classes = args.classes
    if classes is None:  # detect what the truth labels, as evaluate() does without a config
        labelled = truth_classes(args.gt, args.truth, args.gt_format, gt_classes)
        classes = ",".join(labelled or ["person"])
    config = config_from_options(
        str(args.clip),
        [],
        classes,
        args.model,
        args.device,
        args.anchor,
        args.confidence,
        preset=args.preset,
        precision=args.precision,
        slices=args.slices,
    )
    result = evaluate(
        args.clip, args.gt, args.line, config, crossings=args.truth, gt_format=args.gt_format,
        gt_classes=gt_classes, match_frames=args.match_frames, max_frames=args.max_frames,
        progress=True,
    )  # fmt: skip
    report = result.to_dict()
    print(json.dumps(report) if args.json else format_table(report), flush=True)
    failures = _export(result, args)
    for failure in failures:
        report_error(failure)
    return EXIT_USAGE if failures else 0


def _export(result: EvalResult, args: argparse.Namespace) -> list[AistackError]:
    """Write every export asked for; one failing does not stop the other."""
    if args.prometheus_textfile is None and args.influx_url is None:
        return []
    from aistack.evaluation.export import write_influx, write_prometheus_textfile

    failures: list[AistackError] = []
    if args.prometheus_textfile is not None:
        try:
            write_prometheus_textfile(result, args.prometheus_textfile)
        except AistackError as error:
            failures.append(error)
    if args.influx_url is not None:
        try:
            write_influx(result, Path(args.clip).name, args.influx_url, args.influx_database)
        except AistackError as error:
            failures.append(error)
    return failures


def format_table(report: dict[str, Any]) -> str:
    """The human-readable form of an `aistack eval --json` object."""
    out = [
        f"{report['clip']}: {report['frames']} frames, classes {', '.join(report['classes'])}; "
        f"truth {report['gt']} ({report.get('gt_format', '?')}; {report['seconds']:.1f} s)",
    ]
    tracking = report["tracking"]
    if tracking is not None:
        out += [
            "",
            f"{'tracking':<16}{'HOTA':>7}{'DetA':>7}{'AssA':>7}{'IDF1':>7}{'MOTA':>8}"
            f"{'IDSW':>6}{'FP':>6}{'FN':>6}",
        ]
        for name, row in [("all", tracking), *tracking.get("by_class", {}).items()]:
            out.append(
                f"  {name:<14}{row['HOTA']:>7.3f}{row['DetA']:>7.3f}{row['AssA']:>7.3f}"
                f"{row['IDF1']:>7.3f}{row['MOTA']:>8.3f}{row['IDSW']:>6}{row['FP']:>6}"
                f"{row['FN']:>6}"
            )
    if not report["lines"]:
        out += ["", "no --line given: crossings not scored"]
        return "\n".join(out)
    out += ["", *_crossings_table(report["lines"]), "", _summary(report)]
    return "\n".join(out)


def _crossings_table(lines: list[dict[str, Any]]) -> list[str]:
    out = [
        f"{'crossings':<16}{'dir':<5}{'truth':>6}{'counted':>9}{'error':>7}{'|error|%':>10}"
        f"{'caught':>8}{'missed':>8}{'spurious':>10}"
    ]
    for line in lines:
        classes = line["by_class"] if len(line["by_class"]) > 1 else {}
        matching = line.get("matching", {}).get("by_direction", {})
        rows = [(line["name"], line, matching), *((f"  {c}", r, {}) for c, r in classes.items())]
        for label, row, matched in rows:
            for direction in ("in", "out"):
                pct = row["abs_pct_error"][direction]
                pairs = matched.get(direction)
                out.append(
                    f"  {label:<14}{direction:<5}{row['truth'][direction]:>6}"
                    f"{row['predicted'][direction]:>9}{row['error'][direction]:>+7}"
                    f"{'n/a' if pct is None else f'{pct:.1f}':>10}"
                    + (
                        f"{pairs['caught']:>8}{pairs['missed']:>8}{pairs['spurious']:>10}"
                        if pairs
                        else ""
                    )
                )
    return out


def _summary(report: dict[str, Any]) -> str:
    weighted = report["weighted_count_error"]
    matching = report["matching"]
    shown = "n/a (no true crossings)" if weighted is None else f"{weighted:.3f}"
    return (
        f"weighted count error {shown} (sum of |error| / sum of truth); crossings caught "
        f"{matching['caught']}, missed {matching['missed']}, spurious {matching['spurious']} "
        f"(within {matching['tolerance_frames']} frames)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m aistack.cli.eval` runs the same command outside `aistack`."""
    return standalone_main(
        argv, prog="aistack eval", description=_DESCRIPTION, epilog=_EPILOG,
        add_arguments=_add_arguments, run=run_eval,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
