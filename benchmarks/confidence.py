"""``--confidence`` off / flip / pale on a split's validation files, and what it costs in speed.

    .venv/bin/python benchmarks/confidence.py [--split train/recipes/split_v1.json] [--part val] \\
        [--max-frames 60] [--tau 6 8 12] [--strength 0.75 0.85] [--json OUT.json] [--no-speed] [--speed-only]
    .venv/bin/python benchmarks/confidence.py --diagnose   # does disagreement mark wrong colour?

Each setting runs ``vidcolor eval``'s own scoring (:func:`vidcolor.evaluate.evaluate_item`: gray
copy, the real pipeline, the truth) over the split's files, the same as

    .venv/bin/vidcolor eval FILES... --max-frames 60 --confidence pale --confidence-tau 8 --json OUT.json

and prints one markdown row per setting (``--strength``: flip made paler everywhere alike, the
baseline a confidence has to beat): PSNR above the gray input (photos: mean and the worst
item; clips: the same), colourfulness over the truth's (photos, clips, the highest item and how
many items pass 1.8x) and flicker over the truth's (clips). Then speed on this CPU: the model
alone (``Colorizer.predict`` at the render size of a 480p frame, one batch) and the whole
pipeline (``colorize_video`` of a generated 854x480 clip, as ``benchmarks/pipeline.py``), per
setting, as frames/s and as CPU time a frame. The load average is printed beside them: on a busy
machine the frames/s mean little and the CPU times are the better guide.
``--diagnose`` asks whether the mirror's disagreement marks wrong colour at all (:func:`diagnose`).
Choose on ``--part val`` only; the test split is for reporting once, after the choice.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from pipeline import make_clip

from bench_timing import machine
from vidcolor.color import AB_SCALE, lab_to_rgb, rgb_to_lab
from vidcolor.colorizer import Colorizer, confident_ab, disagreement
from vidcolor.config import ColorizeConfig
from vidcolor.decode import is_image, load_photo
from vidcolor.evaluate import ItemResult, evaluate_item
from vidcolor.metrics import psnr
from vidcolor.pipeline import colorize_video
from vidcolor.planes import render_size

FLAG = 1.8  # colourfulness ratio above which an item counts as painted (issue 24's goal: none)


def settings(taus: list[float], strengths: list[float]) -> list[tuple[str, ColorizeConfig]]:
    """(label, config) of every setting compared: off, flip, pale at each tau, then flip at each
    lower ``--strength`` (paler everywhere alike: what the confidence must beat to mean anything)."""
    out = [("off", ColorizeConfig()), ("flip", ColorizeConfig(confidence="flip"))]
    out += [(f"pale, tau {t:g}", ColorizeConfig(confidence="pale", confidence_tau=t)) for t in taus]
    out += [(f"flip, strength {s:g}", ColorizeConfig(confidence="flip", strength=s)) for s in strengths]
    return out


def summary(results: list[ItemResult]) -> dict[str, object]:
    """The figures of one setting: PSNR gains over the gray input, colourfulness, flicker."""

    def gain(r: ItemResult) -> float:
        return r.scores["vidcolor"]["psnr"] - r.scores["gray baseline"]["psnr"]

    def colour(r: ItemResult) -> float:
        return r.scores["vidcolor"]["colorfulness_ratio"] or 0.0

    photos = [r for r in results if r.kind == "image"]
    clips = [r for r in results if r.kind == "video"]
    out: dict[str, object] = {}
    for part, items in (("photos", photos), ("clips", clips)):
        if not items:
            continue
        worst = min(items, key=gain)
        out[f"{part}_gain"] = float(np.mean([gain(r) for r in items]))
        out[f"{part}_psnr"] = float(np.mean([r.scores["vidcolor"]["psnr"] for r in items]))
        out[f"{part}_worst"] = (worst.name, gain(worst))
        out[f"{part}_colour"] = float(np.mean([colour(r) for r in items]))
    top = max(results, key=colour)
    out["colour_all"] = float(np.mean([colour(r) for r in results]))
    out["colour_max"] = (top.name, colour(top))
    out["over_flag"] = sum(colour(r) > FLAG for r in results)
    ratios = [r.scores["vidcolor"]["flicker"] / r.scores["vidcolor"]["flicker_truth"] for r in clips]
    out["flicker_ratio"] = float(np.mean(ratios)) if ratios else None
    out["items"] = {r.name: {"kind": r.kind, "gain": gain(r), "colour": colour(r)} for r in results}
    return out


def cpu_name() -> str:
    """``lscpu``'s model name (what the tables of RESULTS.md label a machine by)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return machine()


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``fn()``; CPU time counts every thread of this process (torch's,
    FFmpeg's), so on a machine shared with other work it shows the cost better than the wall does."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def speeds(cfg: ColorizeConfig, clip: Path, out: Path, repeats: int = 5) -> dict[str, float]:
    """Frames/s (median wall) and CPU ms a frame (median) of ``Colorizer.predict`` on one batch at
    the render size of an 854x480 frame (the model, and the mirror and confidence when on), and of
    ``colorize_video`` on ``clip`` (after one warm-up run each)."""
    colorizer = Colorizer(cfg)
    w, h = render_size(854, 480, cfg.render_size, colorizer.multiple)
    rgb = torch.randint(0, 256, (cfg.batch_size, 3, h, w), dtype=torch.uint8, device=colorizer.device)
    timed(lambda: colorizer.predict(rgb))
    model = [timed(lambda: colorizer.predict(rgb)) for _ in range(repeats)]
    with av.open(str(clip)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    timed(lambda: colorize_video(clip, out, colorizer))
    whole = [timed(lambda: colorize_video(clip, out, colorizer)) for _ in range(max(1, repeats // 2))]
    med = statistics.median
    return {
        "model_fps": cfg.batch_size / med(t for t, _ in model),
        "model_cpu_ms": 1000 * med(c for _, c in model) / cfg.batch_size,
        "pipeline_fps": frames / med(t for t, _ in whole),
        "pipeline_cpu_ms": 1000 * med(c for _, c in whole) / frames,
    }


def rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of two 1-D arrays of continuous values, in [-1, 1]."""
    return float(np.corrcoef(x.argsort().argsort(), y.argsort().argsort())[0, 1])


def truth_frames(path: Path, limit: int) -> torch.Tensor:
    """A photo or a clip's first ``limit`` frames as sRGB (N,3,H,W) float in [0,1]."""
    if is_image(path):
        rgb = load_photo(path)[None]
    else:
        with av.open(str(path)) as c:
            frames = itertools.islice(c.decode(video=0), limit)
            rgb = np.stack([f.to_ndarray(format="rgb24") for f in frames])
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255


def diagnose(truth: list[Path], limit: int, tau: float) -> dict[str, float]:
    """Does the mirror's disagreement mark wrong colour? At render size, for each file: the rank
    correlation over pixels of the disagreement with how much better gray would be there
    (|ab - truth|^2 - |truth|^2), and the saturation scale s* in 0..1.5 that would score best
    (an oracle) beside the frame's confidence mean_x exp(-(d/tau)^2)."""
    colorizer = Colorizer(ColorizeConfig())
    rng = np.random.default_rng(0)
    per_pixel, best, conf, kinds = [], [], [], []
    for path in truth:
        full = truth_frames(path, limit)
        w, h = render_size(full.shape[-1], full.shape[-2], colorizer.cfg.render_size, colorizer.multiple)
        small = F.interpolate(full, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        lab = rgb_to_lab(small)
        L, ab = colorizer.predict(lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1)))
        mirrored = colorizer.engine(L.flip(-1)).flip(-1)
        mean, d = confident_ab(ab, mirrored), disagreement(ab, mirrored)
        t = lab[:, 1:] / AB_SCALE
        gain = ((mean - t).pow(2).sum(1) - t.pow(2).sum(1)).flatten().numpy()
        pick = rng.choice(gain.size, min(gain.size, 20000), replace=False)
        per_pixel.append(rank_corr(d.flatten().numpy()[pick], gain[pick]))
        scales = np.linspace(0, 1.5, 31)
        scores = [
            psnr(lab_to_rgb(torch.cat([lab[:, :1], s * mean * AB_SCALE], 1)), small).mean().item() for s in scales
        ]
        best.append(float(scales[int(np.argmax(scores))]))
        conf.append(torch.exp(-((d / tau) ** 2)).mean().item())
        kinds.append("image" if is_image(path) else "video")
    photos = [k == "image" for k in kinds]
    b, c = np.array(best), np.array(conf)
    return {
        "pixel_corr": float(np.mean(per_pixel)),
        "scale_photos": float(b[photos].mean()),
        "scale_clips": float(b[~np.array(photos)].mean()) if not all(photos) else float("nan"),
        "scale_vs_confidence": rank_corr(b[photos], c[photos]),
    }


def fmt_worst(pair: object) -> str:
    name, value = pair  # type: ignore[misc]
    return f"{value:+.2f} ({name})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", type=Path, default=Path("train/recipes/split_v1.json"))
    ap.add_argument("--part", choices=["val", "test"], default="val", help="val chooses; test reports, once")
    ap.add_argument("--truth", nargs="*", type=Path, default=[], help="more truth files (e.g. another clip)")
    ap.add_argument("--max-frames", type=int, default=60)
    ap.add_argument("--tau", type=float, nargs="+", default=[6.0, 8.0, 12.0])
    ap.add_argument("--strength", type=float, nargs="*", default=[0.75, 0.85], help="flip at these strengths too")
    ap.add_argument("--pipeline-frames", type=int, default=100, help="frames of the generated 480p clip")
    ap.add_argument("--engine", default="auto", help="engine of the speed runs")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--diagnose", action="store_true", help="only: does disagreement mark wrong colour?")
    ap.add_argument("--speed-only", action="store_true")
    args = ap.parse_args()
    truth = [Path(p) for p in json.loads(args.split.read_text())[args.part]] + list(args.truth)
    runs = settings(args.tau, args.strength)
    report: dict[str, object] = {"truth": [str(p) for p in truth], "cpu": cpu_name(), "settings": {}}
    if args.diagnose:
        tau = args.tau[len(args.tau) // 2]
        g = diagnose(truth, args.max_frames, tau)
        print(
            f"rank correlation, per pixel, of the disagreement with how much better gray is there: "
            f"{g['pixel_corr']:+.3f} (mean over files)\n"
            f"best saturation scale (oracle, per file): photos {g['scale_photos']:.2f}, clips {g['scale_clips']:.2f}\n"
            f"rank correlation over photos of that scale with the confidence (tau {tau:g}): "
            f"{g['scale_vs_confidence']:+.3f} (a useful confidence: clearly > 0)"
        )
        if args.json:
            args.json.write_text(json.dumps({**report, "diagnose": g}, indent=1) + "\n")
        return
    if not args.speed_only:
        print(f"# {args.part}: {len(truth)} files, clips at most {args.max_frames} frames, render 192, defaults")
        print(
            "| setting | PSNR photos | above gray | worst photo | clip(s) above gray | worst clip "
            "| colour photos | colour clips | colour max | items > 1.8x | flicker / truth | s |"
        )
        print("|---" * 12 + "|")
        gray = None
        for label, cfg in runs:
            t = time.perf_counter()
            colorizer = Colorizer(cfg)
            results = [evaluate_item(p, colorizer, args.max_frames, []) for p in truth]
            s = summary(results)
            gray = gray or {
                "photos": float(np.mean([r.scores["gray baseline"]["psnr"] for r in results if r.kind == "image"])),
                "clips": [r.scores["gray baseline"]["psnr"] for r in results if r.kind == "video"],
            }
            report["settings"][label] = {"config": cfg.public(), **s}  # type: ignore[index]
            flick = "-" if s["flicker_ratio"] is None else f"{s['flicker_ratio']:.2f}"
            name, top = s["colour_max"]  # type: ignore[misc]
            print(
                f"| {label} | {s['photos_psnr']:.2f} | {s['photos_gain']:+.3f} | {fmt_worst(s['photos_worst'])} "
                f"| {s.get('clips_gain', float('nan')):+.3f} | {fmt_worst(s.get('clips_worst', ('-', float('nan'))))} "
                f"| {s['photos_colour']:.2f} | {s.get('clips_colour', float('nan')):.2f} | {top:.2f} ({name}) "
                f"| {s['over_flag']} | {flick} | {time.perf_counter() - t:.0f} |",
                flush=True,
            )
        report["gray"] = gray
        print(f"\ngray input: photos {gray['photos']:.2f} dB, clips {gray['clips']}")  # type: ignore[index]
    if not args.no_speed:
        print(f"\n# speed, {cpu_name()}; {machine()}; engine {args.engine}")
        print(
            "| setting | model fps (480p's render size, batch 8) | model CPU ms/frame | pipeline fps, 480p end to end "
            "| pipeline CPU ms/frame | load average before / after |"
        )
        print("|---|---|---|---|---|---|")
        speed = {}
        with tempfile.TemporaryDirectory() as d:
            clip = make_clip(Path(d) / "480p.mp4", 854, 480, args.pipeline_frames)
            for label, cfg in runs[:3]:  # every tau costs the same
                cfg = dataclasses.replace(cfg, engine=args.engine)
                before = load()
                sp = speeds(cfg, clip, Path(d) / "out.mp4")
                speed[label] = {**sp, "engine": Colorizer(cfg).engine.name}
                print(
                    f"| {label} ({speed[label]['engine']}) | {sp['model_fps']:.1f} | {sp['model_cpu_ms']:.1f} "
                    f"| {sp['pipeline_fps']:.1f} | {sp['pipeline_cpu_ms']:.1f} | {before} / {load()} |",
                    flush=True,
                )
        report["speed"] = speed
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
