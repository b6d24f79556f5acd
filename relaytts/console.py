"""Terminal output shared by the CLI commands: one table style, one progress style."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["print_table", "progress"]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> None:
    """Print rows as a table (rich); numbers are right-aligned."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for i, header in enumerate(headers):
        numeric = bool(rows) and all(isinstance(row[i], int | float) for row in rows)
        table.add_column(header, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_fmt(cell) for cell in row))
    Console(width=max(120, Console().width)).print(table)


def _fmt(cell: object) -> str:
    if isinstance(cell, float):
        return f"{cell:.3g}" if abs(cell) < 1e-2 or abs(cell) >= 1e4 else f"{cell:.3f}".rstrip("0").rstrip(".")
    return str(cell)


def progress():  # noqa: ANN201 - returns rich.progress.Progress, imported lazily
    """A progress display for long work (export, bench, render), writing to stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
