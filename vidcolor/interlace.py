"""Interlaced sources: find out whether a film is interlaced, then deinterlace it (FFmpeg's bwdif).

A frame of interlaced video holds two fields taken 1/50 (or 1/60) s apart, on alternate lines. Fed
to the model as one picture, anything that moves is combed, and its colour is worked out for a
picture that never existed. So interlaced films are deinterlaced by default, one frame per frame
(``bwdif``, FFmpeg's motion-adaptive deinterlacer, in ``send_frame`` mode: frame count, timing and
audio stay as they are), or their fields are colorized one by one (``--interlaced keep``, which
keeps the source's luma and field order; see :mod:`vidcolor.pipeline`).

Whether a film is interlaced: the stream's field order says so when it is tagged; many files lie
(progressive flags on woven content, or the reverse), so the content is checked too, with FFmpeg's
``idet`` filter over the first frames. 3:2 pulldown (telecined film) shows as repeated fields; it is
reported, not undone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.filter

MODES = ("auto", "deinterlace", "keep", "off")
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


def detect(path: Path, sample: int = 60) -> Fields:
    """Fields of ``path``: idet's verdict over its first ``sample`` frames (content), with the
    stream's field order as the tie-breaker; never raises for damaged data (progressive then)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
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
    field ``order``): same count, same timestamps. The filter graph is built on the first frame."""
    graph = last = None
    for frame in frames:
        last = frame
        if graph is None:
            graph = av.filter.Graph()
            src = graph.add_buffer(
                width=frame.width, height=frame.height, format=frame.format.name,
                time_base=frame.time_base or "1/90000",
            )  # fmt: skip
            bw = graph.add("bwdif", f"mode=send_frame:parity={order}:deint=all")
            sink = graph.add("buffersink")
            src.link_to(bw)
            bw.link_to(sink)
            graph.configure()
        graph.push(frame)
        yield from _pulled(graph, frame)
    if graph is not None:
        graph.push(None)
        yield from _pulled(graph, last)


def _pulled(graph: av.filter.Graph, like: av.VideoFrame) -> Iterator[av.VideoFrame]:
    while True:
        try:
            out = graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        # bwdif counts time in half its input's units (it could send fields): back to the source's
        if out.pts is not None and out.time_base and like.time_base and out.time_base != like.time_base:
            out.pts = round(out.pts * out.time_base / like.time_base)
        out.time_base, out.color_range, out.colorspace = like.time_base, like.color_range, like.colorspace
        yield out
