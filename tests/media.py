"""Generate small test media with PyAV and Pillow (tests make their own inputs)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def gradient_frame(w: int, h: int, t: float = 0.0, colour: bool = True) -> np.ndarray:
    """A colourful HxWx3 uint8 test picture whose content shifts with ``t``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 0.5 + 0.5 * np.sin(xx / max(w, 1) * 6.28 + t)
    g = 0.5 + 0.5 * np.cos(yy / max(h, 1) * 6.28 - t)
    b = 0.5 + 0.5 * np.sin((xx + yy) / max(w + h, 1) * 9.0 + 2 * t)
    rgb = np.stack([r, g, b], -1)
    if not colour:
        rgb = np.repeat(rgb.mean(-1, keepdims=True), 3, -1)
    return (rgb * 255).round().astype(np.uint8)


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
) -> Path:
    """Encode RGB uint8 frames into ``path``; ``pts`` (in ``time_base``) gives variable timing."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        if time_base is not None:
            stream.codec_context.time_base = time_base
        for i, arr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_image(path: Path, arr: np.ndarray) -> Path:
    Image.fromarray(arr).save(path)
    return path
