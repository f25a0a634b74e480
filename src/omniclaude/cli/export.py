"""``omniclaude export``: stored rows of a window to JSON lines, CSV or Parquet files;
``omniclaude import``: an export back into a database (idempotent).

One file per table, named ``<table>.<format>``: ``--output`` is a directory (default: the
current one), or, for one table, a file or ``-`` (standard output). A file is written as
``<name>.partial`` and renamed when complete, so a failed export never looks finished.
Progress bars go to standard error, and only when it is a terminal.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from omniclaude.cli._common import err_console, fail, rows_progress
from omniclaude.cli.usage import parse_window
from omniclaude.cli.views import DataDirOption, _database, _run

__all__ = ["export", "import_", "register"]

_STATEMENT_TIMEOUT_MS = 15 * 60 * 1000
"""The longest one statement of a CLI export may run (one day's rows sorted, a fetch)."""


def _tables(names: list[str] | None) -> list[str]:
    from omniclaude.storage.queries.export import EXPORT_TABLES

    chosen = list(dict.fromkeys(names or EXPORT_TABLES))
    unknown = [name for name in chosen if name not in EXPORT_TABLES]
    if unknown:
        fail(f"--table: {unknown[0]!r} is not one of {', '.join(EXPORT_TABLES)}", code=2)
    return chosen


def _targets(tables: list[str], output: str, ext: str) -> dict[str, Path | None]:
    """Where each table goes (None: standard output)."""
    if output == "-":
        if len(tables) != 1:
            fail("--output: - (standard output) takes one table; pass --table", code=2)
        return {tables[0]: None}
    path = Path(output)
    if len(tables) == 1 and not path.is_dir() and not output.endswith(("/", "\\")):
        if not path.parent.is_dir():
            fail(f"--output: {path.parent} is not a directory", code=2)
        return {tables[0]: path}
    if path.exists() and not path.is_dir():
        fail(f"--output: {path} is a file; several tables need a directory", code=2)
    path.mkdir(parents=True, exist_ok=True)
    return {table: path / f"{table}.{ext}" for table in tables}


@contextlib.contextmanager
def _sink(path: Path | None) -> Iterator[IO[bytes]]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as out:
            yield out
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int], Callable[[int], object]]]:
    """``task(description, total)`` -> advance; bars only on a terminal."""
    if not err_console.is_terminal:
        yield lambda _description, _total: lambda _amount: None
        return
    with rows_progress() as progress:

        def task(description: str, total: int) -> Callable[[int], object]:
            bar = progress.add_task(description, total=total)
            return lambda amount: progress.advance(bar, amount)

        yield task


def export(
    ctx: typer.Context,
    *,
    since: Annotated[
        str | None,
        typer.Option(
            help="Start: a range (15m … 30d) or a date/time (UTC unless a zone is "
            "given; default: 24h before --until)."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="End, exclusive (a date or time; default: now).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or parquet.")] = "jsonl",
    table: Annotated[
        list[str] | None,
        typer.Option(
            "--table",
            help="A table to export, repeatable (default: all): agent_actions, "
            "agent_routing_decisions, agent_manifest_injections, agent_execution_events, "
            "agent_transformation_events, agent_llm_calls, agent_metric_points, "
            "agent_execution_logs.",
        ),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="A directory (<table>.<format> in it), a file "
            "(one table) or - for standard output (one table).",
        ),
    ] = ".",
    data_dir: DataDirOption = None,
) -> None:
    """Export stored rows (since <= created_at < until) to one file per table, streaming."""
    from omniclaude.export import Format, export_table
    from omniclaude.storage.queries.export import count_rows

    try:
        chosen_format = Format(fmt)
    except ValueError:
        fail(f"--format: {fmt!r} is not one of {', '.join(f.value for f in Format)}", code=2)
    start, end = parse_window(since, until)
    tables = _tables(table)
    targets = _targets(tables, output, chosen_format.value)
    database_url, _ = _database(ctx, data_dir)

    async def work(conn: Any) -> list[tuple[str, int, float, Path | None]]:
        done = []
        with _progress() as task:
            for name, path in targets.items():
                total = await count_rows(conn, name, start, end)
                advance = task(name, total)
                began = time.perf_counter()
                with _sink(path) as out:
                    rows = await export_table(
                        conn, name, start, end, fmt=chosen_format, write=out.write, advance=advance,
                        statement_timeout_ms=_STATEMENT_TIMEOUT_MS,
                    )  # fmt: skip
                done.append((name, rows, time.perf_counter() - began, path))
        return done

    window = f"{start.isoformat()} <= created_at < {end.isoformat()}"
    for name, rows, seconds, path in _run(database_url, work):
        where = "standard output" if path is None else str(path)
        err_console.print(
            f"{name}: {rows:,} rows in {seconds:.1f}s -> {where}", highlight=False, soft_wrap=True
        )
    err_console.print(f"[dim]window: {window}[/]", highlight=False, soft_wrap=True)


def import_(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="An export file (.jsonl, .parquet) or a directory of them.")
    ],
    *,
    table: Annotated[
        str | None, typer.Option(help="The table of a file not named <table>.<format>.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Load an export back into the database; rows already stored are skipped (idempotent)."""
    from omniclaude.export import ExportFileError, import_path
    from omniclaude.export.reimport import files_of

    try:
        files = files_of(path)
    except ExportFileError as exc:
        fail(f"PATH: {exc}", code=2)
    database_url, _ = _database(ctx, data_dir)

    async def work(conn: Any) -> Any:
        with _progress() as task:

            def advance(file: Path) -> Callable[[int], object]:
                return task(file.name, _rows_hint(file) if err_console.is_terminal else 0)

            return await import_path(conn, path, table=table, advance=advance)

    try:
        results = _run(database_url, work)
    except ExportFileError as exc:
        fail(str(exc), code=2)
    for result in results:
        if result.skipped:
            err_console.print(f"{result.table}: {result.rows:,} rows not written "
                              f"({result.skipped})", highlight=False)  # fmt: skip
            continue
        err_console.print(
            f"{result.table}: {result.rows:,} rows read, {result.added:,} added "
            f"({result.rows - result.added:,} already stored) from {result.path}",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
    if not files:
        fail("PATH: nothing to import")


def _rows_hint(file: Path) -> int:
    """How many rows a file holds, for the progress bar (Parquet knows; lines are counted)."""
    if file.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        with contextlib.suppress(OSError, ValueError):
            return int(pq.ParquetFile(file).metadata.num_rows)
        return 0
    with file.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def register(app: typer.Typer) -> None:
    """Add the ``export`` and ``import`` commands to the CLI."""
    app.command("export")(export)
    app.command("import")(import_)
