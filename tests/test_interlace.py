"""Interlaced sources (issue 15): detected by flags and by content, deinterlaced by default with
bwdif (frame count and timing kept), or coloured field by field with the luma and field order kept;
telecined film (3:2 pulldown) detected, and brought back to its own pictures with --interlaced ivtc."""

from fractions import Fraction
from pathlib import Path

import av
import av.filter
import numpy as np
import pytest
from typer.testing import CliRunner

from make_media import luma_planes, write_video
from vidcolor import interlace
from vidcolor.cli import app


def _moving(n: int, w: int = 96, h: int = 64) -> list[np.ndarray]:
    """Progressive gray pictures of a bright bar moving 3 px a picture over a gradient."""
    out = []
    for i in range(n):
        a = np.tile(np.linspace(40, 200, w, dtype=np.float32), (h, 1))
        x = (i * 3) % (w - 8)
        a[:, x : x + 8] = 250
        out.append(a.astype(np.uint8))
    return out


def interlaced_clip(path: Path, n: int = 20, flags: bool = True, woven: bool = True) -> Path:
    """25 frames/s; each woven frame holds two pictures 1/50 s apart on alternate lines (top
    field first), coded as interlaced H.264 when ``flags`` (else flagged progressive: flags lie)."""
    pictures = _moving(2 * n)
    frames = []
    for k in range(n):
        f = pictures[2 * k].copy()
        if woven:
            f[1::2] = pictures[2 * k + 1][1::2]
        frames.append(f)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        if flags:
            s.options = {"flags": "+ildct+ilme", "x264-params": "tff=1"}
        for i, a in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.repeat(a[..., None], 3, -1), format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode())
    return path


def telecined_clip(path: Path, pictures: list[np.ndarray], rate: Fraction = Fraction(30000, 1001)) -> Path:
    """``pictures`` (film, 4 per 5 frames of ``rate``) through FFmpeg's 3:2 pulldown (``telecine``,
    top field first), coded as interlaced H.264 with an AAC tone as long as the video."""
    h, w = pictures[0].shape
    graph = av.filter.Graph()
    film = rate * Fraction(4, 5)
    src = graph.add("buffer", f"video_size={w}x{h}:pix_fmt=yuv420p:time_base={1 / film}:frame_rate={film}")
    tc, sink = graph.add("telecine", "first_field=top:pattern=23"), graph.add("buffersink")
    src.link_to(tc)
    tc.link_to(sink)
    graph.configure()
    woven = []
    for i, a in enumerate([*pictures, None]):
        if a is not None:
            f = av.VideoFrame.from_ndarray(np.repeat(a[..., None], 3, -1), format="rgb24").reformat(format="yuv420p")
            f.pts = i
        graph.push(f if a is not None else None)
        while True:
            try:
                woven.append(graph.pull().to_ndarray(format="rgb24"))
            except (av.error.BlockingIOError, av.error.EOFError):
                break
    opts = {"flags": "+ildct+ilme", "x264-params": "tff=1"}
    return write_video(path, woven, fps=rate, options=opts, audio=True)


def combing(path: Path) -> float:
    """Mean |line - mean of its neighbours|: high for woven fields in motion, low for one picture."""
    with av.open(str(path)) as c:
        ys = [f.to_ndarray(format="gray").astype(float) for f in c.decode(video=0)]
    return float(np.mean([np.abs(y[1:-1] - (y[:-2] + y[2:]) / 2).mean() for y in ys]))


def field_chroma_gap(path: Path) -> float:
    """Mean |Cr of a top-field chroma line - the bottom-field line below it|."""
    gaps = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            p = f.planes[2]
            cr = np.frombuffer(memoryview(p), np.uint8).reshape(-1, p.line_size)[: p.height, : p.width].astype(float)
            gaps.append(np.abs(cr[0::2][: cr[1::2].shape[0]] - cr[1::2]).mean())
    return float(np.mean(gaps))


def run(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_detection_by_flags_and_by_content(tmp_path):
    assert interlace.detect(interlaced_clip(tmp_path / "a.mp4")) == interlace.Fields("tff", "content and flags")
    lying = interlace.detect(interlaced_clip(tmp_path / "b.mp4", flags=False))  # woven, flagged progressive
    assert lying.interlaced and lying.how == "content"
    assert not interlace.detect(interlaced_clip(tmp_path / "c.mp4", flags=False, woven=False)).interlaced


def test_interlaced_input_is_deinterlaced_by_default_keeping_count_and_timing(tmp_path, tiny_model):
    src = interlaced_clip(tmp_path / "in.mp4", flags=False)  # the flags lie: found by content
    r = run(src, "-o", tmp_path / "out.mp4", "--model", tiny_model, "--render-size", "64")
    assert r.exit_code == 0 and "interlaced (tff, by content)" in r.output, r.output
    with av.open(str(src)) as a, av.open(str(tmp_path / "out.mp4")) as b:
        assert [f.pts for f in a.decode(video=0)] == [f.pts for f in b.decode(video=0)]
    assert combing(tmp_path / "out.mp4") < 0.2 * combing(src)  # one picture a frame, not two woven


def test_progressive_input_is_left_as_it_is(tmp_path, tiny_model):
    src = interlaced_clip(tmp_path / "p.mp4", flags=False, woven=False)
    r = run(src, "-o", tmp_path / "o.mp4", "--model", tiny_model, "--render-size", "64", "--crf", "0")
    assert r.exit_code == 0 and "interlaced" not in r.output
    y_in, y_out = luma_planes(src)[0], luma_planes(tmp_path / "o.mp4")[0]
    assert all(np.array_equal(a, b) for a, b in zip(y_in, y_out, strict=True))


def test_keep_colours_each_field_and_keeps_luma_and_field_order(tmp_path, tiny_model):
    """--interlaced keep: the luma is the source's (bit-exact at --crf 0), the output is coded
    interlaced, and each field gets the colour of its own picture: the chroma lines of the two
    fields differ where the pictures differ, unlike colouring the woven frame (--interlaced off)."""
    src = interlaced_clip(tmp_path / "in.mp4")
    common = ["--model", tiny_model, "--engine", "test-luma-tint", "--smoothing", "0", "--render-size", "64"]
    assert run(src, "-o", tmp_path / "keep.mp4", "--interlaced", "keep", "--crf", "0", *common).exit_code == 0
    assert run(src, "-o", tmp_path / "keep.mkv", "--interlaced", "keep", "--codec", "ffv1", *common).exit_code == 0
    assert run(src, "-o", tmp_path / "off.mp4", "--interlaced", "off", *common).exit_code == 0
    y_in = luma_planes(src)[0]
    assert all(np.array_equal(a, b) for a, b in zip(y_in, luma_planes(tmp_path / "keep.mkv")[0], strict=True))
    # lossless x264 with interlaced coding decodes a few pixels 1 level off here (FFV1 above is exact)
    assert (
        max(np.abs(a.astype(int) - b).max() for a, b in zip(y_in, luma_planes(tmp_path / "keep.mp4")[0], strict=True))
        <= 1
    )
    with av.open(str(tmp_path / "keep.mp4")) as c:
        assert next(c.decode(video=0)).interlaced_frame  # coded as interlaced, top field first
    assert field_chroma_gap(tmp_path / "keep.mp4") > 1.5 * field_chroma_gap(tmp_path / "off.mp4")


@pytest.mark.parametrize("bad", [["--interlaced", "sometimes"], ["--interlaced", "keep", "--hints", "h.json"]])
def test_bad_interlace_requests_are_one_line(tmp_path, tiny_model, bad):
    src = interlaced_clip(tmp_path / "in.mp4", n=4)
    (tmp_path / "h.json").write_text('[{"x": 0.5, "y": 0.5, "rgb": [200, 30, 30]}]')
    bad = [str(tmp_path / b) if b.endswith(".json") else b for b in bad]
    r = run(src, "-o", tmp_path / "o.mp4", "--model", tiny_model, "--quiet", *bad)
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "o.mp4").exists()


def _duration(path: Path, kind: str) -> float:
    with av.open(str(path)) as c:
        s = c.streams.video[0] if kind == "video" else c.streams.audio[0]
        frames = list(c.decode(s))
        last = frames[-1]
        length = last.samples / last.sample_rate if kind == "audio" else 1 / float(s.average_rate)
        return float(last.pts * last.time_base) + length


def test_telecined_film_is_detected_and_ivtc_gives_back_its_pictures(tmp_path, tiny_model):
    """40 film pictures -> 50 telecined frames at 29.97 (two in five woven from two pictures);
    --interlaced ivtc gives 40 frames at 23.976 a second, each one film picture in order (none
    woven, none twice), with the video and audio lasting as long as the source's."""
    pictures = _moving(40)
    src = telecined_clip(tmp_path / "film [tc].mp4", pictures)
    fields = interlace.detect(src)
    assert fields.pulldown and not interlace.detect(interlaced_clip(tmp_path / "i.mp4")).pulldown
    auto = run(src, "-o", tmp_path / "auto.mp4", "--model", tiny_model, "--render-size", "64")
    assert auto.exit_code == 0 and "--interlaced ivtc restores" in auto.output, auto.output

    out = tmp_path / "out.mp4"
    r = run(src, "-o", out, "--model", tiny_model, "--render-size", "64", "--interlaced", "ivtc", "--crf", "0")
    assert r.exit_code == 0 and "inverse telecine" in r.output, r.output
    ys = [(y.astype(float) - 16) * 255 / 219 for y in luma_planes(out)[0]]  # limited-range luma -> 0..255
    assert len(ys) == 40
    matched = [int(np.argmin([np.abs(y - p).mean() for p in pictures])) for y in ys]
    assert matched == list(range(40))  # every picture once, in order
    assert max(min(np.abs(y - p).mean() for p in pictures) for y in ys) < 3  # not woven
    assert combing(out) < 0.5 * combing(src)
    with av.open(str(out)) as c:
        assert c.streams.video[0].average_rate == Fraction(24000, 1001)
        times = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    assert np.allclose(np.diff(times), 1001 / 24000, atol=1e-4) and times[0] == 0
    for kind in ("video", "audio"):
        assert abs(_duration(out, kind) - _duration(src, kind)) < 0.03, kind


def test_ivtc_refuses_a_rate_that_pulldown_does_not_make(tmp_path, tiny_model):
    src = interlaced_clip(tmp_path / "pal.mp4", n=10)  # 25 frames/s
    r = run(src, "-o", tmp_path / "o.mp4", "--model", tiny_model, "--quiet", "--interlaced", "ivtc")
    assert r.exit_code == 2 and "29.97 or 30" in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "o.mp4").exists()
    # 29.97 video that is not telecined: asked for, so done, with a warning that frames are dropped
    plain = write_video(
        tmp_path / "ntsc.mp4", [np.repeat(p[..., None], 3, -1) for p in _moving(20)], fps=Fraction(30000, 1001)
    )
    r = run(plain, "-o", tmp_path / "n.mp4", "--model", tiny_model, "--render-size", "64", "--interlaced", "ivtc")
    assert r.exit_code == 0 and "shows no 3:2 pulldown" in r.output, r.output
    assert len(luma_planes(tmp_path / "n.mp4")[0]) == 16
