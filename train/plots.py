"""Pictures of a training run: sample grids (gray | predicted | truth) and loss curves."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torchvision.utils import save_image


def save_sample_grid(path: Path, gray: torch.Tensor, pred: torch.Tensor, truth: torch.Tensor) -> None:
    """One row per image: gray | predicted | truth. All (N,3,H,W) RGB in [0,1]."""
    rows = torch.stack([gray, pred, truth], dim=1).flatten(0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(rows.float().cpu(), str(path), nrow=3, padding=2, pad_value=1.0)


def plot_losses(log_path: Path, png_path: Path) -> None:
    """Training losses (left) and validation L1 / PSNR (right) from ``log.jsonl``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    train = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in (("l1", "G L1 (ab)"), ("g_gan", "G GAN"), ("d", "D")):
        pts = [(r["step"], r[key]) for r in train if r.get(key) is not None]
        if pts:
            ax1.plot(*zip(*pts, strict=True), label=label)
    ax1.set_xlabel("step")
    ax1.set_yscale("log")
    ax1.set_title("training losses")
    if ax1.lines:  # a run stopped before its first log row has none yet
        ax1.legend()
    if val:
        steps = [r["step"] for r in val]
        ax2.plot(steps, [r["val_l1"] for r in val], "o-", color="tab:red", label="val L1")
        ax2.set_ylabel("val L1 (ab, normalised)", color="tab:red")
        ax3 = ax2.twinx()
        ax3.plot(steps, [r["val_psnr"] for r in val], "s-", color="tab:blue", label="val PSNR")
        ax3.set_ylabel("val PSNR (dB, RGB)", color="tab:blue")
    ax2.set_xlabel("step")
    ax2.set_title("validation")
    fig.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
