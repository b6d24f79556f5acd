"""The ``relaytts`` command line: thin subcommands over the packages.

Each subcommand imports what it needs inside its body, so ``relaytts --help`` stays fast and the
runtime commands never pull in torch. Expected failures (``RelayError``) print as one line on
stderr with exit status 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from relaytts.errors import RelayError

F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(func: F) -> F:
    """Turn a ``RelayError`` into ``error: <message>`` and exit status 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RelayError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="relaytts")
def main() -> None:
    """relaytts: serve GPT-SoVITS voices across cloud and edge."""


@main.command()
@click.argument("checkpoints", nargs=-1, required=True, type=click.Path(path_type=Path))
@one_line_errors
def inspect(checkpoints: tuple[Path, ...]) -> None:
    """Identify GPT-SoVITS checkpoint files: kind, version, architecture, parameters, load time."""
    from exporter.inspect import describe_checkpoint
    from relaytts.console import print_table

    rows = [describe_checkpoint(path).as_row() for path in checkpoints]
    print_table(["file", "kind", "version", "architecture", "parameters", "load s"], rows)


@main.group()
def bench() -> None:
    """Benchmarks that print a table of ratios against a reference run in the same command."""


if __name__ == "__main__":  # pragma: no cover
    main()
