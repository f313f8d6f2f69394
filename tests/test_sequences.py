"""Image sequences (issue 15, item 4): folders and printf patterns of numbered frames in, 8 and 16
bits, DPX; video or frames out; and the hostile cases of docs/robustness.md."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from make_media import frame_times, gradient_frame, luma_planes, read_frames, write_image, write_video
from vidcolor.cli import app
from vidcolor.planes import ColourSpec
from vidcolor.sequence import fps_fraction, to_rgb

FAST = ["--render-size", "64"]


def invoke(*args: object):
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output
    return r


def one_line_error(r, code: int = 2) -> str:
    """The run failed with ``code`` and said so in one line (the progress bar aside)."""
    assert r.exit_code == code, r.output
    lines = [line for line in r.output.strip().splitlines() if line.startswith("vidcolor: error:")]
    assert len(lines) == 1, r.output
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and "vidcolor" in p.name]


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def gray8_folder(folder: Path, numbers=range(1, 7), name: str = "scan_{:06d}.png", w: int = 64, h: int = 48) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    grays = []
    for n in numbers:
        g = gradient_frame(w, h, t=n / 3, colour=False)[..., 0]
        write_image(folder / name.format(n), g)
        grays.append(g)
    return grays


def gray16(n: int, w: int = 64, h: int = 48) -> np.ndarray:
    """A 16-bit picture with detail below the 8-bit step (257) everywhere."""
    yy, xx = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(n).integers(0, 200, (h, w))
    return (3000 + xx * 800 + yy * 90 + n * 37 + noise).astype(np.uint16)


def saturation(rgb: np.ndarray) -> float:
    a = rgb.astype(np.float64)
    return float((a.max(-1) - a.min(-1)).mean() / np.iinfo(rgb.dtype).max)


# ---------------------------------------------------------------- inputs and outputs


def test_png_folder_to_mp4_keeps_count_timing_and_luma(tmp_path, tiny_model):
    grays = gray8_folder(tmp_path / "reel")
    (tmp_path / "reel" / "notes.txt").write_text("scanned 2026\n")  # not an image: ignored
    (tmp_path / "reel" / "Thumbs.db").write_bytes(b"\0" * 64)
    out = tmp_path / "reel.mp4"
    r = invoke(tmp_path / "reel", "-o", out, "--model", tiny_model, *FAST, "--fps", 12, "--crf", 0, "--quiet")
    assert r.exit_code == 0, r.output
    assert frame_times(out) == pytest.approx([i / 12 for i in range(6)], abs=1e-3)
    planes, fmt, colour_range = luma_planes(out)
    assert fmt == "yuvj420p" and colour_range == 2  # gray frames: full range, the gray is the luma
    assert all(np.array_equal(p, g) for p, g in zip(planes, grays, strict=True))  # bit-exact at --crf 0
    with av.open(str(out)) as c:
        assert saturation(next(c.decode(video=0)).to_ndarray(format="rgb24")) > 0.05  # colour was added


def test_16bit_tiff_folder_to_16bit_tiffs_with_the_same_names(tmp_path, tiny_model):
    src = tmp_path / "scans"
    src.mkdir()
    grays = {f"scan_{n:06d}.tif": gray16(n) for n in range(1, 5)}
    for name, g in grays.items():
        cv2.imwrite(str(src / name), g)
    (src / "checksums.md5").write_text("...\n")
    write_image(src / "cover.png", gradient_frame(64, 48))  # an image without a number: ignored, with a note
    out = tmp_path / "colour"
    r = invoke(src, "-o", f"{out}/", "--model", tiny_model, *FAST)
    assert r.exit_code == 0, r.output
    assert "cover.png" in r.output and "ignored" in r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(grays)
    for name, g in grays.items():
        bgr = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert bgr.dtype == np.uint16 and bgr.shape == (48, 64, 3)
        rgb = bgr[..., ::-1].astype(np.float64)
        y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]  # BT.601 under 720 lines
        inside = (rgb.min(-1) > 0) & (rgb.max(-1) < 65535)  # not clipped to the gamut
        assert inside.mean() > 0.5
        assert np.abs(y - g)[inside].max() <= 1.0  # the luma to a 16-bit code, not an 8-bit one (257)
        assert saturation(bgr) > 0.05
    assert leftovers(out) == []
    video = tmp_path / "master.mkv"  # and to a video that holds 16 bits: the scans' gray is its luma
    r = invoke(src, "-o", video, "--model", tiny_model, *FAST, "--codec", "ffv1", "--quiet")
    assert r.exit_code == 0, r.output
    planes, fmt, _range = luma_planes(video)
    assert fmt == "yuv420p16le" and all(np.array_equal(p, g) for p, g in zip(planes, grays.values(), strict=True))


def test_printf_pattern_in_and_out_numbers_follow_the_input(tmp_path, tiny_model):
    gray8_folder(tmp_path / "mix", numbers=range(10, 14), name="a_{:04d}.png")
    gray8_folder(tmp_path / "mix", numbers=range(1, 3), name="b_{:04d}.png")  # another series, not asked for
    out = tmp_path / "frames"
    r = invoke(tmp_path / "mix" / "a_%04d.png", "-o", out / "c_%03d.png", "--model", tiny_model, *FAST, "--quiet")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [f"c_{n:03d}.png" for n in range(10, 14)]
    assert cv2.imread(str(out / "c_010.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint8  # 8-bit in, 8-bit out


def test_video_to_frame_folder_uses_the_video_paths_chroma(tmp_path, tiny_model):
    src = write_video(tmp_path / "clip.mp4", [gradient_frame(64, 48, t=i / 3, colour=False) for i in range(5)])
    frames_dir, video = tmp_path / "frames", tmp_path / "clip_color.mkv"
    r = invoke(src, "-o", f"{frames_dir}/", "--model", tiny_model, *FAST, "--quiet")
    assert r.exit_code == 0, r.output
    r = invoke(src, "-o", video, "--model", tiny_model, *FAST, "--quiet", "--crf", 0)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in frames_dir.iterdir()) == [f"frame_{i:06d}.png" for i in range(1, 6)]
    with av.open(str(video)) as c:  # lossless: the video's working frames, converted as frames are
        for i, frame in enumerate(c.decode(video=0), 1):
            png = cv2.imread(str(frames_dir / f"frame_{i:06d}.png"))[..., ::-1]
            assert np.array_equal(to_rgb(frame, ColourSpec("bt601")), png)


def test_dpx_folder_to_16bit_pngs(tmp_path, tiny_model):
    src = tmp_path / "dpx"
    src.mkdir()
    for n in range(1, 4):
        cc = av.CodecContext.create("dpx", "w")
        cc.width, cc.height, cc.pix_fmt, cc.time_base = 64, 48, "gray16le", Fraction(1, 24)
        frame = av.VideoFrame.from_ndarray(gray16(n), format="gray16le")
        frame.pts = 0
        (src / f"r1_{n:05d}.dpx").write_bytes(b"".join(bytes(p) for p in [*cc.encode(frame), *cc.encode(None)]))
    out = tmp_path / "out"
    r = invoke(src, "-o", f"{out}/", "--model", tiny_model, *FAST, "--quiet")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [f"r1_{n:05d}.png" for n in range(1, 4)]  # DPX is read only
    assert cv2.imread(str(out / "r1_00001.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_fps_rates():
    assert fps_fraction(23.976) == Fraction(24000, 1001)
    assert fps_fraction(29.97) == Fraction(30000, 1001)
    assert fps_fraction(24) == 24 and fps_fraction(12.5) == Fraction(25, 2)


# ---------------------------------------------------------------- hostile cases


def test_a_missing_frame_number_stays_a_gap_in_time_and_says_so(tmp_path, tiny_model):
    gray8_folder(tmp_path / "gap", numbers=[1, 2, 3, 5, 6])
    out = tmp_path / "gap.mp4"
    r = invoke(tmp_path / "gap", "-o", out, "--model", tiny_model, *FAST, "--fps", 10)
    assert r.exit_code == 0, r.output
    assert "1 frame number missing" in r.output and "(4)" in r.output
    assert frame_times(out) == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.5], abs=1e-3)
    r = invoke(tmp_path / "gap", "-o", f"{tmp_path / 'gap_frames'}/", "--model", tiny_model, *FAST, "--quiet")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "gap_frames").iterdir()) == [f"scan_{n:06d}.png" for n in (1, 2, 3, 5, 6)]


def test_mixed_frame_sizes_name_the_first_odd_file(tmp_path, tiny_model):
    gray8_folder(tmp_path / "mixed", numbers=[1, 2, 4])
    gray8_folder(tmp_path / "mixed", numbers=[3, 5], w=80)
    before = digest(tmp_path / "mixed")
    out = tmp_path / "mixed.mp4"
    line = one_line_error(invoke(tmp_path / "mixed", "-o", out, "--model", tiny_model, *FAST, "--quiet"))
    assert "scan_000003.png: 80x48" in line and "64x48" in line and "one size" in line
    assert not out.exists() and leftovers(tmp_path) == []
    assert digest(tmp_path / "mixed") == before


def test_empty_folders_and_folders_without_frames_are_one_line(tmp_path, tiny_model):
    (tmp_path / "empty").mkdir()
    line = one_line_error(invoke(tmp_path / "empty", "-o", tmp_path / "o.mp4", "--model", tiny_model, "--quiet"))
    assert "is a directory with no files" in line
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("no frames here\n")
    (tmp_path / "docs" / "take_0001.wav").write_bytes(b"RIFF")
    line = one_line_error(invoke(tmp_path / "docs", "-o", tmp_path / "o.mp4", "--model", tiny_model, "--quiet"))
    assert "no numbered image frames" in line
    line = one_line_error(invoke(tmp_path / "docs" / "x_%04d.png", "-o", tmp_path / "o.mp4", "--quiet"))
    assert "no files match this pattern" in line
    assert not (tmp_path / "o.mp4").exists()


def test_two_numbered_series_in_a_folder_are_refused_with_a_pattern_to_use(tmp_path, tiny_model):
    gray8_folder(tmp_path / "two", numbers=range(1, 4), name="a_{:04d}.png")
    gray8_folder(tmp_path / "two", numbers=range(1, 3), name="b_{:04d}.png")
    line = one_line_error(invoke(tmp_path / "two", "-o", tmp_path / "o.mp4", "--model", tiny_model, "--quiet"))
    assert "2 numbered series" in line and "a_%04d.png (3 frames)" in line and "give one as a pattern" in line


def test_names_with_spaces_and_brackets(tmp_path, tiny_model):
    folder = tmp_path / "reel [1] take 2"
    gray8_folder(folder, numbers=range(1, 4), name="shot (a) {:04d}.png")
    out = tmp_path / "out [x]"
    r = invoke(folder, "-o", f"{out}/", "--model", tiny_model, *FAST, "--quiet")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [f"shot (a) {n:04d}.png" for n in range(1, 4)]
    r = invoke(folder / "shot (a) %04d.png", "-o", tmp_path / "o [1].mp4", "--model", tiny_model, *FAST, "--quiet")
    assert r.exit_code == 0, r.output
    assert len(frame_times(tmp_path / "o [1].mp4")) == 3


def test_frame_outputs_never_overwrite_or_write_into_the_input(tmp_path, tiny_model):
    gray8_folder(tmp_path / "in", numbers=range(1, 3))
    (tmp_path / "out").mkdir()
    write_image(tmp_path / "out" / "scan_000002.png", gradient_frame(8, 8))
    before, out_before = digest(tmp_path / "in"), digest(tmp_path / "out")
    line = one_line_error(invoke(tmp_path / "in", "-o", tmp_path / "out", "--model", tiny_model, "--quiet"))
    assert "scan_000002.png: already exists (pass --overwrite" in line
    line = one_line_error(invoke(tmp_path / "in", "-o", f"{tmp_path / 'in'}/", "--model", tiny_model, "--quiet"))
    assert "is the input's own folder" in line
    line = one_line_error(invoke(tmp_path / "in", "-o", tmp_path / "out" / "c_%04d.mp4", "--quiet"))
    assert "frames are written as images" in line
    assert digest(tmp_path / "in") == before and digest(tmp_path / "out") == out_before


def test_an_unreadable_frame_is_left_out_as_a_gap_with_a_warning(tmp_path, tiny_model):
    gray8_folder(tmp_path / "bad", numbers=[1, 2, 4])
    (tmp_path / "bad" / "scan_000003.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    out = tmp_path / "bad.mp4"
    r = invoke(tmp_path / "bad", "-o", out, "--model", tiny_model, *FAST, "--fps", 10)
    assert r.exit_code == 0, r.output
    assert "1 frame file of" in r.output and "scan_000003.png" in r.output
    assert frame_times(out) == pytest.approx([0.0, 0.1, 0.3], abs=1e-3)


def test_batch_says_when_a_folder_looks_like_a_film_s_frames(tmp_path, tiny_model):
    """vidcolor batch colours images one by one; a folder of 24+ numbered frames gets a note with
    the command that colours it as one film (a folder of a few numbered photos gets none)."""
    gray8_folder(tmp_path / "archive" / "reel 1", numbers=range(1, 25), w=32, h=24)
    gray8_folder(tmp_path / "archive" / "album", numbers=range(1, 4), name="IMG_{:04d}.png", w=32, h=24)
    r = invoke("batch", tmp_path / "archive", "-o", tmp_path / "out", "--model", tiny_model, *FAST, "--dry-run")
    assert r.exit_code == 0, r.output
    notes = [line for line in r.output.splitlines() if "numbered frames" in line]
    assert len(notes) == 1 and "reel 1 holds 24 numbered frames (scan_%06d.png)" in notes[0], r.output


# ---------------------------------------------------------------- issue 22, items 8 and 9


@pytest.mark.parametrize("names", [("reel0.mpg", "intro.mpg"), ("reel0.mpg", "reel1.mpg")])
def test_a_folder_of_videos_is_no_frame_sequence(tmp_path, tiny_model, names):
    """Pillow registers .mpg/.mpeg (it reads their header): a video named like a frame is no frame."""
    films = tmp_path / "films"
    films.mkdir()
    for name in names:
        write_video(films / name, [gradient_frame(64, 48, t=i / 5, colour=False) for i in range(6)], codec="mpeg2video")
    out = tmp_path / "out.mp4"
    line = one_line_error(invoke(films, "-o", out, "--model", tiny_model, *FAST, "--quiet"))
    assert "is a folder of videos, not numbered image frames" in line and f"vidcolor batch {films}" in line
    assert not out.exists()


def test_float_tiff_frames_are_read_as_0_to_1_like_16bit_ones(tmp_path, tiny_model):
    """32-bit float frames (0.0 black .. 1.0 white) give what the same frames as 16-bit integers give."""
    floats, ints = tmp_path / "float", tmp_path / "int"
    floats.mkdir()
    ints.mkdir()
    for n in range(1, 5):
        g = gray16(n)
        Image.fromarray(g.astype(np.float32) / 65535, mode="F").save(floats / f"scan_{n:04d}.tif")
        cv2.imwrite(str(ints / f"scan_{n:04d}.tif"), g)
    for src in (floats, ints):
        r = invoke(src, "-o", tmp_path / f"{src.name}.mkv", "--model", tiny_model, *FAST, "--codec", "ffv1", "--quiet")
        assert r.exit_code == 0, r.output
    got, want = (luma_planes(tmp_path / f"{n}.mkv")[0] for n in ("float", "int"))
    assert len(got) == 4 and all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    Image.fromarray(np.full((48, 64), np.nan, np.float32), mode="F").save(floats / "scan_0002.tif")
    r = invoke(floats, "-o", tmp_path / "nan.mkv", "--model", tiny_model, *FAST, "--codec", "ffv1")
    assert r.exit_code == 0 and "NaN" in r.output and "could not be read" in r.output  # left out, said


def test_frames_with_an_alpha_channel_say_it_is_left_out_even_under_quiet(tmp_path, tiny_model):
    """A video holds no alpha: the transparency of RGBA scans is left out, and said (was: silently)."""
    from PIL import Image

    folder = tmp_path / "cels"
    folder.mkdir()
    for n in range(1, 4):
        rgba = np.dstack([gradient_frame(32, 24, t=n, colour=False), np.full((24, 32), 200, np.uint8)])
        Image.fromarray(rgba, "RGBA").save(folder / f"cel_{n:04d}.png")
    r = invoke(folder, "-o", tmp_path / "cels.mp4", "--model", tiny_model, *FAST, "--quiet")
    assert r.exit_code == 0, r.output
    assert r.output.count("alpha channel") == 1 and r.output.startswith("warning: "), r.output


@pytest.mark.parametrize("name", [".", "./", ".."])
def test_a_frame_folder_named_dot_or_dotdot_colours_like_its_name(name, tmp_path, tiny_model, monkeypatch):
    # `cd scans && vidcolor . -o ../out.mp4`: was `unexpected ValueError: PosixPath('.') has an empty name`.
    gray8_folder(tmp_path / "reel")
    (tmp_path / "reel" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "reel" / ("sub" if name == ".." else ""))
    out = tmp_path / "reel.mp4"
    r = invoke(name, "-o", out, "--model", tiny_model, *FAST, "--quiet")
    assert r.exit_code == 0, r.output
    assert len(read_frames(out)) == 6
