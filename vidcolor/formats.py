"""File formats: every extension, container and codec table vidcolor uses, in one place.

Names decide nothing about what an *input* is (:func:`vidcolor.decode.media_kind` opens it); these
tables say what vidcolor *writes* (outputs by extension), which names a damaged file is still
recognised as a video by, and which audio and subtitle codecs each output container takes as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# names that make a file that does not open a damaged video, not some other file
VIDEO_EXTS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".wmv", ".flv"}
    | {".ogv", ".3gp", ".dv", ".mxf"}
    | {".vob", ".vro", ".m2v", ".m2p", ".divx", ".asf", ".ogm", ".rm", ".rmvb", ".f4v", ".3g2", ".y4m"}  # DVDs, old files
)  # fmt: skip

# image outputs by extension -> Pillow's format name
IMAGE_OUTPUTS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}

DEEP_IMAGE_FORMATS = {"PNG": ".png", "TIFF": ".tiff"}  # image formats written at 16 bits a sample

ALPHA_IMAGE_FORMATS = frozenset({"PNG", "TIFF", "WEBP"})  # formats written with an alpha channel

ICC_IMAGE_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "WEBP"})  # formats written with an ICC profile, at 8 bits;
# at 16 bits only PNG (OpenCV writes those files and embeds no profile; a PNG chunk is added to its bytes)

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}

DEFAULT_CODEC = {"mp4": "libx264", "mov": "libx264", "matroska": "libx264", "webm": "libvpx-vp9"}

FALLBACK_AUDIO = {"webm": "libopus"}

# What each container is known to take as a stream copy (FFmpeg's `supported_codecs` is optimistic:
# it lists FLAC for MOV, whose header then fails to write). Matroska takes anything.
COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "alac", "flac", "opus"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_f32le"},
    "webm": {"opus", "vorbis"},
}

COPYABLE_SUBTITLES = {
    "mp4": {"mov_text"},
    "mov": {"mov_text"},
    "webm": {"webvtt"},
    "matroska": {"subrip", "srt", "ass", "ssa", "webvtt", "dvd_subtitle", "hdmv_pgs_subtitle", "dvb_subtitle"},
}


# ---------------------------------------------------------------- numbered frames

NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")  # a file name's last run of digits: prefix, number, rest
SEQUENCE_FRAMES = 24  # a folder with this many numbered images of one series looks like a film's frames


def frame_series(images: Iterable[Path], min_frames: int = SEQUENCE_FRAMES) -> dict[Path, tuple[str, list[Path]]]:
    """Folders among ``images`` (still-image files) that hold a film's frames: folder -> (printf
    pattern, files in frame-number order) of its largest numbered series, for series of at least
    ``min_frames`` files (``scan_000001.tif`` ... : a scanner's or a tracker's frames)."""
    series: dict[tuple[Path, str, str, int], list[tuple[int, Path]]] = {}
    for path in images:
        m = NUMBERED.match(path.name)
        if m:
            series.setdefault((path.parent, m[1], m[3], len(m[2])), []).append((int(m[2]), path))
    found: dict[Path, tuple[str, list[Path]]] = {}
    for (folder, prefix, rest, digits), frames in sorted(series.items(), key=lambda kv: -len(kv[1])):
        if len(frames) >= min_frames and folder not in found:
            found[folder] = (f"{prefix}%0{digits}d{rest}", [p for _, p in sorted(frames)])
    return found
