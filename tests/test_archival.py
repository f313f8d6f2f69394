"""Archival outputs (issue 15): FFV1, ProRes, 10-bit H.265/AV1 with --pix-fmt, source colour tags."""

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from make_media import gradient_frame, luma_planes, write_video
from vidcolor.cli import app

FAST = ["--render-size", "64", "--quiet"]


def run(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def stream_of(path: Path) -> tuple[str, str, int]:
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        return cc.name, cc.pix_fmt, sum(1 for _ in c.decode(video=0))


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_video(tmp_path / "in.mp4", [gradient_frame(64, 48, t=i / 4, colour=False) for i in range(5)])


@pytest.mark.parametrize(
    ("out", "extra", "want"),
    [
        ("o.mkv", ["--codec", "ffv1", "--pix-fmt", "yuv420p10le"], ("ffv1", "yuv420p10le")),
        ("o.mov", ["--codec", "prores_ks"], ("prores", "yuv422p10le")),  # ProRes takes 4:2:2/4:4:4 10-bit only
        ("o.mkv", ["--codec", "libx265", "--pix-fmt", "yuv420p10le"], ("hevc", "yuv420p10le")),
        ("o.mkv", ["--codec", "libsvtav1", "--pix-fmt", "yuv420p10le"], ("libdav1d", "yuv420p10le")),
    ],
)
def test_archival_codecs_and_pixel_formats(tmp_path, tiny_model, clip, out, extra, want):
    r = run(clip, "-o", tmp_path / out, "--model", tiny_model, *extra, *FAST)
    assert r.exit_code == 0, r.output
    name, pix_fmt, frames = stream_of(tmp_path / out)
    assert (name, pix_fmt) == want and frames == 5


def test_ffv1_at_10_bits_keeps_8_bit_luma_exactly(tmp_path, tiny_model, clip):
    """8-bit luma in a 10-bit lossless master: every value is the source's, times 4."""
    r = run(clip, "-o", tmp_path / "o.mkv", "--model", tiny_model, "--codec", "ffv1", "--pix-fmt", "yuv420p10le", *FAST)
    assert r.exit_code == 0
    y8, y10 = luma_planes(clip)[0], luma_planes(tmp_path / "o.mkv")[0]
    assert all(np.array_equal(a.astype(np.uint16) << 2, b) for a, b in zip(y8, y10, strict=True))


def test_a_pixel_format_the_codec_does_not_take_is_one_line(tmp_path, tiny_model, clip):
    r = run(clip, "-o", tmp_path / "o.mp4", "--model", tiny_model, "--pix-fmt", "rgb24", *FAST)
    assert r.exit_code == 2 and "libx264 takes" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "o.mp4").exists()


def test_source_colour_tags_are_kept(tmp_path, tiny_model):
    """A PAL film's own tags (BT.470BG primaries, gamma 2.2 transfer, BT.601 matrix) are kept;
    was: primaries and transfer made up from the matrix (SMPTE 170M)."""
    src = tmp_path / "tagged.mkv"
    with av.open(str(src), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        cc = s.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace = 5, 4, 5
        for i in range(3):
            f = av.VideoFrame.from_ndarray(gradient_frame(64, 48, t=i, colour=False), format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode())
    r = run(src, "-o", tmp_path / "o.mp4", "--model", tiny_model, *FAST)
    assert r.exit_code == 0
    with av.open(str(tmp_path / "o.mp4")) as c:
        f = next(c.decode(video=0))
        assert (int(f.color_primaries), int(f.color_trc), int(f.colorspace)) == (5, 4, 5)


@pytest.mark.parametrize("codec", ["libx265", "libsvtav1"])
def test_quiet_means_quiet_with_encoders_that_print_for_themselves(tmp_path, tiny_model, clip, codec):
    """x265 and SVT-AV1 write their banners to the process's stderr, past FFmpeg's log level: a
    separate process, so what they print is seen. Was: 20-30 lines of encoder stats per file."""
    env = {k: v for k, v in os.environ.items() if k != "SVT_LOG"}
    cmd = [sys.executable, "-m", "vidcolor", str(clip), "-o", str(tmp_path / "o.mkv"), "--codec", codec]
    r = subprocess.run([*cmd, "--model", str(tiny_model), *FAST], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr
