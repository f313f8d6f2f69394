"""The hostile-input catalogue (docs/robustness.md): one test per row.

Every case checks the exit code, a one-line error without a traceback where it fails, that the
input is unchanged (hash), and that nothing incomplete or temporary is left in the output folder.
"""

import hashlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from make_media import frame_times, gradient_frame, luma_planes, read_frames, truncated_clip, write_image, write_video
from vidcolor.cli import app

FAST = ["--render-size", "64", "--quiet"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def leftovers(folder: Path) -> list[str]:
    """Temporary files vidcolor writes beside an output (hidden, named after the process)."""
    if not folder.is_dir():
        return []
    return [
        p.name for p in folder.iterdir() if (p.name.startswith(".") and "vidcolor" in p.name) or p.name.endswith(".tmp")
    ]


def run(src: Path, out: Path, *extra: str):
    """Colorize in-process and check the universal promises; returns the CliRunner result."""
    before, out_before = sha(src), sha(out)
    r = CliRunner().invoke(app, [str(src), "-o", str(out), *[str(e) for e in extra]])
    assert "Traceback" not in r.output
    if r.exit_code != 0:
        *warned, error = r.output.strip().splitlines()  # one line, after any warning of data left out
        assert error.startswith("vidcolor: error: ") and all(x.startswith("warning: ") for x in warned), r.output
        assert sha(out) == out_before  # nothing new under the final name; what was there is kept
    assert sha(src) == before  # the input is never modified
    assert leftovers(out.parent) == []
    return r


def gray(path: Path, n: int = 4, w: int = 64, h: int = 48, **kw) -> Path:
    return write_video(path, [gradient_frame(w, h, t=i / 3, colour=False) for i in range(n)], **kw)


# ---------------------------------------------------------------- input


def test_missing_path(tmp_path, tiny_model):
    r = run(tmp_path / "nope.mp4", tmp_path / "o.mp4", "--model", tiny_model)
    assert r.exit_code == 2 and "not found" in r.output


def test_directory_as_input(tmp_path, tiny_model):
    (tmp_path / "d").mkdir()
    r = run(tmp_path / "d", tmp_path / "o.mp4", "--model", tiny_model)
    assert r.exit_code == 2 and "is a directory" in r.output


def test_zero_byte_file(tmp_path, tiny_model):
    (tmp_path / "empty.mp4").write_bytes(b"")
    r = run(tmp_path / "empty.mp4", tmp_path / "o.mp4", "--model", tiny_model)
    assert r.exit_code == 2 and "empty file" in r.output


def test_text_renamed_mp4(tmp_path, tiny_model):
    (tmp_path / "t.mp4").write_text("not a video at all\n" * 100)
    r = run(tmp_path / "t.mp4", tmp_path / "o.mp4", "--model", tiny_model)
    assert r.exit_code == 2 and "not a readable video" in r.output


def test_truncated_at_30_percent_keeps_what_decodes_and_warns(tmp_path, tiny_model):
    cut = truncated_clip(tmp_path / "cut.mp4")  # index first: the cut keeps it
    r = run(cut, tmp_path / "o.mp4", "--model", tiny_model, "--render-size", "64")
    assert r.exit_code == 0 and "ended early" in r.output
    assert 0 < len(read_frames(tmp_path / "o.mp4")) < 100


def test_quiet_never_hides_that_frames_were_left_out(tmp_path, tiny_model):
    """``-q`` drops the bar and the notes, never a warning of data loss (was: exit 0, empty stderr)."""
    cut = truncated_clip(tmp_path / "cut.mp4")
    r = run(cut, tmp_path / "o.mp4", "--model", tiny_model, *FAST)
    assert r.exit_code == 0 and "ended early" in r.output and r.output.startswith("warning:")
    assert "wrote" not in r.output  # the notes stay quiet
    r = CliRunner().invoke(app, ["batch", str(cut), "-o", str(tmp_path / "b"), "--model", tiny_model, *FAST])
    assert r.exit_code == 0 and "ended early" in r.output, r.output


def test_a_preview_of_a_file_whose_header_counts_frames_that_never_come(tmp_path, tiny_model):
    """The sheet's frames are chosen from the frame count the header announces; when far fewer
    decode (a file cut short; an AVI's null frames), the frames chosen late were never there (was:
    a sheet of 1 row for 4 asked, and with a video no sheet at all, silently). A preview alone
    chooses again among the frames that decoded; a video's sheet says what it is missing."""
    cut = truncated_clip(tmp_path / "cut.mp4")  # 100 frames announced, about 30 decode
    r = run(cut, tmp_path / "sheet.png", "--model", tiny_model, "--preview", "4", "--render-size", "64")
    assert r.exit_code == 0 and "choosing again" in r.output, r.output
    from PIL import Image

    assert Image.open(tmp_path / "sheet.png").height == 4 * 48 + 3 * 4  # 4 rows of the 64x48 film, 4 px apart
    r = run(cut, tmp_path / "o.mp4", "--model", tiny_model, "--preview", "4", *FAST)
    assert r.exit_code == 0 and "the preview sheet shows 1 of 4 frames" in r.output, r.output


def test_an_error_found_after_start_up_is_one_line_without_an_empty_bar(tmp_path, tiny_model):
    """Its header reads, no frame decodes: the error comes after the bar was set up (was: an empty
    ``colorize 0/100`` bar printed first)."""
    cut = truncated_clip(tmp_path / "cut.mp4", keep=0.02)
    r = CliRunner().invoke(app, [str(cut), "-o", str(tmp_path / "o.mp4"), "--model", tiny_model])  # with the bar
    assert r.exit_code == 1 and "0/100" not in r.output, r.output
    assert r.output.strip().splitlines()[-1].startswith("vidcolor: error: ") and leftovers(tmp_path) == []


def test_an_avi_that_skips_frames_is_whole_not_ended_early(tmp_path, tiny_model):
    """AVI is constant-rate: a held picture is an empty chunk, and the index counts it (a real Cinepak
    AVI decodes 68 of its 444 frames, its last one at its end). Was: `ended early` and, in batch,
    a salvaged file. A film counts as ended early only when its frames also stop short in time."""
    from fractions import Fraction

    pictures = [gradient_frame(64, 48, t=i / 3, colour=False) for i in range(20)]
    src = write_video(
        tmp_path / "held.avi", pictures, codec="mpeg4", pts=[3 * i for i in range(20)], time_base=Fraction(1, 25)
    )
    for extra in ([], ["--resume", "--segment-seconds", "0.5"]):
        out = tmp_path / f"o{len(extra)}.mp4"
        r = run(src, out, "--model", tiny_model, *FAST, *extra)
        assert r.exit_code == 0 and "ended early" not in r.output, r.output
        assert len(read_frames(out)) == 20


def test_missing_moov_atom(tmp_path, tiny_model):
    whole = gray(tmp_path / "whole.mp4", n=30).read_bytes()  # index last: the cut loses it
    cut = tmp_path / "nomoov.mp4"
    cut.write_bytes(whole[: int(len(whole) * 0.6)])
    r = run(cut, tmp_path / "o.mp4", "--model", tiny_model)
    assert r.exit_code == 2 and "nomoov.mp4" in r.output


def test_audio_only_file(tmp_path, tiny_model):
    src = tmp_path / "a.m4a"
    with av.open(str(src), "w") as o:
        s = o.add_stream("aac", rate=48000, layout="mono")
        for i in range(0, 48000, 1024):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 48000, i
            for p in s.encode(f):
                o.mux(p)
        for p in s.encode():
            o.mux(p)
    r = run(src, tmp_path / "o.mp4", "--model", tiny_model)
    assert r.exit_code == 2 and "no video stream" in r.output


def test_image_only_container(tmp_path, tiny_model):
    src = write_video(tmp_path / "still.avi", [gradient_frame(64, 48, colour=False)], codec="mjpeg", pix_fmt="yuvj420p")
    r = run(src, tmp_path / "o.mkv", "--model", tiny_model, *FAST)
    assert r.exit_code == 0 and len(read_frames(tmp_path / "o.mkv")) == 1


def test_several_video_streams_uses_the_first_and_says_so(tmp_path, tiny_model):
    src = tmp_path / "two.mkv"
    with av.open(str(src), "w") as o:
        a, b = o.add_stream("libx264", rate=25), o.add_stream("libx264", rate=25)
        a.width, a.height, a.pix_fmt = 64, 48, "yuv420p"
        b.width, b.height, b.pix_fmt = 32, 24, "yuv420p"
        for i in range(5):
            for s, w, h in ((a, 64, 48), (b, 32, 24)):
                f = av.VideoFrame.from_ndarray(gradient_frame(w, h, t=i, colour=False), format="rgb24")
                f.pts = i
                for p in s.encode(f):
                    o.mux(p)
        for s in (a, b):
            for p in s.encode():
                o.mux(p)
    r = run(src, tmp_path / "o.mkv", "--model", tiny_model, "--render-size", "64")
    assert r.exit_code == 0 and "2 video streams; colorizing the first" in r.output
    assert read_frames(tmp_path / "o.mkv")[0].shape == (48, 64, 3)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (321, 241), (320, 241)])
def test_tiny_and_odd_sizes_play_everywhere_or_are_kept_exactly(tmp_path, tiny_model, size):
    w, h = size
    src = write_video(
        tmp_path / "s.mkv", [gradient_frame(w, h, t=i) for i in range(3)], codec="libx264rgb", pix_fmt="rgb24"
    )
    r = run(src, tmp_path / "o.mp4", "--model", tiny_model, *FAST)
    assert r.exit_code == 0
    frames = read_frames(tmp_path / "o.mp4")  # by default what every player takes: even size, 4:2:0
    assert len(frames) == 3 and frames[0].shape == (h + h % 2, w + w % 2, 3)
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
    assert run(src, tmp_path / "x.mp4", "--model", tiny_model, "--exact-size", *FAST).exit_code == 0
    assert read_frames(tmp_path / "x.mp4")[0].shape == (h, w, 3)  # the exact size, with 4:4:4 where odd


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "ext"),
    [("libx265", "yuv420p10le", ".mkv"), ("libx264", "yuv444p", ".mp4"), ("ffv1", "gray", ".mkv")],
)
def test_pixel_formats_10bit_444_gray(tmp_path, tiny_model, codec, pix_fmt, ext):
    src = gray(tmp_path / f"in{ext}", n=4, codec=codec, pix_fmt=pix_fmt)
    r = run(src, tmp_path / "o.mp4", "--model", tiny_model, *FAST)
    assert r.exit_code == 0
    y_in, y_out = read_frames(src, "gray"), read_frames(tmp_path / "o.mp4", "gray")
    assert len(y_out) == 4
    assert np.abs(y_in[0].astype(int) - y_out[0].astype(int)).mean() < 2  # luma kept (8-bit output)


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "ext", "out", "extra", "out_fmt", "full"),
    [
        ("libx264", "yuv420p", ".mp4", "o.mp4", [], "yuv420p", False),
        ("libx264", "yuvj420p", ".mp4", "o.mp4", [], "yuvj420p", True),  # phones: full range stays full
        ("mjpeg", "yuvj420p", ".avi", "o.mkv", ["--codec", "ffv1"], "yuv420p", True),
        ("libx264", "yuv420p10le", ".mkv", "o.mp4", [], "yuv420p10le", False),  # 10-bit H.264
        ("ffv1", "yuv422p10le", ".mkv", "o.mkv", ["--codec", "libx265"], "yuv420p10le", False),
        ("ffv1", "yuv420p12le", ".mkv", "o.mkv", ["--codec", "ffv1"], "yuv420p12le", False),
        ("ffv1", "yuv444p", ".mkv", "o.mp4", [], "yuv420p", False),
        ("ffv1", "gray", ".mkv", "o.mp4", [], "yuvj420p", True),  # gray is full range in FFmpeg
    ],
)
def test_luma_plane_is_kept_bit_exact_at_crf_0(tmp_path, tiny_model, codec, pix_fmt, ext, out, extra, out_fmt, full):
    """The README's promise: at --crf 0 the output's Y plane is the source's, at its own range and
    depth (where the codec takes that depth); chroma becomes 4:2:0. Was: full range squeezed to
    16-235 and 10-bit written as 8-bit."""
    src = gray(tmp_path / f"in{ext}", n=3, codec=codec, pix_fmt=pix_fmt)
    r = run(src, tmp_path / out, "--model", tiny_model, "--crf", "0", *extra, *FAST)
    assert r.exit_code == 0, r.output
    y_in, _fmt, _rng = luma_planes(src)
    y_out, fmt, rng = luma_planes(tmp_path / out)
    assert fmt == out_fmt and rng == (2 if full else 1)
    assert len(y_out) == len(y_in) and all(np.array_equal(a, b) for a, b in zip(y_in, y_out, strict=True))


def test_rotated_input_keeps_its_display_matrix(tmp_path, tiny_model):
    src = gray(tmp_path / "r.mp4", n=3, rotation=-90)
    assert run(src, tmp_path / "o.mp4", "--model", tiny_model, *FAST).exit_code == 0
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert next(c.decode(video=0)).rotation == -90


def test_variable_frame_rate_keeps_timestamps(tmp_path, tiny_model):
    from fractions import Fraction

    pts = [0, 33, 100, 110, 400, 433]
    src = write_video(
        tmp_path / "v.mkv", [gradient_frame(64, 48, t=i) for i in range(6)], pts=pts, time_base=Fraction(1, 1000)
    )
    assert run(src, tmp_path / "o.mkv", "--model", tiny_model, *FAST).exit_code == 0
    assert frame_times(tmp_path / "o.mkv") == pytest.approx([p / 1000 for p in pts], abs=1e-3)


def _peak_rss_run(args: list[str]) -> tuple[int, float]:
    code = (
        "import sys, runpy; sys.argv = ['vidcolor'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('vidcolor', run_name='__main__')\nexcept SystemExit as e:\n    rc = e.code or 0\nelse:\n    rc = 0\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print('PEAK', rc, int(hwm) / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600).stdout
    _, rc, mb = out.strip().splitlines()[-1].split()
    return int(rc), float(mb)


def test_very_large_frame_is_processed_in_bounded_memory(tmp_path, tiny_model):
    f = np.full((4320, 7680, 3), 100, np.uint8)
    f[::7] = 200
    src = write_video(tmp_path / "8k.mp4", [f, f])
    rc, peak_mb = _peak_rss_run([str(src), "-o", str(tmp_path / "o.mp4"), "--model", str(tiny_model), "--quiet"])
    assert rc == 0 and len(read_frames(tmp_path / "o.mp4", "gray")) == 2
    assert peak_mb < 3000, peak_mb  # torch alone is ~0.9 GB; two 8K frames in flight, not the whole clip


def test_thousands_of_frames_memory_stays_flat(tmp_path, tiny_model):
    short, long = gray(tmp_path / "short.mp4", n=100, w=32, h=32), gray(tmp_path / "long.mp4", n=2000, w=32, h=32)
    args = ["--model", str(tiny_model), "--quiet", "--render-size", "64"]
    _, a = _peak_rss_run([str(short), "-o", str(tmp_path / "a.mp4"), *args])
    rc, b = _peak_rss_run([str(long), "-o", str(tmp_path / "b.mp4"), *args])
    assert rc == 0 and len(read_frames(tmp_path / "b.mp4", "gray")) == 2000
    assert b < a * 1.1, (a, b)


def test_colour_input_gets_colour_from_its_luma(tmp_path, tiny_model):
    src = write_video(tmp_path / "c.mp4", [gradient_frame(64, 48, t=i) for i in range(3)])
    assert run(src, tmp_path / "o.mp4", "--model", tiny_model, *FAST, "--strength", "0").exit_code == 0
    out = np.stack(read_frames(tmp_path / "o.mp4", "yuv444p")).astype(int)
    assert np.abs(out[:, 1:] - 128).max() <= 2  # the source's own colour is not carried over
    y_in = np.stack(read_frames(src, "yuv444p")).astype(int)[:, 0]
    assert np.abs(y_in - out[:, 0]).mean() < 2


# ---------------------------------------------------------------- output


def test_output_equal_to_input(tmp_path, tiny_model):
    src = gray(tmp_path / "in.mp4")
    r = run(src, src, "--model", tiny_model, "--overwrite")
    assert r.exit_code == 2 and "output is the input" in r.output


def test_existing_output_without_overwrite(tmp_path, tiny_model):
    src, out = gray(tmp_path / "in.mp4"), tmp_path / "o.mp4"
    out.write_bytes(b"keep me")
    r = run(src, out, "--model", tiny_model)
    assert r.exit_code == 2 and out.read_bytes() == b"keep me"


def test_output_folder_missing(tmp_path, tiny_model):
    r = run(gray(tmp_path / "in.mp4"), tmp_path / "no" / "such" / "o.mp4", "--model", tiny_model)
    assert r.exit_code == 2 and "output folder does not exist" in r.output


def test_read_only_output_folder(tmp_path, tiny_model):
    src = gray(tmp_path / "in.mp4")
    if os.geteuid() == 0:
        folder = Path("/sys")  # root may write anywhere a mode allows; sysfs refuses new files even to root
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    r = run(src, folder / "o.mp4", "--model", tiny_model, *FAST)
    assert (r.exit_code in (1, 2) and "o.mp4" in r.output) or "not writable" in r.output
    assert not (folder / "o.mp4").exists()


def test_unsupported_output_extension(tmp_path, tiny_model):
    r = run(gray(tmp_path / "in.mp4"), tmp_path / "o.xyz", "--model", tiny_model)
    assert r.exit_code == 2 and "unsupported output extension" in r.output


def test_disk_full_is_a_clear_error_and_removes_the_temp_file(tmp_path, tiny_model):
    src = gray(tmp_path / "in.mp4", n=200, w=320, h=240)
    out = tmp_path / "out"
    out.mkdir()

    def limit() -> None:  # a 20 kB file-size limit stands in for a full disk (EFBIG instead of ENOSPC)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    r = subprocess.run(
        [sys.executable, "-m", "vidcolor", str(src), "-o", str(out / "o.mp4"), "--model", str(tiny_model), *FAST],
        capture_output=True, text=True, preexec_fn=limit, timeout=300,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "o.mp4" in r.stderr
    assert list(out.iterdir()) == []


# ---------------------------------------------------------------- run


@pytest.mark.parametrize(
    "bad", [["--render-size", "0"], ["--batch-size", "-1"], ["--smoothing", "2"], ["--strength", "-1"], ["--crf", "99"]]
)
def test_bad_option_values_are_usage_errors(tmp_path, tiny_model, bad):
    r = CliRunner().invoke(
        app, [str(gray(tmp_path / "in.mp4")), "-o", str(tmp_path / "o.mp4"), "--model", str(tiny_model), *bad]
    )
    assert r.exit_code == 2 and not (tmp_path / "o.mp4").exists()


# (Ctrl-C -> 130 and SIGTERM -> 143 with the temporary file removed: tests/test_pipeline.py)


# ---------------------------------------------------------------- model


def test_missing_weights_file(tmp_path):
    r = run(gray(tmp_path / "in.mp4"), tmp_path / "o.mp4", "--model", tmp_path / "none.safetensors")
    assert r.exit_code == 2 and "model file not found" in r.output


def test_truncated_weights_file(tmp_path, tiny_model):
    bad = tmp_path / "cut.safetensors"
    data = tiny_model.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    r = run(gray(tmp_path / "in.mp4"), tmp_path / "o.mp4", "--model", bad)
    assert r.exit_code == 2 and "cut.safetensors" in r.output


def test_weights_of_another_architecture(tmp_path, tiny_model):
    import json

    from safetensors.torch import load_file, save_file

    from vidcolor.modelfile import read_info

    info = read_info(tiny_model)
    info["generator"]["depth"] = 5
    other = tmp_path / "other.safetensors"
    save_file(load_file(tiny_model), str(other), metadata={"vidcolor": json.dumps(info)})
    r = run(gray(tmp_path / "in.mp4"), tmp_path / "o.mp4", "--model", other)
    assert r.exit_code == 2 and "do not match" in r.output


def test_pickle_given_as_weights_is_refused_unexecuted(tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "model.pt"
    evil.write_bytes(pickle.dumps(Evil()))
    r = run(gray(tmp_path / "in.mp4"), tmp_path / "o.mp4", "--model", evil)
    assert r.exit_code == 2 and not marker.exists()


def test_still_image_that_is_corrupt(tmp_path, tiny_model):
    bad = tmp_path / "photo.jpg"
    write_image(bad, gradient_frame(40, 30))
    bad.write_bytes(bad.read_bytes()[:50])
    r = run(bad, tmp_path / "o.png", "--model", tiny_model)
    assert r.exit_code == 2 and "photo.jpg" in r.output


@pytest.mark.slow  # a cold inductor build: ~1 min on 2 cores
def test_compile_engine_on_cpu_prints_no_cuda_notice(tmp_path, tiny_model):
    """Was: ``W... cpp_extension.py] No CUDA runtime is found, using CUDA_HOME=...`` on every CPU run."""
    from vidcolor.engines import engine_unavailable

    if engine_unavailable("compile", "cpu"):
        pytest.skip(f"compile engine unavailable here: {engine_unavailable('compile', 'cpu')}")
    src = gray(tmp_path / "g.mp4", n=3)
    cmd = [sys.executable, "-m", "vidcolor.cli", str(src), "-o", str(tmp_path / "o.mp4"), "--model", str(tiny_model)]
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}  # a cold cache: the build that warned
    r = subprocess.run(
        [*cmd, "--engine", "compile", "--render-size", "64", "-q"], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0 and "CUDA" not in r.stderr, r.stderr


def test_an_anamorphic_dvd_is_shown_16_9_or_said_not_to_be(tmp_path, tiny_model):
    """A 16:9 DVD stores 4:3-shaped frames of wide pixels (32:27). The output keeps that where it can
    (was: always dropped, so every player showed the colorized film squeezed); where the format cannot
    (VP9 in WebM) a warning says so; previews show the picture as the film is shown."""
    from fractions import Fraction

    from PIL import Image

    src = gray(tmp_path / "dvd [16x9].vob", n=6, w=96, h=64, codec="mpeg2video", sar=Fraction(32, 27))
    for ext in (".mp4", ".mkv", ".webm"):
        r = run(src, tmp_path / f"out{ext}", "--model", tiny_model, "--device", "cpu")
        assert r.exit_code == 0, r.output
        with av.open(str(tmp_path / f"out{ext}")) as c:
            kept = c.streams.video[0].sample_aspect_ratio
        if ext == ".webm":
            assert "warning: out.webm: the source's pixels are 32:27 (shown 16:9)" in r.output
        else:
            assert kept == Fraction(32, 27), ext
            assert "warning" not in r.output
    r = run(src, tmp_path / "sheet.png", "--model", tiny_model, "--device", "cpu", "--preview", "1")
    assert r.exit_code == 0, r.output
    sheet = np.asarray(Image.open(tmp_path / "sheet.png"))
    assert sheet.shape[1] == 2 * 114 + 4  # gray | colour, each 96 * 32/27 = 114 wide


def test_an_anamorphic_films_painted_hints_may_be_its_stored_or_shown_shape(tmp_path, tiny_model):
    """Painted hints on a frame of a 16:9 DVD: exported at the stored 96x64 (as FFmpeg exports
    frames) or at the shown 114x64 (as `vidcolor keyframes` does), both guide it; another shape is
    refused with one line."""
    from fractions import Fraction

    from PIL import Image

    src = gray(tmp_path / "dvd.vob", n=4, w=96, h=64, codec="mpeg2video", sar=Fraction(32, 27))
    for w, ok in ((96, True), (114, True), (64, False)):
        strokes = np.zeros((64, w, 4), np.uint8)
        strokes[20:40, w // 4 : w // 2] = (200, 30, 30, 255)
        hints = tmp_path / f"strokes{w}.png"
        Image.fromarray(strokes, "RGBA").save(hints)
        r = run(src, tmp_path / f"out{w}.mp4", "--model", tiny_model, "--device", "cpu", "--hints", hints, "-q")
        assert (r.exit_code == 0) == ok, (w, r.output)
        if not ok:
            assert "does not have the video's aspect (1.778)" in r.output


def test_a_raw_h264_stream_is_timed_by_frame_number(tmp_path, tiny_model):
    """A raw .264 elementary stream has no timestamps: its frames are timed by their number at its
    rate, so --start/--duration cut it where asked and the studio's shots have their own times
    and pictures (was: every frame at 0 s; `--start 1` said "past the end"; the studio's pictures
    failed, "no decodable video frames for a preview")."""
    from test_guidance import luma_gray, two_shots

    from vidcolor.colorizer import Colorizer
    from vidcolor.config import ColorizeConfig
    from vidcolor.source import frames
    from vidcolor.studio.session import Studio

    a, b = two_shots(n=25)
    stream = write_video(tmp_path / "reel.264", [luma_gray(f) for f in a + b], fps=25)
    assert [round(f.time, 2) for f in frames(stream)][:3] == [0.0, 0.04, 0.08]
    out = tmp_path / "cut.mp4"
    r = CliRunner().invoke(
        app, [str(stream), "-o", str(out), "--start", "1", "--duration", "0.4", "--model", str(tiny_model), "-q"]
    )
    assert r.exit_code == 0, r.output
    assert len(read_frames(out)) == 10
    studio = Studio(stream, Colorizer(ColorizeConfig(model=str(tiny_model), device="cpu")))
    assert [(s.start, s.t) for s in studio.shots] == [(0, 0.0), (25, 1.0)]
    assert studio.colour(1).shape == (64, 96, 3)
