"""The issue-12 runs on one GPU: one recipe, one change per run (see RESULTS.md, "Default model v2").

python3 train/recipes/v2/gpu_runs.py NAME STEPS   (after gpu_pack.py; run from the repo root)
"""

import argparse

from vidcolor.train.config import build_config
from vidcolor.train.loop import train

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("name", help="run name (runs/v2/NAME); see the recipes below")
ap.add_argument("steps", type=int, help="training steps")
args = ap.parse_args()
name, steps = args.name, args.steps
base = {
    "split": ".gpudata/split_all.json",
    "out": f"runs/v2/{name}",
    "steps": steps,
    "pretrain_steps": steps,  # L1 only (the GAN is run "gan")
    "size": 192,  # the default render size: training crops at the scale the pictures are colorized
    "batch_size": 32,
    "degrade": 0.5,
    "hint_none": 0.5,
    "generator.hints": True,
    "generator.base": 8,
    "generator.depth": 6,
    "preload": True,
    "workers": 2,
    "threads": 2,
    "eval_every": 250,
    "sample_every": 1000,
    "ckpt_every": 500,
    "val_items": 128,
    "precision": "bf16",
}
changes = {
    "main": {},
    "nohints": {"generator.hints": False},
    "half": {"split": ".gpudata/split_half.json"},
    "quarter": {"split": ".gpudata/split_quarter.json"},
    "clean": {"degrade": 0.0},
    "gan": {"pretrain_steps": steps // 4},
    # Round 3: the hints of rounds 1-2 were ignored (+0.01 dB with 10 points): more of them, fewer
    # pictures without; two runs only, so the data loaders have the CPU cores.
    "final": {"hint_none": 0.3, "hint_points": 20.0, "degrade": 0.3, "workers": 5},
    "final_clean": {"hint_none": 0.3, "hint_points": 20.0, "degrade": 0.0, "workers": 5},
    "lite0": {
        "generator.hints": False,
        "generator.encoder": "efficientnet-lite0",
        "generator.base": 16,
        "generator.depth": 5,
        "encoder_weights": ".gpudata/lite0_imagenet.safetensors",
        "encoder_lr_scale": 0.2,
    },
}[name]
train(build_config(None, {**base, **changes}), progress=False)
