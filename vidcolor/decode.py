"""Decoding: probe an input, then stream its video frames (PyAV, FFmpeg threads).

Frames are yielded one at a time, so memory does not depend on the film's length. ``start`` and
``duration`` (seconds) select a segment: the demuxer seeks to the key frame before ``start`` and
frames before it are decoded and dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from vidcolor.errors import BadInputError, ProcessingError, describe
from vidcolor.planes import colour_spec_for

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    time_base: Fraction
    rate: Fraction | None  # average frame rate, if known
    frames: int  # frames in the file, estimated when the container does not say (0 = unknown)
    duration: float  # seconds (0 = unknown)
    rotation: int  # display rotation in degrees, counter-clockwise
    matrix: str  # YUV matrix of the source (bt601 | bt709), tagged or by convention
    pix_fmt: str
    audio_streams: int
    video_streams: int
    start_time: float = 0.0  # seconds of the first video timestamp (times users see count from it)

    def expected_frames(self, start: float = 0.0, duration: float | None = None) -> int:
        """Best estimate of the frames in [start, start + duration) for progress bars and previews."""
        if not self.duration or not self.frames:
            return self.frames
        span = max(0.0, min(self.duration, start + (duration or math.inf)) - start)
        return max(1, round(self.frames * span / self.duration))


def is_image(path: Path) -> bool:
    """Still images go through the photo path (by extension; also a single-frame image demuxer)."""
    return path.suffix.lower() in IMAGE_EXTS


def check_input(path: Path) -> None:
    if not path.exists():
        raise BadInputError(f"{path}: input not found")
    if path.is_dir():
        raise BadInputError(f"{path}: is a directory, expected a video or image file")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: empty file")


def _open(path: Path) -> av.container.InputContainer:
    check_input(path)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise BadInputError(f"{path}: not a readable video ({describe(e)})") from None


def probe(path: Path) -> VideoInfo:
    """Read the container header: size, timing and streams, without decoding the film."""
    with _open(path) as container:
        if not container.streams.video:
            raise BadInputError(f"{path}: no video stream (audio-only or data file)")
        stream = container.streams.video[0]
        cc = stream.codec_context
        if not cc.width or not cc.height:
            raise BadInputError(f"{path}: video stream has no frame size (damaged header?)")
        rate = stream.average_rate or stream.guessed_rate
        duration = 0.0
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        frames = stream.frames or (round(duration * float(rate)) if duration and rate else 0)
        first = _first_frame(container, stream)
        rotation = round(first.rotation or 0) if first is not None else 0
        matrix = colour_spec_for(first).matrix if first is not None else ("bt709" if cc.height >= 720 else "bt601")
        return VideoInfo(
            path=path,
            width=cc.width,
            height=cc.height,
            time_base=stream.time_base or Fraction(1, 90000),
            rate=Fraction(rate) if rate else None,
            frames=int(frames),
            duration=duration,
            rotation=rotation,
            matrix=matrix,
            pix_fmt=cc.format.name if cc.format else "unknown",
            audio_streams=len(container.streams.audio),
            video_streams=len(container.streams.video),
            start_time=float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0,
        )


def _first_frame(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> av.VideoFrame | None:
    """The first decodable frame: it carries the display matrix and colour tags."""
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError:
        return None
    return None


def frames(path: Path, start: float = 0.0, duration: float | None = None) -> Iterator[av.VideoFrame]:
    """Yield the decoded frames of the first video stream within [start, start + duration)."""
    end = start + duration if duration is not None else math.inf
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads inside FFmpeg
        if start > 0:
            container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)
        try:
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else 0.0
                if t < start - 1e-6:
                    continue
                if t >= end - 1e-6:
                    break
                yield frame
        except av.error.FFmpegError as e:
            raise ProcessingError(f"{path}: decoding failed ({describe(e)})") from None
