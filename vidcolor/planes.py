"""The cheap full-resolution path: keep the source's luma plane, write only new chroma planes.

Converting a full-resolution frame to float Lab and back is expensive (about 140 ms at 1080p on
2 CPU cores). Instead each frame is converted once to 8-bit YUV 4:2:0 (a no-op for most films),
its Y plane is kept byte for byte, and the model works at render size:

    frame --swscale--> small RGB (render size) --kornia--> L --engine--> ab
    (L, ab) --> small RGB --matrix--> Cb, Cr --bilinear--> chroma planes (W/2 x H/2) --> frame

so luma detail is never re-rendered from the low-resolution model input, and full-resolution work
is a resize of two quarter-size planes.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
import torch
import torch.nn.functional as F
from av.video.reformatter import ColorRange, Colorspace, Interpolation

# Luma coefficients (Kr, Kb) of the two matrices video uses in practice.
MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}
WORK_FORMAT = "yuv420p"


@dataclass(frozen=True)
class ColourSpec:
    """How output YUV is to be read: matrix (bt601|bt709) and range (limited "tv" range)."""

    matrix: str

    @property
    def av_colorspace(self) -> Colorspace:
        return Colorspace.ITU709 if self.matrix == "bt709" else Colorspace.ITU601


def colour_spec_for(frame: av.VideoFrame) -> ColourSpec:
    """The source's matrix when tagged, else the convention players use: BT.709 from 720 lines up."""
    cs = int(frame.colorspace or 2)  # 2 = unspecified
    if cs == 1:
        return ColourSpec("bt709")
    if cs in (5, 6):  # bt470bg, smpte170m
        return ColourSpec("bt601")
    return ColourSpec("bt709" if frame.height >= 720 else "bt601")


def render_size(width: int, height: int, short_side: int, multiple: int) -> tuple[int, int]:
    """(w, h) for the model: short side ``short_side``, aspect kept, both rounded to ``multiple``.

    Never upscales beyond the frame's own size rounded up to ``multiple``.
    """
    short = min(short_side, min(width, height))
    scale = short / min(width, height)

    def rnd(x: float) -> int:
        return max(multiple, round(x / multiple) * multiple)

    return rnd(width * scale), rnd(height * scale)


def to_work_frame(frame: av.VideoFrame, spec: ColourSpec) -> av.VideoFrame:
    """8-bit limited-range YUV 4:2:0 in ``spec``'s matrix; returns ``frame`` itself when it already is."""
    if frame.format.name == WORK_FORMAT and colour_spec_for(frame) == spec and int(frame.color_range) != 2:
        return frame
    return frame.reformat(
        format=WORK_FORMAT,
        dst_colorspace=spec.av_colorspace,
        dst_color_range=ColorRange.MPEG,
        interpolation=Interpolation.BICUBIC,
    )


def small_rgb(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """The frame resized to ``size`` (w, h) as HxWx3 uint8 sRGB (swscale, area averaging)."""
    w, h = size
    return frame.to_ndarray(format="rgb24", width=w, height=h, interpolation=Interpolation.AREA)


def rgb_to_cbcr(rgb: torch.Tensor, spec: ColourSpec) -> torch.Tensor:
    """sRGB (N,3,h,w) in [0,1] -> 8-bit limited-range chroma (N,2,h,w), float in [16, 240]."""
    kr, kb = MATRICES[spec.matrix]
    r, g, b = rgb.unbind(1)
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb = (b - y) / (2 * (1 - kb))
    cr = (r - y) / (2 * (1 - kr))
    return (128.0 + 224.0 * torch.stack([cb, cr], 1)).clamp(16.0, 240.0)


def upsample_chroma(cbcr: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """(N,2,h,w) chroma at render size -> uint8 (N,2,ceil(H/2),ceil(W/2)) 4:2:0 chroma planes."""
    size = ((height + 1) // 2, (width + 1) // 2)
    up = F.interpolate(cbcr, size=size, mode="bilinear", align_corners=False, antialias=cbcr.shape[-1] > size[1])
    return up.round().clamp(0, 255).to(torch.uint8)


def write_chroma(frame: av.VideoFrame, uv: np.ndarray) -> av.VideoFrame:
    """Write chroma planes ``uv`` (2, ch, cw) uint8 into a yuv420p ``frame`` in place; luma untouched."""
    frame.make_writable()
    for i in (1, 2):
        plane = frame.planes[i]
        view = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        view[: plane.height, : plane.width] = uv[i - 1]
    return frame


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane of a yuv420p frame as an (H, W) uint8 array (a copy)."""
    plane = frame.planes[0]
    return np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[: plane.height, : plane.width].copy()
