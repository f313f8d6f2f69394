"""Image sequences: a folder of numbered frames (or a printf pattern) in, a folder of frames out.

Scanners write films as one image a frame (``scan_000001.tif`` ... , 8 or 16 bits, TIFF, PNG, DPX).
Such an input is a video to the rest of vidcolor: :func:`vidcolor.source.probe` and
:func:`vidcolor.source.frames` hand a sequence to :class:`Sequence`, which gives a :class:`VideoInfo`
and ``av.VideoFrame`` s timed by their frame numbers at ``--fps`` (time base 1/fps), so previews,
guidance, smoothing and video output work unchanged. Frames are decoded at their own depth (16-bit
gray or RGB stays 16-bit), so the working YUV frames keep the luma at the input's precision.

An input is a sequence when it is a folder, or a path whose file name holds ``%d`` or ``%0Nd`` (and
no such file exists). In a folder, the image files (by extension: what Pillow reads, plus DPX, which
FFmpeg reads) whose names end in a number make the sequence; hidden files, sub-folders and other
files are ignored, image files without a number are ignored with a note, and two differently named
numbered series are refused (give one as a pattern). A missing frame number is a gap: a warning
names it and the timestamps keep following the frame numbers, so the gap stays a gap in time.

An output is frames (:class:`FrameTarget`) when it ends with ``/``, is an existing folder, or its
file name holds ``%d``/``%0Nd``; each frame is written atomically (:func:`vidcolor.encode.save_image`)
from the same working YUV frame, with the same chroma, the video path would encode.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from vidcolor.config import ColorizeConfig
from vidcolor.decode import VideoInfo, image_names, load_extras, load_photo, media_kind
from vidcolor.errors import BadInputError, Log, ProcessingError, describe
from vidcolor.formats import IMAGE_OUTPUTS, NUMBERED
from vidcolor.planes import MATRICES, ColourSpec, colour_spec_for, plane

if TYPE_CHECKING:
    pass

PRINTF = re.compile(r"%(0\d+)?d")  # the frame number in a pattern: %d or %0Nd, as FFmpeg's image2
EXTRA_FRAME_EXTS = frozenset({".dpx"})  # frame formats FFmpeg reads and Pillow does not
DEFAULT_FRAME_NAME = "frame_%06d.png"  # frames of a video input (numbered from 1, as FFmpeg's)

_fps: dict[str, Fraction] = {}  # --fps given for a sequence input in this process, by absolute path


# ---------------------------------------------------------------- input


def is_sequence(path: Path) -> bool:
    """Whether ``path`` names an image sequence: a folder, or a printf pattern that is no file."""
    return path.is_dir() or (PRINTF.search(path.name) is not None and not path.exists())


def fps_fraction(fps: float) -> Fraction:
    """``--fps`` as an exact rate: 23.976, 29.97 and 59.94 are the NTSC rates (24000/1001, ...)."""
    ntsc = round(fps * 1.001)
    if abs(fps * 1.001 - ntsc) < 0.002 and abs(fps - ntsc) > 0.01:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def set_fps(path: Path, fps: float) -> None:
    """The frame rate of the sequence ``path`` for this process (the pipeline sets ``--fps``)."""
    _fps[os.path.abspath(path)] = fps_fraction(fps)


@dataclass(frozen=True)
class Sequence:
    """A folder's numbered frames, or a pattern's, in frame-number order."""

    source: Path  # the folder or the pattern, as given
    pattern: str  # the frames' names as a printf pattern (scan_%06d.tif), for messages
    files: tuple[Path, ...]
    numbers: tuple[int, ...]
    fps: Fraction
    ignored: tuple[str, ...] = ()  # image files in the folder without a frame number

    @property
    def time_base(self) -> Fraction:
        return 1 / self.fps

    @property
    def folder(self) -> Path:
        return self.files[0].parent

    def gaps(self) -> list[tuple[int, int]]:
        """Runs (first, last) of frame numbers absent between the first frame and the last."""
        return [(a + 1, b - 1) for a, b in itertools.pairwise(self.numbers) if b > a + 1]

    def info(self) -> VideoInfo:
        """The sequence as a video: size and colour coding of its first readable frame, 1/fps time
        base. ``path`` is the first frame's file (FFmpeg opens it: no audio, no tags to copy)."""
        first, path, why = None, self.files[0], ""
        for path in self.files:
            try:
                first = read_frame(path)
                break
            except BadInputError as e:
                why = why or str(e)
                continue
        if first is None:
            raise BadInputError(f"{self.source}: none of its {len(self.files)} frames is a readable image ({why})")
        span = self.numbers[-1] - self.numbers[0] + 1
        return VideoInfo(
            path=path,
            width=first.width,
            height=first.height,
            time_base=self.time_base,
            rate=self.fps,
            frames=len(self.files),
            duration=float(span / self.fps),
            rotation=0,
            spec=colour_spec_for(first),
            pix_fmt=first.format.name,
            audio_streams=0,
            video_streams=1,
        )

    def frames(
        self, start: float = 0.0, duration: float | None = None, log: Log | None = None
    ) -> Iterator[av.VideoFrame]:
        """The frames within [start, start + duration) seconds, pts = frame number - first number
        (time base 1/fps). A frame file that cannot be read is left out (its time stays a gap, a
        warning names it); a frame of another size than the first ends the run (exit 2)."""
        end = start + duration if duration is not None else math.inf
        gaps = self.gaps()
        missing = sum(b - a + 1 for a, b in gaps)
        if log and self.ignored:
            more = ", ..." if len(self.ignored) > 1 else ""
            log(f"note: {self.source}: image files without a frame number ignored ({self.ignored[0]}{more})")
        if log and missing:
            log(
                f"warning: {self.source}: {missing} frame number{'s' * (missing > 1)} missing from "
                f"{self.pattern} ({_ranges(gaps)}); the timestamps follow the frame numbers, so "
                f"{'they stay gaps' if missing > 1 else 'it stays a gap'} in time"
            )
        if log and self.files and load_extras(self.files[0]).alpha is not None:  # one file read, not all
            log(f"warning: {self.source}: the frames have an alpha channel; the colorized frames have none: left out")
        size: tuple[int, int, str] | None = None
        unreadable: list[str] = []
        for number, path in zip(self.numbers, self.files, strict=True):
            pts = number - self.numbers[0]
            t = float(pts / self.fps)
            if t < start - 1e-9:
                continue
            if t >= end - 1e-9:
                break
            try:
                frame = read_frame(path)
            except BadInputError as e:
                unreadable.append(str(e))
                continue
            if size is None:
                size = (frame.width, frame.height, path.name)
            elif (frame.width, frame.height) != size[:2]:
                raise BadInputError(
                    f"{path}: {frame.width}x{frame.height}, but the sequence's frames are {size[0]}x{size[1]} "
                    f"({size[2]}); every frame of a sequence must have one size"
                )
            frame.pts, frame.time_base = pts, self.time_base
            yield frame
        if log and unreadable:
            log(
                f"warning: {len(unreadable)} frame file{'s' * (len(unreadable) > 1)} of {self.source} could not be "
                f"read: left out, {'their time stays gaps' if len(unreadable) > 1 else 'its time stays a gap'} "
                f"({unreadable[0]}{', ...' if len(unreadable) > 1 else ''})"
            )


def open_sequence(path: Path, fps: float | None = None) -> Sequence:
    """List the frames of the folder or pattern ``path``; ``fps`` defaults to the one set with
    :func:`set_fps`, else :class:`ColorizeConfig`'s. One-line errors for an empty folder, a folder
    without numbered frames or with two series, a pattern that matches nothing, a number twice."""
    rate = fps_fraction(fps) if fps is not None else _fps.get(os.path.abspath(path), fps_fraction(ColorizeConfig().fps))
    ignored: list[str] = []
    if path.is_dir():
        pattern, numbered = _folder_frames(path, ignored)
    else:
        pattern, numbered = _pattern_frames(path)
    numbered.sort()
    for (a, pa), (b, pb) in itertools.pairwise(numbered):
        if a == b:
            raise BadInputError(f"{path}: two frames have the number {a}: {pa.name!r} and {pb.name!r}")
    files, numbers = tuple(p for _n, p in numbered), tuple(n for n, _p in numbered)
    return Sequence(path, pattern, files, numbers, rate, tuple(sorted(ignored)))


def _frame_exts() -> frozenset[str]:
    return image_names() | EXTRA_FRAME_EXTS


def _folder_frames(folder: Path, unnumbered: list[str]) -> tuple[str, list[tuple[int, Path]]]:
    try:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()]
    except OSError as e:
        raise BadInputError(f"{folder}: cannot list the folder ({describe(e)})") from None
    if not entries:
        raise BadInputError(
            f"{folder}: is a directory with no files; an image sequence is a folder of numbered frames "
            "(scan_000001.tif, scan_000002.tif, ...)"
        )
    series: dict[tuple[str, str], list[tuple[int, Path, str]]] = {}
    others: list[Path] = []
    for p in entries:
        if p.suffix.lower() not in _frame_exts():
            others.append(p)  # not an image (notes, checksums, Thumbs.db, videos): not a frame
            continue
        m = NUMBERED.match(p.name)
        if m is None:
            unnumbered.append(p.name)
            continue
        series.setdefault((m[1], m[3]), []).append((int(m[2]), p, m[2]))
    if not series and any(media_kind(p).kind == "video" for p in others):  # opened only when no frames
        raise BadInputError(
            f"{folder}: is a folder of videos, not numbered image frames; colorize a folder of films with "
            f"vidcolor batch {folder} -o OUTDIR"
        )
    if not series:
        raise BadInputError(
            f"{folder}: is a directory with no numbered image frames ({len(entries)} file{'s' * (len(entries) > 1)}, "
            "none like scan_000001.tif); an image sequence is a folder of numbered frames "
            "(vidcolor batch DIR colorizes a folder of videos or photos)"
        )
    if len(series) > 1:
        listed = sorted(series.items(), key=lambda kv: -len(kv[1]))
        names = ", ".join(f"{_printf(k, v)} ({len(v)} frame{'s' * (len(v) > 1)})" for k, v in listed[:3])
        raise BadInputError(
            f"{folder}: holds {len(series)} numbered series ({names}); give one as a pattern, e.g. "
            f"{folder / _printf(*listed[0])}"
        )
    ((key, frames),) = series.items()
    return _printf(key, frames), [(n, p) for n, p, _d in frames]


def _printf(key: tuple[str, str], frames: list[tuple[int, Path, str]]) -> str:
    """A series' names as a pattern: ``%0Nd`` where every number is written with N digits."""
    widths = {len(d) for _n, _p, d in frames}
    padded = len(widths) == 1 and any(d.startswith("0") for _n, _p, d in frames)
    return f"{key[0]}%0{widths.pop()}d{key[1]}" if padded else f"{key[0]}%d{key[1]}"


def _pattern_frames(path: Path) -> tuple[str, list[tuple[int, Path]]]:
    name, folder = path.name, path.parent
    found = list(PRINTF.finditer(name))
    if len(found) != 1 or "%" in PRINTF.sub("", name) or "%" in str(folder):
        raise BadInputError(f"{path}: a frame pattern holds one %d or %0Nd (e.g. scan_%06d.tif), in the file name")
    m = found[0]
    digits = rf"\d{{{int(m[1])},}}" if m[1] else r"\d+"
    regex = re.compile(re.escape(name[: m.start()]) + f"({digits})" + re.escape(name[m.end() :]))
    if not folder.is_dir():
        raise BadInputError(f"{folder}: folder not found (for the pattern {name})")
    numbered = [
        (int(hit[1]), p) for p in folder.iterdir() if (hit := regex.fullmatch(p.name)) is not None and p.is_file()
    ]
    if not numbered:
        raise BadInputError(f"{path}: no files match this pattern")
    return name, numbered


def _ranges(runs: list[tuple[int, int]], most: int = 5) -> str:
    """``4, 7-9, 12`` (at most ``most`` runs, then how many more)."""
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:most])
    return text + (f", and {len(runs) - most} more" if len(runs) > most else "")


def read_frame(path: Path) -> av.VideoFrame:
    """One frame file as a VideoFrame at its own depth: gray (gray, gray16le) when its channels are
    equal, else rgb24/rgb48le; EXIF orientation applied (Pillow, OpenCV for 16-bit colour). What
    Pillow cannot read (DPX) is decoded by FFmpeg, in the format it decodes to."""
    try:
        rgb = load_photo(path, full_depth=True)
    except BadInputError as pillow_error:
        if media_kind(path).kind == "image":  # read, and refused (float NaN, out of range): FFmpeg would clip it
            raise
        try:
            with av.open(str(path), metadata_errors="ignore") as c:
                for frame in c.decode(video=0):
                    return frame
        except (av.error.FFmpegError, OSError, ValueError):
            pass
        raise pillow_error from None
    deep = rgb.dtype == np.uint16
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[..., 0]), format="gray16le" if deep else "gray")
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb48le" if deep else "rgb24")


# ---------------------------------------------------------------- output


@dataclass(frozen=True)
class FrameTarget:
    """Where frames go: ``folder``, named by ``pattern`` (printf, e.g. ``out_%06d.png``) or, when
    None, by the input frames' names (a sequence input) or ``frame_%06d.png`` (a video input)."""

    folder: Path
    pattern: str | None = None

    def __str__(self) -> str:
        return str(self.folder / self.pattern) if self.pattern else f"{self.folder}{os.sep}"

    @property
    def preview_base(self) -> Path:
        """The name the preview sheet is put beside: ``DIR.preview.png`` next to the folder, or
        ``out.preview.png`` in it for a pattern ``out_%06d.png``."""
        if self.pattern:
            stem = PRINTF.sub("", Path(self.pattern).stem).strip("_-. ") or "frames"
            return self.folder / f"{stem}.png"
        return self.folder.absolute()


def frame_target(output: str | Path) -> FrameTarget | None:
    """The frames output ``output`` names (ends with ``/``, an existing folder, or a printf file
    name), or None for a file output."""
    text = str(output)
    path = Path(text)
    if PRINTF.search(path.name) and not path.is_dir():
        return FrameTarget(path.parent, path.name)
    if text.endswith(("/", os.sep)) or path.is_dir():
        return FrameTarget(path)
    return None


def _writable(name: str) -> str:
    """An input frame's name for the output: kept where vidcolor writes its format, else ``.png``."""
    p = Path(name)
    return name if p.suffix.lower() in IMAGE_OUTPUTS else p.stem + ".png"


Namer = Callable[[int, int], str]


def frame_namer(target: FrameTarget, seq: Sequence | None) -> Namer:
    """name(k, pts) of the k-th frame written: a sequence's frames by their number (first + pts):
    its own file names, or the pattern with the number; a video's by the pattern with k + 1."""
    if seq is None:
        pattern = target.pattern or DEFAULT_FRAME_NAME
        return lambda k, _pts: pattern % (k + 1)
    first = seq.numbers[0]
    if target.pattern:
        pattern = target.pattern
        return lambda _k, pts: pattern % (first + pts)
    names = {n: _writable(p.name) for n, p in zip(seq.numbers, seq.files, strict=True)}
    return lambda _k, pts: names[first + pts]


def check_frame_target(input: Path, target: FrameTarget, overwrite: bool) -> None:
    """Refuse, before any work, what would lose frames: a pattern without an image extension, the
    input's own folder, frames already there (without ``overwrite``), a folder that cannot be made."""
    outputs = IMAGE_OUTPUTS
    if target.pattern is not None:
        if len(PRINTF.findall(target.pattern)) != 1 or "%" in PRINTF.sub("", target.pattern):
            raise BadInputError(f"{target}: a frame pattern holds one %d or %0Nd (e.g. out_%06d.png)")
        if Path(target.pattern).suffix.lower() not in outputs:
            raise BadInputError(f"{target}: frames are written as images; use one of {', '.join(outputs)}")
    folder = target.folder
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"{folder}: exists and is not a folder")
    where = folder if folder.is_dir() else folder.parent
    if not where.is_dir():
        raise BadInputError(f"{where}: output folder does not exist")
    if not os.access(where, os.W_OK | os.X_OK):
        raise BadInputError(f"{where}: output folder is not writable")
    seq = open_sequence(input) if is_sequence(input) else None
    if seq is not None and folder.is_dir() and folder.resolve() == seq.folder.resolve():
        raise BadInputError(f"{target}: is the input's own folder; write the frames to another folder")
    if overwrite or not folder.is_dir():
        return
    if seq is not None:
        namer = frame_namer(target, seq)
        wanted = (namer(0, n - seq.numbers[0]) for n in seq.numbers)
        clash = next((name for name in wanted if (folder / name).exists()), None)
    else:
        regex = re.compile(PRINTF.sub(r"\\d+", re.escape(target.pattern or DEFAULT_FRAME_NAME)))
        clash = next((p.name for p in sorted(folder.iterdir()) if regex.fullmatch(p.name)), None)
    if clash:
        raise BadInputError(f"{folder / clash}: already exists (pass --overwrite to replace the frames)")


def to_rgb(frame: av.VideoFrame, spec: ColourSpec) -> np.ndarray:
    """A working YUV 4:2:0 frame of ``spec`` -> HxWx3 R'G'B': uint8 for 8 bits, else uint16 (full
    16-bit scale). In numpy (chroma upsampled bilinearly): swscale's deep RGB output leaves
    rows of odd-sized frames black and maps limited-range white to 65283, not 65535."""
    import cv2

    y = plane(frame, 0).astype(np.float32)
    h, w = y.shape
    cb, cr = (cv2.resize(plane(frame, i).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) for i in (1, 2))
    k = 2.0 ** (spec.bits - 8)
    if spec.full_range:
        top = 2.0**spec.bits - 1
        y, cb, cr = y / top, (cb - 128 * k) / top, (cr - 128 * k) / top
    else:
        y, cb, cr = (y - 16 * k) / (219 * k), (cb - 128 * k) / (224 * k), (cr - 128 * k) / (224 * k)
    kr, kb = MATRICES[spec.matrix]
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    top_out, dtype = (255, np.uint8) if spec.bits == 8 else (65535, np.uint16)
    return np.clip(np.stack([r, g, b], -1) * top_out + 0.5, 0, top_out).astype(dtype)


class FrameWriter:
    """A writer for frame outputs (the pipeline's :class:`~vidcolor.film.Writer`, as
    :class:`~vidcolor.encode.VideoWriter` is): each colorized working frame becomes one image,
    written atomically, at the working depth (16-bit PNG/TIFF for a deep input; formats of 8 bits
    get 8, with a note)."""

    def __init__(self, target: FrameTarget, name_for: Namer, spec: ColourSpec, log: Log = lambda _m: None) -> None:
        self.target, self.name_for, self.spec, self.log = target, name_for, spec, log
        self.frames_written = 0
        self._noted = False

    def __enter__(self) -> FrameWriter:
        try:
            self.target.folder.mkdir(exist_ok=True)
        except OSError as e:
            raise ProcessingError(f"{self.target.folder}: cannot create the folder ({describe(e)})") from None
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, frame: av.VideoFrame) -> None:
        from vidcolor.encode import write_picture

        path = self.target.folder / self.name_for(self.frames_written, frame.pts)
        _left, reduced = write_picture(to_rgb(frame, self.spec), path)
        if reduced and not self._noted:
            fmt = IMAGE_OUTPUTS[path.suffix.lower()]
            self.log(f"note: the frames are {self.spec.bits}-bit; {fmt} holds 8 bits, so they are written at 8")
            self._noted = True
        self.frames_written += 1
