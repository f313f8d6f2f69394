"""Guided colorization on the validation material with propagation constants overridden (issue 13).

    .venv/bin/python benchmarks/guided_sweep.py [--set photo_sigma=0.06 --set spread_eps=4 ...]
        [--split train/recipes/split_v1.json] [--max-frames 150] [--what ref,hclip,hphoto]

Runs ``vidcolor eval``'s own code (``evaluate_item``) with ``PropagationConfig`` fields replaced:
``ref`` = each clip's true first frame as its reference, ``hclip`` / ``hphoto`` = 16 random true
points on each clip's first frame / each validation photo. Clips: the validation clip and the
training clip (``vtest.avi``, whose automatic score is inflated: the generator saw it; nothing of
the guidance is learned). Prints automatic and guided PSNR (and guided PSNR of the last 10 frames).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

import vidcolor.guidance as guidance
from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
from vidcolor.decode import is_image
from vidcolor.evaluate import GuideMode, evaluate_item
from vidcolor.propagate import PropagationConfig
from vidcolor.train.split import read_split


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", action="append", default=[], help="FIELD=VALUE of PropagationConfig")
    ap.add_argument("--split", type=Path, default=Path("train/recipes/split_v1.json"))
    ap.add_argument("--max-frames", type=int, default=150)
    ap.add_argument("--what", default="ref,hclip,hphoto")
    args = ap.parse_args()
    kw = {k: type(getattr(PropagationConfig(), k))(v) for k, v in (s.split("=", 1) for s in args.set)}
    cfg = dataclasses.replace(PropagationConfig(), **kw)
    guidance.PropagationConfig = lambda: cfg  # the Guider's default, for this process only
    split = read_split(args.split)
    clips = [p for p in split["val"] + split["train"] if not is_image(Path(p))]
    photos = [p for p in split["val"] if is_image(Path(p))]
    colorizer = Colorizer(ColorizeConfig())
    out: dict[str, object] = {"set": kw}
    for what, mode, files in (
        ("ref", GuideMode(True, 0), clips),
        ("hclip", GuideMode(False, 16), clips),
        ("hphoto", GuideMode(False, 16), photos),
    ):
        if what not in args.what:
            continue
        rows = [evaluate_item(Path(f), colorizer, args.max_frames, [], mode=mode, index=i) for i, f in enumerate(files)]
        if what == "hphoto":
            auto, guided = (float(np.mean([r.scores[m]["psnr"] for r in rows])) for m in ("vidcolor", "guided"))
            out[what] = {"automatic": round(auto, 2), "guided": round(guided, 2)}
        else:
            out[what] = {
                r.name: {
                    "automatic": round(r.scores["vidcolor"]["psnr"], 2),
                    "guided": round(r.scores["guided"]["psnr"], 2),
                    "guided_last10": round(r.scores["guided"]["psnr_last"], 2),
                }
                for r in rows
            }
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
