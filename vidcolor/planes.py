"""The cheap full-resolution path: keep the source's luma plane, write only new chroma planes.

Converting a full-resolution frame to float Lab and back is expensive (about 140 ms at 1080p on
2 CPU cores). Instead each frame is converted once to YUV 4:2:0 in the source's own range and bit
depth (a no-op for most films), its Y plane is kept as it is, and the model works at render size:

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
DEPTHS = (8, 10, 12, 16)  # bits a sample of the working frames (the source's, rounded up)


@dataclass(frozen=True)
class ColourSpec:
    """How the working YUV 4:2:0 frames are coded: matrix (bt601 | bt709), range (limited "tv"
    range, or full "pc" range: phones, MJPEG, many scans) and bits a sample. It is the source's,
    so the source's luma plane is kept as it is, whatever its range and depth."""

    matrix: str
    full_range: bool = False
    bits: int = 8

    @property
    def av_colorspace(self) -> Colorspace:
        return Colorspace.ITU709 if self.matrix == "bt709" else Colorspace.ITU601

    @property
    def av_range(self) -> ColorRange:
        return ColorRange.JPEG if self.full_range else ColorRange.MPEG

    @property
    def work_format(self) -> str:
        return "yuv420p" if self.bits == 8 else f"yuv420p{self.bits}le"

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        return np.uint8 if self.bits == 8 else np.uint16


def colour_spec_for(frame: av.VideoFrame) -> ColourSpec:
    """The source frame's coding. Matrix: as tagged, else the convention players use (BT.709 from
    720 lines up). Range: full when tagged so, for ``yuvj`` formats, and for gray formats that say
    nothing (FFmpeg reads those as full range); limited for RGB sources. Bits: the source's,
    rounded up to 8, 10, 12 or 16."""
    cs = int(frame.colorspace or 2)  # 2 = unspecified
    if cs == 1:
        matrix = "bt709"
    elif cs in (5, 6):  # bt470bg, smpte170m
        matrix = "bt601"
    else:
        matrix = "bt709" if frame.height >= 720 else "bt601"
    fmt = frame.format
    tagged = int(frame.color_range or 0)  # 0 unspecified, 1 limited, 2 full
    gray = fmt.name.startswith("gray") or fmt.name.startswith("ya")
    # an RGB source has no luma plane to keep: its output takes the usual limited range
    full = not fmt.is_rgb and (tagged == 2 or fmt.name.startswith("yuvj") or (gray and tagged == 0))
    bits = max((c.bits for c in fmt.components), default=8)
    return ColourSpec(matrix, full, next((d for d in DEPTHS if d >= bits), 16))


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
    """YUV 4:2:0 in ``spec`` (the source's range and depth), tagged with it; returns ``frame``
    itself when it already is. From 4:2:2, 4:4:4 or gray the luma plane is copied as it is (only chroma is
    resampled or made); RGB sources get a luma plane computed in ``spec``'s matrix."""
    if frame.format.name == spec.work_format and colour_spec_for(frame) == spec:
        return tag(frame, spec)  # an untagged HD frame is read as BT.709 (as players do), not swscale's 601
    out = frame.reformat(
        format=spec.work_format,
        dst_colorspace=spec.av_colorspace,
        src_color_range=colour_spec_for(frame).av_range,
        dst_color_range=spec.av_range,
        interpolation=Interpolation.BICUBIC,
    )
    tag(out, spec)
    return out


def tag(frame: av.VideoFrame, spec: ColourSpec) -> av.VideoFrame:
    """Label ``frame`` with ``spec``'s matrix and range (how swscale and encoders will read it)."""
    frame.color_range = int(spec.av_range)
    frame.colorspace = int(spec.av_colorspace)
    return frame


def small_rgb(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """The frame resized to ``size`` (w, h) as HxWx3 uint8 sRGB (swscale, area averaging)."""
    w, h = size
    return frame.to_ndarray(format="rgb24", width=w, height=h, interpolation=Interpolation.AREA)


def rgb_to_cbcr(rgb: torch.Tensor, spec: ColourSpec) -> torch.Tensor:
    """sRGB (N,3,h,w) in [0,1] -> chroma (N,2,h,w) as float code values of ``spec``: limited 8-bit
    range is [16, 240] around 128, full range [0, 255]; b bits scale by 2**(b-8) (H.273)."""
    kr, kb = MATRICES[spec.matrix]
    r, g, b = rgb.unbind(1)
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb = (b - y) / (2 * (1 - kb))
    cr = (r - y) / (2 * (1 - kr))
    k = 2.0 ** (spec.bits - 8)
    if spec.full_range:
        top = 2.0**spec.bits - 1
        return (128.0 * k + top * torch.stack([cb, cr], 1)).clamp(0.0, top)
    return (128.0 * k + 224.0 * k * torch.stack([cb, cr], 1)).clamp(16.0 * k, 240.0 * k)


def upsample_chroma(cbcr: torch.Tensor, width: int, height: int, bits: int = 8) -> torch.Tensor:
    """(N,2,h,w) chroma at render size -> integer (N,2,ceil(H/2),ceil(W/2)) 4:2:0 chroma planes:
    uint8 for 8 bits, else int32 holding ``bits``-bit values (see :func:`write_chroma`)."""
    size = ((height + 1) // 2, (width + 1) // 2)
    up = F.interpolate(cbcr, size=size, mode="bilinear", align_corners=False, antialias=cbcr.shape[-1] > size[1])
    up = up.round().clamp(0, 2**bits - 1)
    return up.to(torch.uint8) if bits == 8 else up.to(torch.int32)


def plane(frame: av.VideoFrame, i: int) -> np.ndarray:
    """A writable (h, w) view of plane ``i`` (uint8, or uint16 for more than 8 bits a sample)."""
    p = frame.planes[i]
    dtype = np.uint16 if frame.format.components[0].bits > 8 else np.uint8
    view = np.frombuffer(memoryview(p), dtype).reshape(-1, p.line_size // np.dtype(dtype).itemsize)
    return view[: p.height, : p.width]


def write_chroma(frame: av.VideoFrame, uv: np.ndarray) -> av.VideoFrame:
    """Write chroma planes ``uv`` (2, ch, cw) into a planar YUV 4:2:0 ``frame`` in place (its
    depth: values are cast to the plane's type); luma untouched."""
    frame.make_writable()
    for i in (1, 2):
        view = plane(frame, i)
        view[:] = uv[i - 1]
    return frame


def with_chroma(frame: av.VideoFrame, uv: np.ndarray) -> av.VideoFrame:
    """A copy of a working frame with other chroma planes (for a preview column); tags kept."""
    copy = av.VideoFrame(frame.width, frame.height, frame.format.name)
    plane(copy, 0)[:] = plane(frame, 0)
    copy.color_range, copy.colorspace = frame.color_range, frame.colorspace
    return write_chroma(copy, uv)


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane of a planar YUV frame as an (H, W) array (a copy; uint16 above 8 bits)."""
    return plane(frame, 0).copy()


def pad_even(frame: av.VideoFrame) -> av.VideoFrame:
    """A 4:2:0 frame of odd width or height, padded to even by repeating its last column / row
    (its chroma planes already cover the padded size); the picture itself is copied unchanged."""
    w, h = frame.width + frame.width % 2, frame.height + frame.height % 2
    out = av.VideoFrame(w, h, frame.format.name)
    y = plane(out, 0)
    y[: frame.height, : frame.width] = plane(frame, 0)
    y[: frame.height, frame.width :] = y[: frame.height, frame.width - 1 : frame.width]
    y[frame.height :] = y[frame.height - 1 : frame.height]
    for i in (1, 2):
        plane(out, i)[:] = plane(frame, i)
    out.pts, out.time_base = frame.pts, frame.time_base
    out.color_range, out.colorspace = frame.color_range, frame.colorspace
    return out


def field(frame: av.VideoFrame, parity: int) -> av.VideoFrame:
    """One field of an interlaced 4:2:0 frame as a half-height frame: its lines ``parity``,
    ``parity`` + 2, ... of every plane (interlaced 4:2:0 chroma lines alternate fields too)."""
    rows = lambda a: a[parity::2]  # noqa: E731
    h = rows(plane(frame, 0)).shape[0]
    out = av.VideoFrame(frame.width, h, frame.format.name)
    for i in range(3):
        src = rows(plane(frame, i))
        plane(out, i)[: src.shape[0]] = src
    out.color_range, out.colorspace = frame.color_range, frame.colorspace
    return out


def weave_chroma(uv: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Interleave two fields' chroma planes (2, rows, w) into ``uv`` (2, ch, w): ``first`` on
    the even rows (the top field), ``second`` on the odd rows."""
    uv[:, 0::2] = first[:, : uv[:, 0::2].shape[1]]
    uv[:, 1::2] = second[:, : uv[:, 1::2].shape[1]]
    return uv
