"""The pix2pix training loop, in one file, read top to bottom.

Phase 1 (steps < cfg.pretrain_steps): the generator alone, L1 on ab.
Phase 2: conditional GAN. D sees (L, ab) pairs, real and fake in one forward pass (its instance
norm keeps them independent); loss_D = (BCE(real, 1) + BCE(fake, 0)) / 2. G minimises
BCE(D(L, G(L)), 1) + lambda * L1.

A fine-tune (``cfg.init``, ``vidcolor train DATA --init MODEL``) starts G from a generator file
(:func:`~vidcolor.train.state.load_init`, in :func:`~vidcolor.train.state.build_state`) and D from
nothing, and runs the same two phases.

Runs on CPU, one GPU, or several under ``torchrun`` (DDP; each rank gets its own slice of every
global batch; rank 0 alone evaluates and writes). Everything needed to continue exactly is in
``last.pt`` (models, optimisers, schedulers, RNG, step: :class:`~vidcolor.train.state.RunState`),
written atomically every ``ckpt_every`` steps, so ``--resume`` after a kill -9 loses at most that many steps.

The file follows a run: :func:`train` (the process group) and :func:`_train` (set-up, then the loop);
then the set-up in the order it happens (:func:`open_run`, :func:`load_data`, ``build_state``,
:func:`prepare_run_folder`); then one step (:func:`prepare_batch`, :func:`train_step`); then small
helpers. Beside it: the run's state and its construction (:mod:`~vidcolor.train.state`), validation
(:mod:`~vidcolor.train.validate`), the log rows and progress bar (:mod:`~vidcolor.train.progress`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from vidcolor.atomic import remove_stale_partials
from vidcolor.color import AB_SCALE, L_SCALE, rgb_to_model
from vidcolor.config import NEUTRAL_MAX_CHROMA, NEUTRAL_MIN_L, RESUME_FIELDS
from vidcolor.device import pick_device, precision_dtype
from vidcolor.engines import cpu_has_fast_bf16
from vidcolor.errors import BadInputError
from vidcolor.model import count_parameters
from vidcolor.train.config import TrainConfig
from vidcolor.train.data import (
    FrameDataset,
    ScanReport,
    Source,
    StepSampler,
    frame_cache_dir,
    preload_images,
    sample_seed,
    scan,
    split_by_file,
)
from vidcolor.train.degrade import degrade
from vidcolor.train.device_data import DeviceBatches
from vidcolor.train.hints import simulate_hints
from vidcolor.train.plots import plot_losses
from vidcolor.train.progress import Bar, Meter, append_row
from vidcolor.train.split import read_split
from vidcolor.train.state import Logger, RunState, build_state, load_checkpoint, unwrap
from vidcolor.train.validate import Autocast, validate


@dataclass
class TrainResult:
    step: int
    best_val_l1: float
    out: Path


# ---------------------------------------------------------------- the run


def train(
    cfg: TrainConfig, resume: bool = False, log: Logger = print, progress: bool = True, stop_at: int | None = None
) -> TrainResult:
    """Run (or with ``resume`` continue) the training described by ``cfg``.

    ``stop_at`` ends this call after that step, as an interruption would, without changing the
    run's schedule (which depends on ``cfg.steps``); a later ``resume`` carries on.
    """
    rank, world, local_rank = _dist_env()
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if cfg.device != "cpu" and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    try:
        return _train(
            cfg,
            resume,
            log if rank == 0 else (lambda _m: None),
            progress and rank == 0,
            rank,
            world,
            local_rank,
            stop_at,
        )
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(
    cfg: TrainConfig,
    resume: bool,
    log: Logger,
    progress: bool,
    rank: int,
    world: int,
    local_rank: int,
    stop_at: int | None,
) -> TrainResult:
    """Set the run up, then step until ``stop_at`` (or ``cfg.steps``). ``log`` and ``progress`` are off on ranks > 0."""
    out = Path(cfg.out)
    saved = open_run(cfg, resume)
    if saved is None:
        cfg = cfg.resolved()  # e.g. pretrain_steps -1 becomes a number, which a resume that lengthens the run keeps
    device, amp_dtype = setup_device(cfg, local_rank)
    # Seeded before the split and the models' initialisation; a resume then restores last.pt's RNG states.
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    data = load_data(cfg, log)
    state = build_state(cfg, device, amp_dtype, log, fresh=saved is None)
    if saved is not None:
        state.load_state_dict(saved)
        log(f"resumed {out / 'last.pt'} at step {state.step}")
    if device.type == "cpu" or (cfg.preload and device.type == "cuda"):
        # oneDNN's convolutions run 1.4x faster channels_last on the CPU (benchmarks/train_throughput.py); a GPU's
        # batches come channels_last with --preload (DeviceBatches), where bf16 convolutions gain from it.
        state.G.to(memory_format=torch.channels_last)
        state.D.to(memory_format=torch.channels_last)
    if world > 1:
        state.distribute(device)
    if rank == 0:
        prepare_run_folder(out, cfg, data, state.step)
        log(
            f"G {count_parameters(unwrap(state.G)) / 1e6:.2f}M params, "
            f"D {count_parameters(unwrap(state.D)) / 1e6:.2f}M; "
            f"device {device}, precision {amp_dtype or 'fp32'}, world {world}; GAN from step {cfg.pretrain_steps}"
        )
    batches = iter(make_loader(data.train_ds, cfg, device, state.step, rank, world))
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
    end = min(cfg.steps, stop_at) if stop_at is not None else cfg.steps

    bar = Bar(cfg.steps, state.step, enabled=progress)
    meter = Meter()
    state.G.train()
    state.D.train()
    try:
        while state.step < end:
            step = state.step
            rgb = next(batches).to(device, non_blocking=True)
            L, ab, hint, weight = prepare_batch(rgb, cfg, step, rank, world)
            gan = step >= cfg.pretrain_steps  # L1 alone first, so D meets a generator that already colours
            losses = train_step(state, L, ab, hint, gan, cfg.lambda_l1, autocast, weight)
            if state.G_ema is not None:
                update_ema(state.G_ema, unwrap(state.G), cfg.ema_decay, step)
            state.sched_g.step()
            if gan:  # D's schedule counts D's steps only, so it runs pretrain_steps behind G's
                state.sched_d.step()
            state.step = step = step + 1
            meter.add(losses, rgb.shape[0] * world)

            # Rank 0 alone writes: log rows, validation, models, last.pt.
            if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
                row = meter.row(step, "gan" if gan else "pretrain", state.opt_g.param_groups[0]["lr"])
                append_row(out / "log.jsonl", row)
                bar.update(step, row)
            else:
                bar.update(step, None)
            validating = step % cfg.eval_every == 0 or step == cfg.steps
            if rank == 0 and validating:
                validate(state, data.val_ds, data.val_idx, out, device, autocast, bar.note)
            if rank == 0 and (step % cfg.ckpt_every == 0 or step == end):
                state.save(out / "last.pt")  # also when stopped early, so a resume carries on from here
            if world > 1 and validating:
                dist.barrier()  # keep ranks together while rank 0 evaluates and writes
    finally:
        bar.close()
    if rank == 0:
        plot_losses(out / "log.jsonl", out / "loss.png")
    return TrainResult(state.step, state.best, out)


# ---------------------------------------------------------------- set-up, in the order it happens


def open_run(cfg: TrainConfig, resume: bool) -> dict[str, Any] | None:
    """The saved state of the run in ``cfg.out`` to resume (its last.pt), or None for a new run.

    Refuses a resume with nothing to resume or with fewer steps than already done, and a new run
    where one already is (it would overwrite it)."""
    out = Path(cfg.out)
    ckpt_path = out / "last.pt"
    if not resume:
        if ckpt_path.exists():
            raise BadInputError(
                f"{out}: already holds a run (last.pt); pass --resume to continue it or choose another --out"
            )
        return None
    if not ckpt_path.exists():
        raise BadInputError(f"{ckpt_path}: nothing to resume (no last.pt in the run folder)")
    saved = load_checkpoint(ckpt_path)
    if cfg.steps < saved["step"]:
        raise BadInputError(f"--steps {cfg.steps} is below the checkpoint's step {saved['step']}")
    return saved


def setup_device(cfg: TrainConfig, local_rank: int) -> tuple[torch.device, torch.dtype | None]:
    """This rank's device (its own GPU under torchrun) and autocast dtype (None: fp32); sets torch's CPU threads."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device, pick_precision(cfg.precision, device)


def pick_precision(name: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype, or None for fp32; ``auto`` is bf16 (fp16 where the GPU lacks it) on CUDA, bf16 on a
    CPU with native bf16 (AMX or AVX512-BF16: faster steps, benchmarks/train_throughput.py), else fp32
    (emulated bf16 is slower than fp32)."""
    if name == "auto":
        if device.type == "cpu":
            return torch.bfloat16 if cpu_has_fast_bf16() else None
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return precision_dtype(name)


@dataclass
class TrainData:
    """What a run trains and validates on."""

    report: ScanReport  # the scan of the training data: what was found, and what was skipped and why
    train_src: list[Source]
    val_src: list[Source]  # empty when nothing is held out (val_fraction 0): the training files validate
    train_ds: FrameDataset  # random resized crops
    val_ds: FrameDataset  # fixed centre crops
    val_idx: list[int]  # the val_ds items each validation evaluates, spread evenly over it


def load_data(cfg: TrainConfig, log: Logger) -> TrainData:
    """Scan the training data and hold out the validation files (``cfg.val``, a split file's ``val``,
    or ``val_fraction`` of the files by a seeded split); refuses data with no colour picture."""
    data, val = cfg.data, cfg.val
    if cfg.split:
        files = read_split(cfg.split)
        data, val = files["train"], files["val"]
    if not data:
        raise BadInputError("no training data given")
    keep = max(2 * cfg.size, 256)
    report = scan(data, cfg.frames_per_video, keep_side=keep, cache=frame_cache_dir())
    for path, why in report.unreadable:
        log(f"warning: skipped unreadable {path}: {why}")
    if val:
        val_report = scan(val, cfg.frames_per_video, keep_side=keep, cache=frame_cache_dir())
        held = {s.path.resolve() for s in val_report.sources}
        train_src = [s for s in report.sources if s.path.resolve() not in held]
        val_src = val_report.sources
    else:
        train_src, val_src = split_by_file(report.sources, cfg.val_fraction, cfg.seed)
    if not train_src:
        raise BadInputError(
            f"no usable colour training data in {', '.join(data)} "
            f"({len(report.gray)} grayscale, {len(report.unreadable)} unreadable files)"
        )
    log(describe_scan(report, len(train_src), len(val_src)))
    if cfg.preload:
        preload_images(train_src + val_src, max_side=4 * cfg.size)
    train_ds = FrameDataset(train_src, cfg.size, train=True, min_area=cfg.crop_min_area)
    val_ds = FrameDataset(val_src or train_src, cfg.size, train=False)
    val_idx = np.linspace(0, len(val_ds) - 1, min(cfg.val_items, len(val_ds))).round().astype(int).tolist()
    return TrainData(report, train_src, val_src, train_ds, val_ds, val_idx)


def describe_scan(report: ScanReport, train_n: int, val_n: int) -> str:
    vids = sum(1 for s in report.sources if s.kind == "video")
    frames = sum(len(s) for s in report.sources if s.kind == "video")
    parts = [
        f"{len(report.sources) - vids} images + {vids} videos ({frames} sampled frames)",
        f"{train_n} train / {val_n} val files",
    ]
    if report.gray:
        parts.append(f"{len(report.gray)} grayscale skipped")
    if report.duplicates_skipped:
        parts.append(f"{report.duplicates_skipped} near-duplicate frames skipped")
    if report.unreadable:
        parts.append(f"{len(report.unreadable)} unreadable skipped")
    return "data: " + ", ".join(parts)


def prepare_run_folder(out: Path, cfg: TrainConfig, data: TrainData, step: int) -> None:
    """Rank 0, before the first step: remove what a killed run left half-written, write config.toml and
    data.json (the files trained and validated on, and those skipped), and drop log rows after ``step``."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("last.pt", "best.safetensors", "best.json"):
        remove_stale_partials(out / name)
    cfg.save_toml(out / "config.toml")
    files = {
        "train": [str(s.path) for s in data.train_src],
        "val": [str(s.path) for s in data.val_src],
        "grayscale_skipped": [str(p) for p in data.report.gray],
        "unreadable_skipped": [[str(p), why] for p, why in data.report.unreadable],
    }
    (out / "data.json").write_text(json.dumps(files, indent=1) + "\n")
    _trim_log(out / "log.jsonl", step)


def make_loader(
    ds: FrameDataset, cfg: TrainConfig, device: torch.device, start_step: int, rank: int, world: int
) -> Iterable[torch.Tensor]:
    """This rank's batches, one per step from ``start_step`` on, endlessly (:class:`StepSampler`): (N, 3, size, size)
    RGB in [0, 1], N = cfg.batch_size; a resumed run gets the very batches it would have had.

    With ``--preload`` on a GPU the pictures live on it and the batches are cut there
    (:class:`DeviceBatches`): a loader on the host cannot keep a GPU busy."""
    if cfg.preload and device.type == "cuda":
        return DeviceBatches(ds, device, cfg.batch_size, cfg.seed, start_step, rank, world, channels_last=True)
    sampler = StepSampler(len(ds), cfg.batch_size, cfg.seed, start_step=start_step, rank=rank, world=world)
    return torch.utils.data.DataLoader(
        ds,
        batch_sampler=sampler,
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
        prefetch_factor=4 if cfg.workers else None,
    )


# ---------------------------------------------------------------- one step


@torch.no_grad()
def prepare_batch(
    rgb: torch.Tensor, cfg: TrainConfig, step: int, rank: int, world: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(L, ab, hint, weight) of this rank's batch at ``step``.

    rgb: (N, 3, H, W) in [0, 1]. L: (N, 1, H, W) normalised luma, degraded like old film for a
    ``cfg.degrade`` share of the pictures; ab: (N, 2, H, W) in [-1, 1], the clean target; hint:
    (N, 3, H, W) simulated user clicks for hint-capable generators, else None; weight: the L1's
    per-pixel weight (N, 1, H, W) with ``cfg.neutral_weight``, else None.
    """
    L, ab = rgb_to_model(rgb)
    weight = neutral_weight(L, ab, cfg.neutral_weight) if cfg.neutral_weight else None  # clean L: the truth
    # Per-step, per-rank randomness: a resumed run degrades and hints exactly as before.
    gen = torch.Generator().manual_seed(sample_seed(cfg.seed + 1, step * world + rank))
    L = degrade(L, cfg.degrade, gen)
    hint = simulate_hints(ab, gen, cfg.hint_none, cfg.hint_points) if cfg.generator.hints else None
    return L, ab, hint, weight


def neutral_weight(L: torch.Tensor, ab: torch.Tensor, extra: float) -> torch.Tensor:
    """Normalised truth L (N,1,H,W) and ab (N,2,H,W) -> the L1's per-pixel weight (N,1,H,W) float32:
    ``1 + extra`` where the true colour is bright and near neutral (:data:`~vidcolor.config.NEUTRAL_MIN_L`,
    :data:`~vidcolor.config.NEUTRAL_MAX_CHROMA`), 1 elsewhere."""
    bright = (L + 1.0) * L_SCALE > NEUTRAL_MIN_L
    neutral = torch.hypot(ab[:, :1], ab[:, 1:]) * AB_SCALE < NEUTRAL_MAX_CHROMA
    return 1.0 + extra * (bright & neutral).float()


def train_step(
    state: RunState,
    L: torch.Tensor,
    ab: torch.Tensor,
    hint: torch.Tensor | None,
    gan: bool,
    lambda_l1: float,
    autocast: Autocast,
    weight: torch.Tensor | None = None,
) -> dict[str, float]:
    """One optimiser step of G, preceded (``gan``) by one of D; returns the batch's losses.

    L (N, 1, H, W), ab (N, 2, H, W) and hint (N, 3, H, W) or None as from :func:`prepare_batch`.
    Pre-training: G minimises L1(G(L), ab). GAN phase: first D, on real and fake pairs in one pass,
    minimises (BCE(real, 1) + BCE(fake, 0)) / 2; then G minimises BCE(D(L, G(L)), 1) + lambda_l1 * L1.
    Leaves the schedulers and the weight average to the caller.

    ``weight`` (N, 1, H, W), from :func:`neutral_weight`: G minimises the weighted mean of the L1
    instead (the reported ``"l1"`` stays the plain mean, comparable across runs).

    Returns ``{"l1": ...}``, and in the GAN phase also ``"g_gan"`` and ``"d"`` (floats).
    """
    with autocast():
        fake = state.G(L, hint)
    if gan:
        with autocast():
            logits = state.D(torch.cat([L, L]), torch.cat([ab, fake.detach()]))
            real_l, fake_l = logits.float().chunk(2)
            loss_d = 0.5 * (
                F.binary_cross_entropy_with_logits(real_l, torch.ones_like(real_l))
                + F.binary_cross_entropy_with_logits(fake_l, torch.zeros_like(fake_l))
            )
        state.opt_d.zero_grad(set_to_none=True)
        state.scaler.scale(loss_d).backward()
        state.scaler.step(state.opt_d)
        # G's adversarial loss through the plain module: no DDP all-reduce of D's (unused) gradients.
        d_plain = unwrap(state.D)
        d_plain.requires_grad_(False)
        with autocast():
            fake_logits = d_plain(L, fake).float()
            loss_g_gan = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        d_plain.requires_grad_(True)
    err = (fake.float() - ab).abs()
    l1 = err.mean()
    fit = l1 if weight is None else (err * weight).mean() / weight.mean()
    loss_g = loss_g_gan + lambda_l1 * fit if gan else fit
    state.opt_g.zero_grad(set_to_none=True)
    state.scaler.scale(loss_g).backward()
    state.scaler.step(state.opt_g)
    state.scaler.update()
    return {"l1": l1.item(), **({"g_gan": loss_g_gan.item(), "d": loss_d.item()} if gan else {})}


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float, step: int) -> None:
    """ema <- d*ema + (1-d)*model, with d warming up as (1+step)/(10+step) so early steps count;
    buffers (batch-norm statistics) are copied.

    Not ``torch.optim.swa_utils.AveragedModel``: its first update copies the weights and its EMA
    (``get_ema_multi_avg_fn``) has no warm-up by training step, so the average would differ, and its
    state dict (``module.*`` keys + ``n_averaged``) is not the ``G_ema`` layout that last.pt holds
    and that runs already saved resume from."""
    d = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p.detach(), 1.0 - d)
    for e, b in zip(ema.buffers(), model.buffers(), strict=True):
        e.copy_(b)


# ---------------------------------------------------------------- helpers


def resume_config(out: str | Path, steps: int | None = None, **changes: object) -> TrainConfig:
    """The config of the run in ``out`` (from its last.pt), lengthened to ``steps`` if given.

    Only the run's length and where it runs (device, workers) may change on resume; the recipe
    (data, model, losses, learning rates) is the saved one, so a resumed run is the same run.
    """
    path = Path(out) / "last.pt"
    if not path.exists():
        raise BadInputError(f"{path}: nothing to resume (no last.pt in the run folder)")
    saved = load_checkpoint(path)["config"]
    allowed = {k: v for k, v in changes.items() if k in RESUME_FIELDS and v is not None}
    return TrainConfig.from_dict({**saved, **allowed, "out": str(out), "steps": steps or saved["steps"]})


def _dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) when run alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _trim_log(path: Path, step: int) -> None:
    """After a crash the log may run past the checkpoint: drop rows the resumed run will redo."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                keep.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a line cut short by a kill
    path.write_text("".join(line + "\n" for line in keep))
