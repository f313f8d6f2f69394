"""Generator architecture candidates: size, cost and CPU speed at the default render size, batch 8.

Plain U-Nets (``unet-v1``) and U-Nets on ImageNet backbones (``encoder-unet-v1``), each through the
eager engine (fp32; bf16 only where the CPU has native bf16, else emulated and meaningless) and
ONNX Runtime fp32 (what ``--engine auto`` picks on CPUs without native bf16).

    .venv/bin/python benchmarks/model_speed.py [--size 192] [--batch 8]
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench_timing import machine, timeit
from vidcolor.colorizer import default_model_path
from vidcolor.config import ColorizeConfig, GeneratorConfig
from vidcolor.engines import cpu_has_fast_bf16, create_engine, engine_unavailable
from vidcolor.model import build_generator, count_parameters
from vidcolor.modelfile import read_info

CANDIDATES = [
    GeneratorConfig(base=8, depth=6, max_channels=256),  # the bundled model's (chosen by eval, RESULTS.md)
    GeneratorConfig(base=16, depth=5, max_channels=256),
    GeneratorConfig(base=16, depth=6, max_channels=256),  # `vidcolor train`'s default
    GeneratorConfig(base=16, depth=7, max_channels=256),
    GeneratorConfig(base=12, depth=6, max_channels=256, blocks=2),
    GeneratorConfig(base=24, depth=5, max_channels=256),
    GeneratorConfig(base=32, depth=5, max_channels=256),
    *[
        GeneratorConfig(arch="encoder-unet-v1", encoder=name, depth=5, base=16, max_channels=256)
        for name in ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "resnet18")
    ],
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=ColorizeConfig.render_size)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.rand(args.batch, 1, args.size, args.size) * 2 - 1
    bf16 = cpu_has_fast_bf16()
    ort = engine_unavailable("onnxruntime") is None
    print(f"# generator candidates, {args.size}x{args.size}, batch {args.batch}; {machine()}")
    print(
        "| encoder | base | depth | max ch | blocks | params | fp32 MB | GMAC/frame | eager fp32 fps "
        "| eager bf16 fps | onnxruntime fp32 fps |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    bundled = GeneratorConfig.from_dict(read_info(default_model_path())["generator"])
    for cfg in CANDIDATES:
        g = build_generator(cfg).eval()
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            g(x[:1])
        gmac = fc.get_total_flops() / 2e9
        fps = []
        for engine, precision, usable in [
            ("eager", "fp32", True),
            ("eager", "bf16", bf16),
            ("onnxruntime", "fp32", ort),
        ]:
            if not usable:
                fps.append("n/a")
                continue
            e = create_engine(engine, g, "cpu", precision=precision)
            fps.append(f"{args.batch / timeit(lambda e=e: e(x)):.1f}")
        n = count_parameters(g)
        note = " (train default)" if cfg == GeneratorConfig() else ""
        note += " (bundled)" if cfg == bundled else ""
        print(
            f"| {cfg.encoder or '-'} | {cfg.base} | {cfg.depth} | {cfg.max_channels} | {cfg.blocks} | {n / 1e6:.2f}M{note} "
            f"| {n * 4 / 1e6:.0f} | {gmac:.2f} | {' | '.join(fps)} |",
            flush=True,
        )
    if not bf16:
        print(
            "\nbf16: n/a, this CPU has no native bf16 (AVX512-BF16/AMX); emulated bf16 is several times slower than fp32."
        )


if __name__ == "__main__":
    main()
