"""Films in segments: resume after kill -9 at ~60 %, and two workers against one (wall time).

    .venv/bin/python benchmarks/bench_segments.py --seconds 120 --render-size 64

Makes a gray clip (moving gradient, keyframe every 2 s, AAC sound), then with the CLI:

1. one uninterrupted ``--resume`` run (the full time);
2. the same command killed (SIGKILL) once ~60 % of its segments are recorded, then run again:
   the second run's time against the full one, and its output against an uninterrupted plain run
   (frame count, timestamps, audio packets, the colour step at every joint against the median
   frame-to-frame step);
3. ``--segments 0/2`` and ``1/2`` at the same time, one torch thread each, against one worker with
   both threads: the wall-time ratio, and the chroma difference from one worker.

Numbers go to stdout as a markdown table; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from make_media import audio_packets, frame_times, gradient_frame, read_frames, write_video
from vidcolor.segments import keyframe_times, plan_segments, work_dir


def clip(path: Path, seconds: int, fps: int = 25, gop: int = 50, w: int = 160, h: int = 120) -> Path:
    """A gray moving clip with a tone, a keyframe every ``gop`` frames (the segments' cut points)."""
    frames = (gradient_frame(w, h, t=i / 30, colour=False) for i in range(seconds * fps))
    options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
    return write_video(path, frames, fps=fps, audio=True, options=options)


def cmd(src: Path, out: Path, extra: list[str], args: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "vidcolor", str(src), "-o", str(out), "--render-size", str(args.render_size),
            "--segment-seconds", str(args.segment_seconds), "--quiet", "--overwrite", *extra]  # fmt: skip


def timed(c: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(c, check=True, env=env)
    return time.perf_counter() - t0


def seam(path: Path, src: Path, seconds: float) -> tuple[float, float]:
    c = np.stack(read_frames(path, "yuv444p"))[:, 1:].astype(np.int16)
    steps = np.abs(np.diff(c, axis=0)).mean(axis=(1, 2, 3))
    times = frame_times(src)
    joints = [
        times.index(min(times, key=lambda t, s=s: abs(t - s.start)))
        for s in plan_segments(keyframe_times(src), seconds)[1:]
    ]
    return float(max(steps[j - 1] for j in joints)), float(np.median(np.delete(steps, [j - 1 for j in joints])))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=180)
    ap.add_argument("--render-size", type=int, default=96)
    ap.add_argument("--segment-seconds", type=float, default=10.0)
    ap.add_argument("--kill-at", type=float, default=0.6)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="vidcolor-segments-"))
    src = clip(d / "film.mp4", args.seconds)
    n_segments = len(plan_segments(keyframe_times(src), args.segment_seconds))
    plain, full, resumed = d / "plain.mp4", d / "full.mp4", d / "resumed.mp4"
    t_plain = timed(cmd(src, plain, [], args))
    t_full = timed(cmd(src, full, ["--resume"], args))

    c = cmd(src, resumed, ["--resume"], args)
    t0 = time.perf_counter()
    proc = subprocess.Popen(c)
    want = round(args.kill_at * n_segments)
    while len(list(work_dir(resumed).glob("seg-*.json"))) < want and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    t_killed = time.perf_counter() - t0
    done = len(list(work_dir(resumed).glob("seg-*.json")))
    t_resume = timed(c)

    one, two = d / "one.mp4", d / "two.mp4"
    env1 = {**os.environ, "OMP_NUM_THREADS": "1"}
    t_one = timed(cmd(src, one, ["--resume"], args))
    t0 = time.perf_counter()
    workers = [subprocess.Popen(cmd(src, two, ["--segments", f"{k}/2"], args), env=env1) for k in range(2)]
    for w in workers:
        w.wait()
    t_two = time.perf_counter() - t0

    ref_t, ref_a = frame_times(plain), audio_packets(plain)
    same = {p.name: (frame_times(p) == ref_t, audio_packets(p) == ref_a) for p in (full, resumed, two)}
    s_res, s_two, s_plain = (
        seam(resumed, src, args.segment_seconds),
        seam(two, src, args.segment_seconds),
        seam(plain, src, args.segment_seconds),
    )
    diff = np.abs(
        np.stack(read_frames(two, "yuv444p"))[:, 1:].astype(int) - np.stack(read_frames(one, "yuv444p"))[:, 1:]
    ).max()
    print(
        f"clip {args.seconds} s, {len(ref_t)} frames 160x120, {n_segments} segments of ~{args.segment_seconds:g} s, render {args.render_size}, {os.cpu_count()} cores\n"
    )
    print("| measure | value |\n|---|---|")
    print(f"| plain run (no segments) | {t_plain:.1f} s |")
    print(f"| --resume, uninterrupted | {t_full:.1f} s ({t_full / t_plain:.2f}x plain) |")
    print(f"| killed (SIGKILL) after {done}/{n_segments} segments | at {t_killed:.1f} s |")
    print(f"| the same command again | {t_resume:.1f} s = {t_resume / t_full:.2f} of the full --resume run |")
    print(f"| same frames+timestamps / audio packets as plain (full, resumed, two workers) | {same} |")
    print(
        f"| colour step at joints (max) vs median step: plain / resumed / two workers | {s_plain[0]:.3f} vs {s_plain[1]:.3f} / {s_res[0]:.3f} vs {s_res[1]:.3f} / {s_two[0]:.3f} vs {s_two[1]:.3f} |"
    )
    print(f"| one worker (2 threads) | {t_one:.1f} s |")
    print(f"| two workers --segments 0/2 + 1/2 (1 thread each) | {t_two:.1f} s = {t_two / t_one:.2f} of one |")
    print(f"| two workers vs one: largest chroma difference | {diff} levels |")


if __name__ == "__main__":
    main()
