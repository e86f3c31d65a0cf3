"""``flask --app host sync [--source NAME] STORE_HASH``: one cycle in the foreground, with a
progress bar per stream and a summary table at the end."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from host.connections import find_by_account
from host.db import get_db
from host.sync.cycle import run_cycle
from host.sync.runs import COUNTERS

QUIET_UNLESS_USED = ("contacts", "enrolments")  # shown only when they did something


def run_cycle_with_progress(
    store_hash: str,
    *,
    source: str | None = None,
    full: bool = False,
    console: Console | None = None,
) -> int:
    """Run the cycle of the store's connection (from ``source``; may be left out when only one
    source has a store with this id); answer the process exit code (0 finished, 1 not run, not
    found, ambiguous or failed, 2 partial)."""
    console = console or Console()
    with get_db().transaction() as session:
        try:
            connection_id = find_by_account(session, store_hash, source).id
        except LookupError as error:
            console.print(f"[red]{escape(str(error))}[/red]", soft_wrap=True)
            return 1
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,  # no bars (and no refresh thread) in logs and pipes
    ) as progress:
        tasks: dict[str, int] = {}

        def report(stream: str, counts: dict[str, int]) -> None:
            if stream not in tasks and stream in QUIET_UNLESS_USED and not any(counts.values()):
                return
            if stream not in tasks:
                tasks[stream] = progress.add_task(stream, total=None, counts="")
            text = "  ".join(f"{key} {value}" for key, value in counts.items() if value)
            progress.update(tasks[stream], completed=counts.get("read", 0), counts=text)

        run = run_cycle(connection_id, trigger="cli", full=full, progress=report)
        for task in tasks.values():
            progress.update(
                task,
                total=progress.tasks[task].completed or 1,
                completed=progress.tasks[task].completed or 1,
            )
    if run is None:
        console.print(
            "[yellow]not run: another cycle holds this connection, or its sync is off[/yellow]"
        )
        return 1
    console.print(summary(run))
    return {"finished": 0, "partial": 2}.get(run.status, 1)


def summary(run) -> Table:
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0
    table = Table(title=f"Cycle {run.id}: {run.status} in {duration:.1f} s")
    table.add_column("stream")
    for counter in COUNTERS:
        table.add_column(counter, justify="right")
    for stream, counts in run.counts.items():
        if stream == "enrolments" or (stream in QUIET_UNLESS_USED and not any(counts.values())):
            continue
        table.add_row(stream, *(str(counts.get(counter, 0)) for counter in COUNTERS))
    enrolments = {state: n for state, n in (run.counts.get("enrolments") or {}).items() if n}
    if enrolments:
        table.caption = "enrolments: " + ", ".join(
            f"{state} {n}" for state, n in sorted(enrolments.items())
        )
    for area, message in run.errors.items():
        table.add_row(f"[red]{area}[/red]", message, *[""] * (len(COUNTERS) - 1))
    return table
