"""The `aistack annotate` command: a page to audit a clip's line counts into crossings.csv."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aistack.cli.args import add_detector_options, config_from_options
from aistack.cli.subcommand import add_subcommand, standalone_main
from aistack.errors import ConfigError

_DESCRIPTION = """\
Audit the counts of your own camera: every site differs, and only a person watching
can say what the true crossings were. annotate reads CLIP once with the real pipeline
(the same detector, tracker and line counter as `aistack count`) and writes one
self-contained page, annotate.html, to review them in any browser, offline.

For each --line the page shows:
  - a slit-scan strip: the pixels on the line in every frame, time running left to
    right, so everything that crossed leaves a streak, and under it which of two slits
    just either side of the line was covered first (magenta then green: in);
  - candidate crossings: those aistack counted (blue), and streaks it did not count
    (amber);
  - the frames around each one, cropped around the line.

In the page: click a candidate to see its frames; tick the real ones (key c), flip a
wrong direction (d), set the class and a note, remove what is not a crossing (x), and
click the strip where a crossing was missed. Save downloads crossings.csv with the
confirmed crossings only. candidates.csv, next to the page, lists what was found."""

_EPILOG = """\
direction: for a line P1->P2, moving from the left of P1->P2 to its right (looking
along the line) is "in"; for a line drawn left to right, walking down the picture is
"in". The frames in the page show a green arrow pointing to the in side.

crossings.csv: line,frame,direction,class,note, one confirmed crossing a row; frame is
the 0-based index of the first frame with the anchor (the feet) past the line.

examples:
  aistack annotate shop.mp4 --line door=0.1,0.7,0.9,0.7
  aistack annotate shop.mp4 --line door=80,380,880,380 --max-frames 1500 --out audit/
  aistack annotate shop.mp4 --line door=80,380,880,380 --truth audit/crossings.csv
  aistack eval shop.mp4 --line door=80,380,880,380 --truth crossings.csv"""


def add_annotate_parser(
    subparsers: argparse._SubParsersAction[Any],
) -> argparse.ArgumentParser:
    """Add `annotate` to the `aistack` command's subcommands."""
    return add_subcommand(
        subparsers, "annotate",
        summary="audit counts: a page to confirm a clip's crossings into crossings.csv",
        description=_DESCRIPTION, epilog=_EPILOG, add_arguments=_add_arguments,
    )  # fmt: skip


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", metavar="CLIP", help="video file")
    parser.add_argument(
        "--line", action="append", required=True, metavar="[NAME=]X1,Y1,X2,Y2",
        help="a counting line from P1 to P2, in pixels or in fractions (all values 0-1); "
        "repeat for more lines",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR",
        help="folder for annotate.html and candidates.csv (default: ./CLIPNAME-audit)",
    )  # fmt: skip
    parser.add_argument(
        "--truth", type=Path, default=None, metavar="crossings.csv",
        help="load a crossings.csv saved before into the page, its rows confirmed",
    )  # fmt: skip
    parser.add_argument(
        "--max-frames", type=int, default=None, metavar="N",
        help="read only the first N frames (long clips: the page keeps every frame's strip)",
    )  # fmt: skip
    add_detector_options(parser)


def run_annotate(args: argparse.Namespace) -> int:
    """Read the clip, write the page and candidates.csv, print where the page is."""
    from aistack.audit.annotate import annotate, default_out

    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(f"--max-frames: {args.max_frames} is not a positive number of frames")
    config = config_from_options(
        args.clip,
        args.line,
        args.classes,
        args.model,
        args.device,
        args.anchor,
        args.confidence,
        preset=args.preset,
        precision=args.precision,
        slices=args.slices,
    )
    out = args.out if args.out is not None else default_out(args.clip)
    result = annotate(config, out, truth=args.truth, max_frames=args.max_frames)
    for line in result.lines:
        print(
            f"{line.name}: {line.counted} counted by aistack, {line.strip_only} uncounted "
            f"streak(s) on the strip",
            file=sys.stderr,
        )
    megabytes = result.page_bytes / 1e6
    print(
        f"{result.frames} frames read in {result.seconds:.1f} s; page {megabytes:.1f} MB; "
        f"candidates in {result.candidates}",
        file=sys.stderr,
    )
    print(f"open in a browser: {result.page.resolve().as_uri()}", file=sys.stderr)
    print(result.page.resolve())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m aistack.cli.annotate` runs the same command outside `aistack`."""
    return standalone_main(
        argv, prog="aistack annotate", description=_DESCRIPTION, epilog=_EPILOG,
        add_arguments=_add_arguments, run=run_annotate,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
