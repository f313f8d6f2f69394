"""A quick look at a few frames of one clip: each model's ab error and chroma against the truth's.

    .venv/bin/python train/recipes/v4/frame_check.py CLIP MODEL.safetensors... [--frames 3]

Frames 0, 20, 40 ... of the clip at 192 px high, each model's generator alone (no temporal
smoothing, no `--confidence`): RMS of the ab error and mean chroma (Lab units). For watching a run
on one failure between scorings, never for choosing (that is ``compare_models.py`` on all of val).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.color import AB_SCALE, rgb_to_model
from vidcolor.evaluate import rgb_frames
from vidcolor.modelfile import load_generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--frames", type=int, default=3)
    args = ap.parse_args()
    frames = list(rgb_frames(args.clip, 20 * args.frames))[::20]
    for path in args.models:
        g, _ = load_generator(path, torch.device("cpu"))
        g.eval()
        err, chroma, truth = [], [], []
        for f in frames:
            x = torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None].float() / 255
            w = 192 * x.shape[-1] // x.shape[-2] // 32 * 32
            L, ab = rgb_to_model(F.interpolate(x, size=(192, w), mode="area"))
            with torch.no_grad():
                pred = g(L).float()
            err.append(((pred - ab) ** 2).mean().item())
            chroma.append(pred.norm(dim=1).mean().item())
            truth.append(ab.norm(dim=1).mean().item())
        print(
            f"{path}: ab RMS error {np.sqrt(np.mean(err)) * AB_SCALE:.1f}, chroma {np.mean(chroma) * AB_SCALE:.1f} "
            f"(truth {np.mean(truth) * AB_SCALE:.1f})"
        )


if __name__ == "__main__":
    main()
