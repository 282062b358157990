"""`aistack job run` and `aistack report`: the argparse side of aistack.workbench.jobs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aistack.errors import AistackError, report_error

_JOB_EPILOG = """\
examples:
  aistack job run experiments/people_walkway.yaml
  aistack job run experiments/people_walkway.yaml --device cuda:0 --param max_frames=300
  aistack job run experiments/people_walkway.yaml --param detector.confidence=0.4

--param KEY=VALUE sets a parameter of the notebook (config, source, model, device,
max_frames, duration_s, output_dir, interval) or, with a dotted KEY, a config field.
VALUE is read as YAML: 60 is a number, null is None. A job processes the whole clip
unless max_frames or duration_s is given.
"""


def add_job_parser(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """`aistack job run CONFIG`; the CLI dispatches on args.command == "job"."""
    job: argparse.ArgumentParser = subparsers.add_parser(
        "job", help="run an experiment notebook with papermill and write an HTML report",
        description="Jobs execute notebooks/03_inference_job.ipynb with an experiment's "
        "parameters into experiments/runs/<UTC time>-<name>/: the executed notebook, "
        "report.html (opens offline), params.json and job.log.",
    )  # fmt: skip
    actions = job.add_subparsers(dest="job_command", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run", help="execute the job notebook for one experiment config",
        epilog=_JOB_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    run.add_argument("config", type=Path, metavar="CONFIG", help="experiment YAML")
    run.add_argument(
        "--device", default=None,
        help="cpu, cuda or cuda:N (default: the config's); without a GPU the job runs on the "
        "CPU and its report says so",
    )  # fmt: skip
    run.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="a notebook parameter or a dotted config field; repeatable",
    )  # fmt: skip
    run.add_argument(
        "--notebook", type=Path, default=None,
        help="the notebook to execute (default notebooks/03_inference_job.ipynb)",
    )  # fmt: skip
    run.add_argument(
        "--out", type=Path, default=None,
        help="run folder (default experiments/runs/<UTC time>-<config name>/)",
    )  # fmt: skip
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    return job


def add_report_parser(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """`aistack report RUN_DIR`; the CLI dispatches on args.command == "report"."""
    report: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="rebuild a job's report.html from its executed notebook",
        description="Writes RUN_DIR/report.html again from the executed notebook in RUN_DIR, "
        "e.g. after editing or re-running cells by hand.",
    )  # fmt: skip
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a job's run folder")
    return report


def run_job(args: argparse.Namespace) -> int:
    """Run the job, print the report's path (and time) on stdout, and return 0."""
    from aistack.workbench import jobs

    result = jobs.run_job(
        args.config,
        device=args.device,
        params=jobs.parse_params(args.param),
        notebook=args.notebook,
        out=args.out,
        progress=not args.no_progress,
    )
    print(f"job {result.run_dir.name}: notebook {result.notebook.name}", file=sys.stderr)
    print(jobs.describe(result))
    return 0


def run_report(args: argparse.Namespace) -> int:
    from aistack.workbench import jobs

    print(jobs.rebuild_report(args.run_dir))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m aistack.cli.job job run ...` or `... report RUN_DIR`, outside `aistack`."""
    parser = argparse.ArgumentParser(prog="aistack")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_job_parser(commands)
    add_report_parser(commands)
    args = parser.parse_args(argv)
    try:
        return run_job(args) if args.command == "job" else run_report(args)
    except AistackError as error:
        return report_error(error)


if __name__ == "__main__":
    sys.exit(main())
