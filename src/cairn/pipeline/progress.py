"""Progress display for long scans: a rich bar over the evidence's bytes, with files/s and MB/s."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class ScanProgress:
    """Counts files and bytes; renders only when enabled (the numbers are kept either way)."""

    def __init__(self, enabled: bool, total_bytes: int | None, console: Console | None = None) -> None:
        self.files = 0
        self.bytes = 0
        self.errors = 0
        self._started = time.monotonic()
        self._progress: Progress | None = None
        self._task = None
        if enabled:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]scanning"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TextColumn("{task.fields[files]:>9,} files"),
                TextColumn("{task.fields[fps]:>8.1f} files/s"),
                TextColumn("{task.fields[mbps]:>7.1f} MB/s"),
                TextColumn("[red]{task.fields[errors]} with errors"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            self._task = self._progress.add_task(
                "scan", total=total_bytes, files=0, fps=0.0, mbps=0.0, errors=0
            )

    def __enter__(self) -> ScanProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._refresh()
            self._progress.stop()

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self._started, 1e-9)

    def advance(self, nbytes: int, position: int, had_error: bool) -> None:
        """Count one finished item; ``position`` (bytes of the evidence read so far) moves the bar."""
        self.files += 1
        self.bytes += nbytes
        self.errors += int(had_error)
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=position)
            if self.files % 16 == 0:
                self._refresh()

    def _refresh(self) -> None:
        if self._progress is None or self._task is None:
            return
        elapsed = self.elapsed
        self._progress.update(
            self._task,
            files=self.files,
            fps=self.files / elapsed,
            mbps=self.bytes / elapsed / 1e6,
            errors=self.errors,
        )
