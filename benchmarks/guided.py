"""Speed of guided colorization against automatic, same clip, same model, one process.

    .venv/bin/python benchmarks/guided.py [--repeats 2] [--frames 120]

Clips: the bundled example (examples/bikes_gray.mp4, 640x272, real footage, 3 shots) and a
generated 854x480 gray clip with moving texture (one shot). Guidance, made here: a colour
reference for *every* shot (the shot's keyframe coloured by the automatic model, standing in for
a hand-coloured one: every frame is then matched and carried, the most work guidance can cause),
and 16 hint points on the first frame. Prints end-to-end frames/s (best of ``--repeats``, the
shot pre-pass included) and guided / automatic ratios.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from pipeline import make_clip

from bench_timing import machine
from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
from vidcolor.guidance import Guidance
from vidcolor.pipeline import colorize_array, colorize_video
from vidcolor.planes import render_size
from vidcolor.shots import write_keyframes
from vidcolor.source import probe

ROOT = Path(__file__).resolve().parent.parent


def best_fps(fn, frames: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return frames / min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--frames", type=int, default=120, help="frames of the generated 480p clip")
    args = ap.parse_args()
    colorizer = Colorizer(ColorizeConfig())
    print(f"# guided vs automatic colorization, {machine()}, engine {colorizer.engine.name}\n")
    print("| clip | frames | shots | automatic fps | guided, reference per shot | ratio | guided, 16 points | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        clips = [ROOT / "examples" / "bikes_gray.mp4", make_clip(d / "480p.mp4", 854, 480, args.frames)]
        for clip in clips:
            info = probe(clip)
            keys = d / f"{clip.stem}.keys"
            keys.mkdir()
            size = render_size(info.width, info.height, ColorizeConfig.render_size, colorizer.multiple)
            for k in write_keyframes(clip, keys, size)[0]:  # stand-ins for hand-coloured keyframes
                from PIL import Image

                rgb = np.array(Image.open(k).convert("RGB"))
                Image.fromarray(colorize_array(rgb, colorizer)).save(k)
            points = [{"x": x, "y": y, "rgb": [200, 60, 40]} for x, y in np.random.default_rng(0).random((16, 2))]
            (d / "h.json").write_text(json.dumps(points))
            refs, hints = Guidance.load([str(keys)], []), Guidance.load([], [str(d / "h.json")])
            n = colorize_video(clip, d / "out.mp4", colorizer).frames
            shots = len(list(keys.iterdir()))
            fps = {
                name: best_fps(
                    lambda g=g, c=clip: colorize_video(c, d / "out.mp4", colorizer, guidance=g), n, args.repeats
                )
                for name, g in (("auto", None), ("refs", refs), ("hints", hints))
            }
            print(
                f"| {clip.name} ({info.width}x{info.height}) | {n} | {shots} | {fps['auto']:.1f} | {fps['refs']:.1f} | "
                f"{fps['refs'] / fps['auto']:.2f} | {fps['hints']:.1f} | {fps['hints'] / fps['auto']:.2f} |"
            )


if __name__ == "__main__":
    main()
