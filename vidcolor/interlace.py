"""Interlaced sources: find out whether a film is interlaced, then deinterlace it (FFmpeg's bwdif).

A frame of interlaced video holds two fields taken 1/50 (or 1/60) s apart, on alternate lines. Fed
to the model as one picture, anything that moves is combed, and its colour is worked out for a
picture that never existed. So interlaced films are deinterlaced by default, one frame per frame
(``bwdif``, FFmpeg's motion-adaptive deinterlacer, in ``send_frame`` mode: frame count, timing and
audio stay as they are), or their fields are colorized one by one (``--interlaced keep``, which
keeps the source's luma and field order; see :mod:`vidcolor.film`).

Whether a film is interlaced: the stream's field order says so when it is tagged; many files lie
(progressive flags on woven content, or the reverse), so the content is checked too, with FFmpeg's
``idet`` filter over the first frames.

Telecined film (24 pictures a second spread over 30 frames by 3:2 pulldown) shows as repeated
fields. It is reported; ``--interlaced ivtc`` undoes it (FFmpeg's ``fieldmatch`` pairs the fields
of each film picture again, ``bwdif`` mends the rare frame left combed, ``decimate`` drops the one
duplicate in five): the film's own 24 (23.976) pictures a second, same duration, audio untouched.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import av.filter

from vidcolor.decode import VideoInfo

IVTC_KEEPS = Fraction(4, 5)  # inverse telecine keeps 4 frames of 5: 30 (29.97) -> 24 (23.976) a second
IVTC_RATES = (Fraction(30000, 1001), Fraction(30))  # the rates 3:2 pulldown makes (60i is 30 frames)
MIN_FRAMES = 8  # idet judges a frame against its neighbours: fewer verdicts than this decide nothing
FIELD_ORDERS = {2: "tff", 3: "bff", 4: "tff", 5: "bff"}  # AVFieldOrder: TT, BB, TB, BT (coded order)


@dataclass(frozen=True)
class Fields:
    """What a film's frames are. ``order`` is "tff" (top field first), "bff", or "progressive";
    ``how`` says how it was decided; ``pulldown`` is True when idet saw repeated fields (3:2)."""

    order: str
    how: str
    pulldown: bool = False

    @property
    def interlaced(self) -> bool:
        return self.order in ("tff", "bff")


@dataclass(frozen=True)
class Plan:
    """What is done to a film's frames before they are coloured; each is a field order or None.

    ``deinterlace``: bwdif, one frame per frame. ``keep``: each field coloured on its own, woven
    back (the frames stay interlaced). ``ivtc``: inverse telecine, 4 frames of 5 kept."""

    deinterlace: str | None = None
    keep: str | None = None
    ivtc: str | None = None

    def __bool__(self) -> bool:
        return bool(self.deinterlace or self.keep or self.ivtc)

    def output_info(self, info: VideoInfo) -> VideoInfo:
        """``info`` as the output will be: inverse telecine makes 4 frames of 5, at 4/5 the rate,
        timed in a base fine enough for both rates (1/120000 s holds 1001/30000 and 1001/24000)."""
        if not self.ivtc:
            return info
        return replace(
            info,
            rate=info.rate * IVTC_KEEPS if info.rate else None,
            frames=round(info.frames * IVTC_KEEPS),
            time_base=Fraction(1, 120000),
        )


def detect(path: Path, sample: int = 60) -> Fields:
    """Fields of ``path``: idet's verdict over its first ``sample`` frames (content), with the
    stream's field order as the tie-breaker; never raises for damaged data (progressive then).

    Remembered per file version (size, modification time): a long film is asked about by batch,
    by the segment checks and by the run itself, and each answer costs decoding ``sample`` frames."""
    try:
        st = path.stat()
    except OSError:
        return Fields("progressive", "unreadable")
    return _detect(str(path.resolve()), st.st_size, st.st_mtime_ns, sample)


@functools.lru_cache(maxsize=64)
def _detect(path: str, _size: int, _mtime_ns: int, sample: int) -> Fields:
    try:
        with av.open(path, metadata_errors="ignore") as c:
            stream = next(s for s in c.streams.video if s.codec_context is not None)
            tagged = FIELD_ORDERS.get(int(getattr(stream.codec_context, "field_order", 0) or 0))
            stats = _idet(c, stream, sample)
    except (av.error.FFmpegError, StopIteration, OSError, ValueError):
        return Fields("progressive", "unreadable")
    tff, bff, prog = (stats.get(f"lavfi.idet.multiple.{k}", 0.0) for k in ("tff", "bff", "progressive"))
    repeated = stats.get("lavfi.idet.repeated.top", 0.0) + stats.get("lavfi.idet.repeated.bottom", 0.0)
    decided = tff + bff + prog
    pulldown = decided > 0 and repeated >= 0.2 * decided
    if decided < MIN_FRAMES:  # too few frames for idet's verdict (it needs a run of them): the flags
        return Fields(tagged or "progressive", "flags" if tagged else "too few frames", pulldown)
    if tff + bff >= 2 * prog:  # clearly combed: interlaced, whatever the flags say
        order = "tff" if tff >= bff else "bff"
        return Fields(order, "content" if tagged != order else "content and flags", pulldown)
    return Fields("progressive", "content" if tagged else "content and flags", pulldown)


def _idet(container: av.container.InputContainer, stream: av.video.stream.VideoStream, sample: int) -> dict:
    graph = av.filter.Graph()
    src, idet, sink = graph.add_buffer(template=stream), graph.add("idet"), graph.add("buffersink")
    src.link_to(idet)
    idet.link_to(sink)
    graph.configure()
    last = None
    try:
        for i, frame in enumerate(container.decode(stream)):
            if i >= sample:
                break
            graph.push(frame)
            last = _drain(graph, last)
    except av.error.FFmpegError:
        pass  # damaged data: judge by what was read
    meta = last.metadata if last is not None else {}
    out = {}
    for k, v in meta.items():
        try:
            out[k] = float(v)
        except ValueError:
            continue
    return out


def _drain(graph: av.filter.Graph, last: av.VideoFrame | None) -> av.VideoFrame | None:
    while True:
        try:
            last = graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return last


def deinterlaced(frames: Iterator[av.VideoFrame], order: str) -> Iterator[av.VideoFrame]:
    """``frames`` deinterlaced one frame per frame (bwdif ``send_frame``, every frame, the given
    field ``order``): same count, same timestamps."""
    return _filtered(frames, [("bwdif", f"mode=send_frame:parity={order}:deint=all")])


def inverse_telecined(
    frames: Iterator[av.VideoFrame], order: str, rate: Fraction, time_base: Fraction
) -> Iterator[av.VideoFrame]:
    """``frames`` of a telecined film (3:2 pulldown, ``rate`` 30 or 29.97 frames/s) back to its
    pictures: ``fieldmatch`` re-pairs fields, ``bwdif`` (``deint=interlaced``) mends the frames
    fieldmatch found no clean pair for, ``decimate`` drops the duplicate of each cycle of 5.
    Timestamps come out in ``time_base`` (``Plan.output_info``'s), the first at the first frame's time."""
    chain = [
        ("fieldmatch", f"order={order}:combmatch=full"),
        ("bwdif", f"mode=send_frame:parity={order}:deint=interlaced"),
        ("decimate", ""),
    ]
    return _filtered(frames, chain, rate=rate, time_base=time_base)


def _filtered(
    frames: Iterator[av.VideoFrame],
    chain: list[tuple[str, str]],
    rate: Fraction | None = None,
    time_base: Fraction | None = None,
) -> Iterator[av.VideoFrame]:
    """``frames`` through the FFmpeg filters of ``chain`` (built on the first frame), flushed at
    the end. Frames out keep the first frame's colour tags and are timed in ``time_base`` (the
    input's when None); the first one out is at the first one in's time (decimate rounds its
    start to its own 1/24 s clock otherwise)."""
    graph = clock = None
    for frame in frames:
        if graph is None:
            graph, clock = _graph(frame, chain, rate), _Clock(frame, time_base)
        graph.push(frame)
        yield from _pulled(graph, clock)
    if graph is not None:
        graph.push(None)
        yield from _pulled(graph, clock)


def _graph(frame: av.VideoFrame, chain: list[tuple[str, str]], rate: Fraction | None) -> av.filter.Graph:
    graph = av.filter.Graph()
    tb = frame.time_base or Fraction(1, 90000)
    args = f"video_size={frame.width}x{frame.height}:pix_fmt={frame.format.name}:time_base={tb}:pixel_aspect=1/1"
    if rate:  # decimate works out its output rate from the input's
        args += f":frame_rate={rate}"
    nodes = [graph.add("buffer", args), *(graph.add(name, opts or None) for name, opts in chain)]
    nodes.append(graph.add("buffersink"))
    for a, b in itertools.pairwise(nodes):
        a.link_to(b)
    graph.configure()
    return graph


class _Clock:
    """Retimes filtered frames: into ``time_base``, the first out at the first in's time."""

    def __init__(self, first: av.VideoFrame, time_base: Fraction | None) -> None:
        self.first = first
        src = first.time_base or Fraction(1, 90000)
        self.tb = time_base or src
        self.start = (first.pts or 0) * src  # seconds
        self.shift: Fraction | None = None

    def __call__(self, out: av.VideoFrame) -> av.VideoFrame:
        if out.pts is not None and out.time_base:
            t = out.pts * out.time_base
            if self.shift is None:
                self.shift = self.start - t
            out.pts = round((t + self.shift) / self.tb)
        out.time_base, out.color_range, out.colorspace = self.tb, self.first.color_range, self.first.colorspace
        return out


def _pulled(graph: av.filter.Graph, clock: _Clock) -> Iterator[av.VideoFrame]:
    while True:
        try:
            yield clock(graph.pull())
        except (av.error.BlockingIOError, av.error.EOFError):
            return
