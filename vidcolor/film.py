"""The one frame loop: decode -> render size -> model -> guides -> smoothing -> chroma -> a writer.

Frames stream through generators: a decode thread prepares them (working YUV + a small RGB copy,
:class:`Item`) into a bounded queue while the main thread runs the model on batches and writes
(:func:`colour_frames`), so memory is bounded by the queue and the batch, whatever the film's
length. The output's luma is the input's luma plane (see :mod:`vidcolor.planes`); only chroma is
computed. A whole film, a folder of frames, a preview sheet, a segment and a smoother's warm-up all
go through this loop; they differ in the frames given (:class:`Film`) and the :class:`Writer`.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import av
import numpy as np
import torch

from vidcolor import interlace
from vidcolor.color import model_to_rgb, uint8_rgb_to_L
from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
from vidcolor.decode import VideoInfo
from vidcolor.errors import BadInputError, Log, ProcessingError
from vidcolor.guidance import Guider
from vidcolor.planes import (
    ColourSpec,
    field,
    render_size,
    rgb_to_cbcr,
    small_rgb,
    to_work_frame,
    upsample_chroma,
    weave_chroma,
    with_chroma,
    write_chroma,
)
from vidcolor.preview import PreviewSheet
from vidcolor.propagate import fuse
from vidcolor.sequence import is_sequence
from vidcolor.source import frames, probe
from vidcolor.temporal import TemporalSmoother

T = TypeVar("T")
Progress = Callable[[int], None]


def ended_early(
    info: VideoInfo, frames: int, last_time: float | None, start: float = 0.0, duration: float | None = None
) -> str | None:
    """Why a film's frames stopped short of what its header announces, or None when they did not.

    Both the count and the time must fall short: a file that skips frames (an AVI's null frames hold
    the picture: a real Cinepak AVI decodes 68 of the 444 frames its index counts, and its last frame
    is at its end) is whole. ``last_time``: the last frame's time on the file's clock (None: count only).
    """
    expected = info.expected_frames(start, duration)
    if not info.frames or frames >= expected - 1:
        return None
    if last_time is not None and info.duration and info.rate:
        end = min(info.duration, start + (duration or math.inf))  # from the film's first frame
        if last_time - info.start_time >= end - 2 / float(info.rate):
            return None
    return f"decoded {frames} of the {expected} frames its header announces"


def film_smoother(cfg: ColorizeConfig, info: VideoInfo) -> TemporalSmoother:
    """A fresh temporal smoother for a film: its cut test's windows are in seconds (0.5 s of recent
    motion, 0.25 s for a flash, 0.3 s the shortest shot), so it counts frames at the film's rate."""
    return TemporalSmoother(cfg.smoothing, fps=float(info.rate or 0))


_END = object()


def queue_depth(cfg: ColorizeConfig, info: VideoInfo) -> int:
    """How many decoded frames may wait for the model: two batches, but at most ~256 MB of them
    (an 8K frame is 50 MB)."""
    return max(2, min(2 * cfg.batch_size, (256 << 20) // (info.width * info.height * 3 // 2 + 1)))


def prefetch(items: Iterator[T], depth: int) -> Iterator[T]:
    """Run ``items`` in a background thread, ``depth`` items ahead (bounded memory).

    Errors in the producer re-raise in the consumer; closing the consumer stops the producer.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(x: object) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for x in items:
                if not put(x):
                    break
            put(_END)
        except BaseException as e:
            put(e)
        finally:
            close = getattr(items, "close", None)
            if close:
                close()

    thread = threading.Thread(target=run, name="vidcolor-decode", daemon=True)
    thread.start()
    try:
        while True:
            x = q.get()
            if x is _END:
                return
            if isinstance(x, BaseException):
                raise x
            yield x  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass
class Item:
    """One frame on its way through :func:`colour_frames`."""

    index: int  # counted from the window's first frame: guides and the preview sheet go by it
    small: Any  # render-size HxWx3 RGB for the model (a list of the two fields' with --interlaced keep)
    frame: av.VideoFrame | None = None  # working YUV frame, its chroma replaced in place; None: coloured, not kept
    fresh: bool = False  # the smoothing starts afresh here (a preview's windows)
    follow_only: bool = False  # not coloured at all: only the guides follow it (a preview's frames between windows)


class Writer(Protocol):
    """Where coloured frames go: :class:`~vidcolor.encode.VideoWriter` (a video, or a segment of
    one), :class:`~vidcolor.sequence.FrameWriter` (one image a frame) or :class:`NoOutput`. Entered
    by whoever runs the loop; the output is published on a clean exit only."""

    frames_written: int

    def __enter__(self) -> Writer: ...

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None: ...

    def write(self, frame: av.VideoFrame) -> None: ...


class NoOutput:
    """A :class:`Writer` that keeps nothing: for a preview sheet alone, or a smoother's warm-up."""

    def __init__(self) -> None:
        self.frames_written = 0

    def __enter__(self) -> NoOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, frame: av.VideoFrame) -> None:
        self.frames_written += 1


@dataclass
class Film:
    """A video as the loop reads it: the file, what is done with its fields, the sizes it is coloured at."""

    input: Path
    source: VideoInfo  # the file's
    plan: interlace.Plan  # the fields: as they are, deinterlaced, kept, or inverse-telecined
    info: VideoInfo  # the output's (inverse telecine makes 4 frames of 5)
    rsize: tuple[int, int]  # (w, h) the model sees a frame at
    fsize: tuple[int, int]  # ... a field at (--interlaced keep)

    @classmethod
    def open(
        cls,
        input: Path,
        colorizer: Colorizer,
        log: Log,
        source: VideoInfo | None = None,
        plan: interlace.Plan | None = None,
    ) -> Film:
        cfg = colorizer.cfg
        source = source or probe(input)
        plan = plan if plan is not None else field_plan(input, cfg.interlaced, log, source)
        info = plan.output_info(source)
        rsize = render_size(info.width, info.height, cfg.render_size, colorizer.multiple)
        fsize = render_size(info.width, max(1, info.height // 2), cfg.render_size, colorizer.multiple)
        return cls(input, source, plan, info, rsize, fsize if plan.keep else rsize)

    def items(
        self, start: float, duration: float | None, log: Log, keep: Callable[[int], bool] = lambda _i: True
    ) -> Iterator[Item]:
        """The frames of [start, start + duration) as :class:`Item` s; ``keep(i)`` says whether the
        i-th is kept as a working frame (to be written) or only coloured (for the smoothing)."""
        order = (0, 1) if self.plan.keep == "tff" else (1, 0)
        for i, frame in enumerate(source_frames(self.input, self.plan, start, duration, log, self.source)):
            work = to_work_frame(frame, self.info.spec) if keep(i) or self.plan.keep else None
            if self.plan.keep:  # the two fields in the order they were shot, each as its own picture
                yield Item(i, [small_rgb(field(work, p), self.fsize) for p in order], work)
            else:
                yield Item(i, small_rgb(frame, self.rsize), work)


@dataclass
class Run:
    frames: int  # written
    seen: int  # items that came through (decoded), coloured or not
    last_time: float | None  # the last one's time on the file's clock (the writer may re-time what it encodes)


def batches(items: Iterable[Item], n: int) -> Iterator[list[Item]]:
    """``items`` in lists of at most ``n`` for the model; a list never spans a fresh start of the
    smoothing, nor mixes frames to colour with frames only followed."""
    batch: list[Item] = []
    for item in items:
        if batch and (len(batch) == n or item.fresh or item.follow_only != batch[0].follow_only):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def colour_frames(
    items: Iterable[Item],
    film: Film,
    colorizer: Colorizer,
    smoother: TemporalSmoother,
    writer: Writer,
    *,
    guider: Guider | None = None,
    auto: TemporalSmoother | None = None,
    sheet: PreviewSheet | None = None,
    progress: Progress = lambda _n: None,
) -> Run:
    """The one frame loop, for a film, a film's segment, a preview sheet and a smoother's warm-up.

    ``items`` are decoded ahead in a thread (bounded), then go in batches through the model, the
    guides, the smoothing and the chroma; each kept frame is written by ``writer`` and offered to
    ``sheet``. ``auto``: the automatic colour smoothed apart, for a guided run's sheet (it sees
    every frame)."""
    cfg, info = colorizer.cfg, film.info
    written = writer.frames_written
    frames, seen, last_time = 0, 0, None
    for batch in batches(prefetch(iter(items), depth=queue_depth(cfg, info)), cfg.batch_size):
        seen += len(batch)
        if batch[0].follow_only:  # nothing coloured: the guides follow the motion
            for item in batch if guider else ():
                rgb = torch.from_numpy(item.small).permute(2, 0, 1)[None].to(colorizer.device)
                guider(item.index, uint8_rgb_to_L(rgb)[0])
            progress(len(batch))
            continue
        if batch[0].fresh:
            for s in (smoother, auto):
                if s is not None:
                    s.reset()
        kept = any(item.frame is not None for item in batch)
        if film.plan.keep:  # fields: 2 pictures a frame, in shooting order; chroma woven back by line
            uv, auto_uv = _colour_fields(colorizer, smoother, batch, info, film.plan.keep), None
        else:
            uv, auto_uv = colour_batch(
                colorizer, smoother, [item.small for item in batch], info.spec, info.width, info.height,
                guide=guide_fn(guider, batch[0].index) if guider else None,
                auto_smoother=auto, auto_out=sheet is not None and any(item.index in sheet.wanted for item in batch),
                chroma=kept,
            )  # fmt: skip
        for k, item in enumerate(batch):
            if item.frame is None:
                continue
            auto_tile = None  # the automatic colour, only for frames the sheet shows
            if auto_uv is not None and sheet and item.index in sheet.wanted:
                auto_tile = sheet.tile(with_chroma(item.frame, auto_uv[k]))
            write_chroma(item.frame, uv[k])
            if sheet:
                sheet.offer(item.index, item.frame, auto_tile)
            last_time = item.frame.time  # before the writer re-times it
            writer.write(item.frame)
            frames += 1
        progress(len(batch))
    if writer.frames_written - written != frames:
        raise ProcessingError(f"{film.input}: wrote {writer.frames_written - written} of {frames} frames")
    return Run(frames, seen, last_time)


def warn_if_ended_early(input: Path, info: VideoInfo, run: Run, cfg: ColorizeConfig, log: Log) -> None:
    """Say (a warning) when ``run`` stopped short of what ``input``'s header announces for the
    window ``cfg`` asks for (:func:`ended_early`)."""
    why = ended_early(info, run.frames, run.last_time, cfg.start, cfg.duration)
    if why:
        log(f"warning: {input} ended early: {why} (truncated?)")


def field_plan(input: Path, mode: str, log: Log, info: VideoInfo | None = None) -> interlace.Plan:
    """What to do with ``input``'s fields (see :class:`vidcolor.interlace.Plan`); an empty plan uses
    the frames as they are. ``auto`` decides by flags and content (see :mod:`vidcolor.interlace`)."""
    if mode == "off" or (mode != "deinterlace" and is_sequence(input)):  # scanned frames: progressive
        return interlace.Plan()
    fields = interlace.detect(input)
    if mode == "ivtc":
        rate = (info or probe(input)).rate
        if not rate or min(abs(float(rate - r)) for r in interlace.IVTC_RATES) > 0.01:
            raise BadInputError(
                f"{input}: --interlaced ivtc takes telecined 29.97 or 30 frames/s video; this is "
                f"{float(rate or 0):.3f} frames/s"
            )
        if not fields.pulldown:
            log(f"warning: {input.name} shows no 3:2 pulldown; inverse telecine drops one frame in five all the same")
        log(f"note: {input.name}: inverse telecine ({fields.order if fields.interlaced else 'tff'}), 4 frames of 5")
        return interlace.Plan(ivtc=fields.order if fields.interlaced else "tff")
    if fields.pulldown and mode != "keep":
        log(f"note: {input.name} shows repeated fields (3:2 pulldown?): --interlaced ivtc restores the film's frames")
    if mode == "deinterlace":
        return interlace.Plan(deinterlace=fields.order if fields.interlaced else "tff")
    if not fields.interlaced:
        return interlace.Plan()
    if mode == "keep":
        log(f"note: {input.name} is interlaced ({fields.order}, by {fields.how}): colouring each field")
        return interlace.Plan(keep=fields.order)
    log(
        f"note: {input.name} is interlaced ({fields.order}, by {fields.how}): deinterlacing with bwdif "
        "(--interlaced keep colours each field instead and keeps the luma; off uses the frames as they are)"
    )
    return interlace.Plan(deinterlace=fields.order)


def source_frames(
    input: Path,
    plan: interlace.Plan,
    start: float = 0.0,
    duration: float | None = None,
    log: Log = lambda _m: None,
    info: VideoInfo | None = None,
) -> Iterator[av.VideoFrame]:
    """The frames the model sees in [start, start + duration): decoded, then deinterlaced or
    inverse-telecined as ``plan`` says (``info``: the source's; probed when needed and None).

    Deinterlacing reads two frames either side of the window (bwdif weighs each frame with its
    neighbours), so a window's frames are the very ones a run over the whole film gives: what
    lets a film be deinterlaced in segments."""
    if plan.deinterlace:
        info = info or probe(input)
        rate = info.rate or 25
        lead = min(start, 2 / float(rate))
        span = duration + lead + 2 / float(rate) if duration is not None else None
        # frames() counts from the film's first frame; the frames keep the file's clock
        first, end = info.start_time + start, info.start_time + (start + duration if duration is not None else math.inf)
        out = interlace.deinterlaced(frames(input, start - lead, span, log), plan.deinterlace)
        return (f for f in out if first - 1e-6 <= (f.time or 0.0) < end - 1e-6)
    decoded = frames(input, start, duration, log)
    if plan.ivtc:
        info = info or probe(input)
        return interlace.inverse_telecined(decoded, plan.ivtc, info.rate, plan.output_info(info).time_base)
    return decoded


def _colour_fields(
    colorizer: Colorizer, smoother: TemporalSmoother, batch: list[Item], info: VideoInfo, order: str
) -> np.ndarray:
    """Chroma planes for interlaced frames coloured field by field (``--interlaced keep``)."""
    ch = (info.height + 1) // 2  # chroma rows of a frame; a field holds every other one
    per_field = colour_batch(
        colorizer, smoother, [s for it in batch for s in it.small], info.spec, info.width, 2 * ((ch + 1) // 2)
    )[0]
    out = np.empty((len(batch), 2, ch, (info.width + 1) // 2), per_field.dtype)
    for k in range(len(batch)):
        shot_first, shot_second = per_field[2 * k], per_field[2 * k + 1]
        top, bottom = (shot_first, shot_second) if order == "tff" else (shot_second, shot_first)
        weave_chroma(out[k], top, bottom)
    return out


GuideFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def colour_batch(
    colorizer: Colorizer,
    smoother: TemporalSmoother,
    smalls: list[np.ndarray],
    spec: ColourSpec,
    width: int,
    height: int,
    guide: GuideFn | None = None,
    auto_smoother: TemporalSmoother | None = None,
    auto_out: bool = False,
    chroma: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Render-size RGB frames -> uint8 chroma planes (N, 2, ceil(H/2), ceil(W/2)) for the output.

    ``guide(L, ab) -> ab`` puts user guidance on the automatic colour (before smoothing). The
    automatic colour is also smoothed by ``auto_smoother`` when given (it must see every frame),
    and its chroma is returned second when ``auto_out`` (for gray | automatic | guided previews).
    ``chroma=False``: the smoothing only (frames coloured for what the smoother carries on): no planes.
    """
    rgb = torch.from_numpy(np.stack(smalls)).to(colorizer.device).permute(0, 3, 1, 2)
    L, ab = colorizer.predict(rgb)
    strength = colorizer.cfg.strength
    auto_uv = None
    if auto_smoother is not None:
        auto = auto_smoother(L, ab) * strength
        auto_uv = _chroma(L, auto, spec, width, height) if auto_out else None
    if guide is not None:
        ab = guide(L, ab.float())
    ab = smoother(L, ab)
    return (_chroma(L, ab * strength, spec, width, height) if chroma else np.empty(0)), auto_uv


def _chroma(L: torch.Tensor, ab: torch.Tensor, spec: ColourSpec, width: int, height: int) -> np.ndarray:
    return upsample_chroma(rgb_to_cbcr(model_to_rgb(L, ab), spec), width, height, spec.bits).cpu().numpy()


def guide_fn(guider: Guider, first: int) -> GuideFn:
    """The guide stage for one batch whose first frame has index ``first``."""

    def apply(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        out = [fuse(L[k], ab[k], guider(first + k, L[k]), guider.cfg) for k in range(L.shape[0])]
        return torch.stack(out)

    return apply
