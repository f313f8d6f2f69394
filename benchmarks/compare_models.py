"""Compare generator files with ``vidcolor eval`` on a held-out split; print a markdown table.

    .venv/bin/python benchmarks/compare_models.py --split RUN/data.json MODEL.safetensors... \\
        [--render-size PX...] [--strength S...] [--confidence off pale] [--json OUT.json]

``--split`` takes a training run's ``data.json`` and evaluates its ``val`` files (never trained
on); plain files may be given with ``--truth`` instead. One row per model (and per render size /
strength given), plus the gray baseline: photos and clips are reported apart, since one clip of
250 frames and 31 photos say different things, and "all" is the mean over items, as in
``vidcolor eval``. Used to choose the default model (train/recipes/RESULTS.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from vidcolor.colorizer import Colorizer
from vidcolor.config import CONFIDENCE_MODES, ColorizeConfig
from vidcolor.evaluate import evaluate_item, summarize


def _mean(results: list, method: str, key: str) -> float:
    vals = [r.scores[method][key] for r in results if r.scores[method][key] is not None]
    return float(np.mean(vals)) if vals else float("nan")


def row(results: list, method: str) -> dict[str, float]:
    photos = [r for r in results if r.kind == "image"]
    clips = [r for r in results if r.kind == "video"]
    overall = summarize(results)[method]
    return {
        "psnr_all": overall["psnr"],
        "psnr_photos": _mean(photos, method, "psnr"),
        "ssim_photos": _mean(photos, method, "ssim"),
        "colour_photos": _mean(photos, method, "colorfulness_ratio"),
        "psnr_clips": _mean(clips, method, "psnr"),
        "colour_clips": _mean(clips, method, "colorfulness_ratio"),
        # colour steadiness: flicker over the truth's (0 for the gray input). Not CDC: RGB histograms
        # follow lightness too, and the gray input scores about the truth's CDC
        "flicker_ratio": _mean(clips, method, "flicker") / _mean(clips, method, "flicker_truth"),
        "flicker": _mean(clips, method, "flicker"),
        "colour_all": overall["colorfulness_ratio"] or 0.0,
        "above_gray_photos": _mean(photos, method, "psnr") - _mean(photos, "gray baseline", "psnr"),
        "above_gray_clips": _mean(clips, method, "psnr") - _mean(clips, "gray baseline", "psnr"),
        "worst_clip_above_gray": min(
            (r.scores[method]["psnr"] - r.scores["gray baseline"]["psnr"] for r in clips), default=float("nan")
        ),
        "psnr_each_clip": " / ".join(f"{r.scores[method]['psnr']:.2f}" for r in clips),
        "flicker_each_clip": " / ".join(f"{r.scores[method]['flicker'] or 0:.3f}" for r in clips),
    }


COLS = [
    ("psnr_all", "PSNR all", ".2f"),
    ("psnr_photos", "PSNR photos", ".2f"),
    ("ssim_photos", "SSIM photos", ".4f"),
    ("colour_photos", "colour photos", ".2f"),
    ("psnr_clips", "PSNR clip", ".2f"),
    ("colour_clips", "colour clip", ".2f"),
    ("flicker_ratio", "flicker/truth", ".2f"),
    ("flicker", "flicker", ".3f"),
    ("colour_all", "colour all", ".2f"),
    ("above_gray_photos", "photos - gray", "+.2f"),
    ("above_gray_clips", "clips - gray", "+.2f"),
    ("worst_clip_above_gray", "worst clip - gray", "+.2f"),
    ("psnr_each_clip", "PSNR each clip", "s"),
    ("flicker_each_clip", "flicker each clip", "s"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--split", type=Path, help="a run's data.json or a split file: evaluate its --part files")
    ap.add_argument("--part", choices=["val", "test"], default="val", help="val chooses; test reports, once")
    ap.add_argument("--truth", nargs="*", type=Path, default=[])
    ap.add_argument("--render-size", type=int, nargs="+", default=[ColorizeConfig.render_size])
    ap.add_argument("--strength", type=float, nargs="+", default=[1.0])
    ap.add_argument("--smoothing", type=float, default=ColorizeConfig.smoothing)
    ap.add_argument("--confidence", nargs="+", default=[ColorizeConfig.confidence], choices=CONFIDENCE_MODES)
    ap.add_argument(
        "--confidence-tau", type=float, nargs="+", default=[ColorizeConfig.confidence_tau], help="for pale rows"
    )
    ap.add_argument("--max-frames", type=int, default=250)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    truth = list(args.truth)
    if args.split:
        truth += [Path(p) for p in json.loads(args.split.read_text())[args.part]]  # paths as given to train
    print("| model | render | strength | confidence | " + " | ".join(c[1] for c in COLS) + " | s |")
    print("|---" * (len(COLS) + 5) + "|")
    rows, baseline = [], None
    for model in args.models:
        for render in args.render_size:
            settings = [
                (strength, c, tau)
                for strength, c in itertools.product(args.strength, args.confidence)
                for tau in (args.confidence_tau if c == "pale" else [ColorizeConfig.confidence_tau])
            ]
            for strength, confidence, tau in settings:
                cfg = ColorizeConfig(
                    model=model, render_size=render, strength=strength, smoothing=args.smoothing,
                    confidence=confidence, confidence_tau=tau,
                )  # fmt: skip
                if tau != ColorizeConfig.confidence_tau:  # said in the row: another setting of pale
                    confidence = f"{confidence} tau {tau:g}"
                t = time.perf_counter()
                colorizer = Colorizer(cfg)
                results = [evaluate_item(p, colorizer, args.max_frames, []) for p in truth]
                r = row(results, "vidcolor")
                baseline = baseline or row(results, "gray baseline")
                items = [{"name": x.name, "kind": x.kind, "frames": x.frames, **x.scores} for x in results]
                setting = {"model": model, "render_size": render, "strength": strength, "confidence": confidence}
                rows.append({**setting, **r, "items": items})
                cells = " | ".join(format(r[k], f) for k, _, f in COLS)
                took = time.perf_counter() - t
                print(f"| {model} | {render} | {strength} | {confidence} | {cells} | {took:.0f} |", flush=True)
    cells = " | ".join(format(baseline[k], f) for k, _, f in COLS)
    print(f"| gray baseline | - | - | - | {cells} | - |")
    if args.json:
        args.json.write_text(json.dumps({"truth": [str(p) for p in truth], "rows": rows, "gray": baseline}, indent=1))


if __name__ == "__main__":
    main()
