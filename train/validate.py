"""Validation during a run: the validated generator (the weight average) scored on fixed centre crops
of the held-out files; best.safetensors, snapshots, sample grids and the loss plot written from it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vidcolor.color import model_to_rgb, rgb_to_model
from vidcolor.metrics import colorfulness, psnr
from vidcolor.modelfile import save_generator
from vidcolor.train.data import FrameDataset
from vidcolor.train.hints import random_point_hints
from vidcolor.train.plots import plot_losses, save_sample_grid
from vidcolor.train.progress import append_row
from vidcolor.train.state import RunState

Autocast = Callable[[], contextlib.AbstractContextManager[Any]]  # a fresh autocast (or null) context per call


def evaluate(
    g: torch.nn.Module,
    val_ds: FrameDataset,
    val_idx: list[int],
    batch_size: int,
    device: torch.device,
    autocast: Autocast,
    hints: bool = False,
) -> tuple[dict[str, float], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Score generator ``g`` on the validation crops ``val_ds[val_idx]`` (in eval mode; its mode is restored).

    Returns the metrics and a sample grid. Metrics: ``val_l1`` (mean |ab error|, ab in [-1, 1]),
    ``val_psnr`` (dB, RGB in [0, 1]), ``val_colorfulness_ratio`` (output's colourfulness over the
    truth's), and with ``hints`` ``val_psnr_hints10`` (the same pictures given 10 true-colour points
    each). Grid: (gray, output, truth), each (k, 3, H, W) RGB in [0, 1], k <= 6, from the first batch.
    """
    was_training = g.training
    g.eval()
    l1s, psnrs, colour, colour_truth, hinted, grid = [], [], [], [], [], None
    with torch.inference_mode():
        for i in range(0, len(val_idx), batch_size):
            rgb = torch.stack([val_ds[j] for j in val_idx[i : i + batch_size]]).to(device)
            L, ab = rgb_to_model(rgb)
            with autocast():
                pred = g(L).float()
            l1s.append((pred - ab).abs().mean(dim=(1, 2, 3)))
            out_rgb = model_to_rgb(L, pred)
            psnrs.append(psnr(out_rgb, rgb))
            if hints:
                hint = random_point_hints(ab, 10, torch.Generator().manual_seed(i)).to(device)
                with autocast():
                    pred_h = g(L, hint).float()
                hinted.append(psnr(model_to_rgb(L, pred_h), rgb))
            colour.append(colorfulness(out_rgb))
            colour_truth.append(colorfulness(rgb))
            if grid is None:
                k = min(6, len(rgb))
                gray = model_to_rgb(L[:k], torch.zeros_like(pred[:k]))
                grid = (gray, out_rgb[:k], rgb[:k])
    g.train(was_training)
    ratio = float(torch.cat(colour).mean() / torch.cat(colour_truth).mean().clamp_min(1e-6))
    metrics = {
        "val_l1": float(torch.cat(l1s).mean()),
        "val_psnr": float(torch.cat(psnrs).mean()),
        "val_colorfulness_ratio": ratio,
        **({"val_psnr_hints10": float(torch.cat(hinted).mean())} if hinted else {}),
    }
    return metrics, grid


def validate(
    state: RunState,
    val_ds: FrameDataset,
    val_idx: list[int],
    out: Path,
    device: torch.device,
    autocast: Autocast,
    note: Callable[[str], None],
) -> None:
    """Rank 0, every ``eval_every`` steps and at the end: evaluate the validated generator and log it;
    save it as best.safetensors when its val L1 is the lowest yet, as a snapshot every ``snapshot_every``
    steps; every ``sample_every`` steps save a sample grid and redraw the loss plot."""
    cfg, step, g = state.cfg, state.step, state.validated
    metrics, grid = evaluate(g, val_ds, val_idx, cfg.batch_size, device, autocast, cfg.generator.hints)
    append_row(out / "log.jsonl", {"kind": "val", "step": step, **metrics})
    if metrics["val_l1"] < state.best:
        state.best = metrics["val_l1"]
        meta = {"step": step, "val": metrics, "train_config": cfg.to_dict(), "selected_by": "val_l1"}
        save_generator(out / "best.safetensors", g, meta)
    if cfg.snapshot_every and step % cfg.snapshot_every == 0:
        # Candidates for selection by `vidcolor eval`, which photo-crop L1 alone cannot do.
        (out / "snapshots").mkdir(exist_ok=True)
        meta = {"step": step, "val": metrics, "train_config": cfg.to_dict(), "selected_by": "snapshot"}
        save_generator(out / "snapshots" / f"step_{step:07d}.safetensors", g, meta)
    if step % cfg.sample_every == 0 or step == cfg.steps:
        save_sample_grid(out / "samples" / f"step_{step:07d}.png", *grid)
        plot_losses(out / "log.jsonl", out / "loss.png")
    note(f"step {step}: val L1 {metrics['val_l1']:.4f}, PSNR {metrics['val_psnr']:.2f} dB")
