"""A subcommand with its own arguments: added to `aistack`, or run on its own as
`python -m aistack.cli.X`, with the same help and the same one-line errors."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from aistack.errors import AistackError, report_error


def add_subcommand(
    subparsers: argparse._SubParsersAction[Any],
    name: str,
    *,
    summary: str,
    description: str,
    epilog: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
) -> argparse.ArgumentParser:
    """Add `name` to the `aistack` command's subcommands, `summary` its line in `--help`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def standalone_main(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    epilog: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
) -> int:
    """Parse `argv` with the subcommand's own arguments and run it; an aistack error is
    one readable line and a nonzero exit status, as under `aistack`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except AistackError as error:
        return report_error(error)
