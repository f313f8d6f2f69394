"""The pix2pix training loop, in one file.

Phase 1 (steps < cfg.pretrain_steps): the generator alone, L1 on ab.
Phase 2: conditional GAN. D sees (L, ab) pairs, real and fake in one forward pass (its instance
norm keeps them independent); loss_D = (BCE(real, 1) + BCE(fake, 0)) / 2. G minimises
BCE(D(L, G(L)), 1) + lambda * L1.

Runs on CPU, one GPU, or several under ``torchrun`` (DDP; each rank gets its own slice of every
global batch; rank 0 alone evaluates and writes). Everything needed to continue exactly is in
``last.pt`` (models, optimisers, schedulers, RNG, step), written atomically every ``ckpt_every``
steps, so ``--resume`` after a kill -9 loses at most that many steps.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from vidcolor.atomic import remove_stale_partials, write_atomic
from vidcolor.color import model_to_rgb, rgb_to_model
from vidcolor.device import pick_device, precision_dtype
from vidcolor.errors import BadInputError
from vidcolor.metrics import colorfulness, psnr
from vidcolor.model import ColorNet, EncoderUNet, PatchDiscriminator, build_generator, count_parameters, init_weights
from vidcolor.modelfile import save_generator
from vidcolor.train.config import TrainConfig
from vidcolor.train.data import (
    FrameDataset,
    ScanReport,
    StepSampler,
    preload_images,
    sample_seed,
    scan,
    split_by_file,
)
from vidcolor.train.degrade import degrade
from vidcolor.train.hints import random_point_hints, simulate_hints
from vidcolor.train.plots import plot_losses, save_sample_grid
from vidcolor.train.split import read_split

Logger = Callable[[str], None]


@dataclass
class TrainResult:
    step: int
    best_val_l1: float
    out: Path


# ---------------------------------------------------------------- set-up helpers


def _dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) when run alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def pick_precision(name: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype, or None for fp32; ``auto`` is bf16 (fp16 where the GPU lacks it) on CUDA, fp32 on CPU."""
    if name == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return precision_dtype(name)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Constant, then linear decay to 0 over the last ``decay_fraction`` of the steps."""
    start = cfg.steps * (1.0 - cfg.decay_fraction)
    if step < start or cfg.decay_fraction == 0:
        return 1.0
    return max(0.0, (cfg.steps - step) / (cfg.steps - start))


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


def _load_checkpoint(path: Path) -> dict:
    # weights_only=True: a checkpoint is tensors and plain containers; nothing is unpickled as code.
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise BadInputError(f"{path}: unreadable checkpoint ({str(e).splitlines()[0][:160]})") from None


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


def param_groups(G: ColorNet, cfg: TrainConfig) -> list[dict]:
    """Decoder first at lr_g, then (encoder U-Nets) the encoder at lr_g * encoder_lr_scale."""
    if not isinstance(G, EncoderUNet):
        return [{"params": list(G.parameters())}]
    enc = list(G.encoder.parameters())
    ids = {id(p) for p in enc}
    rest = [p for p in G.parameters() if id(p) not in ids]
    return [{"params": rest}, {"params": enc, "lr": cfg.lr_g * cfg.encoder_lr_scale}]


def sync_batchnorm(G: torch.nn.Module) -> torch.nn.Module:
    """SyncBatchNorm for DDP on GPUs; timm's converter keeps the activation of its BatchNormAct2d."""
    if isinstance(G, EncoderUNet):
        from timm.layers import convert_sync_batchnorm

        return convert_sync_batchnorm(G)
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(G)


def _unwrap(m: torch.nn.Module) -> torch.nn.Module:
    return m.module if isinstance(m, DDP) else m


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


# ---------------------------------------------------------------- the loop


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
    out = Path(cfg.out)
    ckpt_path = out / "last.pt"
    state = None
    if resume:
        if not ckpt_path.exists():
            raise BadInputError(f"{ckpt_path}: nothing to resume (no last.pt in the run folder)")
        state = _load_checkpoint(ckpt_path)
        if cfg.steps < state["step"]:
            raise BadInputError(f"--steps {cfg.steps} is below the checkpoint's step {state['step']}")
    else:
        cfg = cfg.resolved()
        if ckpt_path.exists():
            raise BadInputError(
                f"{out}: already holds a run (last.pt); pass --resume to continue it or choose another --out"
            )

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    amp_dtype = pick_precision(cfg.precision, device)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    # ---- data
    data, val = cfg.data, cfg.val
    if cfg.split:
        files = read_split(cfg.split)
        data, val = files["train"], files["val"]
    if not data:
        raise BadInputError("no training data given")
    report = scan(data, cfg.frames_per_video, keep_side=max(2 * cfg.size, 256))
    for path, why in report.unreadable:
        log(f"warning: skipped unreadable {path}: {why}")
    if val:
        val_report = scan(val, cfg.frames_per_video, keep_side=max(2 * cfg.size, 256))
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

    # ---- models
    G = build_generator(cfg.generator)
    D = PatchDiscriminator(cfg.d_base, cfg.d_layers).to(device)
    init_weights(D)
    if isinstance(G, EncoderUNet):
        init_weights(G.up)  # the encoder keeps timm's initialisation, or the weights loaded next
        init_weights(G.head)
        if cfg.encoder_weights != "none" and state is None:  # a resumed run has them in last.pt
            load_encoder(G, cfg)
            log(f"encoder {cfg.generator.encoder}: weights from {cfg.encoder_weights}")
        G.freeze_encoder_bn = cfg.encoder_bn_frozen
    else:
        init_weights(G)
    G = G.to(device)
    # Exponential moving average of G's weights: what is validated, sampled and saved as best.
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if cfg.ema_decay > 0 else None
    opt_g = torch.optim.Adam(param_groups(G, cfg), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    # Encoder U-Nets: the encoder group (second) waits encoder_freeze_steps while the new decoder learns.
    factors = [lambda s: lr_factor(s, cfg), lambda s: lr_factor(s, cfg) * (s >= cfg.encoder_freeze_steps)]
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, factors[: len(opt_g.param_groups)])
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, lambda s: lr_factor(s, cfg))
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    step, best = 0, math.inf
    if state is not None:
        G.load_state_dict(state["G"])
        if G_ema is not None:  # a checkpoint from before EMA existed starts its average from G
            G_ema.load_state_dict(state.get("G_ema", state["G"]))
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        sched_g.load_state_dict(state["sched_g"])
        sched_d.load_state_dict(state["sched_d"])
        scaler.load_state_dict(state["scaler"])
        step, best = state["step"], state["best_val_l1"]
        _set_rng_state(state["rng"])
        log(f"resumed {ckpt_path} at step {step}")
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        if device.type == "cuda":  # batch statistics over the global batch (SyncBatchNorm is GPU-only)
            G = sync_batchnorm(G)
        G, D = DDP(G, device_ids=ids), DDP(D, device_ids=ids)

    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("last.pt", "best.safetensors", "best.json"):  # what a killed run may have left half-written
            remove_stale_partials(out / name)
        cfg.save_toml(out / "config.toml")
        files = {
            "train": [str(s.path) for s in train_src],
            "val": [str(s.path) for s in val_src],
            "grayscale_skipped": [str(p) for p in report.gray],
            "unreadable_skipped": [[str(p), why] for p, why in report.unreadable],
        }
        (out / "data.json").write_text(json.dumps(files, indent=1) + "\n")
        _trim_log(out / "log.jsonl", step)
        log(
            f"G {count_parameters(_unwrap(G)) / 1e6:.2f}M params, D {count_parameters(_unwrap(D)) / 1e6:.2f}M; "
            f"device {device}, precision {amp_dtype or 'fp32'}, world {world}; GAN from step {cfg.pretrain_steps}"
        )

    sampler = StepSampler(len(train_ds), cfg.batch_size, cfg.seed, start_step=step, rank=rank, world=world)
    loader = torch.utils.data.DataLoader(
        train_ds,
        batch_sampler=sampler,
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
        prefetch_factor=4 if cfg.workers else None,
    )
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext

    def evaluate() -> dict:
        g = G_ema if G_ema is not None else _unwrap(G)
        g.eval()
        l1s, psnrs, colour, colour_truth, hinted, grid = [], [], [], [], [], None
        with torch.inference_mode():
            for i in range(0, len(val_idx), cfg.batch_size):
                rgb = torch.stack([val_ds[j] for j in val_idx[i : i + cfg.batch_size]]).to(device)
                L, ab = rgb_to_model(rgb)
                with autocast():
                    pred = g(L).float()
                l1s.append((pred - ab).abs().mean(dim=(1, 2, 3)))
                out_rgb = model_to_rgb(L, pred)
                psnrs.append(psnr(out_rgb, rgb))
                if cfg.generator.hints:  # the same pictures with 10 true-colour points each
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
        if G_ema is None:
            g.train()
        ratio = float(torch.cat(colour).mean() / torch.cat(colour_truth).mean().clamp_min(1e-6))
        return {
            "val_l1": float(torch.cat(l1s).mean()),
            "val_psnr": float(torch.cat(psnrs).mean()),
            "val_colorfulness_ratio": ratio,
            **({"val_psnr_hints10": float(torch.cat(hinted).mean())} if hinted else {}),
            "grid": grid,
        }

    def checkpoint() -> None:
        saved = {
            "step": step,
            "best_val_l1": best,
            "config": cfg.to_dict(),
            "G": _unwrap(G).state_dict(),
            **({"G_ema": G_ema.state_dict()} if G_ema is not None else {}),
            "D": _unwrap(D).state_dict(),
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "sched_g": sched_g.state_dict(),
            "sched_d": sched_d.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": _rng_state(),
        }
        write_atomic(ckpt_path, lambda tmp: torch.save(saved, tmp))

    bar = _Bar(cfg.steps, step, enabled=progress)
    G.train()
    D.train()
    it = iter(loader)
    t_last, n_last = time.perf_counter(), 0
    acc: dict[str, list[float]] = {"l1": [], "g_gan": [], "d": []}
    try:
        end = min(cfg.steps, stop_at) if stop_at is not None else cfg.steps
        while step < end:
            rgb = next(it).to(device, non_blocking=True)
            with torch.no_grad():
                L, ab = rgb_to_model(rgb)
                # Per-step, per-rank randomness: a resumed run degrades and hints exactly as before.
                gen = torch.Generator().manual_seed(sample_seed(cfg.seed + 1, step * world + rank))
                L = degrade(L, cfg.degrade, gen)  # the input looks like old film; the target ab stays clean
                hint = simulate_hints(ab, gen, cfg.hint_none, cfg.hint_points) if cfg.generator.hints else None
            gan = step >= cfg.pretrain_steps
            with autocast():
                fake = G(L, hint)
            if gan:
                # D step: real and fake pairs in one pass.
                with autocast():
                    logits = D(torch.cat([L, L]), torch.cat([ab, fake.detach()]))
                    real_l, fake_l = logits.float().chunk(2)
                    loss_d = 0.5 * (
                        F.binary_cross_entropy_with_logits(real_l, torch.ones_like(real_l))
                        + F.binary_cross_entropy_with_logits(fake_l, torch.zeros_like(fake_l))
                    )
                opt_d.zero_grad(set_to_none=True)
                scaler.scale(loss_d).backward()
                scaler.step(opt_d)
                # G step through the plain module: no DDP all-reduce of D's (unused) gradients.
                d_plain = _unwrap(D)
                d_plain.requires_grad_(False)
                with autocast():
                    fake_logits = d_plain(L, fake).float()
                    loss_g_gan = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
                d_plain.requires_grad_(True)
            l1 = (fake.float() - ab).abs().mean()
            loss_g = loss_g_gan + cfg.lambda_l1 * l1 if gan else l1
            opt_g.zero_grad(set_to_none=True)
            scaler.scale(loss_g).backward()
            scaler.step(opt_g)
            scaler.update()
            if G_ema is not None:
                update_ema(G_ema, _unwrap(G), cfg.ema_decay, step)
            sched_g.step()
            if gan:
                sched_d.step()
            step += 1
            n_last += rgb.shape[0] * world

            acc["l1"].append(l1.item())
            if gan:
                acc["g_gan"].append(loss_g_gan.item())
                acc["d"].append(loss_d.item())
            if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
                now = time.perf_counter()
                row = {
                    "kind": "train",
                    "step": step,
                    "phase": "gan" if gan else "pretrain",
                    **{k: (sum(v) / len(v) if v else None) for k, v in acc.items()},
                    "lr_g": opt_g.param_groups[0]["lr"],
                    "images_per_s": n_last / (now - t_last),
                }
                _append(out / "log.jsonl", row)
                bar.update(step, row)
                acc = {k: [] for k in acc}
                t_last, n_last = now, 0
            else:
                bar.update(step, None)
            if rank == 0 and (step % cfg.eval_every == 0 or step == cfg.steps):
                metrics = evaluate()
                grid = metrics.pop("grid")
                _append(out / "log.jsonl", {"kind": "val", "step": step, **metrics})
                if metrics["val_l1"] < best:
                    best = metrics["val_l1"]
                    save_generator(
                        out / "best.safetensors",
                        G_ema if G_ema is not None else _unwrap(G),
                        {"step": step, "val": metrics, "train_config": cfg.to_dict(), "selected_by": "val_l1"},
                    )
                if cfg.snapshot_every and step % cfg.snapshot_every == 0:
                    # Candidates for selection by `vidcolor eval`, which photo-crop L1 alone cannot do.
                    (out / "snapshots").mkdir(exist_ok=True)
                    save_generator(
                        out / "snapshots" / f"step_{step:07d}.safetensors",
                        G_ema if G_ema is not None else _unwrap(G),
                        {"step": step, "val": metrics, "train_config": cfg.to_dict(), "selected_by": "snapshot"},
                    )
                if step % cfg.sample_every == 0 or step == cfg.steps:
                    save_sample_grid(out / "samples" / f"step_{step:07d}.png", *grid)
                    plot_losses(out / "log.jsonl", out / "loss.png")
                bar.note(f"step {step}: val L1 {metrics['val_l1']:.4f}, PSNR {metrics['val_psnr']:.2f} dB")
            if rank == 0 and (step % cfg.ckpt_every == 0 or step == end):
                checkpoint()
            if world > 1 and (step % cfg.eval_every == 0 or step == cfg.steps):
                dist.barrier()  # keep ranks together while rank 0 evaluates and writes
    finally:
        bar.close()
    if rank == 0:
        plot_losses(out / "log.jsonl", out / "loss.png")
    return TrainResult(step, best, out)


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
