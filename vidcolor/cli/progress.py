"""The frames progress bar of a single film (colorize, keyframes)."""

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
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from vidcolor.interlace import IVTC_KEEPS
    from vidcolor.source import probe

    total = probe(input).expected_frames(cfg.start, cfg.duration) or None
    if total and cfg.interlaced == "ivtc":  # inverse telecine keeps 4 frames of 5
        total = round(total * IVTC_KEEPS)
    if total and parts > 1:  # slices of about equal length (whole segments: the end corrects it)
        total = max(1, round(total / parts))
    columns = [
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TextColumn("{task.fields[fps]:>6.1f} fps"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    # rates over the last minute, not since the start (a long film's speed changes with its content)
    bar = Progress(*columns, console=Console(stderr=True), transient=False, speed_estimate_period=60.0)
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
