"""Training throughput: images/s of whole training steps (batch, L/ab, degradations, the GAN or L1
step) for the bundled base-8 U-Net and the EfficientNet-Lite0 (decoder base 8 and 16) and Lite2
U-Nets, on the CPU and on a GPU where there is one, at each precision asked for, with and without
channels_last and with the encoder's first stages frozen (``--frozen-stages``).

    .venv/bin/python benchmarks/train_throughput.py [--device cpu|cuda|all] [--size 192] [--batch 32]
    .venv/bin/python benchmarks/train_throughput.py --device cpu --size 128 --batch 16 --phase l1 \\
        --precision fp32,bf16 --channels-last both --frozen-stages 0,2

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
from vidcolor.engines import cpu_has_fast_bf16
from vidcolor.train.data import FrameDataset, Source
from vidcolor.train.loop import make_loader, pick_precision, prepare_batch, train_step
from vidcolor.train.state import build_state

MODELS = {
    "base-8 U-Net (bundled v2)": GeneratorConfig(arch="unet-v1", base=8, depth=6, hints=True),
    "Lite0 U-Net b8": GeneratorConfig(arch="encoder-unet-v1", encoder="efficientnet-lite0", base=8, depth=5),
    "Lite0 U-Net b16": GeneratorConfig(arch="encoder-unet-v1", encoder="efficientnet-lite0", base=16, depth=5),
    "Lite2 U-Net b16": GeneratorConfig(arch="encoder-unet-v1", encoder="efficientnet-lite2", base=16, depth=5),
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


def images_per_s(
    gen: GeneratorConfig,
    device: torch.device,
    args: argparse.Namespace,
    precision: str = "auto",
    channels_last: bool | None = None,
    frozen: int = 0,
) -> float:
    """Images/s of whole steps. ``channels_last`` None: as training does (on a GPU with --preload)."""
    cfg = TrainConfig(
        generator=gen,
        size=args.size,
        batch_size=args.batch,
        preload=True,
        workers=args.workers,
        precision=precision,
        pretrain_steps=0 if args.phase == "gan" else 10**6,
        device=str(device),
        degrade=0.5,
        encoder_weights="none",
        encoder_bn="frozen",
        encoder_frozen_stages=frozen if gen.encoder else 0,
    )  # fmt: skip
    amp = pick_precision(cfg.precision, device)
    state = build_state(cfg, device, amp, lambda _m: None)
    if channels_last if channels_last is not None else device.type == "cuda":
        state.G.to(memory_format=torch.channels_last)
        state.D.to(memory_format=torch.channels_last)
    batches = iter(make_loader(FrameDataset(pictures(), cfg.size, train=True), cfg, device, 0, 0, 1))
    autocast = (lambda: torch.autocast(device.type, dtype=amp)) if amp else contextlib.nullcontext
    gan = args.phase == "gan"

    def steps(n: int, start: int) -> None:
        for step in range(start, start + n):
            L, ab, hint, weight = prepare_batch(next(batches).to(device, non_blocking=True), cfg, step, 0, 1)
            train_step(state, L, ab, hint, gan, cfg.lambda_l1, autocast, weight)
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
    ap.add_argument("--phase", choices=["gan", "l1"], default="gan", help="GAN steps (the costlier) or L1 alone")
    ap.add_argument("--precision", default="auto", help="comma-separated: auto, fp32, bf16 (bf16 skipped "
                    "on a CPU without native bf16: emulated, it says nothing about training there)")  # fmt: skip
    ap.add_argument("--channels-last", choices=["auto", "on", "off", "both"], default="auto")
    ap.add_argument("--frozen-stages", default="0", help="comma-separated counts of encoder stages frozen")
    args = ap.parse_args()
    devices = [d for d in ("cpu", "cuda") if args.device in (d, "all")]
    if "cuda" in devices and not torch.cuda.is_available():
        devices.remove("cuda")
        print("no GPU here: CPU figures only")
    layouts = {"auto": [None], "on": [True], "off": [False], "both": [False, True]}[args.channels_last]
    for d in devices:
        device = torch.device(d)
        name = torch.cuda.get_device_name() if d == "cuda" else machine()
        print(f"{d} ({name}), {args.size} px crops, batch {args.batch}, {args.phase.upper()} steps, images/s:")
        print("| model | precision | channels_last | frozen stages | images/s |\n|---|---|---|---|---|")
        for m in args.models.split(","):
            for precision in args.precision.split(","):
                if precision == "bf16" and d == "cpu" and not cpu_has_fast_bf16():
                    print(f"| {m} | bf16 | - | - | skipped: no native bf16 on this CPU |")
                    continue
                shown = precision if precision != "auto" else str(pick_precision("auto", device) or "fp32")
                for cl in layouts:
                    for k in [int(x) for x in args.frozen_stages.split(",")]:
                        if k and not MODELS[m].encoder:
                            continue
                        ips = images_per_s(MODELS[m], device, args, precision, cl, k)
                        cl_shown = "as training" if cl is None else ("on" if cl else "off")
                        print(f"| {m} | {shown} | {cl_shown} | {k} | {ips:.1f} |", flush=True)


if __name__ == "__main__":
    main()
