"""Data-scaling plot of issue 12: test-split PSNR against the number of training files.

    .venv/bin/python train/recipes/v2/scaling_plot.py runs/v2_eval/test.json train/recipes/images/v2_scaling.png

Reads ``compare_models.py --json`` output holding the quarter, half and all-data runs of one recipe
(``runs/v2_round2/{quarter,half,main}``: hints, degradations 0.5, 2000 steps, same test split).
"""

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("results", help="compare_models.py --json output")
ap.add_argument("png", help="the plot to write")
args = ap.parse_args()
with open(args.results) as f:
    d = json.load(f)
files = {"quarter": 102, "half": 205, "main": 410}
pts = {}
for row in d["rows"]:
    for name, n in files.items():
        if row["model"].endswith(f"v2_round2/{name}.safetensors"):
            pts[n] = row
ns = sorted(pts)
fig, ax = plt.subplots(figsize=(6, 4))
for key, label, style in (("psnr_photos", "48 test photos", "o-"), ("psnr_clips", "3 test clips", "s-")):
    ax.plot(ns, [pts[n][key] for n in ns], style, label=f"model, {label}")
    ax.axhline(d["gray"][key], ls="--", lw=1, color=ax.lines[-1].get_color(), label=f"gray, {label}")
ax.set_xscale("log", base=2)
ax.set_xticks(ns, [str(n) for n in ns])
ax.set_xlabel("training files (split_v1 train: 409 photos + 1 clip)")
ax.set_ylabel("PSNR (dB), test split")
ax.set_title("Data scaling, base-8 U-Net, same recipe and steps")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(args.png, dpi=110)
print({n: (round(pts[n]["psnr_photos"], 2), round(pts[n]["psnr_clips"], 2)) for n in ns})
