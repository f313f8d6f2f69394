"""A long black-and-white film made of real clips, for timing what grows with a film's length.

    .venv/bin/python benchmarks/long_film.py ../shared/data/videos/*.mp4 ../shared/data/videos/*.avi \\
        --minutes 5 -o runs/bench/five_minutes.mp4

The clips (gray, scaled and padded to 640x360, 25 frames/s) follow each other, round again until
the length is reached: every clip boundary is a cut, as in an edited film.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", type=Path, nargs="+")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    fps, w, h = 25, 640, 360
    total, n = round(args.minutes * 60 * fps), 0
    with av.open(str(args.output), "w") as dst:
        stream = dst.add_stream("libx264", rate=fps, options={"crf": "23", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        while n < total:
            for clip in args.clips:
                with av.open(str(clip)) as src:
                    for frame in src.decode(video=0):
                        if n == total:
                            break
                        k = min(w / frame.width, h / frame.height)
                        sw, sh = max(2, round(frame.width * k) // 2 * 2), max(2, round(frame.height * k) // 2 * 2)
                        gray = frame.to_ndarray(format="gray", width=sw, height=sh)
                        canvas = np.zeros((h, w), np.uint8)
                        y, x = (h - sh) // 2, (w - sw) // 2
                        canvas[y : y + sh, x : x + sw] = gray
                        out = av.VideoFrame.from_ndarray(canvas, format="gray").reformat(format="yuv420p")
                        out.pts, out.time_base = n, Fraction(1, fps)
                        for packet in stream.encode(out):
                            dst.mux(packet)
                        n += 1
                if n == total:
                    break
        for packet in stream.encode():
            dst.mux(packet)
    print(f"wrote {args.output}: {n} frames, {n / fps / 60:.1f} min")


if __name__ == "__main__":
    main()
