"""The colorizing pipeline: decode -> colour (render size) -> engine -> smooth -> chroma -> encode.

Frames stream through generators: a decode thread prepares frames (working YUV + a small RGB copy)
into a bounded queue while the main thread runs the model on batches and encodes, so memory is
bounded by the queue and the batch, whatever the film's length. The output's luma is the input's
luma plane (see :mod:`vidcolor.planes`); only chroma is computed.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import __version__, interlace
from vidcolor.color import AB_SCALE, lab_to_rgb, model_to_rgb, rgb_to_gray_L, rgb_to_lab, uint8_rgb_to_L
from vidcolor.config import ColorizeConfig
from vidcolor.decode import Media, VideoInfo, check_input, load_extras, load_photo, media_kind, to_8bit
from vidcolor.device import pick_device  # also imported from here by the CLI
from vidcolor.encode import VideoWriter, save_image
from vidcolor.engines import FallbackEngine, auto_choices, engine_precisions, engine_unavailable
from vidcolor.errors import BadInputError, Log, ProcessingError, describe
from vidcolor.formats import CONTAINERS, DEEP_IMAGE_FORMATS, IMAGE_OUTPUTS
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
from vidcolor.preview import PreviewSheet, gray_tile, pick_indices, save_sheet, side_by_side, tile_size
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


def batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


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
    frame: av.VideoFrame  # working yuv420p frame; its chroma is replaced in place
    small: np.ndarray  # render-size RGB


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
    output: Path,
    colorizer: Colorizer,
    progress: Progress = lambda _n: None,
    log: Log = lambda _m: None,
    info: VideoInfo | None = None,
    guidance: Guidance | None = None,
    make_writer: Callable[..., Any] | None = None,
) -> Report:
    """Colorize ``input`` into ``output`` (a video file): every frame that decodes, at its own
    timestamp; frames of damaged packets are left out and a short file is reported (warnings).
    ``make_writer`` replaces :class:`VideoWriter` (same arguments and interface): frame outputs."""
    cfg = colorizer.cfg
    source = info or probe(input)
    if source.video_streams > 1:
        log(f"warning: {input} has {source.video_streams} video streams; colorizing the first, the others are left out")
    plan = field_plan(input, cfg.interlaced, log, source)
    if (plan.keep or plan.ivtc) and guidance:
        raise BadInputError(
            f"{input}: --interlaced {cfg.interlaced} does not take guidance yet; deinterlace, or give none"
        )
    info = plan.output_info(source)  # what the output is: inverse telecine makes 4 frames of 5
    kept = plan.keep
    spec = info.spec
    rsize = render_size(info.width, info.height, cfg.render_size, colorizer.multiple)
    smoother = film_smoother(cfg, info)
    guider = _guider(input, guidance, rsize, info, colorizer, log) if guidance else None
    auto_smoother = film_smoother(cfg, info) if guider and cfg.preview else None
    sheet = (
        PreviewSheet(cfg.preview, info.expected_frames(cfg.start, cfg.duration), info.width, info.height)
        if cfg.preview
        else None
    )

    fsize = render_size(info.width, max(1, info.height // 2), cfg.render_size, colorizer.multiple) if kept else rsize

    def prepare() -> Iterator[Item]:
        for frame in source_frames(input, plan, cfg.start, cfg.duration, log, source):
            work = to_work_frame(frame, spec)
            if kept:  # the two fields in the order they were shot, each as its own picture
                small = [small_rgb(field(work, p), fsize) for p in ((0, 1) if kept == "tff" else (1, 0))]
            else:
                small = small_rgb(frame, rsize)
            yield Item(work, small)

    meta = {
        "version": __version__,
        "model": colorizer.model_id,
        "engine": colorizer.engine.name,
        "settings": cfg.public(),
        **({"guidance": guidance.describe()} if guidance else {}),
    }
    decoded, last_time = 0, None
    new_writer = make_writer or VideoWriter
    with new_writer(output, info, cfg.encode, spec, meta, cfg.start, cfg.duration, log, fields=kept) as writer:
        for batch in batched(prefetch(prepare(), depth=queue_depth(cfg, info)), cfg.batch_size):
            first, decoded = decoded, decoded + len(batch)
            last_time = batch[-1].frame.time  # on the file's clock (the writer re-times what it encodes)
            want_auto = auto_smoother is not None and sheet is not None and sheet.wants(first, decoded)
            if kept:  # fields: 2 pictures a frame, in shooting order; chroma woven back by line
                uv, auto_uv = _colour_fields(colorizer, smoother, batch, spec, info, kept), None
            else:
                uv, auto_uv = colour_batch(
                    colorizer, smoother, [it.small for it in batch], spec, info.width, info.height,
                    guide=_guide_fn(guider, first) if guider else None,
                    auto_smoother=auto_smoother, auto_out=want_auto,
                )  # fmt: skip
            for k, (item, planes) in enumerate(zip(batch, uv, strict=True)):
                auto_tile = None  # the automatic colour, only for frames the sheet shows
                if auto_uv is not None and sheet and first + k in sheet.wanted:
                    auto_tile = sheet.tile(with_chroma(item.frame, auto_uv[k]))
                write_chroma(item.frame, planes)
                if sheet:
                    sheet.offer(writer.frames_written, item.frame, auto_tile)
                writer.write(item.frame)
            progress(len(batch))
        if decoded == 0:
            raise ProcessingError(
                f"{input}: no decodable video frames" + (" in the segment" if cfg.start or cfg.duration else "")
            )
        if writer.frames_written != decoded:
            raise ProcessingError(f"{input}: wrote {writer.frames_written} of {decoded} frames")
    why = ended_early(info, decoded, last_time, cfg.start, cfg.duration)
    if why:
        log(f"warning: {input} ended early: {why} (truncated?)")
    if guider:
        _warn_unused(guider, log)
    preview = None
    if sheet and sheet.rows:
        preview = output.with_name(output.stem + ".preview.png")
        sheet.save(preview)
    return Report(decoded, decoded / float(info.rate) if info.rate else 0.0, smoother.cuts, output, preview)


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
    colorizer: Colorizer, smoother: TemporalSmoother, batch: list[Item], spec: ColourSpec, info: VideoInfo, order: str
) -> np.ndarray:
    """Chroma planes for interlaced frames coloured field by field (``--interlaced keep``)."""
    ch = (info.height + 1) // 2  # chroma rows of a frame; a field holds every other one
    per_field = colour_batch(
        colorizer, smoother, [s for it in batch for s in it.small], spec, info.width, 2 * ((ch + 1) // 2)
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
) -> tuple[np.ndarray, np.ndarray | None]:
    """Render-size RGB frames -> uint8 chroma planes (N, 2, ceil(H/2), ceil(W/2)) for the output.

    ``guide(L, ab) -> ab`` puts user guidance on the automatic colour (before smoothing). The
    automatic colour is also smoothed by ``auto_smoother`` when given (it must see every frame),
    and its chroma is returned second when ``auto_out`` (for gray | automatic | guided previews).
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
    return _chroma(L, smoother(L, ab) * strength, spec, width, height), auto_uv


def _chroma(L: torch.Tensor, ab: torch.Tensor, spec: ColourSpec, width: int, height: int) -> np.ndarray:
    return upsample_chroma(rgb_to_cbcr(model_to_rgb(L, ab), spec), width, height, spec.bits).cpu().numpy()


def _guider(
    input: Path, guidance: Guidance, rsize: tuple[int, int], info: VideoInfo, colorizer: Colorizer, log: Log
) -> Guider:
    """Find the shots (a quick first pass), then place the references and hints on them."""
    cfg = colorizer.cfg
    log(f"finding the shots of {input.name} for the guidance (a quick first pass) ...")
    shots = scan(input, rsize, cfg.start, cfg.duration)
    return Guider(guidance, shots, rsize, colorizer.device, info.width / info.height, log=log, matrix=info.matrix)


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
    info = plan.output_info(source)
    spec = info.spec
    rsize = render_size(info.width, info.height, cfg.render_size, colorizer.multiple)
    guider = _guider(input, guidance, rsize, info, colorizer, log) if guidance else None
    wanted = set(pick_indices(n, info.expected_frames(cfg.start, cfg.duration)))
    runs = {j for i in wanted for j in range(max(0, i - PREVIEW_WARMUP), i + 1)}
    tw, th = tile_size(info.width, info.height)
    rows: list[np.ndarray] = []
    pending: list[tuple[int, av.VideoFrame | None, np.ndarray]] = []
    smoother = auto = film_smoother(cfg, info)

    def flush() -> None:
        if not pending:
            return
        first = pending[0][0]
        uv, auto_uv = colour_batch(
            colorizer, smoother, [small for _i, _w, small in pending], spec, info.width, info.height,
            guide=_guide_fn(guider, first) if guider else None, auto_smoother=auto if guider else None, auto_out=True,
        )  # fmt: skip
        for k, (_i, work, _small) in enumerate(pending):
            if work is None:
                continue
            tiles = [gray_tile(work, tw, th)]
            if auto_uv is not None:
                tiles.append(with_chroma(work, auto_uv[k]).to_ndarray(format="rgb24", width=tw, height=th))
            write_chroma(work, uv[k])
            tiles.append(work.to_ndarray(format="rgb24", width=tw, height=th))
            rows.append(side_by_side(*tiles))
        pending.clear()

    last = -2
    for i, frame in enumerate(source_frames(input, plan, cfg.start, cfg.duration, log, source)):
        progress(1)  # every frame is read: the guider follows them all, and the last chosen is near the end
        small = small_rgb(frame, rsize)
        if i not in runs:
            flush()  # the guider sees the frames in order
            if guider:
                guider(i, uint8_rgb_to_L(torch.from_numpy(small).permute(2, 0, 1)[None].to(colorizer.device))[0])
            continue
        if i != last + 1:  # a new window: the smoother starts afresh, as the video's does at a cut
            flush()
            smoother, auto = (
                film_smoother(cfg, info),
                film_smoother(cfg, info),
            )
        last = i
        pending.append((i, to_work_frame(frame, spec) if i in wanted else None, small))
        if len(pending) == cfg.batch_size:
            flush()
    flush()
    if not rows:
        raise ProcessingError(f"{input}: no decodable video frames for a preview")
    if guider:
        _warn_unused(guider, log)
    save_sheet(rows, output)
    return Report(len(rows), 0.0, 0, output, output)


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
    fmt = IMAGE_OUTPUTS[output.suffix.lower()]
    if rgb.dtype != np.uint8 and fmt not in DEEP_IMAGE_FORMATS:
        log(f"note: {input.name} is 16-bit; {fmt} holds 8 bits, so {output.name} is 8-bit (.png or .tif keep 16)")
        rgb = to_8bit(rgb)
    try:
        left = save_image(rgb, output, fmt, extras.alpha, extras.icc)
    except OSError as e:
        raise ProcessingError(f"{output}: cannot write image ({describe(e)})") from None
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
        return colorize_frames(input, target, colorizer, progress, log, guidance)
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


def colorize_frames(
    input: Path,
    target: FrameTarget,
    colorizer: Colorizer,
    progress: Callable[[int], None] = lambda _n: None,
    log: Log = lambda _m: None,
    guidance: Guidance | None = None,
) -> Report:
    """A video or a sequence -> one colorized image a frame in ``target``: the video path
    (:func:`vidcolor.pipeline.colorize_video`) with :class:`FrameWriter` in place of the encoder."""
    seq = open_sequence(input) if is_sequence(input) else None
    info = seq.info() if seq is not None else probe(input)
    writer: Any = functools.partial(FrameWriter, target=target, name_for=frame_namer(target, seq))
    report = colorize_video(
        input, target.preview_base, colorizer, progress, log, info=info, guidance=guidance, make_writer=writer
    )
    report.output = Path(str(target))
    return report
