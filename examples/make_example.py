"""Rebuild examples/bikes_gray.mp4 from the shared data (for maintainers; users never need this).

    .venv/bin/python examples/make_example.py ../shared/data/videos/bikes.mp4

Takes the first 4 s of the colour clip, keeps only its luma (a black-and-white copy, the kind of
footage vidcolor is for), and adds a quiet 440 Hz AAC tone so the demo shows audio passing through.
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np

SECONDS = 4.0


def main(src: Path, dst: Path) -> None:
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "+faststart"}) as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.options = {"crf": "18", "preset": "slow"}
        aout = out.add_stream("aac", rate=48000, layout="mono")
        for frame in inp.decode(vin):
            if frame.time >= SECONDS:
                break
            yuv = frame.reformat(format="yuv420p")
            arr = yuv.to_ndarray()
            arr[yuv.height :] = 128  # neutral chroma: black and white
            gray = av.VideoFrame.from_ndarray(arr, format="yuv420p")
            gray.pts, gray.time_base = frame.pts, frame.time_base
            for p in vout.encode(gray):
                out.mux(p)
        for p in vout.encode():
            out.mux(p)
        n = int(SECONDS * 48000)
        tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)
        for i in range(0, n, 1024):
            af = av.AudioFrame.from_ndarray(tone[None, i : i + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts = 48000, i
            for p in aout.encode(af):
                out.mux(p)
        for p in aout.encode():
            out.mux(p)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).with_name("bikes_gray.mp4"))
