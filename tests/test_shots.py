"""Shots: hard cuts found by framing as well as brightness, flashes kept inside their shot, a minimum
shot length, and keyframe names that lead back to their own shot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from make_media import gradient_frame, read_frames, write_image, write_video
from vidcolor.cli import app
from vidcolor.guidance import load_references
from vidcolor.shots import ShotMap, keyframe_name, scan

W, H = 96, 64


def gray(rgb: np.ndarray, lo: int = 90, hi: int = 170) -> np.ndarray:
    """A B&W copy of ``rgb`` (H,W,3) with its luma squeezed into [lo, hi] (a soft, mid-gray picture)."""
    y = rgb.mean(-1) / 255.0
    return np.repeat((lo + (hi - lo) * y).round().astype(np.uint8)[..., None], 3, -1)


def shot(n: int, phase: float = 0.0) -> list[np.ndarray]:
    """n frames of a slowly drifting picture (a steady camera on a moving scene)."""
    return [gray(gradient_frame(W, H, t=phase + 0.02 * i)) for i in range(n)]


def starts(frames: list[np.ndarray], path: Path, fps: int = 25) -> list[int]:
    return scan(write_video(path, frames, fps=fps, codec="ffv1"), (W, H)).starts


def test_a_cut_to_another_framing_with_the_same_histogram_is_found(tmp_path):
    a = shot(12)
    b = [np.roll(f, (H // 2, W // 2), (0, 1)) for f in shot(12)]  # the same pixels, framed elsewhere
    assert np.array_equal(np.bincount(a[0].ravel(), minlength=256), np.bincount(b[0].ravel(), minlength=256))
    assert starts(a + b, tmp_path / "reframed.mkv") == [0, 12]


def test_a_three_frame_flash_inside_a_shot_is_not_a_cut(tmp_path):
    frames = shot(30)
    for i in (12, 13, 14):  # a flash bulb: three frames washed towards white
        frames[i] = (frames[i] + (255 - frames[i].astype(np.float32)) * 0.8).astype(np.uint8)
    assert starts(frames, tmp_path / "flash.mkv") == [0]


def test_no_shot_is_shorter_than_the_minimum(tmp_path):
    other = [np.roll(f, (H // 2, W // 2), (0, 1)) for f in shot(3)]  # 0.12 s: under 0.3 s
    frames = shot(12) + other + [np.fliplr(f) for f in shot(14, phase=2.0)]
    assert starts(frames, tmp_path / "short.mkv") == [0, 12]


def test_a_keyframe_name_leads_back_to_its_shot(tmp_path):
    times = np.arange(150) / 24.0  # 24 fps: frame 143 starts at 5.958333 s, not a whole millisecond
    shots = ShotMap(times, [0, 143])
    for name in (keyframe_name(1, float(times[143])), "shot0001_t5.958s.png"):  # new, and as written before
        write_image(tmp_path / name, gradient_frame(32, 32))
        (ref,) = load_references([str(tmp_path)])
        assert shots.shot_of(shots.frame_at(ref.t)) == 1, name
        (tmp_path / name).unlink()
    assert keyframe_name(1, float(times[143])) == "shot0001_t5.959s.png"
    assert keyframe_name(2, 0.5) == "shot0002_t0.500s.png"


def stripes(t: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    s = 0.5 + 0.5 * np.sin((xx - 2 * yy) / 5.0 + t)
    return (np.stack([0.2 + 0.6 * s, 0.8 - 0.5 * s, 0.3 + 0.2 * s], -1) * 255).round().astype(np.uint8)


def test_a_coloured_keyframe_guides_its_own_shot(tmp_path, tiny_model):
    """24 fps, the cut at frame 11 (0.458333 s): the keyframe's name must not send it to shot A."""
    scene = gradient_frame(W + 40, H + 8, t=0.5)
    a = [scene[4 : 4 + H, 3 * i : 3 * i + W] for i in range(11)]
    b = [stripes(i / 10) for i in range(8)]
    # MP4 keeps 11/24 s exactly (Matroska would store 0.458 s, a whole millisecond)
    src = write_video(tmp_path / "film.mp4", [gray(f, 0, 255) for f in a + b], fps=24)
    keys = tmp_path / "keys"
    runner = CliRunner()
    assert runner.invoke(app, ["keyframes", str(src), "-o", str(keys), "--quiet"]).exit_code == 0
    names = sorted(p.name for p in keys.iterdir())
    assert names == ["shot0000_t0.000s.png", "shot0001_t0.459s.png"]
    write_image(keys / names[1], b[0])  # the user colours shot B's keyframe only
    common = ["--model", str(tiny_model), "--engine", "eager", "--crf", "0", "--quiet"]
    auto, guided = tmp_path / "auto.mkv", tmp_path / "guided.mkv"
    assert runner.invoke(app, [str(src), "-o", str(auto), *common]).exit_code == 0
    r = runner.invoke(app, [str(src), "-o", str(guided), "--reference", str(keys), *common])
    assert r.exit_code == 0, r.output
    ca, cg = (np.stack(read_frames(p, "yuv444p"))[:, 1:].astype(np.float64) for p in (auto, guided))
    assert np.array_equal(cg[:11], ca[:11])  # shot A: no coloured keyframe, automatic colour
    assert np.abs(cg[11:] - ca[11:]).mean() > 1.0  # shot B: guided by its keyframe


def test_the_smoother_counts_its_windows_at_the_films_rate(tmp_path, tiny_model):
    """At 10 frames/s a 4-frame shot lasts 0.4 s, over the 0.3 s minimum: both its cuts reset the
    colour (the smoother counted frames as at 25 fps, where 4 frames are 0.16 s, and merged it)."""
    from vidcolor.colorizer import Colorizer
    from vidcolor.config import ColorizeConfig
    from vidcolor.pipeline import colorize

    middle = [np.roll(f, (H // 2, W // 2), (0, 1)) for f in shot(4)]
    frames = shot(10) + middle + [np.fliplr(f) for f in shot(10, phase=2.0)]
    path = write_video(tmp_path / "ten.mkv", frames, fps=10, codec="ffv1")
    assert starts(frames, tmp_path / "ten_again.mkv", fps=10) == [0, 10, 14]  # the shot pass agrees
    colorizer = Colorizer(ColorizeConfig(model=str(tiny_model), render_size=64))
    assert colorize(path, tmp_path / "out.mkv", colorizer).scene_cuts == 2


def test_an_anamorphic_films_keyframes_are_written_as_it_is_shown(tmp_path):
    """A 16:9 DVD's frames are stored 4:3-shaped with wide pixels: its keyframes are written at the
    width it is shown at, so what is painted on them has the film's shapes (was: stored size, squeezed)."""
    from fractions import Fraction

    from PIL import Image

    src = write_video(tmp_path / "dvd.vob", [gray(shot(1)[0], 0, 255)] * 3, codec="mpeg2video", sar=Fraction(32, 27))
    keys = tmp_path / "keys"
    assert CliRunner().invoke(app, ["keyframes", str(src), "-o", str(keys), "--quiet"]).exit_code == 0
    (key,) = keys.iterdir()
    assert Image.open(key).size == (round(W * 32 / 27), H)
