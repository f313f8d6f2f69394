"""Fine-tuning to your own footage, measured: the README's example, reproducible.

A restorer has colour material of the same place or period as the black-and-white film. Here that
is played by one colour clip: its frames from [0, 2) s are the colour material, its frames from
[3, 5) s (never trained on) are the "film", colorized from their luma by the bundled model and by
the fine-tuned one and compared with the truth by ``vidcolor eval`` (the gray input's score beside
them). The steps:

1. the clip's colour frames with a time in [0, 2) s -> WORK/frames/NNNNN.png;
2. its frames in [3, 5) s -> WORK/truth_3-5s.mkv (lossless RGB H.264: the truth, exactly);
3. ``vidcolor train WORK/frames --init default --steps 150 --size 128 --batch-size 8 --device cpu
   --out WORK/run`` (the maintainers' command; more ``vidcolor train`` options may follow the clip);
4. ``vidcolor eval WORK/truth_3-5s.mkv`` with the bundled model, then with ``--model
   WORK/run/best.safetensors``; PSNR (dB, RGB) of each, and of the gray input, in WORK/result.json.

best.safetensors is the run's lowest validation L1, validated on a random tenth of the given frames
(``--val-fraction``): with frames from one clip that split puts near-identical frames on both sides,
so it says little more than the training loss; it is what a user gets, so it is what is measured.

Usage (from the repository root)::

    .venv/bin/python train/recipes/finetune_example.py ../shared/data/videos/kphotoalbum__movie.avi
    .venv/bin/python train/recipes/finetune_example.py CLIP --work runs/ft/x --steps 300 --lr-g 5e-4
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av
from PIL import Image

MAINTAINERS = ["--init", "default", "--steps", "150", "--size", "128", "--batch-size", "8", "--device", "cpu"]


def frames_between(clip: Path, start: float, end: float) -> tuple[list, float]:
    """The clip's RGB frames (numpy) whose time is in [start, end) s, and its frame rate."""
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        rate = float(stream.average_rate or 25)
        out = []
        for i, frame in enumerate(c.decode(stream)):
            t = frame.time if frame.time is not None else i / rate
            if t >= end:
                break
            if t >= start:
                out.append(frame.to_ndarray(format="rgb24"))
    if not out:
        raise SystemExit(f"{clip}: no frames in [{start}, {end}) s")
    return out, rate


def write_truth(frames: list, rate: float, path: Path) -> None:
    """The frames as a lossless RGB video (what ``vidcolor eval`` takes as the truth)."""
    from fractions import Fraction

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264rgb", rate=Fraction(rate).limit_denominator(100000))
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "rgb24"
        s.options = {"qp": "0", "preset": "ultrafast"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def vidcolor(*args: str) -> float:
    """Run ``vidcolor ARGS`` (this Python's); its wall time in s."""
    cmd = [sys.executable, "-m", "vidcolor", *args]
    print("$ vidcolor " + " ".join(args), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def psnrs(eval_json: Path) -> tuple[float, float]:
    """(vidcolor's PSNR, the gray input's PSNR) from a ``vidcolor eval --json`` file."""
    overall = json.loads(eval_json.read_text())["overall"]
    return overall["vidcolor"]["psnr"], overall["gray baseline"]["psnr"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", type=Path, help="A colour clip of at least 5 s (or the frames it has after 3 s).")
    parser.add_argument("--work", type=Path, help="Work folder (replaced). Default: runs/finetune/CLIP_STEM.")
    args, train_args = parser.parse_known_args()
    work = args.work or Path("runs/finetune") / args.clip.stem
    if work.exists():
        shutil.rmtree(work)
    (work / "frames").mkdir(parents=True)

    colour, rate = frames_between(args.clip, 0.0, 2.0)
    for i, f in enumerate(colour):
        Image.fromarray(f).save(work / "frames" / f"{i:05d}.png")
    film, _ = frames_between(args.clip, 3.0, 5.0)
    truth = work / "truth_3-5s.mkv"
    write_truth(film, rate, truth)
    print(f"{args.clip.name}: {len(colour)} colour frames from [0, 2) s, {len(film)} frames from [3, 5) s", flush=True)

    train_cmd = ["train", str(work / "frames"), *MAINTAINERS, *train_args, "--out", str(work / "run"), "--quiet"]
    train_s = vidcolor(*train_cmd)
    best = work / "run" / "best.safetensors"
    vidcolor("eval", str(truth), "--json", str(work / "eval_bundled.json"), "--quiet")
    vidcolor("eval", str(truth), "--model", str(best), "--json", str(work / "eval_finetuned.json"), "--quiet")
    bundled, gray = psnrs(work / "eval_bundled.json")
    tuned, _ = psnrs(work / "eval_finetuned.json")
    best_info = json.loads(best.with_suffix(".json").read_text())
    result = {
        "clip": args.clip.name,
        "train_frames": len(colour),
        "eval_frames": len(film),
        "train_command": "vidcolor " + " ".join(train_cmd),
        "train_wall_s": round(train_s, 1),
        "best_step": best_info["step"],
        "psnr_gray": round(gray, 2),
        "psnr_bundled": round(bundled, 2),
        "psnr_finetuned": round(tuned, 2),
        "lift_db": round(tuned - bundled, 2),
    }
    (work / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
