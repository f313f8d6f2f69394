"""Shots: where the cuts are, before colour is computed, and one gray keyframe per shot.

A guided run needs to know which shot a frame belongs to *before* it reaches the frames of that
shot (a reference pinned to 12.5 s also guides the frames of its shot that come earlier), so it
makes one cheap pass first: decode, shrink to render size, and run the cut test the temporal
smoother uses (:class:`vidcolor.cuts.CutDetector`). This pass may look ahead, so it settles each
frame only once a cut before it can no longer be withdrawn as a flash (``flash`` frames, 0.25 s).
Memory: one float per frame, and that many decoded frames.

Times are seconds from the start of the file (the first frame is at 0, as players show it).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
from av.video.reformatter import Interpolation

from vidcolor.color import uint8_gray_to_L
from vidcolor.cuts import CutDetector, Event, cut_params, features
from vidcolor.encode import save_image
from vidcolor.source import frames, probe

# A time written to the millisecond (a keyframe's name, a player's display) may fall up to half a
# millisecond before the frame it means (names before 0.4 rounded to the nearest ms: 5.95833 s was
# written 5.958): such a time still means that frame.
MS_SLACK = 5e-4


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
        return int(np.clip(np.searchsorted(self.times, t + MS_SLACK, side="right") - 1, 0, len(self.times) - 1))

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if len(self.times) else 0.0


def shot_frames(
    input: Path, size: tuple[int, int], start: float = 0.0, duration: float | None = None, chunk: int = 16
) -> Iterator[tuple[int, float, bool, av.VideoFrame]]:
    """Stream (index, time, starts_a_shot, frame) over the decoded frames of ``input``.

    Features are computed ``chunk`` frames at a time (one pass per chunk, not per frame); a frame is
    yielded once no later frame can withdraw a cut on it (``flash`` frames later), so at most
    ``chunk + flash`` decoded frames are held."""
    info = probe(input)
    detector = CutDetector(cut_params(float(info.rate or 0)))
    lut = uint8_gray_to_L(torch.arange(256, dtype=torch.uint8).reshape(1, 1, 1, 256)).flatten().numpy()
    held: list[tuple[float, av.VideoFrame, torch.Tensor]] = []
    pending: deque[list] = deque()  # [index, time, starts_a_shot, frame], not settled yet
    last_cut: list | None = None
    index = 0

    def push() -> None:
        nonlocal index, last_cut
        events = detector.push(features(torch.cat([h[2] for h in held])))
        for (t, frame, _L), event in zip(held, events, strict=True):
            entry = [index, t, event is Event.CUT, frame]
            if event is Event.CUT:
                last_cut = entry
            elif event is Event.WITHDRAWN and last_cut is not None:
                last_cut[2] = False  # it was a flash inside the shot
            pending.append(entry)
            index += 1
        held.clear()

    def settled(final: bool) -> Iterator[tuple[int, float, bool, av.VideoFrame]]:
        while pending and (final or pending[0][0] < index - detector.params.flash):
            yield tuple(pending.popleft())

    for frame in frames(input, start, duration):
        gray = frame.to_ndarray(format="gray", width=size[0], height=size[1], interpolation=Interpolation.AREA)
        L = torch.from_numpy(lut[gray])[None, None]  # = the smoother's L for a B&W film
        held.append(((frame.time or 0.0) - info.start_time, frame, L))
        if len(held) == chunk:
            push()
            yield from settled(False)
    if held:
        push()
    yield from settled(True)


def scan(input: Path, size: tuple[int, int], start: float = 0.0, duration: float | None = None) -> ShotMap:
    times, starts = [], []
    for i, t, new, _frame in shot_frames(input, size, start, duration):
        times.append(t)
        if new:
            starts.append(i)
    return ShotMap(np.asarray(times, np.float64), starts)


def keyframe_name(shot: int, t: float) -> str:
    """``shot0003_t12.480s.png``: the time in the name pins a coloured copy to its shot.

    ``t`` (the shot's first frame) is rounded *up* to the millisecond, so the name holds a time
    inside that frame (which lasts more than 1 ms) and reading it back finds this shot, not the
    one before (5.95833 s is written 5.959, not 5.958)."""
    return f"shot{shot:04d}_t{math.ceil(round(t * 1000.0, 6)) / 1000.0:.3f}s.png"


def write_keyframes(
    input: Path,
    out_dir: Path,
    size: tuple[int, int],
    start: float = 0.0,
    duration: float | None = None,
    progress: Callable[[int], None] = lambda _n: None,
    overwrite: bool = False,
    shown: tuple[int, int] | None = None,
) -> tuple[list[Path], list[Path]]:
    """One gray PNG (RGB, so any editor can paint on it) per shot: the shot's first frame, full size,
    or at ``shown`` = (w, h), the size it is shown at (a film of non-square pixels: a 16:9 DVD's
    720x480 frames at 853x480, so what is painted on them has the film's shapes).

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
            gray = frame.to_ndarray(format="gray", **({"width": shown[0], "height": shown[1]} if shown else {}))
            save_image(np.repeat(gray[..., None], 3, -1), path)
            written.append(path)
    return written, kept
