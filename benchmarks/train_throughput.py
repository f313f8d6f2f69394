"""Training throughput: images/s of whole training steps (batch, L/ab, degradations, the GAN step)
for the bundled base-8 U-Net and the EfficientNet-Lite0/Lite2 U-Nets, on the CPU and on a GPU
where there is one.

    .venv/bin/python benchmarks/train_throughput.py [--device cpu|cuda|all] [--size 192] [--batch 32]

The CPU runs the loader as training does (FrameDataset behind a DataLoader, ``--workers``); a GPU
runs what ``--preload`` does there: the pictures on the device, the crops cut there
(:class:`vidcolor.train.device_data.DeviceBatches`), bf16 autocast and channels_last. The data are
64 synthetic pictures of 512x384 held in memory (the throughput of steps, not of disk or JPEG).
Each figure is the median of ``--repeats`` timings of ``--steps`` steps after ``--warmup`` steps.
The GPU image has no PyAV: nothing here imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from bench_timing import machine
from vidcolor.config import GeneratorConfig, TrainConfig
from vidcolor.train.data import FrameDataset, Source
from vidcolor.train.loop import build_state, make_loader, pick_precision, prepare_batch, train_step

MODELS = {
    "base-8 U-Net (bundled v2)": GeneratorConfig(arch="unet-v1", base=8, depth=6, hints=True),
    "Lite0 U-Net": GeneratorConfig(arch="encoder-unet-v1", encoder="efficientnet-lite0", base=16, depth=5),
    "Lite2 U-Net": GeneratorConfig(arch="encoder-unet-v1", encoder="efficientnet-lite2", base=16, depth=5),
}


def pictures(n: int = 64, h: int = 384, w: int = 512) -> list[Source]:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w] / 40.0
    out = []
    for i in range(n):
        planes = [np.sin(x * (1 + c / 3) + y * (i % 5) / 4 + i) for c in range(3)]
        rgb = np.stack(planes, -1) * 100 + 127 + rng.normal(0, 8, (h, w, 3))
        out.append(Source(Path(f"synthetic_{i}.png"), "image", [rgb.clip(0, 255).astype(np.uint8)]))
    return out


def images_per_s(gen: GeneratorConfig, device: torch.device, args: argparse.Namespace) -> float:
    cfg = TrainConfig(
        generator=gen,
        size=args.size,
        batch_size=args.batch,
        preload=True,
        workers=args.workers,
        precision="auto",
        pretrain_steps=0,
        device=str(device),
        degrade=0.5,
    )  # fmt: skip  (pretrain 0: every step is a GAN step, the costlier kind)
    amp = pick_precision(cfg.precision, device)
    state = build_state(cfg, device, amp, lambda _m: None)
    if device.type == "cuda":
        state.G.to(memory_format=torch.channels_last)
        state.D.to(memory_format=torch.channels_last)
    batches = iter(make_loader(FrameDataset(pictures(), cfg.size, train=True), cfg, device, 0, 0, 1))
    autocast = (lambda: torch.autocast(device.type, dtype=amp)) if amp else contextlib.nullcontext

    def steps(n: int, start: int) -> None:
        for step in range(start, start + n):
            L, ab, hint = prepare_batch(next(batches).to(device, non_blocking=True), cfg, step, 0, 1)
            train_step(state, L, ab, hint, True, cfg.lambda_l1, autocast)
        if device.type == "cuda":
            torch.cuda.synchronize()

    steps(args.warmup, 0)
    times = []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        steps(args.steps, args.warmup + r * args.steps)
        times.append(time.perf_counter() - t0)
    return args.steps * args.batch / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="all", help="cpu | cuda | all (cuda only where there is one)")
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="CPU loader processes (as vidcolor train --workers)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated names of MODELS")
    args = ap.parse_args()
    devices = [d for d in ("cpu", "cuda") if args.device in (d, "all")]
    if "cuda" in devices and not torch.cuda.is_available():
        devices.remove("cuda")
        print("no GPU here: CPU figures only")
    for d in devices:
        name = torch.cuda.get_device_name() if d == "cuda" else machine()
        print(f"{d} ({name}), {args.size} px crops, batch {args.batch}, GAN steps:")
        for m in args.models.split(","):
            print(f"  {m:28s} {images_per_s(MODELS[m], torch.device(d), args):8.1f} images/s", flush=True)


if __name__ == "__main__":
    main()
