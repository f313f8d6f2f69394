"""Sweep colorize settings with ``vidcolor eval`` on held-out footage; print a markdown table.

    .venv/bin/python benchmarks/sweep.py ../shared/data/videos/bikes.mp4 [--model PATH]

Rows: --smoothing in {0, 0.25, 0.5, 0.75, 0.9, 0.95} at the default render size, then
--render-size in {160, 256} at the default smoothing. Used to choose the defaults (train/recipes/RESULTS.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
from vidcolor.evaluate import evaluate_item, summarize

GRID = [{"smoothing": s} for s in (0.0, 0.25, 0.5, 0.75, 0.9, 0.95)] + [{"render_size": r} for r in (160, 256)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("truth", nargs="+", type=Path)
    ap.add_argument("--model", default=None)
    ap.add_argument("--max-frames", type=int, default=250)
    args = ap.parse_args()
    print("| smoothing | render | PSNR | SSIM | colourfulness ratio | CDC | CDC truth | flicker | flicker truth | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    base = None
    for change in GRID:
        cfg = ColorizeConfig(model=args.model, **change)
        colorizer = Colorizer(cfg)
        t = time.perf_counter()
        results = [evaluate_item(p, colorizer, args.max_frames, []) for p in args.truth]
        o = summarize(results)
        v = o["vidcolor"]
        base = base or o["gray baseline"]
        print(
            f"| {cfg.smoothing} | {cfg.render_size} | {v['psnr']:.2f} | {v['ssim']:.4f} | {v['colorfulness_ratio']:.3f} "
            f"| {v['cdc']:.5f} | {v['cdc_truth']:.5f} | {v['flicker']:.3f} | {v['flicker_truth']:.3f} | {time.perf_counter() - t:.0f} |",
            flush=True,
        )
    print(
        f"| gray baseline | - | {base['psnr']:.2f} | {base['ssim']:.4f} | 0 | {base['cdc']:.5f} | - | {base['flicker']:.3f} | - | - |"
    )


if __name__ == "__main__":
    main()
