"""The settings that decide what a colorized output looks like: one home for their defaults.

Torch-free on purpose: the command line takes its option defaults from these dataclasses at
import time (``vidcolor --help`` stays fast), and every output records them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidcolor.device import PRECISIONS
from vidcolor.errors import BadInputError

# what --interlaced takes (see vidcolor.interlace): auto deinterlaces what is interlaced, keep
# colours each field, ivtc undoes 3:2 pulldown, off takes the frames as they are
INTERLACED_MODES = ("auto", "deinterlace", "keep", "ivtc", "off")


@dataclass(frozen=True)
class EncodeSettings:
    codec: str | None = None  # None: the container's default (H.264, VP9 for WebM)
    crf: int = 18  # 0 = lossless where the codec has a lossless mode (x264, x265, VP9)
    preset: str = "fast"
    exact_size: bool = False  # odd sizes: keep them with 4:4:4 H.264/H.265 (few browsers play it) instead of padding
    pix_fmt: str | None = (
        None  # None: the source's range/depth in 4:2:0 where the codec takes it (see encode.output_format)
    )

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 63:
            raise BadInputError(f"--crf must be in 0..63, got {self.crf}")


@dataclass(frozen=True)
class ColorizeConfig:
    """Everything that decides what a colorized output looks like; saved into every output."""

    model: str | None = None  # weights file; None = the bundled default model
    render_size: int = (
        192  # short side the model sees, px (rounded to the model's multiple; 192 by the sweep in RESULTS.md)
    )
    batch_size: int = 8
    smoothing: float = (
        0.9  # temporal smoothing of colour, 0 = off (0.9 chosen by the sweep in train/recipes/RESULTS.md)
    )
    strength: float = 1.0  # multiplies ab (saturation)
    start: float = 0.0
    duration: float | None = None
    preview: int = 0  # frames in a preview sheet written beside the output (0 = none)
    engine: str = "auto"  # a registered engine name, or auto (see engines.auto_choices)
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    device: str = "auto"
    interlaced: str = "auto"  # one of INTERLACED_MODES
    fps: float = 24.0  # frame rate of an image sequence input (numbered frames have none; film scans are 24)
    encode: EncodeSettings = field(default_factory=EncodeSettings)

    def __post_init__(self) -> None:
        checks = {
            "render_size": self.render_size >= 16,
            "batch_size": self.batch_size >= 1,
            "smoothing": 0.0 <= self.smoothing <= 1.0,
            "strength": 0.0 <= self.strength <= 4.0,
            "start": self.start >= 0,
            "duration": self.duration is None or self.duration > 0,
            "preview": self.preview >= 0,
            "precision": self.precision == "auto" or self.precision in PRECISIONS,
            "interlaced": self.interlaced in INTERLACED_MODES,
            "fps": 0 < self.fps <= 1000,
        }
        for name, ok in checks.items():
            if not ok:
                raise BadInputError(f"invalid option --{name.replace('_', '-')} {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def public(self) -> dict[str, Any]:
        """The settings as written into outputs: the model by its file name (its digest is in the
        model id beside it), never a folder of the machine that made the file."""
        return {**self.to_dict(), "model": Path(self.model).name if self.model else None}


@dataclass(frozen=True)
class SegmentSettings:
    """How a film is cut for resuming and for many workers (:mod:`vidcolor.segments`). Not part of
    ColorizeConfig: it decides where work restarts, not what the output looks like."""

    segment_seconds: float = 30.0  # segments are cut at the first keyframe after every ~N seconds
    batch_min_seconds: float = 60.0  # `vidcolor batch` colorizes films at least this long in segments

    def __post_init__(self) -> None:
        if not self.segment_seconds > 0:
            raise BadInputError(f"--segment-seconds must be > 0, got {self.segment_seconds}")
