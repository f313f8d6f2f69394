"""Preview sheets: N evenly spaced frames, gray | colour side by side, as one PNG."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vidcolor.encode import temp_path

TILE_WIDTH = 480


def pick_indices(n: int, total: int) -> list[int]:
    """``n`` frame indices spread evenly over ``total`` frames (centres of n equal parts)."""
    if n <= 0 or total <= 0:
        return []
    return sorted({min(total - 1, int((i + 0.5) * total / n)) for i in range(n)})


def tile_size(width: int, height: int) -> tuple[int, int]:
    w = min(TILE_WIDTH, width)
    return w, max(1, round(height * w / width))


class PreviewSheet:
    """Collects (gray, colour) tiles of chosen frames while a video streams past."""

    def __init__(self, n: int, expected_frames: int, width: int, height: int) -> None:
        self.wanted = set(pick_indices(n, expected_frames))
        self.size = tile_size(width, height)
        self.rows: list[np.ndarray] = []

    def offer(self, index: int, frame: av.VideoFrame) -> None:
        """Call with every output frame (its luma is the input's, so both halves come from it)."""
        if index not in self.wanted:
            return
        w, h = self.size
        gray = frame.to_ndarray(format="gray", width=w, height=h)
        colour = frame.to_ndarray(format="rgb24", width=w, height=h)
        self.rows.append(side_by_side(np.repeat(gray[..., None], 3, -1), colour))

    def save(self, path: Path) -> None:
        save_sheet(self.rows, path)


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 4) -> np.ndarray:
    h = max(left.shape[0], right.shape[0])
    row = np.full((h, left.shape[1] + gap + right.shape[1], 3), 255, np.uint8)
    row[: left.shape[0], : left.shape[1]] = left
    row[: right.shape[0], left.shape[1] + gap :] = right
    return row


def save_sheet(rows: list[np.ndarray], path: Path, gap: int = 4) -> None:
    """Stack rows vertically and write a PNG atomically (temporary name, then rename)."""
    if not rows:
        return
    width = max(r.shape[1] for r in rows)
    height = sum(r.shape[0] for r in rows) + gap * (len(rows) - 1)
    sheet = np.full((height, width, 3), 255, np.uint8)
    y = 0
    for r in rows:
        sheet[y : y + r.shape[0], : r.shape[1]] = r
        y += r.shape[0] + gap
    tmp = temp_path(path)
    try:
        Image.fromarray(sheet).save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
