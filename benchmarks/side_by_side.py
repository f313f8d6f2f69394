"""Contact sheet of several models on the same pictures: gray | model 1 | model 2 | ... | truth.

    .venv/bin/python benchmarks/side_by_side.py --models A.safetensors B.safetensors \\
        --truth PHOTO... CLIP... --out sheet.png [--frames-per-clip 2] [--width 200]

Each truth is turned gray (its L*, as a black-and-white copy would look) and colorized by every
model with the default settings, as ``vidcolor eval`` does; clips give evenly spaced frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
from vidcolor.decode import load_photo, media_kind
from vidcolor.evaluate import gray_rgb, rgb_frames
from vidcolor.pipeline import colorize_array
from vidcolor.preview import save_sheet


def pictures(path: Path, per_clip: int) -> list[np.ndarray]:
    if media_kind(path).kind == "image":
        return [load_photo(path)]
    frames = list(rgb_frames(path, 250))
    idx = np.linspace(0, len(frames) - 1, per_clip + 2).round().astype(int)[1:-1]
    return [frames[i] for i in idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--truth", nargs="+", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--frames-per-clip", type=int, default=2)
    ap.add_argument("--width", type=int, default=200)
    args = ap.parse_args()
    colorizers = [Colorizer(ColorizeConfig(model=m)) for m in args.models]
    rows = []
    for path in args.truth:
        for truth in pictures(path, args.frames_per_clip):
            gray = np.repeat(gray_rgb(truth)[..., None], 3, axis=2)  # HxW L* as gray sRGB -> HxWx3
            tiles = [gray, *[colorize_array(gray, c) for c in colorizers], truth]
            h, w = truth.shape[:2]
            size = (args.width, max(1, round(h * args.width / w)))
            tiles = [np.asarray(Image.fromarray(t).resize(size, Image.BILINEAR)) for t in tiles]
            gap = np.full((size[1], 4, 3), 255, np.uint8)
            row = tiles[0]
            for t in tiles[1:]:
                row = np.concatenate([row, gap, t], 1)
            rows.append(row)
    save_sheet(rows, args.out)
    print(f"{args.out}: {len(rows)} rows; columns: gray | {' | '.join(args.models)} | truth")


if __name__ == "__main__":
    main()
