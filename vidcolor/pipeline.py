"""The colorizing pipeline: decode -> colour (render size) -> engine -> smooth -> chroma -> encode.

Frames stream through generators: a decode thread prepares frames (working YUV + a small RGB copy)
into a bounded queue while the main thread runs the model on batches and encodes, so memory is
bounded by the queue and the batch, whatever the film's length. The output's luma is the input's
luma plane (see :mod:`vidcolor.planes`); only chroma is computed.
"""

from __future__ import annotations

import hashlib
import math
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

import av
import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import __version__, interlace
from vidcolor.color import AB_SCALE, lab_to_rgb, model_to_rgb, rgb_to_gray_L, rgb_to_lab, uint8_rgb_to_L
from vidcolor.config import ColorizeConfig
from vidcolor.decode import Media, VideoInfo, check_input, load_extras, load_photo, media_kind
from vidcolor.device import pick_device  # also imported from here by the CLI
from vidcolor.encode import VideoWriter, write_picture
from vidcolor.engines import FallbackEngine, auto_choices, engine_precisions, engine_unavailable
from vidcolor.errors import BadInputError, Log, ProcessingError, describe
from vidcolor.formats import CONTAINERS, IMAGE_OUTPUTS
from vidcolor.guidance import Guidance, Guider
from vidcolor.modelfile import load_generator
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
from vidcolor.sequence import FrameTarget, FrameWriter, frame_namer, frame_target, is_sequence, open_sequence, set_fps
from vidcolor.shots import ShotMap, scan
from vidcolor.source import frames, probe
from vidcolor.temporal import TemporalSmoother

T = TypeVar("T")
Progress = Callable[[int], None]


def default_model_path() -> Path:
    return Path(str(resources.files("vidcolor") / "weights" / "default.safetensors"))


class Colorizer:
    """A loaded model behind an engine, on a device: numpy RGB at render size -> (L, ab) tensors."""

    def __init__(self, cfg: ColorizeConfig, log: Log = lambda _m: None) -> None:
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        path = model_path(cfg)
        generator, self.model_info = load_generator(path, self.device)
        self.multiple = generator.config.multiple
        self.model_id = model_id(path)
        self.engine = FallbackEngine(
            engine_choices(cfg.engine, cfg.precision, self.device), generator, self.device, log
        )

    def predict(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sRGB (N,3,h,w), uint8 or float in [0,1], on the device -> normalised (L (N,1,h,w), ab (N,2,h,w))."""
        L = uint8_rgb_to_L(rgb) if rgb.dtype == torch.uint8 else rgb_to_gray_L(rgb)
        return L, self.engine(L)


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


def engine_choices(engine: str, precision: str, device: torch.device) -> list[tuple[str, str]]:
    """(engine, precision) to try in order: the ``auto`` rule, or the named engine then eager fp32.

    Eager fp32 always closes the list (the last resort) and appears nowhere else, whatever the CPU:
    on one with native bf16, ``auto`` starts with eager bf16, which at ``--precision fp32`` would
    otherwise become a first eager fp32. An engine never gets a precision it does not run: a named
    one is refused, and ``auto`` leaves it out.
    """
    last = ("eager", "fp32")
    if engine == "auto":
        choices = auto_choices(device)
        if precision != "auto":
            choices = [(n, precision) for n, _p in choices if precision in engine_precisions(n)]
        return [*dict.fromkeys(c for c in choices if c != last), last]
    reason = engine_unavailable(engine, device)  # also rejects unknown names, listing the valid ones
    if reason:
        raise BadInputError(f"--engine {engine}: unavailable here ({reason}); `vidcolor engines` lists what is")
    runs = engine_precisions(engine)
    if precision == "auto":
        precision = runs[0]
    elif precision not in runs:
        raise BadInputError(
            f"--engine {engine} runs {' or '.join(runs)}, not --precision {precision}; "
            f"use --engine eager --precision {precision} or leave --precision out"
        )
    return [*dict.fromkeys([(engine, precision), last])]


def model_path(cfg: ColorizeConfig) -> Path:
    """The weights file ``cfg`` names, or the bundled default model."""
    path = Path(cfg.model) if cfg.model else default_model_path()
    if cfg.model is None and not path.exists():
        raise BadInputError(f"no bundled default model at {path}; pass --model PATH (weights from vidcolor train)")
    return path


def model_id(path: Path) -> str:
    """``name:sha256[:12]`` of a weights file: what outputs and batch manifests record as the model."""
    try:
        with path.open("rb") as f:
            return f"{path.name}:{hashlib.file_digest(f, 'sha256').hexdigest()[:12]}"
    except OSError as e:
        raise BadInputError(f"{path}: cannot read the weights file ({describe(e)})") from None


def check_output(input: Path, output: Path, overwrite: bool) -> None:
    """Refuse what would lose or overwrite the user's work, before any decoding starts."""
    suffix = output.suffix.lower()
    if suffix not in CONTAINERS and suffix not in IMAGE_OUTPUTS:
        raise BadInputError(
            f"{output}: unsupported output extension {output.suffix!r}; use a video "
            f"({', '.join(CONTAINERS)}) or image ({', '.join(IMAGE_OUTPUTS)}) extension"
        )
    if output.exists() and input.exists() and output.resolve() == input.resolve():
        raise BadInputError(f"{output}: output is the input file; choose another name")
    if output.is_dir():
        raise BadInputError(f"{output}: is a directory; give an output file name")
    if output.exists() and not overwrite:
        raise BadInputError(f"{output}: already exists (pass --overwrite to replace it)")
    parent = output.parent
    if not parent.is_dir():
        raise BadInputError(f"{parent}: output folder does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInputError(f"{parent}: output folder is not writable")


# ---------------------------------------------------------------- streaming helpers


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


# ---------------------------------------------------------------- the frame loop


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
                guide=_guide_fn(guider, batch[0].index) if guider else None,
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


def output_metadata(colorizer: Colorizer, guidance: Guidance | None = None) -> dict:
    """What a colorized video says made it (its comment tag): version, model, engine, settings."""
    return {
        "version": __version__,
        "model": colorizer.model_id,
        "engine": colorizer.engine.name,
        "settings": colorizer.cfg.public(),
        **({"guidance": guidance.describe()} if guidance else {}),
    }


def warn_if_ended_early(input: Path, info: VideoInfo, run: Run, cfg: ColorizeConfig, log: Log) -> None:
    """Say (a warning) when ``run`` stopped short of what ``input``'s header announces for the
    window ``cfg`` asks for (:func:`ended_early`)."""
    why = ended_early(info, run.frames, run.last_time, cfg.start, cfg.duration)
    if why:
        log(f"warning: {input} ended early: {why} (truncated?)")


# ---------------------------------------------------------------- video


@dataclass
class Report:
    frames: int
    seconds_of_video: float
    scene_cuts: int
    output: Path
    preview: Path | None = None


def colorize_video(
    input: Path,
    output: Path | FrameTarget,
    colorizer: Colorizer,
    progress: Progress = lambda _n: None,
    log: Log = lambda _m: None,
    guidance: Guidance | None = None,
) -> Report:
    """Colorize ``input`` into ``output``, a video file (or a :class:`FrameTarget`: one image a
    frame): every frame that decodes, at its own timestamp; frames of damaged packets are left out
    and a short file is reported (warnings)."""
    cfg = colorizer.cfg
    film = Film.open(input, colorizer, log)
    if film.source.video_streams > 1:
        n = film.source.video_streams
        log(f"warning: {input} has {n} video streams; colorizing the first, the others are left out")
    if (film.plan.keep or film.plan.ivtc) and guidance:
        raise BadInputError(
            f"{input}: --interlaced {cfg.interlaced} does not take guidance yet; deinterlace, or give none"
        )
    expected = film.info.expected_frames(cfg.start, cfg.duration)
    sheet = PreviewSheet(cfg.preview, expected, film.info.width, film.info.height) if cfg.preview else None
    guider = _guider(film, guidance, colorizer, log) if guidance else None
    smoother = film_smoother(cfg, film.info)
    auto = film_smoother(cfg, film.info) if guider and cfg.preview else None
    with open_writer(output, film, colorizer, guidance, log) as writer:
        run = colour_frames(
            film.items(cfg.start, cfg.duration, log), film, colorizer, smoother, writer,
            guider=guider, auto=auto, sheet=sheet, progress=progress,
        )  # fmt: skip
        if run.frames == 0:
            raise ProcessingError(
                f"{input}: no decodable video frames" + (" in the segment" if cfg.start or cfg.duration else "")
            )
    warn_if_ended_early(input, film.info, run, cfg, log)
    if sheet and len(sheet.rows) < len(sheet.wanted):  # chosen among frames the header counts and that never came
        log(
            f"warning: {input}: the preview sheet shows {len(sheet.rows)} of {len(sheet.wanted)} frames: they were chosen "
            f"among the {expected} frames its header announces, and {run.frames} decoded "
            f"(-o NAME.png --preview {cfg.preview} chooses again among those)"
        )
    if guider:
        _warn_unused(guider, log)
    preview = None
    if sheet and sheet.rows:
        base = output.preview_base if isinstance(output, FrameTarget) else output
        preview = base.with_name(base.stem + ".preview.png")
        sheet.save(preview)
    seconds = run.frames / float(film.info.rate) if film.info.rate else 0.0
    return Report(run.frames, seconds, smoother.cuts, Path(str(output)), preview)


def open_writer(
    output: Path | FrameTarget, film: Film, colorizer: Colorizer, guidance: Guidance | None, log: Log
) -> Writer:
    """The writer for ``output``: an encoder for a video file, one image a frame for a FrameTarget."""
    if isinstance(output, FrameTarget):
        seq = open_sequence(film.input) if is_sequence(film.input) else None
        return FrameWriter(output, frame_namer(output, seq), film.info.spec, log)
    cfg = colorizer.cfg
    meta = output_metadata(colorizer, guidance)
    return VideoWriter(
        output, film.info, cfg.encode, film.info.spec, meta, cfg.start, cfg.duration, log, fields=film.plan.keep
    )


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


def _guider(film: Film, guidance: Guidance, colorizer: Colorizer, log: Log) -> Guider:
    """Find the shots (a quick first pass), then place the references and hints on them."""
    cfg, info = colorizer.cfg, film.info
    log(f"finding the shots of {film.input.name} for the guidance (a quick first pass) ...")
    shots = scan(film.input, film.rsize, cfg.start, cfg.duration)
    aspect = info.width / info.height
    return Guider(guidance, shots, film.rsize, colorizer.device, aspect, log=log, matrix=info.matrix)


def _guide_fn(guider: Guider, first: int) -> GuideFn:
    """The guide stage for one batch whose first frame has index ``first``."""

    def apply(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        out = [fuse(L[k], ab[k], guider(first + k, L[k]), guider.cfg) for k in range(L.shape[0])]
        return torch.stack(out)

    return apply


def _warn_unused(guider: Guider, log: Log) -> None:
    for line in guider.unused():
        log(f"warning: {line}")


PREVIEW_WARMUP = 32  # frames run before each preview frame: the smoother's memory (0.9**32 < 4 %)


def preview_only(
    input: Path,
    output: Path,
    colorizer: Colorizer,
    n: int,
    guidance: Guidance | None = None,
    log: Log = lambda _m: None,
    progress: Progress = lambda _n: None,
) -> Report:
    """A PNG sheet of ``n`` evenly spaced frames (gray | colour, or gray | automatic | guided),
    without writing a video, showing what the video would show: the same temporal smoothing (the
    model also runs on the ``PREVIEW_WARMUP`` frames before each chosen one, so what the smoother
    would carry in is there; exact when a cut or the film's start lies in that window) and the
    same colour matrix. With guidance every frame's lightness is still read (guides move with the
    motion)."""
    cfg = colorizer.cfg
    source = probe(input)
    plan = field_plan(input, cfg.interlaced, log, source)
    if plan.ivtc and guidance:
        raise BadInputError(f"{input}: --interlaced ivtc does not take guidance yet; give none")
    if plan.keep:  # a preview of fields: shown deinterlaced
        plan = interlace.Plan(deinterlace=plan.keep)
    film = Film.open(input, colorizer, log, source, plan)
    expected = film.info.expected_frames(cfg.start, cfg.duration)
    sheet, run, guider = _preview_pass(film, colorizer, n, expected, guidance, log, progress)
    if len(sheet.rows) < len(sheet.wanted) and 0 < run.seen < expected:
        # The header counts more frames than decode (an AVI's null frames, a file cut short): the
        # frames were chosen among frames that are not there. Choose among those that are.
        log(f"note: {input.name} decoded {run.seen} of the {expected} frames its header announces: choosing again")
        sheet, run, guider = _preview_pass(film, colorizer, n, run.seen, guidance, log, lambda _n: None)
    if not sheet.rows:
        raise ProcessingError(f"{input}: no decodable video frames for a preview")
    if guider:
        _warn_unused(guider, log)
    sheet.save(output)
    return Report(len(sheet.rows), 0.0, 0, output, output)


def _preview_pass(
    film: Film,
    colorizer: Colorizer,
    n: int,
    expected: int,
    guidance: Guidance | None,
    log: Log,
    progress: Progress,
) -> tuple[PreviewSheet, Run, Guider | None]:
    """One pass over the film for a sheet of ``n`` frames chosen among ``expected``."""
    cfg = colorizer.cfg
    sheet = PreviewSheet(n, expected, film.info.width, film.info.height)
    runs = {j for i in sheet.wanted for j in range(max(0, i - PREVIEW_WARMUP), i + 1)}
    guider = _guider(film, guidance, colorizer, log) if guidance else None
    items = _windows(film.items(cfg.start, cfg.duration, log, keep=sheet.wanted.__contains__), runs)
    smoother = film_smoother(cfg, film.info)
    auto = film_smoother(cfg, film.info) if guider else None
    run = colour_frames(
        items, film, colorizer, smoother, NoOutput(), guider=guider, auto=auto, sheet=sheet, progress=progress
    )
    return sheet, run, guider


def _windows(items: Iterator[Item], runs: set[int]) -> Iterator[Item]:
    """A preview's items: those in ``runs`` coloured, each window starting the smoothing afresh (as
    a video's does at a cut); the frames between only followed (guides move with the motion)."""
    last = -2
    for item in items:
        if item.index in runs:
            item.fresh, last = item.index != last + 1, item.index
        else:
            item.follow_only = True
        yield item


# ---------------------------------------------------------------- still images


def colorize_array(
    arr: np.ndarray, colorizer: Colorizer, guidance: Guidance | None = None, log: Log = lambda _m: None
) -> np.ndarray:
    """HxWx3 RGB, uint8 or uint16 -> colorized HxWx3 of the same type: the full-resolution L* kept at
    the input's precision (float32 throughout), ab predicted at render size.

    A still is one shot at time 0: every reference is tried on it and every hint applies."""
    cfg = colorizer.cfg
    h, w = arr.shape[:2]
    rw, rh = render_size(w, h, cfg.render_size, colorizer.multiple)
    top = float(np.iinfo(arr.dtype).max)  # 255 or 65535
    src = torch.from_numpy(np.ascontiguousarray(arr))
    src = src.to(colorizer.device) if arr.dtype == np.uint8 else src.float().to(colorizer.device)
    full = src.permute(2, 0, 1)[None].float().div_(top)
    small = F.interpolate(full, size=(rh, rw), mode="bilinear", antialias=True, align_corners=False)
    L, ab = colorizer.predict(small)
    if guidance:
        shots = ShotMap(np.zeros(1), [0])
        guider = Guider(guidance.for_still(), shots, (rw, rh), colorizer.device, w / h, log=log, still=True)
        ab = _guide_fn(guider, 0)(L, ab.float())
        _warn_unused(guider, log)
    ab = F.interpolate(ab * cfg.strength, size=(h, w), mode="bilinear", align_corners=False)
    lab = torch.cat([rgb_to_lab(full)[:, :1], ab * AB_SCALE], 1)
    out = (lab_to_rgb(lab)[0].permute(1, 2, 0) * top).round_()
    return out.byte().cpu().numpy() if arr.dtype == np.uint8 else out.cpu().numpy().astype(arr.dtype)


def colorize_image(
    input: Path, output: Path, colorizer: Colorizer, guidance: Guidance | None = None, log: Log = lambda _m: None
) -> Report:
    """Colorize a still image file into ``output`` (written atomically), at 16 bits a sample when the
    input has them and the output format holds them (PNG, TIFF), else at 8 bits with a note."""
    rgb = colorize_array(load_photo(input, full_depth=True), colorizer, guidance, log)
    extras = load_extras(input)  # alpha and ICC profile: copied as they are where the output holds them
    left, reduced = write_picture(rgb, output, extras.alpha, extras.icc)
    if reduced:
        fmt = IMAGE_OUTPUTS[output.suffix.lower()]
        log(f"note: {input.name} is 16-bit; {fmt} holds 8 bits, so {output.name} is 8-bit (.png or .tif keep 16)")
    if left:  # said, not silent: a cut-out's transparency or a wide-gamut profile is part of the picture
        log(f"note: {input.name}: {output.name} is written without {'; and without '.join(left)}")
    return Report(1, 0.0, 0, output)


def colorize(
    input: Path,
    output: Path | FrameTarget,
    colorizer: Colorizer,
    progress: Progress = lambda _n: None,
    log: Log = lambda _m: None,
    guidance: Guidance | None = None,
) -> Report:
    """Dispatch on input and output kinds (:func:`~vidcolor.decode.media_kind`): image -> image,
    video -> video, video -> preview PNG; an image sequence (a folder or printf pattern of numbered
    frames, :mod:`vidcolor.sequence`) is a video, and a folder or pattern output (``DIR/``,
    ``out_%06d.png``: a :class:`~vidcolor.sequence.FrameTarget`) takes one image a frame."""
    target = output if isinstance(output, FrameTarget) else frame_target(output)
    if is_sequence(input):
        set_fps(input, colorizer.cfg.fps)
        media = Media("video")
    else:
        check_input(input)
        media = media_kind(input)
    if target is not None:
        if media.kind == "image":
            raise BadInputError(f"{target}: input is an image; give an image output (.png, .jpg, ...)")
        if media.kind != "video":
            raise BadInputError(f"{input}: {media.why}")
        return colorize_video(input, target, colorizer, progress, log, guidance=guidance)
    assert isinstance(output, Path)
    out_image = output.suffix.lower() in IMAGE_OUTPUTS
    if media.kind == "image":
        if not out_image:
            raise BadInputError(f"{output}: input is an image; give an image output (.png, .jpg, ...)")
        report = colorize_image(input, output, colorizer, guidance, log)
        progress(1)
        return report
    if media.kind != "video":
        raise BadInputError(f"{input}: {media.why}")
    if out_image:
        return preview_only(input, output, colorizer, colorizer.cfg.preview or 6, guidance, log, progress)
    return colorize_video(input, output, colorizer, progress, log, guidance=guidance)
