"""Every input audio reaches every output container (copied, or transcoded and resampled)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from media import gradient_frame
from vidcolor.cli import app

runner = CliRunner()
SECONDS = 1.2


def clip_with_audio(path: Path, codec: str, rate: int, layout: str, sample_fmt: str) -> Path:
    """A gray 64x48 clip of SECONDS at 25 fps with a tone in the given audio codec/rate/layout."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("mpeg4" if path.suffix == ".avi" else "libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream(codec, rate=rate)
        a.layout, a.format = layout, sample_fmt
        channels = av.AudioLayout(layout).nb_channels
        n = int(SECONDS * rate)
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)
        for i in range(int(SECONDS * 25)):
            f = av.VideoFrame.from_ndarray(gradient_frame(64, 48, t=i / 6, colour=False), format="rgb24")
            f.pts = i
            for p in v.encode(f):
                out.mux(p)
        step = 1024
        for i in range(0, n, step):
            chunk = np.repeat(tone[None, i : i + step], channels, 0).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate, frame.pts = rate, i
            for conv in av.AudioResampler(format=sample_fmt, layout=layout, rate=rate).resample(frame):
                for p in a.encode(conv):
                    out.mux(p)
        for s in (v, a):
            for p in s.encode():
                out.mux(p)
    return path


def audio_seconds(path: Path) -> tuple[str, int, float]:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        n = sum(f.samples for f in c.decode(a))
        return a.codec_context.name, a.codec_context.sample_rate, n / a.codec_context.sample_rate


INPUTS = [  # (file, codec, rate, layout, sample format): the cases seen to fail, and their class
    ("aac44k.mp4", "aac", 44100, "stereo", "fltp"),  # Opus (WebM) has no 44.1 kHz
    ("pcm_u8_11k.avi", "pcm_u8", 11025, "mono", "u8"),  # AVI PCM reads back as "1 channels", AAC refused it
    ("flac96k_51.mkv", "flac", 96000, "5.1", "s16"),
]


@pytest.mark.parametrize("src", INPUTS, ids=[i[0] for i in INPUTS])
@pytest.mark.parametrize("ext", [".mp4", ".webm", ".mkv", ".mov"])
def test_input_audio_reaches_every_container(tmp_path, tiny_model, src, ext):
    name, codec, rate, layout, fmt = src
    inp = clip_with_audio(tmp_path / name, codec, rate, layout, fmt)
    out = tmp_path / f"out{ext}"
    r = runner.invoke(app, [str(inp), "-o", str(out), "--model", str(tiny_model), "--engine", "eager", "--quiet"])
    assert r.exit_code == 0, r.output
    _, _, want = audio_seconds(inp)
    got_codec, got_rate, got = audio_seconds(out)
    assert abs(got - want) < 0.1, (got_codec, got_rate, got, want)  # resampled, not sped up or cut
