"""Generator throughput per engine x precision x batch x render size, and output agreement.

    .venv/bin/python benchmarks/engines.py [--model PATH] [--device auto|cpu|cuda] [--quick]

Frames/s of the generator alone (what ``--engine`` changes), with ratios to eager fp32 at the
same batch and size. Then, on the demo clip, how far each engine's output chroma planes (8-bit
Cb/Cr, what ends up in the video) are from eager fp32's. The default model unless --model.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from bench_timing import machine, timeit
from vidcolor.colorizer import default_model_path
from vidcolor.config import ColorizeConfig
from vidcolor.device import pick_device
from vidcolor.engines import create_engine, engine_unavailable
from vidcolor.modelfile import load_generator
from vidcolor.planes import ColourSpec, render_size, rgb_to_cbcr, small_rgb, upsample_chroma
from vidcolor.source import frames, probe

CPU_CASES = [("eager", "fp32"), ("eager", "bf16"), ("compile", "fp32"), ("compile", "bf16"), ("onnxruntime", "fp32")]
GPU_CASES = [
    ("eager", "fp32"),
    ("eager", "fp16"),
    ("compile", "fp16"),
    ("onnxruntime", "fp32"),
    ("tensorrt", "fp16"),
    ("tensorrt", "fp32"),
]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bikes_gray.mp4"


def chroma_planes(engine, frames_rgb: np.ndarray, device: torch.device, spec: ColourSpec, w: int, h: int) -> np.ndarray:
    from vidcolor.color import model_to_rgb, uint8_rgb_to_L

    rgb = torch.from_numpy(frames_rgb).to(device).permute(0, 3, 1, 2)
    L = uint8_rgb_to_L(rgb)
    ab = engine(L)
    return upsample_chroma(rgb_to_cbcr(model_to_rgb(L, ab.to(L.device)), spec), w, h).cpu().numpy().astype(np.int16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (as vidcolor --device)")
    ap.add_argument("--quick", action="store_true", help="one batch size and render size")
    args = ap.parse_args()
    device = pick_device(args.device)
    generator, _ = load_generator(args.model or default_model_path(), device)
    cases = GPU_CASES if device.type == "cuda" else CPU_CASES
    batches = [8] if args.quick else [1, 8]
    sizes = [(256, 448)] if args.quick else [(256, 448), (384, 704)]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else machine()
    print(f"# generator frames/s, default model, {device}; {name}")
    print("| engine | precision | batch | render (h x w) | build s | frames/s | vs eager fp32 |")
    print("|---|---|---|---|---|---|---|")
    engines = {}
    base_fps: dict[tuple[int, int, int], float] = {}
    for eng, prec in cases:
        reason = engine_unavailable(eng, device)
        if reason:
            print(f"| {eng} | {prec} | - | - | - | unavailable: {reason} | - |")
            continue
        t = time.perf_counter()
        engine = create_engine(eng, generator, device, precision=prec)
        build = time.perf_counter() - t
        engines[(eng, prec)] = engine
        for b in batches:
            for h, w in sizes:
                L = torch.rand(b, 1, h, w, device=device) * 2 - 1
                t0 = time.perf_counter()
                engine(L)  # first call: compiles / warms up for this shape
                first = time.perf_counter() - t0

                def run(engine=engine, L=L):
                    engine(L)
                    if device.type == "cuda":
                        torch.cuda.synchronize()

                fps = b / timeit(run, warmup=1, repeats=5)
                key = (b, h, w)
                base = base_fps.setdefault(key, fps) if (eng, prec) == ("eager", "fp32") else base_fps.get(key)
                ratio = f"{fps / base:.2f}x" if base else "-"
                print(f"| {eng} | {prec} | {b} | {h} x {w} | {build + first:.1f} | {fps:.1f} | {ratio} |", flush=True)

    # Agreement of the chroma planes the video gets, on real footage (first 16 demo frames).
    info = probe(EXAMPLE)
    spec = ColourSpec(info.matrix)
    rsize = render_size(info.width, info.height, ColorizeConfig().render_size, generator.config.multiple)
    clip = np.stack([small_rgb(f, rsize) for _, f in zip(range(16), frames(EXAMPLE), strict=False)])
    ref = chroma_planes(engines[("eager", "fp32")], clip, device, spec, info.width, info.height)
    print("\n| engine | precision | max abs diff (8-bit Cb/Cr levels) | 99.9th pct | mean |")
    print("|---|---|---|---|---|")
    for (eng, prec), engine in engines.items():
        d = np.abs(chroma_planes(engine, clip, device, spec, info.width, info.height) - ref)
        print(f"| {eng} | {prec} | {d.max()} | {np.percentile(d, 99.9):.0f} | {d.mean():.3f} |", flush=True)


if __name__ == "__main__":
    torch.manual_seed(0)
    with torch.inference_mode():
        main()
