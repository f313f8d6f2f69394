"""What a run shows and logs as it goes: log.jsonl rows, the mean losses and throughput, the progress bar."""

from __future__ import annotations

import json
import time
from pathlib import Path


def append_row(path: Path, row: dict) -> None:
    """Add one JSON row to the run's log.jsonl."""
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


class Meter:
    """The mean losses and the throughput since the last train row of log.jsonl."""

    def __init__(self) -> None:
        self.losses: dict[str, list[float]] = {"l1": [], "g_gan": [], "d": []}
        self.images, self.since = 0, time.perf_counter()

    def add(self, losses: dict[str, float], images: int) -> None:
        for name, value in losses.items():
            self.losses[name].append(value)
        self.images += images

    def row(self, step: int, phase: str, lr_g: float) -> dict:
        """The train row of ``step`` (a loss not computed since the last row is None), and a fresh start."""
        now = time.perf_counter()
        row = {
            "kind": "train",
            "step": step,
            "phase": phase,
            **{k: (sum(v) / len(v) if v else None) for k, v in self.losses.items()},
            "lr_g": lr_g,
            "images_per_s": self.images / (now - self.since),
        }
        self.losses = {k: [] for k in self.losses}
        self.images, self.since = 0, now
        return row


class Bar:
    """Rich progress bar for the training loop (no-op when disabled, e.g. on ranks > 0)."""

    def __init__(self, total: int, start: int, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
        )
        self.task = self.progress.add_task("train", total=total, completed=start, info="")
        self.progress.start()

    def update(self, step: int, row: dict | None) -> None:
        if not self.enabled:
            return
        info = None
        if row is not None:
            parts = [row["phase"], f"L1 {row['l1']:.4f}"]
            if row.get("g_gan") is not None:
                parts += [f"G {row['g_gan']:.3f}", f"D {row['d']:.3f}"]
            parts.append(f"{row['images_per_s']:.1f} img/s")
            info = "  ".join(parts)
        self.progress.update(self.task, completed=step, **({"info": info} if info else {}))

    def note(self, text: str) -> None:
        if self.enabled:
            self.progress.console.print(text)

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()
