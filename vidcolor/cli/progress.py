"""The progress bars on stderr: a film's frames (colorize, keyframes) and a batch's files and frames."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def progress_bar(
    input: Path, cfg: Any, enabled: bool, label: str = "colorize", parts: int = 1
) -> Iterator[Callable[[int], None]]:
    """A rich bar with frames, fps and ETA on stderr (a no-op when quiet or for still images);
    ``parts``: a worker does one of that many slices of the film (``--segments K/N``)."""
    from vidcolor.decode import media_kind
    from vidcolor.sequence import is_sequence

    if not enabled or (media_kind(input).kind != "video" and not is_sequence(input)):
        yield lambda _n: None
        return
    from rich import progress as rp

    from vidcolor.interlace import IVTC_KEEPS
    from vidcolor.source import probe

    total = probe(input).expected_frames(cfg.start, cfg.duration) or None
    if total and cfg.interlaced == "ivtc":  # inverse telecine keeps 4 frames of 5
        total = round(total * IVTC_KEEPS)
    if total and parts > 1:  # slices of about equal length (whole segments: the end corrects it)
        total = max(1, round(total / parts))
    bar = rich_bar(
        rp.TextColumn(f"[bold]{label}"), rp.BarColumn(), rp.MofNCompleteColumn(), rp.TextColumn("frames"),
        rp.TextColumn("{task.fields[fps]:>6.1f} fps"), rp.TimeElapsedColumn(), rp.TextColumn("ETA"),
        rp.TimeRemainingColumn(), transient=False,
    )  # fmt: skip
    task = bar.add_task("colorize", total=total, fps=0.0)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        if not bar.live.is_started:  # shown from the first frame: an error found before it is one line, no bar
            bar.start()
        done += n
        bar.update(task, advance=n)
        bar.update(task, fps=bar.tasks[task].speed or 0.0)

    try:
        yield advance
        if total is None or done != total:
            bar.update(task, total=done, completed=done)
    finally:
        if bar.live.is_started:
            bar.stop()


@contextlib.contextmanager
def batch_progress(enabled: bool, total: int) -> Iterator[Any]:
    """Three bars on stderr: files, all frames still to do (its ETA is the batch's: a long film
    weighs what it takes), and the current file's frames. Rates are over the last minute.

    Yields ``(on_file, on_plan)`` for :func:`vidcolor.batch.run_batch` (None when disabled)."""
    if not enabled:
        yield None
        return
    import threading

    from rich import progress as rp

    from vidcolor.decode import header_frames
    from vidcolor.source import probe

    with rich_bar(
        rp.TextColumn("{task.description}", markup=False),
        rp.BarColumn(),
        rp.MofNCompleteColumn(),
        rp.TimeElapsedColumn(),
        rp.TimeRemainingColumn(),
    ) as bar:  # fmt: skip  (descriptions are file names: "[x]" in one is text, not rich markup)
        files = bar.add_task("files", total=total)
        overall = bar.add_task("all frames", total=None)
        current = bar.add_task("", total=None, visible=False)

        def on_plan(jobs: list[Any]) -> None:
            """Count the frames to do from the containers' headers, in the background."""

            def count() -> None:
                n = sum(1 if job.kind == "image" else header_frames(job.input) for job in jobs)
                bar.update(overall, total=n)

            threading.Thread(target=count, name="vidcolor-count", daemon=True).start()

        running = [False]  # a file counts on the files bar once it is finished, not when it starts

        def on_file(job: Any, runs: bool) -> Callable[[int], None]:
            if running[0]:
                bar.advance(files)
            running[0] = runs
            if not runs:
                bar.advance(files)
                return lambda _n: None
            frames = 1 if job.kind == "image" else (probe(job.input).frames or None)  # errors: the file fails
            bar.update(current, description=job.rel[-40:], total=frames, completed=0, visible=True)

            def advance(n: int) -> None:
                bar.advance(current, n)
                bar.advance(overall, n)

            return advance

        yield on_file, on_plan
        if running[0]:
            bar.advance(files)
        bar.update(overall, total=bar.tasks[overall].completed)  # headers can be off by a frame or two


def rich_bar(*columns: Any, **options: Any) -> Any:
    """A rich ``Progress`` of ``columns`` on stderr, its rates over the last minute, not since the
    start (a long film's speed changes with its content)."""
    from rich.console import Console
    from rich.progress import Progress

    return Progress(*columns, console=Console(stderr=True), speed_estimate_period=60.0, **options)
