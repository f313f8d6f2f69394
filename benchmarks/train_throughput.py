"""Training throughput (images/s) of the default pix2pix recipe at 64, 128 and 256 px.

Measures one full GAN step (D update + G update, L1 + BCE) on random data, so data loading is
excluded; fp32 and bf16 autocast on CPU (CUDA when available).

    .venv/bin/python benchmarks/train_throughput.py [--batch 16] [--steps 5]
"""

from __future__ import annotations

import argparse
import contextlib
import functools

import torch
import torch.nn.functional as F

from bench_timing import machine, timeit
from vidcolor.device import pick_device
from vidcolor.model import Generator, PatchDiscriminator, init_weights


def gan_step(G, D, opt_g, opt_d, L, ab, amp_dtype, device):
    ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
    with ctx:
        fake = G(L)
        logits = D(torch.cat([L, L]), torch.cat([ab, fake.detach()])).float()
        real_l, fake_l = logits.chunk(2)
        loss_d = 0.5 * (
            F.binary_cross_entropy_with_logits(real_l, torch.ones_like(real_l))
            + F.binary_cross_entropy_with_logits(fake_l, torch.zeros_like(fake_l))
        )
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    D.requires_grad_(False)
    with ctx:
        fl = D(L, fake).float()
        loss_g = F.binary_cross_entropy_with_logits(fl, torch.ones_like(fl)) + 100 * (fake.float() - ab).abs().mean()
    D.requires_grad_(True)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    device = pick_device("auto")
    print(f"# pix2pix GAN step, default generator + 70x70 PatchGAN, batch {args.batch}, {device}; {machine()}")
    print("| size | fp32 img/s | bf16 img/s | bf16 / fp32 |")
    print("|---|---|---|---|")
    for size in (64, 128, 256):
        rates = []
        for dtype in (None, torch.bfloat16):
            torch.manual_seed(0)
            G, D = Generator().to(device), PatchDiscriminator().to(device)
            init_weights(G)
            init_weights(D)
            opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
            opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
            L = torch.rand(args.batch, 1, size, size, device=device) * 2 - 1
            ab = torch.rand(args.batch, 2, size, size, device=device) * 0.6 - 0.3
            step = functools.partial(gan_step, G, D, opt_g, opt_d, L, ab, dtype, device)
            t = timeit(step, warmup=1, repeats=args.steps)
            rates.append(args.batch / t)
        print(f"| {size} | {rates[0]:.1f} | {rates[1]:.1f} | {rates[1] / rates[0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
