"""File formats: every extension, container and codec table vidcolor uses, in one place.

Names decide nothing about what an *input* is (:func:`vidcolor.decode.media_kind` opens it); these
tables say what vidcolor *writes* (outputs by extension), which names a damaged file is still
recognised as a video by, and which audio and subtitle codecs each output container takes as they are.
"""

from __future__ import annotations

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
