"""How much of the training photos is bright and near neutral (what ``--neutral-weight`` weighs).

    .venv/bin/python train/recipes/v4/neutral_share.py [--every 4]

Every ``--every``-th photo of split_v4's train part, at 128 px: the share of pixels with L* > 70,
and of those with chroma < 8 too (the thresholds of ``--neutral-weight``, in ``vidcolor.config``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidcolor.color import rgb_to_lab
from vidcolor.config import NEUTRAL_MAX_CHROMA, NEUTRAL_MIN_L


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train/recipes/split_v4.json")
    ap.add_argument("--every", type=int, default=4)
    args = ap.parse_args()
    items = json.loads(Path(args.split).read_text())["train"]
    photos = [p for p in items if p.lower().endswith((".jpg", ".jpeg", ".png"))][:: args.every]
    total = bright = white = 0
    for p in photos:
        im = Image.open(p).convert("RGB")
        im.thumbnail((128, 128))
        lab = rgb_to_lab(torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float() / 255)[0]
        b = lab[0] > NEUTRAL_MIN_L
        total += b.numel()
        bright += int(b.sum())
        white += int((b & (lab[1:].norm(dim=0) < NEUTRAL_MAX_CHROMA)).sum())
    print(
        f"{len(photos)} train photos: bright (L* > {NEUTRAL_MIN_L:g}) {bright / total:.3f} of the pixels; "
        f"bright and near neutral {white / total:.3f} ({white / max(bright, 1):.2f} of the bright)"
    )


if __name__ == "__main__":
    main()
