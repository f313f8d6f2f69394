"""Generator architecture candidates: size, cost and eager CPU speed at 256x256, batch 8.

The default architecture must colorize >= 20 frames/s at 256x256 (batch 8) on a 2-core CPU with
the eager engine in fp32, and be as strong (wide/deep) as that budget allows.

    .venv/bin/python benchmarks/model_speed.py [--size 256] [--batch 8]
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from common import machine, timeit
from vidcolor.engines import create_engine
from vidcolor.model import Generator, GeneratorConfig, count_parameters
from vidcolor.modelfile import read_info
from vidcolor.pipeline import default_model_path

CANDIDATES = [
    GeneratorConfig(base=8, depth=6, max_channels=256),  # the bundled model's (chosen by eval, RESULTS.md)
    GeneratorConfig(base=16, depth=5, max_channels=256),
    GeneratorConfig(base=16, depth=6, max_channels=256),  # `vidcolor train`'s default
    GeneratorConfig(base=16, depth=7, max_channels=256),
    GeneratorConfig(base=12, depth=6, max_channels=256, blocks=2),
    GeneratorConfig(base=24, depth=5, max_channels=256),
    GeneratorConfig(base=32, depth=5, max_channels=256),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.rand(args.batch, 1, args.size, args.size) * 2 - 1
    print(f"# generator candidates, {args.size}x{args.size}, batch {args.batch}; {machine()}")
    print(
        "| base | depth | max ch | blocks | params | fp32 MB | GMAC/frame | module fp32 fps | eager engine fp32 fps | eager bf16 fps |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    bundled = GeneratorConfig.from_dict(read_info(default_model_path())["generator"])
    for cfg in CANDIDATES:
        g = Generator(cfg).eval()
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            g(x[:1])
        gmac = fc.get_total_flops() / 2e9
        with torch.inference_mode():
            t_module = timeit(lambda g=g: g(x))
        eager = create_engine("eager", g, "cpu")
        t_eager = timeit(lambda e=eager: e(x))
        bf16 = create_engine("eager", g, "cpu", precision="bf16")
        t_bf16 = timeit(lambda e=bf16: e(x))
        n = count_parameters(g)
        default = " (train default)" if cfg == GeneratorConfig() else ""
        default += " (bundled)" if cfg == bundled else ""
        print(
            f"| {cfg.base} | {cfg.depth} | {cfg.max_channels} | {cfg.blocks} | {n / 1e6:.2f}M{default} | {n * 4 / 1e6:.0f} "
            f"| {gmac:.2f} | {args.batch / t_module:.1f} | {args.batch / t_eager:.1f} | {args.batch / t_bf16:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
