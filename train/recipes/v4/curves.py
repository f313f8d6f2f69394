"""Validation curves of issue 33's candidate runs, as one picture for RESULTS.md.

    .venv/bin/python train/recipes/v4/curves.py runs/v4_lite0_b8 runs/v4_lite0_b8_degrade \\
        [--eval runs/eval/snapshots_val.json] -o train/recipes/images/v4_curves.png

Left: the run's own validation (96 centre crops of split_v4's val photos and clip frames, every 500
steps): PSNR and colourfulness ratio. Right (``--eval``, compare_models.py JSON of snapshots): the
ship rule's figures per snapshot, photos and clips above their gray input.

Steps are counted from the start of the chain of runs: a run that started from another run's
snapshot (its config's ``init``, e.g. ``runs/B/snapshots/step_0008000.safetensors``) is drawn from
that snapshot's step on.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

INIT = re.compile(r'^init = "(?:.*/)?runs/([^/]+)/snapshots/step_(\d+)\.safetensors"', re.M)


def start_step(run: Path) -> int:
    """The step the run starts from, counting the runs it was initialised from."""
    m = INIT.search((run / "config.toml").read_text())
    return int(m[2]) + start_step(run.parent / m[1]) if m else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--eval", type=Path, action="append", default=[], help="compare_models.py --json of snapshots")
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args()
    fig, axes = plt.subplots(1, 3 if args.eval else 2, figsize=(15 if args.eval else 10, 4))
    for run in args.runs:
        rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if x.strip()]
        val = [r for r in rows if r.get("kind") == "val"]
        steps = [start_step(run) + r["step"] for r in val]
        axes[0].plot(steps, [r["val_psnr"] for r in val], "o-", label=run.name)
        axes[1].plot(steps, [r["val_colorfulness_ratio"] for r in val], "o-", label=run.name)
    axes[0].set(title="run's validation crops: PSNR (dB)", xlabel="step (from the first run of its chain)")
    axes[1].set(title="run's validation crops: colourfulness / truth", xlabel="step (from the first run of its chain)")
    if args.eval:
        for path in args.eval:
            by_run: dict[str, list[tuple[int, float, float]]] = {}
            for r in json.loads(path.read_text())["rows"]:
                m = re.search(r"([^/]+)/snapshots/step_(\d+)", r["model"])
                if m and r.get("confidence", "off") == "off":
                    by_run.setdefault(m[1], []).append((int(m[2]), r["above_gray_photos"], r["above_gray_clips"]))
            for name, pts in sorted(by_run.items()):
                pts.sort()
                axes[2].plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{name}: photos")
                axes[2].plot([p[0] for p in pts], [p[2] for p in pts], "s--", label=f"{name}: clips")
        axes[2].axhline(0, color="gray", lw=0.8)
        axes[2].set(title="vidcolor eval on v4 val: dB above the gray input", xlabel="step")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)


if __name__ == "__main__":
    main()
