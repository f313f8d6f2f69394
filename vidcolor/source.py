"""Sources: a film is a video file or a sequence of numbered image frames; this decides which.

It sits above both readers (:mod:`vidcolor.decode` for files, :mod:`vidcolor.sequence` for frame
folders and patterns), so neither needs the other: everything that reads a film asks here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import av

from vidcolor import decode, sequence
from vidcolor.decode import VideoInfo


def probe(path: Path) -> VideoInfo:
    """The film's size, timing and streams: a video file's header, or a frame sequence's listing."""
    if sequence.is_sequence(path):
        return sequence.open_sequence(path).info()
    return decode.probe(path)


def frames(
    path: Path, start: float = 0.0, duration: float | None = None, log: Callable[[str], None] | None = None
) -> Iterator[av.VideoFrame]:
    """The film's frames within [start, start + duration) seconds of its first frame, each at its own
    timestamp (:func:`vidcolor.decode.frames`, :meth:`vidcolor.sequence.Sequence.frames`)."""
    if sequence.is_sequence(path):
        yield from sequence.open_sequence(path).frames(start, duration, log)
    else:
        yield from decode.frames(path, start, duration, log)
