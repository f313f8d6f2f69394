"""Timestamps of old archive files: AVIs whose B-frames come out with their times permuted (packed
DivX/Xvid, H.264 in AVI), MPEG-PS (.vob, .mpg) and MP4/MKV whose first frame is not at 0, files
joined with ``cat``. Every frame is colorized once, in order, on a strictly increasing clock; user
times (--start, --duration, segments) count from the film's first frame."""

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from make_media import frame_times, gradient_frame, luma_planes, write_packed_avi, write_video
from vidcolor.cli import app
from vidcolor.segments import work_dir

runner = CliRunner()
COMMON = ["--render-size", "64", "--crf", "0"]  # crf 0: the luma compares exactly


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def pictures(n: int) -> list[np.ndarray]:
    return [gradient_frame(96, 64, t=i / 6, colour=False) for i in range(n)]


def increasing(times: list[float]) -> bool:
    return all(a < b for a, b in itertools.pairwise(times))


def same_luma(out: Path, src: Path, first: int = 0) -> None:
    """``out``'s Y planes are ``src``'s, from its frame ``first`` on (in the order they are shown)."""
    got, ref = luma_planes(out)[0], luma_planes(src)[0][first : first + len(luma_planes(out)[0])]
    assert len(got) == len(ref) and all(np.array_equal(a, b) for a, b in zip(got, ref, strict=True))


# ---------------------------------------------------------------- AVIs with B-frames


def avi(kind: str, path: Path) -> Path:
    if kind == "divx5-packed":
        return write_packed_avi(path, pictures(75), bframes=1, tag="DX50")
    if kind == "xvid-packed-2b":
        return write_packed_avi(path, pictures(75), bframes=2, tag="XVID")
    opts = {"bf": "3", "x264-params": "b-pyramid=normal"}  # H.264 in AVI: pyramid B-frames
    return write_video(path, pictures(75), options=opts)


@pytest.mark.parametrize("kind", ["divx5-packed", "xvid-packed-2b", "h264-bpyramid"])
def test_an_avi_whose_frame_times_come_out_of_order_is_colorized_whole(tmp_path, tiny_model, kind):
    """The demuxer guesses an AVI's display times; with B-frames they came out permuted (1, 3, 2,
    5, 4, ...) and reached the encoder so: `encoding failed at frame 33 (Invalid argument)`, exit 1.
    The preview (no encoder) worked."""
    src = avi(kind, tmp_path / f"{kind}.avi")
    with_times = [round(t, 3) for t in frame_times(src)]
    assert not increasing(with_times) and len(with_times) == 75  # the input is of the kind
    out = tmp_path / "out.mp4"
    r = run(src, "-o", out, "--model", tiny_model, *COMMON)
    assert r.exit_code == 0, r.output
    times = frame_times(out)
    assert len(times) == 75 and increasing(times)
    assert times == pytest.approx(sorted(with_times), abs=1e-3)  # the source's times, put in order
    same_luma(out, src)
    assert run(src, "-o", tmp_path / "sheet.png", "--model", tiny_model, *COMMON).exit_code == 0


def test_batch_colorizes_a_packed_divx_avi(tmp_path, tiny_model):
    archive = tmp_path / "archive"
    archive.mkdir()
    write_packed_avi(archive / "old film.avi", pictures(75))
    r = run("batch", archive, "-o", tmp_path / "out", "--model", tiny_model, *COMMON, "--quiet")
    assert r.exit_code == 0, r.output
    times = frame_times(tmp_path / "out" / "old film.mp4")
    assert len(times) == 75 and increasing(times)


def test_mpeg_ps_files_joined_with_cat_restart_their_clock_and_are_re_timed(tmp_path, tiny_model):
    """`cat a.mpg b.mpg`: the second part's timestamps start again at 0.54 s. A frame whose time is
    not after the one before is given the previous time plus one frame, with one warning."""
    part = write_video(tmp_path / "part.mpg", pictures(50), codec="mpeg2video", options={"bf": "2", "g": "12"})
    src = tmp_path / "joined.mpg"
    src.write_bytes(part.read_bytes() * 2)
    out = tmp_path / "out.mkv"
    r = run(src, "-o", out, "--model", tiny_model, *COMMON)
    assert r.exit_code == 0, r.output
    assert r.output.count("is not after the one before it") == 1, r.output
    times = frame_times(out)
    assert len(times) == 100 and increasing(times)
    assert np.diff(times) == pytest.approx(0.04, abs=1e-3)


# ---------------------------------------------------------------- films whose first frame is not at 0


def late_film(kind: str, d: Path) -> Path:
    """125 frames at 25 fps (5 s) with a sound track, the first frame at ~0.5 s (MPEG-PS), 1.5 s,
    or before 0 (an MP4 whose edit list hides its first 3 frames)."""
    mpeg2 = {"bf": "2", "g": "12"}
    if kind == "vob":
        return write_video(
            d / "film.vob", pictures(125), codec="mpeg2video", options=mpeg2, audio=True, audio_codec="ac3"
        )
    if kind == "mpg":
        return write_video(
            d / "film.mpg", pictures(125), codec="mpeg2video", options=mpeg2, audio=True, audio_codec="mp2",
            audio_rate=44100,
        )  # fmt: skip
    first = {"mp4-1.5s": 1500, "mkv-1.5s": 1500, "mp4-editlist": -120}[kind]
    ext = kind.split("-")[0]
    pts = [first + 40 * i for i in range(125)]
    return write_video(d / f"film.{ext}", pictures(125), pts=pts, time_base=Fraction(1, 1000), audio=True)


LATE = ["vob", "mpg", "mp4-1.5s", "mkv-1.5s", "mp4-editlist"]


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
@pytest.mark.parametrize("kind", LATE)
def test_start_and_duration_count_from_the_films_first_frame(tmp_path, tiny_model, kind, ext):
    """--start 1 --duration 2 at 25 fps is 50 frames, the output's first at 0 and each after the
    one before. Was: from a .vob 38 frames with 0.1 s missing at 0.04 s (the seek landed late and
    guessed wrong times), the file's clock taken for the film's (--duration 2: 37 frames), and a
    false "ended early (truncated?)" warning."""
    src = late_film(kind, tmp_path)
    out = tmp_path / f"out{ext}"
    r = run(src, "-o", out, "--model", tiny_model, "--start", "1", "--duration", "2", *COMMON)
    assert r.exit_code == 0, r.output
    assert "ended early" not in r.output
    times = frame_times(out)
    assert len(times) == 50 and times[0] == pytest.approx(0.0, abs=1e-6) and increasing(times)
    same_luma(out, src, first=25)  # the very frames 1 s to 3 s into the film


@pytest.mark.parametrize("kind", ["vob", "mp4-1.5s"])
def test_duration_alone_counts_from_the_first_frame(tmp_path, tiny_model, kind):
    src = late_film(kind, tmp_path)
    out = tmp_path / "out.mkv"
    r = run(src, "-o", out, "--model", tiny_model, "--duration", "2", *COMMON)
    assert r.exit_code == 0, r.output
    assert "ended early" not in r.output and len(frame_times(out)) == 50
    same_luma(out, src)


@pytest.mark.parametrize("kind", ["mpg", "mkv-1.5s"])
def test_segments_of_a_film_not_starting_at_0_give_every_frame_once(tmp_path, tiny_model, kind):
    """--resume in 1 s segments: the frames, timestamps and pixels of one uninterrupted run."""
    src = late_film(kind, tmp_path)
    ref, out = tmp_path / "ref.mkv", tmp_path / "out.mkv"
    assert run(src, "-o", ref, "--model", tiny_model, *COMMON, "--quiet").exit_code == 0
    r = run(src, "-o", out, "--model", tiny_model, "--resume", "--segment-seconds", "1", *COMMON, "--quiet")
    assert r.exit_code == 0, r.output
    assert not work_dir(out).exists()
    times = frame_times(out)
    assert len(times) == 125 and increasing(times) and times == pytest.approx(frame_times(ref), abs=1e-6)
    same_luma(out, src)
    assert luma_planes(out)[0] and np.array_equal(np.stack(luma_planes(out)[0]), np.stack(luma_planes(ref)[0]))


@pytest.mark.parametrize("kind", ["vob", "mp4-1.5s"])
def test_start_past_the_end_is_one_line_exit_2(tmp_path, tiny_model, kind):
    src = late_film(kind, tmp_path)
    for start in ("4.99", "9", "600"):
        r = run(src, "-o", tmp_path / "out.mp4", "--model", tiny_model, "--start", start, *COMMON, "--quiet")
        assert r.exit_code == 2, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and f"--start {start}: past the end" in lines[0], r.output
        assert not (tmp_path / "out.mp4").exists()


def test_files_joined_with_cat_keep_their_sound(tmp_path, tiny_model):
    """The same with a sound track: its clock restarts too (was: `encoding failed at frame 125`)."""
    part = write_video(
        tmp_path / "part.mpg", pictures(50), codec="mpeg2video", options={"bf": "2", "g": "12"}, audio=True,
        audio_codec="mp2",
    )  # fmt: skip
    src = tmp_path / "joined.mpg"
    src.write_bytes(part.read_bytes() * 2)
    for ext in (".mkv", ".mp4"):  # MP2 copied into Matroska, transcoded to AAC for MP4
        out = tmp_path / f"out{ext}"
        r = run(src, "-o", out, "--model", tiny_model, *COMMON)
        assert r.exit_code == 0, r.output
        assert len(frame_times(out)) == 100
        with av.open(str(out)) as c:
            times = [float(p.dts * p.time_base) for p in c.demux(audio=0) if p.dts is not None]
        assert increasing(times) and times[-1] > 3.5, times[-3:]  # both parts' sound, in order
