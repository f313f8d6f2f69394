"""End-to-end colorizing: frame count, timing, audio, luma, cuts, safety rules."""

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from make_media import audio_packets, frame_times, gradient_frame, read_frames, write_image, write_video
from vidcolor.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def gray_clip(path: Path, n: int = 30, w: int = 96, h: int = 64, **kw) -> Path:
    return write_video(path, [gradient_frame(w, h, t=i / 6, colour=False) for i in range(n)], **kw)


def signal_state(pid: int) -> list[str]:
    """What Linux says of a process's signals (blocked, ignored, caught) and state."""
    status = Path(f"/proc/{pid}/status")
    lines = status.read_text().splitlines() if status.exists() else []
    return [line for line in lines if line.startswith(("Sig", "Shd", "State", "Threads"))]


def stray_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if "partial" in p.name or p.name.startswith(".")]


def test_video_keeps_frames_timing_audio_and_luma(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "in.mp4", n=30, audio=True)
    out = tmp_path / "out.mp4"
    r = run(src, "-o", out, "--model", tiny_model, "--quiet")
    assert r.exit_code == 0, r.output
    assert len(read_frames(out)) == 30
    assert frame_times(out) == pytest.approx(frame_times(src), abs=1e-3)
    src_audio, out_audio = audio_packets(src), audio_packets(out)
    assert src_audio and out_audio == src_audio  # copied packet for packet
    y_in, y_out = read_frames(src, "gray"), read_frames(out, "gray")
    assert min(psnr(a, b) for a, b in zip(y_in, y_out, strict=True)) >= 40
    colour = np.stack(read_frames(out, "yuv444p"))  # planar: (N, 3, H, W)
    assert np.abs(colour[:, 1:].astype(int) - 128).mean() > 5  # colour was added
    with av.open(str(out)) as c:
        comment = c.metadata.get("comment", "")
    assert "vidcolor" in comment and tiny_model.name in comment
    assert str(tiny_model.parent) not in comment  # no folder of the user's machine in what they share
    assert stray_files(tmp_path) == []


def test_odd_size_and_mkv(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "odd.mkv", n=5, w=161, h=121, codec="libx264rgb", pix_fmt="rgb24")
    out = tmp_path / "odd_out.mkv"
    r = run(src, "-o", out, "--model", tiny_model, "--exact-size", "--quiet")
    assert r.exit_code == 0, r.output
    frames = read_frames(out)
    assert len(frames) == 5 and frames[0].shape == (121, 161, 3)


def test_variable_frame_rate_timestamps_survive(tmp_path, tiny_model):
    tb = Fraction(1, 1000)
    pts = [0, 40, 80, 200, 240, 500, 540, 580, 900, 1000]
    src = write_video(
        tmp_path / "vfr.mkv", [gradient_frame(64, 48, t=i, colour=False) for i in range(10)], pts=pts, time_base=tb
    )
    out = tmp_path / "vfr_out.mkv"
    assert run(src, "-o", out, "--model", tiny_model, "--quiet").exit_code == 0
    assert frame_times(out) == pytest.approx([p / 1000 for p in pts], abs=1e-3)


def test_no_colour_crosses_a_scene_cut(tmp_path, tiny_model):
    bright = [np.full((48, 64, 3), 200, np.uint8) for _ in range(8)]
    dark = [np.full((48, 64, 3), 40, np.uint8) for _ in range(8)]
    src = write_video(tmp_path / "cut.mp4", bright + dark, codec="libx264rgb", pix_fmt="rgb24")
    out = tmp_path / "cut_out.mp4"
    r = run(src, "-o", out, "--model", tiny_model, "--engine", "test-luma-tint", "--smoothing", "0.95", "--quiet")
    assert r.exit_code == 0, r.output
    chroma = np.stack(read_frames(out, "yuv444p"))[:, 1:].astype(float).mean((2, 3))  # (N, 2)
    # The first frame after the cut already has the dark shot's settled colour: nothing carried over.
    assert np.abs(chroma[8] - chroma[15]).max() <= 2.0, chroma[6:10]
    assert np.abs(chroma[7] - chroma[8]).max() > 20  # and the two shots do differ in colour


def test_strength_zero_gives_neutral_chroma(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "in.mp4", n=4)
    out = tmp_path / "flat.mp4"
    assert run(src, "-o", out, "--model", tiny_model, "--strength", "0", "--quiet").exit_code == 0
    colour = np.stack(read_frames(out, "yuv444p"))
    assert np.abs(colour[:, 1:].astype(int) - 128).max() <= 2


def test_segment_start_and_duration(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "in.mp4", n=50, fps=25)  # 2 s
    out = tmp_path / "seg.mp4"
    r = run(src, "-o", out, "--model", tiny_model, "--start", "0.4", "--duration", "0.8", "--quiet")
    assert r.exit_code == 0, r.output
    times = frame_times(out)
    assert len(times) == 20 and times[0] == pytest.approx(0.0, abs=1e-3)


def test_rotation_metadata_survives(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "rot.mp4", n=3, rotation=90)
    out = tmp_path / "rot_out.mp4"
    assert run(src, "-o", out, "--model", tiny_model, "--quiet").exit_code == 0
    with av.open(str(out)) as c:
        assert next(c.decode(video=0)).rotation == 90


def test_preview_sheet_beside_and_instead_of_video(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "in.mp4", n=20)
    out = tmp_path / "out.mp4"
    assert run(src, "-o", out, "--model", tiny_model, "--preview", "3", "--quiet").exit_code == 0
    sheet = Image.open(tmp_path / "out.preview.png")
    assert sheet.width > 2 * 96 and sheet.height >= 3 * 64
    only = tmp_path / "sheet.png"
    assert run(src, "-o", only, "--model", tiny_model, "--preview", "2", "--quiet").exit_code == 0
    assert Image.open(only).height >= 2 * 64


@pytest.mark.parametrize("size", [(96, 64), (160, 720)])  # SD (BT.601) and HD (BT.709) by convention
def test_preview_only_shows_what_the_video_shows(tmp_path, tiny_model, size):
    """A preview-only sheet (`-o sheet.png`) has the video's colour: the same temporal smoothing
    and the same matrix as a player reads the video with. Was: no smoothing, and untagged HD
    frames shown with BT.601."""
    w, h = size
    frames = [gradient_frame(w, h, t=i / 6, colour=False) for i in range(60)]
    src = write_video(tmp_path / "in.mp4", frames)
    args = ["--model", tiny_model, "--engine", "test-luma-tint", "--smoothing", "0.95", "--quiet"]
    assert run(src, "-o", tmp_path / "v.mp4", "--preview", "3", *args).exit_code == 0
    assert run(src, "-o", tmp_path / "only.png", "--preview", "3", *args).exit_code == 0
    beside, only = (np.asarray(Image.open(tmp_path / p), np.int16) for p in ("v.preview.png", "only.png"))
    assert beside.shape == only.shape
    gap = np.abs(beside - only).mean()
    assert gap < 1.0, gap  # the video's sheet and the preview-only sheet agree
    rows = [beside[r * (h + 4) : r * (h + 4) + h, :w, 0] for r in range(3)]  # the gray column: the film itself
    film = read_frames(src)
    assert all(
        np.abs(row.astype(int) - film[i][..., 0]).mean() < 1.0 for row, i in zip(rows, (10, 30, 50), strict=True)
    )


def test_still_image_keeps_size_and_lightness(tmp_path, tiny_model):
    from vidcolor.color import rgb_to_lab

    src = write_image(tmp_path / "photo.png", gradient_frame(123, 77, colour=False))
    out = tmp_path / "photo_color.png"
    r = run(src, "-o", out, "--model", tiny_model, "--quiet")
    assert r.exit_code == 0, r.output
    a, b = np.array(Image.open(src).convert("RGB")), np.array(Image.open(out))
    assert b.shape == a.shape
    import torch

    lab = [rgb_to_lab(torch.from_numpy(x).permute(2, 0, 1).float() / 255) for x in (a, b)]
    assert (lab[0][0] - lab[1][0]).abs().mean() < 1.5  # lightness kept (gamut clipping aside)
    assert lab[1][1:].abs().mean() > 3  # colour added


def test_existing_output_is_not_overwritten_without_flag(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "in.mp4", n=3)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    r = run(src, "-o", out, "--model", tiny_model, "--quiet")
    assert r.exit_code == 2 and "--overwrite" in r.output
    assert out.read_bytes() == b"precious"
    assert run(src, "-o", out, "--model", tiny_model, "--overwrite", "--quiet").exit_code == 0
    assert len(read_frames(out)) == 3


def test_output_equal_to_input_is_refused(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "in.mp4", n=3)
    before = src.read_bytes()
    r = run(src, "-o", src, "--model", tiny_model, "--overwrite", "--quiet")
    assert r.exit_code == 2 and "output is the input" in r.output
    assert src.read_bytes() == before


def test_failed_encode_leaves_nothing_under_the_final_name(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "in.mp4", n=3)
    out = tmp_path / "out.webm"
    r = run(src, "-o", out, "--model", tiny_model, "--codec", "libx264", "--quiet")  # H.264 is not allowed in WebM
    assert r.exit_code != 0
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert not out.exists() and stray_files(tmp_path) == []


def test_missing_input_and_bad_options(tmp_path, tiny_model):
    r = run(tmp_path / "nope.mp4", "-o", tmp_path / "o.mp4", "--model", tiny_model)
    assert r.exit_code == 2 and "not found" in r.output
    src = gray_clip(tmp_path / "in.mp4", n=2)
    for bad in (["--render-size", "0"], ["--batch-size", "-1"], ["--smoothing", "2"]):
        assert run(src, "-o", tmp_path / "o.mp4", "--model", tiny_model, *bad).exit_code == 2, bad
    assert not (tmp_path / "o.mp4").exists()


def _interrupt_run(tmp_path: Path, src: Path, tiny_model: Path, sig: int) -> tuple[int, str, str]:
    """Start a long colorizing run, signal it once its output has started: (returncode, stderr, the
    child's signal state just before the signal, from /proc)."""
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidcolor", str(src), "-o", str(out), "--model", str(tiny_model), "--quiet",
         "--batch-size", "1", "--render-size", "64"],
        stderr=subprocess.PIPE, text=True,
        # a suite started in the background (`make test &`) inherits SIGINT ignored, and so would the
        # child: Python then keeps it ignored and Ctrl-C could not be tested
        # (and SIGHUP, under nohup)
        preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGHUP)],
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and not any("partial" in p.name for p in tmp_path.iterdir()):
        time.sleep(0.05)
    assert proc.poll() is None and any("partial" in p.name for p in tmp_path.iterdir()), "no output started in 60 s"
    state = "; ".join(signal_state(proc.pid))
    caught = next((int(x.split()[1], 16) for x in state.split("; ") if x.startswith("SigCgt")), 0)
    assert caught >> (sig - 1) & 1, (
        f"the run no longer catches signal {sig}: it ended before it was signalled ({state})"
    )
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err, state


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_interrupt_removes_the_temporary_file(tmp_path, tiny_model, sig, code):
    # 6000 frames: with 1500 the tiny model could finish (and Python restore the default handlers on its
    # way out) before the signal came, when a loaded machine kept this test from seeing the output
    # start in time: the child then died of the signal itself (rc -15, its /proc status catching
    # neither SIGINT nor SIGTERM), about one full suite in three on 2 cores
    src = gray_clip(tmp_path / "long.mp4", n=6000, w=64, h=48)
    rc, err, state = _interrupt_run(tmp_path, src, tiny_model, sig)
    assert rc == code, (err, state)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.mp4").exists() and stray_files(tmp_path) == []


def test_webm_transcodes_aac_to_opus_and_says_so(tmp_path, tiny_model):
    src = gray_clip(tmp_path / "in.mp4", n=25, audio=True)
    out = tmp_path / "out.webm"
    r = run(src, "-o", out, "--model", tiny_model)
    assert r.exit_code == 0, r.output
    assert "transcoding to libopus" in r.output
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "opus"
        assert c.streams.video[0].codec_context.name == "vp9"
    assert len(read_frames(out)) == 25


def test_eval_prints_baseline_and_writes_json_and_sheet(tmp_path, tiny_model):
    import json

    src = write_video(tmp_path / "truth.mp4", [gradient_frame(64, 48, t=i / 4) for i in range(12)])
    img = write_image(tmp_path / "truth.png", gradient_frame(40, 30, t=1))
    js, sheet = tmp_path / "eval.json", tmp_path / "sheet.png"
    r = run("eval", src, img, "--model", tiny_model, "--json", js, "--sheet", sheet, "--render-size", "64", "--quiet")
    assert r.exit_code == 0, r.output
    assert "gray baseline" in r.output and "overall" in r.output
    doc = json.loads(js.read_text())
    assert [i["name"] for i in doc["items"]] == ["truth.mp4", "truth.png"]
    video = doc["items"][0]["scores"]
    assert video["gray baseline"]["colorfulness_ratio"] == pytest.approx(0.0, abs=0.05)
    assert video["vidcolor"]["luma_psnr"] > 35  # the pipeline keeps the input's luma
    assert video["vidcolor"]["cdc_truth"] is not None and doc["items"][1]["scores"]["vidcolor"]["cdc"] is None
    assert Image.open(sheet).width > 3 * 64


def test_eval_scores_a_clip_given_as_numbered_frames_as_the_same_clip_encoded(tmp_path, tiny_model):
    # Trackers' and scanners' clips come as folders of frames (00000.jpg ...): eval scores them as a clip.
    import json

    frames = [gradient_frame(64, 48, t=i / 4) for i in range(12)]
    folder = tmp_path / "tennis"
    folder.mkdir()
    for i, f in enumerate(frames):
        write_image(folder / f"{i:05d}.png", f)
    js = tmp_path / "eval.json"
    r = run("eval", folder, "--model", tiny_model, "--json", js, "--render-size", "64", "--quiet")
    assert r.exit_code == 0, r.output
    item = json.loads(js.read_text())["items"][0]
    assert item["kind"] == "video" and item["frames"] == 12
    assert item["scores"]["vidcolor"]["luma_psnr"] > 35 and item["scores"]["vidcolor"]["flicker"] is not None


@pytest.mark.parametrize("existed", [False, True])
def test_an_output_that_appears_during_the_run_is_never_replaced(existed, tmp_path, tiny_model):
    # Two runs with the same -o: the later one used to replace the other's film and exit 0.
    from vidcolor.colorizer import Colorizer
    from vidcolor.config import ColorizeConfig
    from vidcolor.errors import ProcessingError
    from vidcolor.pipeline import colorize

    src = write_video(tmp_path / "in.mp4", [gradient_frame(64, 48, t=i / 3) for i in range(6)])
    out = tmp_path / "out.mp4"
    if existed:
        out.write_bytes(b"the user's old film, to be replaced: --overwrite was given")
    colorizer = Colorizer(ColorizeConfig(model=str(tiny_model), render_size=64))

    def other_run(_n: int) -> None:  # another run publishes the same name while this one colours
        if not existed and not out.exists():
            out.write_bytes(b"the other run's film")

    if existed:
        colorize(src, out, colorizer, progress=other_run)
        assert len(read_frames(out)) == 6
        return
    with pytest.raises(ProcessingError, match="appeared while this run was colorizing") as e:
        colorize(src, out, colorizer, progress=other_run)
    assert out.read_bytes() == b"the other run's film"
    kept = tmp_path / f"out.vidcolor-{os.getpid()}.mp4"
    assert str(kept) in str(e.value) and len(read_frames(kept)) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.mp4", "out.mp4", kept.name])


def test_a_rerun_removes_what_a_dead_run_of_its_output_left_and_spares_a_live_ones(tmp_path, tiny_model):
    # A run killed by a closed terminal (before SIGHUP was handled) or kill -9 left .out.vidcolor-PID.partial.mp4.
    src = gray_clip(tmp_path / "in.mp4", n=3)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f".out.vidcolor-{int(dead.stdout)}-7.partial.mp4"
    live = tmp_path / f".out.vidcolor-{os.getppid()}-7.partial.mp4"  # a live process: another run writing
    left.write_bytes(b"half a film")
    live.write_bytes(b"another run's film in progress")
    r = run(src, "-o", tmp_path / "out.mp4", "--model", tiny_model, "--render-size", "64")
    assert r.exit_code == 0, r.output
    assert not left.exists() and f"removed {left.name}" in r.output and live.exists()


def test_two_threads_saving_one_file_never_share_a_temporary_name(tmp_path):
    import threading

    from vidcolor.atomic import temp_path

    names, both = [], threading.Barrier(2)  # at once, as a Save and a Render: (an ended thread's id is reused)

    def save() -> None:
        names.append(temp_path(tmp_path / "film.hints.json"))
        both.wait()

    threads = [threading.Thread(target=save) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 2
