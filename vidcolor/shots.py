"""Shots: where the cuts are, before colour is computed, and one gray keyframe per shot.

A guided run needs to know which shot a frame belongs to *before* it reaches the frames of that
shot (a reference pinned to 12.5 s also guides the frames of its shot that come earlier), so it
makes one cheap pass first: decode, shrink to render size, compare consecutive frames with the
same cut test the temporal smoother uses (:func:`vidcolor.temporal.scene_cuts`). Memory: one
float per frame.

Times are seconds from the start of the file (the first frame is at 0, as players show it).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
from av.video.reformatter import Interpolation

from vidcolor.color import uint8_gray_to_L
from vidcolor.decode import frames, probe
from vidcolor.encode import save_image
from vidcolor.temporal import scene_cuts


@dataclass(frozen=True)
class ShotMap:
    """Frame times (seconds from the file's start) and the indices of the frames that start a shot."""

    times: np.ndarray  # (frames,) float64
    starts: list[int]  # first frame of each shot, ascending; starts[0] == 0

    def shot_of(self, index: int) -> int:
        return bisect.bisect_right(self.starts, index) - 1

    def frame_at(self, t: float) -> int | None:
        """Index of the frame shown at time ``t``; None when ``t`` is past the end (or nothing decoded)."""
        if not len(self.times):
            return None
        step = float(np.median(np.diff(self.times))) if len(self.times) > 1 else 0.04
        if t > self.times[-1] + max(step, 1e-3) or t < self.times[0] - max(step, 1e-3):
            return None
        return int(np.clip(np.searchsorted(self.times, t + 1e-6, side="right") - 1, 0, len(self.times) - 1))

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if len(self.times) else 0.0


def shot_frames(
    input: Path, size: tuple[int, int], start: float = 0.0, duration: float | None = None, chunk: int = 16
) -> Iterator[tuple[int, float, bool, av.VideoFrame]]:
    """Stream (index, time, starts_a_shot, frame) over the decoded frames of ``input``.

    Cuts are tested ``chunk`` frames at a time (one histogram pass per chunk, not per frame); at
    most ``chunk`` decoded frames are held."""
    origin = probe(input).start_time
    lut = uint8_gray_to_L(torch.arange(256, dtype=torch.uint8).reshape(1, 1, 1, 256)).flatten().numpy()
    prev: torch.Tensor | None = None
    held: list[tuple[float, av.VideoFrame, torch.Tensor]] = []
    index = 0

    def flush() -> Iterator[tuple[int, float, bool, av.VideoFrame]]:
        nonlocal prev, index
        L = torch.cat([h[2] for h in held])
        seq = L if prev is None else torch.cat([prev, L])
        cuts = scene_cuts(seq).tolist()
        new = [True, *cuts] if prev is None else cuts
        for (t, frame, _L), is_new in zip(held, new, strict=True):
            yield index, t, is_new, frame
            index += 1
        prev = L[-1:]
        held.clear()

    for frame in frames(input, start, duration):
        gray = frame.to_ndarray(format="gray", width=size[0], height=size[1], interpolation=Interpolation.AREA)
        L = torch.from_numpy(lut[gray])[None, None]  # = the smoother's L for a B&W film
        held.append(((frame.time or 0.0) - origin, frame, L))
        if len(held) == chunk:
            yield from flush()
    if held:
        yield from flush()


def scan(input: Path, size: tuple[int, int], start: float = 0.0, duration: float | None = None) -> ShotMap:
    times, starts = [], []
    for i, t, new, _frame in shot_frames(input, size, start, duration):
        times.append(t)
        if new:
            starts.append(i)
    return ShotMap(np.asarray(times, np.float64), starts)


def keyframe_name(shot: int, t: float) -> str:
    """``shot0003_t12.480s.png``: the time in the name pins a coloured copy to its shot."""
    return f"shot{shot:04d}_t{t:.3f}s.png"


def write_keyframes(
    input: Path,
    out_dir: Path,
    size: tuple[int, int],
    start: float = 0.0,
    duration: float | None = None,
    progress: Callable[[int], None] = lambda _n: None,
    overwrite: bool = False,
) -> tuple[list[Path], list[Path]]:
    """One gray PNG (RGB, so any editor can paint on it) per shot: the shot's first frame, full size.

    Returns (written, kept): a keyframe already in the folder is kept unless ``overwrite`` (it may
    have been coloured by hand), so a run cut short is finished by running it again."""
    written, kept = [], []
    for _i, t, new, frame in shot_frames(input, size, start, duration):
        progress(1)
        if new:
            path = out_dir / keyframe_name(len(written) + len(kept), t)
            if path.exists() and not overwrite:
                kept.append(path)
                continue
            gray = frame.to_ndarray(format="gray")
            save_image(np.repeat(gray[..., None], 3, -1), path)
            written.append(path)
    return written, kept
