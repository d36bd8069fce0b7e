"""Progress bars the commands share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def counted(show: bool, total: int, label: str, console: Console) -> Iterator[Callable[[int], None] | None]:
    """A transient bar of ``total`` steps on ``console``, labelled ``label``; it yields ``tick(done)`` (None when
    ``show`` is False) and ends full."""
    if not show:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)
        bar.update(task, completed=total)
