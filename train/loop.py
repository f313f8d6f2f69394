"""The pix2pix training loop, in one file, read top to bottom.

Phase 1 (steps < cfg.pretrain_steps): the generator alone, L1 on ab.
Phase 2: conditional GAN. D sees (L, ab) pairs, real and fake in one forward pass (its instance
norm keeps them independent); loss_D = (BCE(real, 1) + BCE(fake, 0)) / 2. G minimises
BCE(D(L, G(L)), 1) + lambda * L1.

A fine-tune (``cfg.init``, ``vidcolor train DATA --init MODEL``) starts G from a generator file
(:func:`load_init`, in :func:`build_state`) and D from nothing, and runs the same two phases.

Runs on CPU, one GPU, or several under ``torchrun`` (DDP; each rank gets its own slice of every
global batch; rank 0 alone evaluates and writes). Everything needed to continue exactly is in
``last.pt`` (models, optimisers, schedulers, RNG, step: :class:`RunState`), written atomically every
``ckpt_every`` steps, so ``--resume`` after a kill -9 loses at most that many steps.

The file follows a run: :func:`train` (the process group) and :func:`_train` (set-up, then the loop);
then the set-up in the order it happens (:func:`open_run`, :func:`load_data`, :func:`build_state`,
:func:`prepare_run_folder`); then one step (:func:`prepare_batch`, :func:`train_step`); then
validation (:func:`evaluate`, :func:`validate`); then small helpers.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from vidcolor.atomic import remove_stale_partials, write_atomic
from vidcolor.color import model_to_rgb, rgb_to_model
from vidcolor.colorizer import model_id
from vidcolor.device import pick_device, precision_dtype
from vidcolor.encoders import early_parameters
from vidcolor.engines import cpu_has_fast_bf16
from vidcolor.errors import BadInputError
from vidcolor.metrics import colorfulness, psnr
from vidcolor.model import ColorNet, EncoderUNet, PatchDiscriminator, build_generator, count_parameters, init_weights
from vidcolor.modelfile import load_generator, save_generator
from vidcolor.train.config import TrainConfig, init_path
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
from vidcolor.train.hints import random_point_hints, simulate_hints
from vidcolor.train.plots import plot_losses, save_sample_grid
from vidcolor.train.split import read_split

Logger = Callable[[str], None]
Autocast = Callable[[], contextlib.AbstractContextManager[Any]]  # a fresh autocast (or null) context per call


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
            f"G {count_parameters(_unwrap(state.G)) / 1e6:.2f}M params, "
            f"D {count_parameters(_unwrap(state.D)) / 1e6:.2f}M; "
            f"device {device}, precision {amp_dtype or 'fp32'}, world {world}; GAN from step {cfg.pretrain_steps}"
        )
    batches = iter(make_loader(data.train_ds, cfg, device, state.step, rank, world))
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
    end = min(cfg.steps, stop_at) if stop_at is not None else cfg.steps

    bar = _Bar(cfg.steps, state.step, enabled=progress)
    meter = _Meter()
    state.G.train()
    state.D.train()
    try:
        while state.step < end:
            step = state.step
            rgb = next(batches).to(device, non_blocking=True)
            L, ab, hint = prepare_batch(rgb, cfg, step, rank, world)
            gan = step >= cfg.pretrain_steps  # L1 alone first, so D meets a generator that already colours
            losses = train_step(state, L, ab, hint, gan, cfg.lambda_l1, autocast)
            if state.G_ema is not None:
                update_ema(state.G_ema, _unwrap(state.G), cfg.ema_decay, step)
            state.sched_g.step()
            if gan:  # D's schedule counts D's steps only, so it runs pretrain_steps behind G's
                state.sched_d.step()
            state.step = step = step + 1
            meter.add(losses, rgb.shape[0] * world)

            # Rank 0 alone writes: log rows, validation, models, last.pt.
            if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
                row = meter.row(step, "gan" if gan else "pretrain", state.opt_g.param_groups[0]["lr"])
                _append(out / "log.jsonl", row)
                bar.update(step, row)
            else:
                bar.update(step, None)
            validating = step % cfg.eval_every == 0 or step == cfg.steps
            if rank == 0 and validating:
                validate(state, data, out, device, autocast, bar)
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
    saved = _load_checkpoint(ckpt_path)
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


@dataclass
class RunState:
    """Everything a run changes as it trains; ``state_dict()`` is what last.pt holds.

    ``G`` and ``D`` are DDP-wrapped under torchrun (after :meth:`distribute`); the state dicts hold
    the plain modules' weights either way. ``G_ema`` (None when ``cfg.ema_decay`` is 0) is the
    exponential moving average of G's weights: what is validated, sampled and saved as best.
    """

    cfg: TrainConfig
    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    step: int = 0  # steps done
    best: float = math.inf  # lowest validation L1 so far (that of best.safetensors)

    @property
    def validated(self) -> torch.nn.Module:
        """The generator that is validated, sampled and saved: the weight average when there is one."""
        return self.G_ema if self.G_ema is not None else _unwrap(self.G)

    def state_dict(self) -> dict[str, Any]:
        """last.pt's contents: step, best_val_l1, config, G, G_ema (when kept), D, opt_g, opt_d, sched_g,
        sched_d, scaler, rng (Python's, NumPy's and torch's global RNG states, taken now)."""
        return {
            "step": self.step,
            "best_val_l1": self.best,
            "config": self.cfg.to_dict(),
            "G": _unwrap(self.G).state_dict(),
            **({"G_ema": self.G_ema.state_dict()} if self.G_ema is not None else {}),
            "D": _unwrap(self.D).state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": _rng_state(),
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Continue from ``saved`` (a last.pt's contents), global RNG states included. Its ``config`` is
        not read here: the caller built ``cfg`` from it (:func:`resume_config`)."""
        _unwrap(self.G).load_state_dict(saved["G"])
        if self.G_ema is not None:  # a checkpoint from before EMA existed starts its average from G
            self.G_ema.load_state_dict(saved.get("G_ema", saved["G"]))
        _unwrap(self.D).load_state_dict(saved["D"])
        self.opt_g.load_state_dict(saved["opt_g"])
        self.opt_d.load_state_dict(saved["opt_d"])
        self.sched_g.load_state_dict(saved["sched_g"])
        self.sched_d.load_state_dict(saved["sched_d"])
        self.scaler.load_state_dict(saved["scaler"])
        self.step, self.best = saved["step"], saved["best_val_l1"]
        _set_rng_state(saved["rng"])

    def save(self, path: Path) -> None:
        """Write :meth:`state_dict` to ``path`` atomically: a kill during the write leaves the previous file."""
        saved = self.state_dict()
        write_atomic(path, lambda tmp: torch.save(saved, tmp))

    def distribute(self, device: torch.device) -> None:
        """Wrap G and D for DDP (gradients all-reduced over the ranks). Call after loading a state."""
        ids = [device.index] if device.type == "cuda" else None
        G = self.G
        if device.type == "cuda":  # batch statistics over the global batch (SyncBatchNorm is GPU-only)
            G = sync_batchnorm(G)
        self.G, self.D = DDP(G, device_ids=ids), DDP(self.D, device_ids=ids)


def build_state(
    cfg: TrainConfig, device: torch.device, amp_dtype: torch.dtype | None, log: Logger, fresh: bool = True
) -> RunState:
    """A run at step 0: initialised G, D (and G's average), their optimisers and lr schedules, on ``device``.

    ``fresh``: a new run, whose G starts from ``cfg.init`` (every weight) or whose encoder U-Net
    starts from ``cfg.encoder_weights``; a resumed run has those weights in last.pt, so it reads
    neither file again. Draws from torch's global RNG (initialisation), in a fixed order."""
    G = build_generator(cfg.generator)
    D = PatchDiscriminator(cfg.d_base, cfg.d_layers).to(device)
    init_weights(D)  # D starts fresh in a fine-tune too: the init file holds a generator only
    if isinstance(G, EncoderUNet):
        init_weights(G.up)  # the encoder keeps timm's initialisation, or the weights loaded next
        init_weights(G.head)
        if cfg.encoder_weights != "none" and fresh:
            load_encoder(G, cfg)
            log(f"encoder {cfg.generator.encoder}: weights from {cfg.encoder_weights}")
        G.freeze_encoder_bn = cfg.encoder_bn_frozen
        for p in early_parameters(G.encoder, cfg.encoder_frozen_stages):
            p.requires_grad_(False)  # no gradient wanted below them either: autograd skips their backward
    else:
        init_weights(G)
    if cfg.init and fresh:
        load_init(G, cfg, log)
    G = G.to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if cfg.ema_decay > 0 else None
    opt_g = torch.optim.Adam(param_groups(G, cfg), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    # Encoder U-Nets: the encoder group (second) waits encoder_freeze_steps while the new decoder learns.
    factors = [lambda s: lr_factor(s, cfg), lambda s: lr_factor(s, cfg) * (s >= cfg.encoder_freeze_steps)]
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, factors[: len(opt_g.param_groups)])
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, lambda s: lr_factor(s, cfg))
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    return RunState(cfg, G, D, G_ema, opt_g, opt_d, sched_g, sched_d, scaler)


def load_encoder(G: EncoderUNet, cfg: TrainConfig) -> None:
    """Put the classifier weights ``cfg.encoder_weights`` names into G's encoder (all of them)."""
    from vidcolor.encoders import encoder_state

    state = encoder_state(cfg.generator.encoder, G.encoder, cfg.encoder_weights)
    missing, unexpected = G.encoder.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:  # encoder_state maps every tensor; anything else is a bug, said plainly
        raise BadInputError(
            f"{cfg.encoder_weights}: {len(missing)} encoder tensors missing, {len(unexpected)} unexpected"
        )


def load_init(G: ColorNet, cfg: TrainConfig, log: Logger) -> None:
    """Put every weight of the generator file ``cfg.init`` names (batch-norm statistics too) into G.

    G was built from ``cfg.generator``, which :func:`vidcolor.train.config.build_config` took from
    that file; a config built otherwise (the Python API) with another architecture is refused here."""
    path = init_path(cfg.init)
    try:
        init_G, info = load_generator(path)
    except BadInputError as e:
        raise BadInputError(f"--init {e}") from None
    if init_G.config != cfg.generator:
        raise BadInputError(
            f"--init {cfg.init}: its generator ({init_G.config}) is not the config's ({cfg.generator}); "
            f"take the architecture from the file (vidcolor.train.config.init_generator)"
        )
    G.load_state_dict(init_G.state_dict())
    log(f"generator: weights from {path} ({model_id(path)}, its step {info.get('step', '?')}); D starts fresh")


def param_groups(G: ColorNet, cfg: TrainConfig) -> list[dict]:
    """Decoder first at lr_g, then (encoder U-Nets) the encoder at lr_g * encoder_lr_scale."""
    if not isinstance(G, EncoderUNet):
        return [{"params": list(G.parameters())}]
    enc = [p for p in G.encoder.parameters() if p.requires_grad]  # frozen stages: not optimised
    ids = {id(p) for p in G.encoder.parameters()}
    rest = [p for p in G.parameters() if id(p) not in ids]
    return [{"params": rest}, {"params": enc, "lr": cfg.lr_g * cfg.encoder_lr_scale}]


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Constant, then linear decay to 0 over the last ``decay_fraction`` of the steps."""
    start = cfg.steps * (1.0 - cfg.decay_fraction)
    if step < start or cfg.decay_fraction == 0:
        return 1.0
    return max(0.0, (cfg.steps - step) / (cfg.steps - start))


def sync_batchnorm(G: torch.nn.Module) -> torch.nn.Module:
    """SyncBatchNorm for DDP on GPUs; timm's converter keeps the activation of its BatchNormAct2d."""
    if isinstance(G, EncoderUNet):
        from timm.layers import convert_sync_batchnorm

        return convert_sync_batchnorm(G)
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(G)


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
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(L, ab, hint) of this rank's batch at ``step``.

    rgb: (N, 3, H, W) in [0, 1]. L: (N, 1, H, W) normalised luma, degraded like old film for a
    ``cfg.degrade`` share of the pictures; ab: (N, 2, H, W) in [-1, 1], the clean target; hint:
    (N, 3, H, W) simulated user clicks for hint-capable generators, else None.
    """
    L, ab = rgb_to_model(rgb)
    # Per-step, per-rank randomness: a resumed run degrades and hints exactly as before.
    gen = torch.Generator().manual_seed(sample_seed(cfg.seed + 1, step * world + rank))
    L = degrade(L, cfg.degrade, gen)
    hint = simulate_hints(ab, gen, cfg.hint_none, cfg.hint_points) if cfg.generator.hints else None
    return L, ab, hint


def train_step(
    state: RunState,
    L: torch.Tensor,
    ab: torch.Tensor,
    hint: torch.Tensor | None,
    gan: bool,
    lambda_l1: float,
    autocast: Autocast,
) -> dict[str, float]:
    """One optimiser step of G, preceded (``gan``) by one of D; returns the batch's losses.

    L (N, 1, H, W), ab (N, 2, H, W) and hint (N, 3, H, W) or None as from :func:`prepare_batch`.
    Pre-training: G minimises L1(G(L), ab). GAN phase: first D, on real and fake pairs in one pass,
    minimises (BCE(real, 1) + BCE(fake, 0)) / 2; then G minimises BCE(D(L, G(L)), 1) + lambda_l1 * L1.
    Leaves the schedulers and the weight average to the caller.

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
        d_plain = _unwrap(state.D)
        d_plain.requires_grad_(False)
        with autocast():
            fake_logits = d_plain(L, fake).float()
            loss_g_gan = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        d_plain.requires_grad_(True)
    l1 = (fake.float() - ab).abs().mean()
    loss_g = loss_g_gan + lambda_l1 * l1 if gan else l1
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


# ---------------------------------------------------------------- validation


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


def validate(state: RunState, data: TrainData, out: Path, device: torch.device, autocast: Autocast, bar: _Bar) -> None:
    """Rank 0, every ``eval_every`` steps and at the end: evaluate the validated generator and log it;
    save it as best.safetensors when its val L1 is the lowest yet, as a snapshot every ``snapshot_every``
    steps; every ``sample_every`` steps save a sample grid and redraw the loss plot."""
    cfg, step, g = state.cfg, state.step, state.validated
    metrics, grid = evaluate(g, data.val_ds, data.val_idx, cfg.batch_size, device, autocast, cfg.generator.hints)
    _append(out / "log.jsonl", {"kind": "val", "step": step, **metrics})
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
    bar.note(f"step {step}: val L1 {metrics['val_l1']:.4f}, PSNR {metrics['val_psnr']:.2f} dB")


# ---------------------------------------------------------------- helpers


def resume_config(out: str | Path, steps: int | None = None, **changes: object) -> TrainConfig:
    """The config of the run in ``out`` (from its last.pt), lengthened to ``steps`` if given.

    Only the run's length and where it runs (device, workers) may change on resume; the recipe
    (data, model, losses, learning rates) is the saved one, so a resumed run is the same run.
    """
    path = Path(out) / "last.pt"
    if not path.exists():
        raise BadInputError(f"{path}: nothing to resume (no last.pt in the run folder)")
    saved = _load_checkpoint(path)["config"]
    allowed = {k: v for k, v in changes.items() if k in ("device", "workers", "threads", "precision") and v is not None}
    return TrainConfig.from_dict({**saved, **allowed, "out": str(out), "steps": steps or saved["steps"]})


def _dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) when run alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _load_checkpoint(path: Path) -> dict:
    # weights_only=True: a checkpoint is tensors and plain containers; nothing is unpickled as code.
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise BadInputError(f"{path}: unreadable checkpoint ({str(e).splitlines()[0][:160]})") from None


def _rng_state() -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _unwrap(m: torch.nn.Module) -> torch.nn.Module:
    return m.module if isinstance(m, DDP) else m


def _append(path: Path, row: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


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


class _Meter:
    """The mean losses and the throughput since the last train row of log.jsonl."""

    def __init__(self) -> None:
        self.losses: dict[str, list[float]] = {"l1": [], "g_gan": [], "d": []}
        self.images, self.since = 0, time.perf_counter()

    def add(self, losses: dict[str, float], images: int) -> None:
        for name, value in losses.items():
            self.losses[name].append(value)
        self.images += images

    def row(self, step: int, phase: str, lr_g: float) -> dict:
        """The train row of ``step`` (a loss not computed since the last row is None), and a fresh start."""
        now = time.perf_counter()
        row = {
            "kind": "train",
            "step": step,
            "phase": phase,
            **{k: (sum(v) / len(v) if v else None) for k, v in self.losses.items()},
            "lr_g": lr_g,
            "images_per_s": self.images / (now - self.since),
        }
        self.losses = {k: [] for k in self.losses}
        self.images, self.since = 0, now
        return row


class _Bar:
    """Rich progress bar for the training loop (no-op when disabled, e.g. on ranks > 0)."""

    def __init__(self, total: int, start: int, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
        )
        self.task = self.progress.add_task("train", total=total, completed=start, info="")
        self.progress.start()

    def update(self, step: int, row: dict | None) -> None:
        if not self.enabled:
            return
        info = None
        if row is not None:
            parts = [row["phase"], f"L1 {row['l1']:.4f}"]
            if row.get("g_gan") is not None:
                parts += [f"G {row['g_gan']:.3f}", f"D {row['d']:.3f}"]
            parts.append(f"{row['images_per_s']:.1f} img/s")
            info = "  ".join(parts)
        self.progress.update(self.task, completed=step, **({"info": info} if info else {}))

    def note(self, text: str) -> None:
        if self.enabled:
            self.progress.console.print(text)

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()
