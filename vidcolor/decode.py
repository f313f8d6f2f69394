"""Decoding: probe an input, then stream its video frames (PyAV, FFmpeg threads).

Frames are yielded one at a time, so memory does not depend on the film's length. ``start`` and
``duration`` (seconds, counted from the film's first frame whatever its timestamp) select a segment:
the demuxer seeks to a key frame well before ``start`` and frames before it are decoded and dropped.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import math
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from vidcolor.errors import BadInputError, describe
from vidcolor.formats import VIDEO_EXTS
from vidcolor.planes import ColourSpec, colour_spec_for

# Names that say "this was meant to be a video": such a file that does not open is damaged (a failure to
# report), where another unreadable file is no media at all. Names decide nothing else: what a file is,
# is decided by opening it (media_kind); the names of still images come from Pillow's own registry.


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
    spec: ColourSpec  # the source's YUV coding: matrix, range, bits (tagged or by convention)
    pix_fmt: str
    audio_streams: int
    video_streams: int
    start_time: float = 0.0  # seconds of the first frame on the file's clock (user times count from it)
    primaries: int = 2  # colour primaries and transfer tags of the source (H.273 codes; 2 = unspecified)
    transfer: int = 2
    sar: Fraction | None = None  # sample (pixel) aspect ratio when not square: 32/27 on a 16:9 NTSC DVD

    @property
    def display_width(self) -> int:
        """The width the picture is shown at (pixels stretched by the sample aspect ratio)."""
        return max(1, round(self.width * self.sar)) if self.sar else self.width

    @property
    def display_aspect(self) -> float:
        """Width / height of the picture as shown: 16/9 for a 16:9 DVD's 720x480 frames."""
        return self.width * float(self.sar or 1) / self.height

    @property
    def matrix(self) -> str:
        return self.spec.matrix

    def expected_frames(self, start: float = 0.0, duration: float | None = None) -> int:
        """Best estimate of the frames in [start, start + duration) for progress bars and previews."""
        if not self.duration or not self.frames:
            return self.frames
        span = max(0.0, min(self.duration, start + (duration or math.inf)) - start)
        return max(1, round(self.frames * span / self.duration))


class Media(NamedTuple):
    """What :func:`media_kind` found: ``kind`` is image | video | damaged | other; ``why`` says what
    failed, for damaged and other files."""

    kind: str
    why: str = ""


def media_kind(path: Path) -> Media:
    """What an input is, decided by opening it (its name decides nothing); every command asks this.

    * ``image``: Pillow opens it and finds pixels it can decode: every still format Pillow reads
      (JPEG, PNG, TIFF, WebP, GIF, BMP, PGM/PPM, TGA, JPEG 2000, ...), at any bit depth; and a
      floating-point TIFF Pillow has no mode for (RGB, 16-bit floats: FFmpeg decodes those). A file of
      several frames is an image too (its first frame: a multi-page TIFF, an animated WebP), unless
      FFmpeg decodes more than one frame of it: an animated GIF or APNG is a ``video`` (colorized
      frame by frame, or a preview sheet for an image output), as FFmpeg plays it.
    * ``video``: FFmpeg (PyAV) opens it and finds a video stream with a frame size (a picture format
      only FFmpeg reads, e.g. DPX or EXR, is a one-frame video).
    * ``damaged``: Pillow recognises the file's header but cannot read its data, or nothing opens a
      file named like media (a video extension, or one Pillow registers); ``why`` says what failed.
    * ``other``: anything else (text, audio, subtitles): not an input.

    Never raises for what the file holds.
    """
    if not path.is_file():
        return Media("other", "not a file")
    image_error = ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's about damaged metadata: the verdict says what matters
            with Image.open(path) as im:
                animated = getattr(im, "is_animated", False)
                if im.tile:
                    im.verify()  # the checksums of formats that have them (PNG)
                else:
                    im.load()  # decoded outside Pillow's tiles (WebP); no pixels at all (an MPEG stream) raises
        return Media("video" if animated and _several_frames(path) else "image")
    except UnidentifiedImageError:
        if _tiff_float_bits(path):  # RGB or 16-bit floats: Pillow has no mode for them, FFmpeg decodes them
            return Media("image")
    except Exception as e:  # a format Pillow knows, with data it cannot read
        image_error = f"not a readable image ({describe(e)})"
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            known = [s for s in c.streams.video if s.codec_context is not None]
            text = c.format.name == "tty"  # FFmpeg draws a text file as ANSI art
            one_picture = c.format.name == "image2" or c.format.name.endswith("_pipe")
            if not text and any(s.codec_context.width for s in known) and not (image_error and one_picture):
                return Media("video")
            why = image_error or (
                "a text file, not a video"
                if text
                else "no video stream (audio-only or data file)"
                if not c.streams.video
                else "the video stream's codec is unknown (damaged header?)"
                if not known
                else "the video stream has no frame size (damaged header?)"
            )
    except Exception as e:  # FFmpeg errors, and OS errors reading the file
        why = image_error or f"not a readable video ({describe(e)})"
    if image_error or path.suffix.lower() in VIDEO_EXTS or path.suffix.lower() in image_names():
        return Media("damaged", why)
    return Media("other", why)


def _several_frames(path: Path) -> bool:
    """Whether FFmpeg decodes more than one frame of ``path`` (an animated GIF or APNG does)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            decoded = (1 for s in c.streams.video[:1] for _ in c.decode(s))
            return sum(1 for _, _n in zip(range(2), decoded, strict=False)) == 2
    except Exception:  # not FFmpeg's (an animated WebP): Pillow's first frame is the picture
        return False


@functools.cache
def image_names() -> frozenset[str]:
    """Extensions of the still formats Pillow can read. Video names are not among them: Pillow's
    MPEG plugin claims .mpg and .mpeg but reads only a header, no pixels."""
    Image.init()
    names = (ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)
    return frozenset(names) - VIDEO_EXTS


def is_image(path: Path) -> bool:
    """Whether ``path`` goes through the photo path (see :func:`media_kind`)."""
    return media_kind(path).kind == "image"


def load_photo(path: Path, full_depth: bool = False) -> np.ndarray:
    """A still image file as HxWx3 RGB with its EXIF orientation applied: uint8, or with
    ``full_depth`` uint16 when the file holds more than 8 bits a sample (16-bit PNG, TIFF, PGM/PPM,
    JPEG 2000 scans, 32-bit integer and floating-point TIFFs). Without ``full_depth`` a deep file is
    scaled to 8 bits, never clipped.

    Pillow reads it; 16-bit colour, which Pillow reduces to 8 bits on loading, is read with OpenCV,
    floating-point RGB with FFmpeg. Samples are scaled by their type's range: 0-65535, 0-2**32-1,
    and 0.0-1.0 for floats (the convention; NaN, or floats clearly outside it, are refused)."""
    check_input(path)
    try:
        with Image.open(path) as im:
            deep = _deep_pixels(path, im) if _more_than_8_bits(im) else None
            if deep is None:
                return np.array(ImageOps.exif_transpose(im).convert("RGB"))
    except UnidentifiedImageError as e:
        if not _tiff_float_bits(path):
            raise BadInputError(f"{path}: not a readable image ({describe(e)})") from None
        deep = _ffmpeg_float_tiff(path)
    except (OSError, Image.DecompressionBombError, SyntaxError, ValueError, EOFError) as e:
        raise BadInputError(f"{path}: not a readable image ({describe(e)})") from None
    return deep if full_depth else to_8bit(deep)


@dataclass(frozen=True)
class StillExtras:
    """What a still holds beside its colour, to carry into the colorized file unchanged."""

    alpha: np.ndarray | None = None  # HxW, uint8 or (a file of more than 8 bits a sample) uint16, oriented
    icc: bytes | None = None  # the embedded ICC profile: the pixels' colour space, which colorizing keeps


def load_extras(path: Path) -> StillExtras:
    """The alpha channel (or a palette's or tRNS transparency, as alpha) and ICC profile of a still
    that :func:`load_photo` reads; empty where it has none or they cannot be read."""
    try:
        with Image.open(path) as im:
            icc = im.info.get("icc_profile") or None
            if "A" not in im.getbands() and "transparency" not in im.info:
                return StillExtras(None, icc)
            if _more_than_8_bits(im) and not im.mode.startswith("I"):
                alpha = _deep_alpha(path, im)
                if alpha is not None:
                    return StillExtras(alpha, icc)
            return StillExtras(np.array(ImageOps.exif_transpose(im).convert("RGBA").getchannel("A")), icc)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError, EOFError):
        return StillExtras()


def _deep_alpha(path: Path, im: Image.Image) -> np.ndarray | None:
    """The 16-bit alpha of a 16-bit gray+alpha or RGBA file (Pillow reduces it to 8 bits), oriented."""
    import cv2

    arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (2, 4):
        return None
    return np.ascontiguousarray(orient(arr[..., -1], im.getexif().get(ExifTags.Base.Orientation, 1)))


def to_8bit(a: np.ndarray) -> np.ndarray:
    """uint16 -> uint8, rounded (65535 -> 255); uint8 is returned as it is."""
    return a if a.dtype == np.uint8 else ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _more_than_8_bits(im: Image.Image) -> bool:
    """From the header: 16-bit gray (modes I;16*, and I from PGM), or a tile of 16-bit samples
    (PNG "RGB;16B", TIFF "RGB;16N") or of a PPM whose maximum value is above 255."""
    if im.mode.startswith("I") or im.mode == "F":  # F: 32-bit floats
        return True
    for tile in im.tile:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        if any(isinstance(a, str) and ";16" in a for a in args):
            return True
        if tile.codec_name == "ppm" and isinstance(args[-1], int) and args[-1] > 255:
            return True
    return False


def _deep_pixels(path: Path, im: Image.Image) -> np.ndarray | None:
    """HxWx3 uint16 of a file with more than 8 bits a sample, EXIF orientation applied; None when
    it cannot be had at that depth (then Pillow's 8 bits are used)."""
    if im.mode.startswith("I") or im.mode == "F":  # gray: Pillow keeps every bit
        rawmode = _rawmode(im)  # before loading, which empties the tile list
        gray = _gray_to_16bit(np.array(ImageOps.exif_transpose(im)), rawmode, path)
        return np.repeat(gray[..., None], 3, -1)
    import cv2

    arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)  # BGR(A) or gray(+alpha)
    if arr is None or arr.dtype != np.uint16:
        return None
    arr = arr.reshape(*arr.shape[:2], -1)
    rgb = arr[..., 2::-1] if arr.shape[2] >= 3 else np.repeat(arr[..., :1], 3, -1)  # alpha dropped
    return np.ascontiguousarray(orient(rgb, im.getexif().get(ExifTags.Base.Orientation, 1)))


FLOAT_SLACK = 0.01  # floats from filters over- and undershoot 0-1 a little: clipped; further is another scale


def _rawmode(im: Image.Image) -> str:
    """The sample layout of the file's first tile as Pillow names it ("I;16B", "I;32S", "F;32F")."""
    args = im.tile[0].args if im.tile else ()
    args = args if isinstance(args, tuple) else (args,)
    return next((a for a in args if isinstance(a, str)), "")


def _gray_to_16bit(a: np.ndarray, rawmode: str, path: Path) -> np.ndarray:
    """Pillow's gray samples (mode I: int32, F: float32) -> uint16, scaled by the file's range.

    32-bit integers span their type (unsigned ones arrive wrapped into int32); anything else in
    mode I is 16 bits or fewer, kept as it is."""
    if a.dtype.kind == "f":
        return float_to_16bit(a, path)
    if ";32" in rawmode:
        if rawmode.endswith("S"):  # signed: 0 .. 2**31-1 (negatives are below black)
            return np.round(np.clip(a, 0, None) / (2**31 - 1) * 65535).astype(np.uint16)
        return np.round(a.view(np.uint32) / (2**32 - 1) * 65535).astype(np.uint16)
    return np.clip(a, 0, 65535).astype(np.uint16)


def float_to_16bit(a: np.ndarray, path: Path) -> np.ndarray:
    """Floating-point samples, 0.0 black to 1.0 white (the convention of float images) -> uint16.
    NaN or infinite samples, or a range clearly outside 0-1 (HDR, 0-255 floats), are refused: no
    scale guessed from the picture's own range would be right for every file."""
    bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
    if bad:
        raise BadInputError(f"{path}: {bad} floating-point samples are NaN or infinite; not an image to colorize")
    lo, hi = float(a.min()), float(a.max())
    if lo < -FLOAT_SLACK or hi > 1 + FLOAT_SLACK:
        raise BadInputError(
            f"{path}: floating-point samples run from {lo:g} to {hi:g}; vidcolor reads float images as "
            "0.0 (black) to 1.0 (white): scale it to 0-1 or save it as 16-bit integers"
        )
    return np.round(np.clip(a.astype(np.float32), 0.0, 1.0) * 65535).astype(np.uint16)


def _tiff_float_bits(path: Path) -> int:
    """Bits of a TIFF's floating-point samples (SampleFormat 3), from its header; 0 for integer
    samples and for any other file."""
    from PIL import TiffImagePlugin

    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if head[:4] not in (b"II*\x00", b"MM\x00*"):
                return 0
            ifd = TiffImagePlugin.ImageFileDirectory_v2(head)
            f.seek(ifd.next)
            ifd.load(f)
    except Exception:  # a damaged header: not a float TIFF this can tell
        return 0
    fmt, bits = ifd.get(339, (1,)), ifd.get(258, (1,))
    fmt, bits = (v if isinstance(v, tuple) else (v,) for v in (fmt, bits))
    return int(bits[0]) if fmt[0] == 3 else 0


def _ffmpeg_float_tiff(path: Path) -> np.ndarray:
    """HxWx3 uint16 of a floating-point TIFF Pillow cannot open (RGB floats, 16-bit floats),
    decoded by FFmpeg. FFmpeg gives 32-bit floats as floats, but 16-bit ones as their raw bits in a
    16-bit integer format: those are read back as half floats (the range check catches a decoder
    that converts them instead)."""
    bits = _tiff_float_bits(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            frame = next(c.decode(video=0))
    except (av.error.FFmpegError, OSError, StopIteration) as e:
        raise BadInputError(f"{path}: a {bits}-bit floating-point TIFF FFmpeg cannot decode ({describe(e)})") from None
    a = frame.to_ndarray()
    name = frame.format.name
    if name in ("rgbf32le", "rgbaf32le", "grayf32le") or (bits == 16 and name in ("gray16le", "rgb48le", "rgba64le")):
        a = a if a.dtype.kind == "f" else a.view(np.float16)
    else:
        raise BadInputError(f"{path}: a {bits}-bit floating-point TIFF decoded as {name}, which vidcolor cannot read")
    a = a.reshape(*a.shape[:2], -1)
    rgb = a[..., :3] if a.shape[2] >= 3 else np.repeat(a[..., :1], 3, -1)  # alpha dropped
    return float_to_16bit(np.ascontiguousarray(rgb), path)


_ORIENT = {  # EXIF orientation -> the array as displayed (ImageOps.exif_transpose for any dtype)
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: a.swapaxes(0, 1)[:, ::-1],
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: a.swapaxes(0, 1)[::-1],
}


def orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """``a`` (H x W x ...) turned as EXIF ``orientation`` (1-8) says it is displayed."""
    return _ORIENT.get(orientation, lambda a: a)(a)


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
    """Read a video file's header: size, timing and streams, without decoding the film (its first
    frame only). :func:`vidcolor.source.probe` also takes a sequence of numbered image frames."""
    with _open(path) as container:
        stream = video_stream(container, path)
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
        spec = colour_spec_for(first) if first is not None else ColourSpec("bt709" if cc.height >= 720 else "bt601")
        return VideoInfo(
            path=path,
            width=cc.width,
            height=cc.height,
            time_base=stream.time_base or Fraction(1, 90000),
            rate=Fraction(rate) if rate else None,
            frames=int(frames),
            duration=duration,
            rotation=rotation,
            spec=spec,
            pix_fmt=cc.format.name if cc.format else "unknown",
            audio_streams=len(container.streams.audio),
            video_streams=len(container.streams.video),
            start_time=film_start(stream, first),
            primaries=int(first.color_primaries or 2) if first is not None else 2,
            transfer=int(first.color_trc or 2) if first is not None else 2,
            sar=sample_aspect(cc.sample_aspect_ratio or stream.sample_aspect_ratio),
        )


def sample_aspect(sar: Fraction | None) -> Fraction | None:
    """A stream's sample aspect ratio as VideoInfo keeps it: None when square or unknown (0/1, absurd)."""
    if not sar or sar.numerator <= 0 or sar.denominator <= 0 or sar == 1 or not 0.1 <= sar <= 10:
        return None
    return Fraction(sar)


def video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The first video stream whose codec FFmpeg knows (a damaged header can leave a stream with
    no codec at all; it is passed over, and without any other one the file is refused)."""
    if not container.streams.video:
        raise BadInputError(f"{path}: no video stream (audio-only or data file)")
    for stream in container.streams.video:
        if stream.codec_context is not None:
            return stream
    raise BadInputError(f"{path}: the video stream's codec is unknown (damaged header?)")


def header_frames(path: Path) -> int:
    """Frames in ``path`` as its container header says (no decoding: for ETAs over many files);
    0 when it does not say or the file cannot be read."""
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            s = next((v for v in c.streams.video if v.codec_context is not None), None)
            if s is None:
                return 0
            if s.frames:
                return int(s.frames)
            seconds = float(s.duration * s.time_base) if s.duration and s.time_base else (c.duration or 0) / 1e6
            rate = s.average_rate or s.guessed_rate
            return round(seconds * float(rate)) if rate else 0
    except (av.error.FFmpegError, OSError, ValueError):
        return 0


def _first_frame(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> av.VideoFrame | None:
    """The first decodable frame: it carries the display matrix and colour tags."""
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError:
        return None
    return None


def film_start(stream: av.video.stream.VideoStream, first: av.VideoFrame | None) -> float:
    """Seconds of the film's first frame on the file's clock: what every time a user gives (--start,
    --duration, a shot's time) counts from. MPEG-PS starts at ~0.5 s, an MP4 may start anywhere
    and one with an edit list before 0: the first decoded frame says, the header's start when none
    decodes."""
    if first is not None and first.time is not None:
        return float(first.time)
    return float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0


# Seconds a window's seek aims before its start, and at least half of it the key frame it lands on
# must lie before the start, else it aims further back. Demuxers without an index (MPEG-PS, -TS)
# land late (0.5 s past a DVD's key frame was seen) and guess the timestamps of the first packets
# after a seek wrongly (0.1 s early, for a GOP): with this lead, that all happens before the window.
PREROLL = 2.0


def _window_origin(path: Path, start: float) -> tuple[float, float | None]:
    """(the film's first frame time, where to seek for frames from ``start`` on: None, from the
    beginning). A seek is checked by decoding where it lands; the film ending before it means
    ``start`` is past the end (BadInputError)."""
    with _open(path) as container:
        stream = video_stream(container, path)
        origin = film_start(stream, _first_frame(container, stream))
        target, back = origin + start, PREROLL
        while target - back > origin:
            try:
                container.seek(int((target - back) / stream.time_base), stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                return origin, None  # a file FFmpeg cannot seek in is read from its start
            landed = _first_frame(container, stream)
            if landed is None:
                raise BadInputError(f"--start {start:g}: past the end of {path}")
            if landed.time is not None and landed.time <= target - PREROLL / 2:
                return origin, target - back
            back *= 4
        return origin, None


# Frames held to put permuted timestamps back in order (see _DisplayOrder): H.264 with pyramid
# B-frames in AVI moves a timestamp 3 places; at most ~128 MB of frames are held.
REORDER_DEPTH = 8


class _DisplayOrder:
    """A decoder gives its frames in display order, but where the container stores no display
    times (AVI) the demuxer guesses them, and with B-frames (packed ones above all: DivX 5, Xvid)
    the guesses come out permuted (1, 3, 2, 5, 4, ...): the right times, in the wrong places. Each
    frame gets the earliest time among itself and the next ``depth`` frames, unless that would not
    be after the time given before (a real jump back: left as it is, for the encoder's guard).
    ``retimed`` counts the frames whose timestamp changed. Other items pass through in place."""

    def __init__(self, depth: int) -> None:
        self.depth, self.retimed = depth, 0
        self.held: deque[av.VideoFrame] = deque()
        self.stamps: list[int] = []  # the held frames' pts, sorted
        self.last: int | None = None

    def __call__(self, items: Iterator[av.VideoFrame | str | None]) -> Iterator[av.VideoFrame | str | None]:
        for item in items:
            if isinstance(item, av.VideoFrame) and item.pts is not None:
                self.held.append(item)
                bisect.insort(self.stamps, item.pts)
                yield from self._release(self.depth)
            else:  # a frame without a time, a damaged packet, the end: after everything held
                yield from self._release(0)
                yield item
        yield from self._release(0)

    def _release(self, keep: int) -> Iterator[av.VideoFrame]:
        while len(self.held) > keep:
            frame = self.held.popleft()
            pts = self.stamps[0] if self.last is None or self.stamps[0] > self.last else frame.pts
            self.stamps.remove(pts)
            if pts != frame.pts:
                frame.pts = pts
                self.retimed += 1
            self.last = pts
            yield frame


def _reorder_depth(stream: av.video.stream.VideoStream) -> int:
    size = (stream.codec_context.width or 1) * (stream.codec_context.height or 1) * 3 // 2
    return max(2, min(REORDER_DEPTH, (128 << 20) // size))


def frames(
    path: Path, start: float = 0.0, duration: float | None = None, log: Callable[[str], None] | None = None
) -> Iterator[av.VideoFrame]:
    """Yield the decoded frames of the first video stream within [start, start + duration), in
    seconds from the film's first frame (:func:`film_start`); frames keep their own timestamps.

    Damaged input is met packet by packet: a packet the decoder rejects is left out (its frame is
    missing from the output, every other frame keeps its own timestamp), and data the demuxer
    cannot read past ends the film there; ``log`` gets one warning saying which happened.
    Timestamps a demuxer guessed out of order are put back in order (:class:`_DisplayOrder`); a
    stream without any (a raw ``.264`` elementary stream) has its frames timed by their number at
    the stream's rate, so windows, shots and guidance times mean the same as in a container.
    A ``start`` past the end of the film is a BadInputError. A video file only:
    :func:`vidcolor.source.frames` also takes a sequence of numbered image frames.
    """
    origin, seek = _window_origin(path, start) if start > 0 or duration is not None else (0.0, None)
    first, end = origin + start, (origin + start + duration if duration is not None else math.inf)
    damaged, stopped, yielded, last, counted = 0, "", False, None, 0
    with _open(path) as container:
        stream = video_stream(container, path)
        untimed = Fraction(1) / Fraction(stream.average_rate or stream.guessed_rate or 25)
        stream.thread_type = "AUTO"  # frame + slice threads inside FFmpeg
        if seek is not None:
            container.seek(int(seek / stream.time_base), stream=stream, backward=True, any_frame=False)
        order = _DisplayOrder(_reorder_depth(stream))
        for decoded in order(_decoded(container.demux(stream), stream)):
            if decoded is None:
                damaged += 1
                continue
            if isinstance(decoded, str):
                stopped = decoded
                continue
            if decoded.pts is None and seek is None:  # no timestamp: its number from the start says when
                decoded.pts, decoded.time_base = counted, untimed
            counted += 1
            t = last = decoded.time if decoded.time is not None else 0.0
            if t < first - 1e-6:
                continue
            if t >= end - 1e-6:
                break
            yielded = True
            yield decoded
    if start > 0 and not yielded and not stopped and last is not None and last < first - 1e-6:
        raise BadInputError(
            f"--start {start:g}: past the end of {path} (its last frame is at about {last - origin:.2f} s)"
        )
    if log and order.retimed:
        log(
            f"note: {path}: the timestamps of {order.retimed} frames came out of order (B-frames in AVI?): put in order"
        )
    if log and damaged:
        log(
            f"warning: {path}: {damaged} damaged video packet{'s' if damaged > 1 else ''} could not be decoded: left out"
        )
    if log and stopped:
        log(f"warning: {path}: reading stopped early at damaged data ({stopped})")


def _decoded(packets: Iterator[av.Packet], stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame | str | None]:
    """Frames of ``packets``; None for a packet the decoder rejects, then (if the demuxer fails) the
    reason as a string after the frames still buffered in the decoder."""
    while True:
        try:
            packet = next(packets, None)  # demux ends with an empty packet that flushes the decoder
        except av.error.FFmpegError as e:
            with contextlib.suppress(av.error.FFmpegError):
                yield from stream.codec_context.decode(None)
            yield describe(e)
            return
        if packet is None:
            return
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            yield None
            continue
        yield from frames
