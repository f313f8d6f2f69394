"""Preview sheets: N evenly spaced frames, gray | colour (| automatic | guided) side by side, as one PNG."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from vidcolor.encode import save_image
from vidcolor.planes import luma

TILE_WIDTH = 480


def pick_indices(n: int, total: int) -> list[int]:
    """``n`` frame indices spread evenly over ``total`` frames (centres of n equal parts)."""
    if n <= 0 or total <= 0:
        return []
    return sorted({min(total - 1, int((i + 0.5) * total / n)) for i in range(n)})


def tile_size(width: int, height: int, tile_width: int = TILE_WIDTH) -> tuple[int, int]:
    """(w, h) of a sheet's tile for a frame shown at ``width`` x ``height``: at most ``tile_width`` wide."""
    w = min(tile_width, width)
    return w, max(1, round(height * w / width))


class PreviewSheet:
    """Collects (gray, colour) tiles of chosen frames while a video streams past."""

    def __init__(self, n: int, expected_frames: int, width: int, height: int, tile_width: int = TILE_WIDTH) -> None:
        self.wanted = set(pick_indices(n, expected_frames))
        self.size = tile_size(width, height, tile_width)
        self.rows: list[np.ndarray] = []

    def wants(self, first: int, end: int) -> bool:
        """Whether any frame index in [first, end) goes on the sheet."""
        return any(first <= i < end for i in self.wanted)

    def gray(self, frame: av.VideoFrame) -> np.ndarray:
        return gray_tile(frame, *self.size)

    def tile(self, frame: av.VideoFrame) -> np.ndarray:
        w, h = self.size
        return frame.to_ndarray(format="rgb24", width=w, height=h)

    def offer(self, index: int, frame: av.VideoFrame, middle: np.ndarray | None = None) -> None:
        """Call with every output frame (its luma is the input's, so gray and colour both come from
        it); ``middle`` is an extra tile between them (the automatic colour of a guided run)."""
        if index not in self.wanted:
            return
        tiles = [self.gray(frame), *([middle] if middle is not None else []), self.tile(frame)]
        self.rows.append(side_by_side(*tiles))

    def image(self) -> np.ndarray:
        """The rows stacked: (H, W, 3) uint8."""
        return stack_rows(self.rows)

    def save(self, path: Path) -> None:
        save_sheet(self.rows, path)


def gray_tile(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The frame's own luma plane as an HxWx3 uint8 picture of ``width`` x ``height`` (the B&W
    film as it is, limited range stretched to full for display). Not ``to_ndarray(format="gray")``
    of the frame: swscale derives that through RGB once the frame carries colour."""
    y = luma(frame).astype(np.float32)
    k = 2.0 ** (frame.format.components[0].bits - 8)
    full = int(frame.color_range or 0) == 2
    y = y * (255.0 / (255.0 * k + (k - 1))) if full else (y - 16.0 * k) * (255.0 / (219.0 * k))
    plane = av.VideoFrame.from_ndarray(np.clip(y + 0.5, 0, 255).astype(np.uint8), format="gray")
    return np.repeat(plane.to_ndarray(format="gray", width=width, height=height)[..., None], 3, -1)


def side_by_side(*tiles: np.ndarray, gap: int = 4) -> np.ndarray:
    """HxWx3 uint8 tiles left to right, ``gap`` white pixels apart."""
    h = max(t.shape[0] for t in tiles)
    row = np.full((h, sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1), 3), 255, np.uint8)
    x = 0
    for t in tiles:
        row[: t.shape[0], x : x + t.shape[1]] = t
        x += t.shape[1] + gap
    return row


def stack_rows(rows: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """HxWx3 uint8 rows top to bottom, ``gap`` white pixels apart (at least one row)."""
    width = max(r.shape[1] for r in rows)
    height = sum(r.shape[0] for r in rows) + gap * (len(rows) - 1)
    sheet = np.full((height, width, 3), 255, np.uint8)
    y = 0
    for r in rows:
        sheet[y : y + r.shape[0], : r.shape[1]] = r
        y += r.shape[0] + gap
    return sheet


def save_sheet(rows: list[np.ndarray], path: Path) -> None:
    """Stack rows vertically and write a PNG atomically (temporary name, then rename)."""
    if rows:
        save_image(stack_rows(rows), path)
