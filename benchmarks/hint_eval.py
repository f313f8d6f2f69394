"""Automatic vs hinted colorization: how much N true-colour points per picture buy (issue 12).

    .venv/bin/python benchmarks/hint_eval.py MODEL.safetensors --split train/recipes/split_v1.json \
        --part val|test [--points 10] [--frames-per-clip 8]

For every photo, and ``--frames-per-clip`` frames spread over every clip, of the split part: the
picture is scaled to the render size as ``vidcolor`` does, the generator predicts ab once with no
hint and once with ``--points`` single-pixel hints of the true colour at random places (seeded per
picture), ab is scaled back up onto the full-resolution L, and PSNR against the truth is measured.
The gray input is scored beside both. Prints a markdown table; ``--json`` keeps the numbers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.color import lab_to_rgb, rgb_to_lab, rgb_to_model
from vidcolor.config import ColorizeConfig
from vidcolor.decode import is_image, load_photo
from vidcolor.evaluate import rgb_frames
from vidcolor.metrics import psnr
from vidcolor.modelfile import load_generator
from vidcolor.planes import render_size
from vidcolor.train.hints import random_point_hints
from vidcolor.train.split import read_split


def pictures(path: Path, per_clip: int) -> list[np.ndarray]:
    if is_image(path):
        return [load_photo(path)]
    frames = list(rgb_frames(path, 250))
    keep = np.linspace(0, len(frames) - 1, min(per_clip, len(frames))).round().astype(int)
    return [frames[i] for i in keep]


@torch.inference_mode()
def score(G: torch.nn.Module, rgb: np.ndarray, points: int, seed: int, size: int) -> tuple[float, float, float]:
    """PSNR of (gray, automatic, hinted) against the truth, one picture."""
    full = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
    h, w = full.shape[-2:]
    rw, rh = render_size(w, h, size, G.config.multiple)
    small = F.interpolate(full, size=(rh, rw), mode="bilinear", antialias=True, align_corners=False)
    L, ab = rgb_to_model(small)
    hint = random_point_hints(ab, points, torch.Generator().manual_seed(seed))
    L_full = rgb_to_lab(full)[:, :1]

    def render(ab_small: torch.Tensor) -> torch.Tensor:
        ab_up = F.interpolate(ab_small, size=(h, w), mode="bilinear", align_corners=False) * 110.0
        return lab_to_rgb(torch.cat([L_full, ab_up], 1)).clamp(0, 1)

    gray, auto, hinted = (render(x) for x in (torch.zeros_like(ab), G(L), G(L, hint)))
    return float(psnr(gray, full)), float(psnr(auto, full)), float(psnr(hinted, full))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--split", type=Path, required=True)
    ap.add_argument("--part", choices=["val", "test"], default="val")
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--frames-per-clip", type=int, default=8)
    ap.add_argument("--render-size", type=int, default=ColorizeConfig.render_size)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    G, _ = load_generator(args.model)
    G.eval()
    if not G.config.hints:
        raise SystemExit(f"{args.model}: this generator takes no hints")
    rows: dict[str, list[tuple[float, float, float]]] = {"photos": [], "clips": []}
    per_clip: list[tuple[str, float, float, float]] = []
    for i, f in enumerate(read_split(args.split)[args.part]):
        p = Path(f)
        scores = [
            score(G, rgb, args.points, i * 1000 + j, args.render_size)
            for j, rgb in enumerate(pictures(p, args.frames_per_clip))
        ]
        if is_image(p):
            rows["photos"] += scores
        else:
            m = np.mean(scores, 0)
            rows["clips"].append(tuple(m))
            per_clip.append((p.name, *m))
    print(
        f"{args.model} on the {args.part} split, {args.points} random true-colour points (1 px at render size {args.render_size})\n"
    )
    print("| items | n | gray PSNR | automatic | with hints | hints - automatic |\n|---|---|---|---|---|---|")
    out = {}
    for k, v in [*rows.items(), *[(name, [(g, a, h)]) for name, g, a, h in per_clip]]:
        if not v:
            continue
        g, a, h = np.mean(v, 0)
        out[k] = {"n": len(v), "gray": g, "auto": a, "hints": h}
        print(f"| {k} | {len(v)} | {g:.2f} | {a:.2f} | {h:.2f} | {h - a:+.2f} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
