"""Issue 33's ship rule (train/recipes/RESULTS.md), applied to compare_models.py JSON files.

    .venv/bin/python train/recipes/v4/rule.py --v2 runs/eval/v2_val.json runs/eval/cand_*.json [--fps MODEL=FPS ...]

Prints, per candidate row (model, confidence), the rule's figures against v2 at its defaults
(--confidence off): photos and clips above gray, the worst clip, colourfulness on photos and clips,
and whether each check passes; the speed check takes the measured 480p frames/s given with --fps.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def rows(path: Path) -> list[dict]:
    return json.loads(path.read_text())["rows"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("candidates", nargs="+", type=Path)
    ap.add_argument("--v2", type=Path, required=True)
    ap.add_argument("--fps", nargs="*", default=[], help="MODEL=FPS: the default pipeline at 480p, measured")
    args = ap.parse_args()
    fps = {k: float(v) for k, v in (x.split("=", 1) for x in args.fps)}
    v2 = next(r for r in rows(args.v2) if r["confidence"] == "off")
    print(f"v2 (off): photos {v2['above_gray_photos']:+.2f} dB, clips {v2['above_gray_clips']:+.2f} dB above gray")
    print("| model | confidence | photos - gray | clips - gray | worst clip - gray | colour photos | colour clips "
          "| better photos | better clips | no clip < -3 dB | colour 0.6-1.1 | >= 20 fps | ships |")  # fmt: skip
    print("|---" * 13 + "|")
    for path in args.candidates:
        for r in rows(path):
            speed = fps.get(r["model"])
            checks = [
                r["above_gray_photos"] > v2["above_gray_photos"],
                r["above_gray_clips"] > v2["above_gray_clips"],
                r["worst_clip_above_gray"] >= -3.0,
                0.6 <= r["colour_photos"] <= 1.1 and 0.6 <= r["colour_clips"] <= 1.1,
                speed is not None and speed >= 20.0,
            ]
            cells = [f"{r['above_gray_photos']:+.2f}", f"{r['above_gray_clips']:+.2f}",
                     f"{r['worst_clip_above_gray']:+.2f}", f"{r['colour_photos']:.2f}", f"{r['colour_clips']:.2f}",
                     *("yes" if c else "**no**" for c in checks[:4]),
                     "not measured" if speed is None else f"{speed:.1f}" + ("" if checks[4] else " **no**"),
                     "**yes**" if all(checks) else "no"]  # fmt: skip
            print(f"| {r['model']} | {r['confidence']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
