"""Colorizing, by kind of input and output: a video (:func:`colorize_video`), a preview sheet
alone (:func:`preview_only`), a still (:func:`colorize_image`); :func:`colorize` decides which.

The frames go through the one loop in :mod:`vidcolor.film`; the model is a
:class:`vidcolor.colorizer.Colorizer`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import interlace
from vidcolor.color import AB_SCALE, lab_to_rgb, rgb_to_lab
from vidcolor.colorizer import Colorizer, output_metadata
from vidcolor.decode import Media, check_input, load_extras, load_photo, media_kind
from vidcolor.encode import VideoWriter, warn_if_aspect_lost, write_picture
from vidcolor.errors import BadInputError, Log, ProcessingError
from vidcolor.film import (
    Film,
    Item,
    NoOutput,
    Progress,
    Run,
    Writer,
    colour_frames,
    field_plan,
    film_smoother,
    guide_fn,
    warn_if_ended_early,
)
from vidcolor.formats import CONTAINERS, IMAGE_OUTPUTS
from vidcolor.guidance import Guidance, Guider
from vidcolor.planes import (
    render_size,
)
from vidcolor.preview import TILE_WIDTH, PreviewSheet
from vidcolor.sequence import FrameTarget, FrameWriter, frame_namer, frame_target, is_sequence, open_sequence, set_fps
from vidcolor.shots import ShotMap, scan
from vidcolor.source import probe


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
    sheet = PreviewSheet(cfg.preview, expected, film.info.display_width, film.info.height) if cfg.preview else None
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
    warn_if_aspect_lost(film.info, output if isinstance(output, Path) else None, log)
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


def _guider(film: Film, guidance: Guidance, colorizer: Colorizer, log: Log) -> Guider:
    """Find the shots (a quick first pass), then place the references and hints on them."""
    cfg, info = colorizer.cfg, film.info
    log(f"finding the shots of {film.input.name} for the guidance (a quick first pass) ...")
    shots = scan(film.input, film.rsize, cfg.start, cfg.duration)
    # a picture is fitted to the film as shown (a 16:9 DVD: 16:9); a frame exported at its stored
    # size (720x480) is taken whole, as the frames are
    aspects = (info.display_aspect, info.width / info.height)
    return Guider(guidance, shots, film.rsize, colorizer.device, aspects, log=log, matrix=info.matrix)


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
    """:func:`preview_sheet` written to ``output`` as a PNG, without writing a video."""
    sheet = preview_sheet(input, colorizer, n, guidance, log, progress)
    sheet.save(output)
    return Report(len(sheet.rows), 0.0, 0, output, output)


def preview_sheet(
    input: Path,
    colorizer: Colorizer,
    n: int,
    guidance: Guidance | None = None,
    log: Log = lambda _m: None,
    progress: Progress = lambda _n: None,
    tile_width: int = TILE_WIDTH,
) -> PreviewSheet:
    """A sheet of ``n`` evenly spaced frames of ``[cfg.start, cfg.start + cfg.duration)`` (gray |
    colour, or gray | automatic | guided) showing what the video would show: the same temporal
    smoothing (the model also runs on the ``PREVIEW_WARMUP`` frames before each chosen one, so what
    the smoother would carry in is there; exact when a cut or the segment's start lies in that
    window) and the same colour matrix. With guidance every frame's lightness is still read (guides
    move with the motion)."""
    cfg = colorizer.cfg
    source = probe(input)
    plan = field_plan(input, cfg.interlaced, log, source)
    if plan.ivtc and guidance:
        raise BadInputError(f"{input}: --interlaced ivtc does not take guidance yet; give none")
    if plan.keep:  # a preview of fields: shown deinterlaced
        plan = interlace.Plan(deinterlace=plan.keep)
    film = Film.open(input, colorizer, log, source, plan)
    expected = film.info.expected_frames(cfg.start, cfg.duration)
    sheet, run, guider = _preview_pass(film, colorizer, n, expected, guidance, log, progress, tile_width)
    if (len(sheet.rows) < len(sheet.wanted) and 0 < run.seen < expected) or (not expected and run.seen):
        # The header counts more frames than decode (an AVI's null frames, a file cut short): the
        # frames were chosen among frames that are not there; or it does not say (a raw .264 stream).
        # Choose among those that are.
        if expected:
            log(f"note: {input.name} decoded {run.seen} of the {expected} frames its header announces: choosing again")
        sheet, run, guider = _preview_pass(film, colorizer, n, run.seen, guidance, log, lambda _n: None, tile_width)
    if not sheet.rows:
        raise ProcessingError(f"{input}: no decodable video frames for a preview")
    if guider:
        _warn_unused(guider, log)
    return sheet


def _preview_pass(
    film: Film,
    colorizer: Colorizer,
    n: int,
    expected: int,
    guidance: Guidance | None,
    log: Log,
    progress: Progress,
    tile_width: int,
) -> tuple[PreviewSheet, Run, Guider | None]:
    """One pass over the film for a sheet of ``n`` frames chosen among ``expected``."""
    cfg = colorizer.cfg
    sheet = PreviewSheet(n, expected, film.info.display_width, film.info.height, tile_width)
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
        guider = Guider(guidance.for_still(), shots, (rw, rh), colorizer.device, (w / h,), log=log, still=True)
        ab = guide_fn(guider, 0)(L, ab.float())
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
