"""End-to-end colorizing throughput, stage costs, a frame-dump comparison, and memory flatness.

    .venv/bin/python benchmarks/pipeline.py [--frames 60] [--model PATH] [--precision fp32] [--confidence pale]

For 480p and 1080p clips (generated, gray, moving texture) it prints:
  * each stage's throughput measured in isolation (decode; prepare = working YUV + render-size RGB;
    colour = L + engine + smoothing + chroma planes; encode = chroma write + H.264);
  * end-to-end frames/s of ``colorize_video`` and its ratio to the ideal 1 / (sum of stage costs);
  * the ratio against a frame-dump pipeline (every frame written as a PNG, colorized one by one at
    batch 1 as a still image, re-encoded from the PNGs: how older tools work), same model;
and peak RSS of a whole run on a 10 s and a 10 min clip (same size and settings), in subprocesses.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from bench_timing import machine
from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
from vidcolor.encode import VideoWriter
from vidcolor.film import colour_batch
from vidcolor.pipeline import colorize_image, colorize_video
from vidcolor.planes import ColourSpec, render_size, small_rgb, to_work_frame, write_chroma
from vidcolor.source import frames, probe
from vidcolor.temporal import TemporalSmoother


def make_clip(path: Path, w: int, h: int, n: int, fps: int = 25) -> Path:
    """A gray clip with moving texture (so decoder and encoder do real work)."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 60, (h + 128, w + 192), dtype=np.uint8)  # bounded, whatever n is
    yy, xx = np.mgrid[0:h, 0:w]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": "20", "preset": "veryfast"}
        for i in range(n):
            base = (96 + 80 * np.sin(xx / w * 6 + i / 10) * np.cos(yy / h * 4 - i / 15)).astype(np.uint8)
            dy, dx = (2 * i) % 128, (3 * i) % 192
            y = base + texture[dy : dy + h, dx : dx + w]
            arr = np.full((h * 3 // 2, w), 128, np.uint8)
            arr[:h] = y
            frame = av.VideoFrame.from_ndarray(arr, format="yuv420p")
            frame.pts = i
            frame.time_base = s.codec_context.time_base = Fraction(1, fps)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def per_second(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def stage_rates(clip: Path, colorizer: Colorizer, tmp: Path) -> dict[str, float]:
    info = probe(clip)
    spec = ColourSpec(info.matrix)
    rsize = render_size(info.width, info.height, colorizer.cfg.render_size, colorizer.multiple)
    t = time.perf_counter()
    decoded = list(frames(clip))
    rates = {"decode": per_second(len(decoded), time.perf_counter() - t)}
    n = len(decoded)
    t = time.perf_counter()
    items = [(to_work_frame(f, spec), small_rgb(f, rsize)) for f in decoded]
    rates["prepare"] = per_second(n, time.perf_counter() - t)
    bs = colorizer.cfg.batch_size
    smoother = TemporalSmoother(colorizer.cfg.smoothing)
    colour_batch(colorizer, smoother, [s for _, s in items[:bs]], spec, info.width, info.height)  # warm-up
    smoother = TemporalSmoother(colorizer.cfg.smoothing)
    t = time.perf_counter()
    uvs = []
    for i in range(0, n, bs):
        uvs.extend(
            colour_batch(colorizer, smoother, [s for _, s in items[i : i + bs]], spec, info.width, info.height)[0]
        )
    rates["colour"] = per_second(n, time.perf_counter() - t)
    t = time.perf_counter()
    with VideoWriter(tmp / "stage_encode.mp4", info, colorizer.cfg.encode, spec, {}) as w:
        for (frame, _), uv in zip(items, uvs, strict=True):
            w.write(write_chroma(frame, uv))
    rates["encode"] = per_second(n, time.perf_counter() - t)
    return rates


def end_to_end(clip: Path, colorizer: Colorizer, out: Path) -> float:
    t = time.perf_counter()
    report = colorize_video(clip, out, colorizer)
    return per_second(report.frames, time.perf_counter() - t)


def frame_dump(clip: Path, colorizer: Colorizer, tmp: Path) -> float:
    """Old-style: dump PNGs, colorize each at batch 1 as a still image, re-encode the PNGs."""
    info = probe(clip)
    dump, done = tmp / "dump", tmp / "done"
    dump.mkdir(exist_ok=True)
    done.mkdir(exist_ok=True)
    t = time.perf_counter()
    n = 0
    for i, f in enumerate(frames(clip)):
        f.to_image().save(dump / f"{i:06d}.png")
        n += 1
    single = Colorizer(dataclasses.replace(colorizer.cfg, batch_size=1))
    for p in sorted(dump.iterdir()):
        colorize_image(p, done / p.name, single)
    with av.open(str(tmp / "dump.mp4"), "w") as out:
        s = out.add_stream("libx264", rate=info.rate or 25)
        s.width, s.height, s.pix_fmt = info.width, info.height, "yuv420p"
        s.options = {"crf": str(colorizer.cfg.encode.crf), "preset": colorizer.cfg.encode.preset}
        for p in sorted(done.iterdir()):
            for pkt in s.encode(av.VideoFrame.from_image(Image.open(p))):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return per_second(n, time.perf_counter() - t)


def rss_child(clip: str, out: str, model: str | None, engine: str, precision: str) -> None:
    cfg = ColorizeConfig(model=model, render_size=64, engine=engine, precision=precision)
    report = colorize_video(Path(clip), Path(out), Colorizer(cfg))
    print(json.dumps({"frames": report.frames, "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a
    child would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--model", default=None)
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--confidence", default=None, help="off | flip | pale (default: the config's)")
    ap.add_argument("--skip-rss", action="store_true", help="skip the 10 s / 10 min memory runs")
    ap.add_argument("--rss-only", action="store_true", help="only the memory runs")
    ap.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child, args.model, args.engine, args.precision)
        return
    cfg = ColorizeConfig(model=args.model, engine=args.engine, precision=args.precision)
    if args.confidence is not None:
        cfg = dataclasses.replace(cfg, confidence=args.confidence)
    colorizer = Colorizer(cfg)
    print(
        f"# pipeline, {args.frames} frames per clip, render {cfg.render_size}, batch {cfg.batch_size}, "
        f"engine {cfg.engine} -> {colorizer.engine.name}, confidence {cfg.confidence}, x264 crf {cfg.encode.crf} preset {cfg.encode.preset}; {machine()}"
    )
    print(
        "| clip | decode fps | prepare fps | colour fps | encode fps | ideal fps | end-to-end fps | e2e / ideal | frame-dump fps | e2e / frame-dump |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sizes = {} if args.rss_only else {"480p": (854, 480), "1080p": (1920, 1080)}
        for name, (w, h) in sizes.items():
            clip = make_clip(tmp / f"{name}.mp4", w, h, args.frames)
            rates = stage_rates(clip, colorizer, tmp)
            ideal = 1.0 / sum(1.0 / r for r in rates.values())
            e2e = end_to_end(clip, colorizer, tmp / f"{name}_out.mp4")
            dump = frame_dump(clip, colorizer, tmp)
            print(
                f"| {name} | {rates['decode']:.1f} | {rates['prepare']:.1f} | {rates['colour']:.1f} | {rates['encode']:.1f} "
                f"| {ideal:.1f} | {e2e:.1f} | {e2e / ideal:.2f} | {dump:.2f} | {e2e / dump:.1f}x |",
                flush=True,
            )
        if args.skip_rss:
            return
        print("\n| clip (160x96, render 64) | frames | peak RSS MB |")
        print("|---|---|---|")
        peaks = []
        for label, seconds in (("10 s", 10), ("10 min", 600)):
            clip = make_clip(tmp / f"rss_{seconds}.mp4", 160, 96, seconds * 25)
            cmd = [
                sys.executable,
                __file__,
                "--rss-child",
                str(clip),
                str(tmp / f"rss_{seconds}_out.mp4"),
                "--engine",
                args.engine,
                "--precision",
                args.precision,
            ]
            if args.model:
                cmd += ["--model", args.model]
            res = json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            )
            peaks.append(res["peak_rss_mb"])
            print(f"| {label} | {res['frames']} | {res['peak_rss_mb']:.0f} |", flush=True)
        print(f"\npeak RSS ratio 10 min / 10 s: {peaks[1] / peaks[0]:.3f}")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
