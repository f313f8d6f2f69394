"""Films in segments (vidcolor.segments): resume inside a film after kill -9, one film across
workers (--segments K/N), no colour seam at the joints, hostile cases (a deleted segment, two
workers given the same part)."""

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from make_media import audio_packets, frame_times, gradient_frame, read_frames, write_video
from vidcolor.cli import app
from vidcolor.lease import Lease, Slice
from vidcolor.segments import keyframe_times, plan_segments, work_dir

runner = CliRunner()
COMMON = ["--render-size", "64", "--crf", "0", "--quiet"]  # crf 0: lossless, so pixels compare exactly


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def gop_clip(path: Path, n: int = 150, fps: int = 25, gop: int = 25, w: int = 96, h: int = 64) -> Path:
    """A gray clip with a keyframe every ``gop`` frames (B-frames on) and a sound track; the picture
    moves, so consecutive frames differ as in a film."""
    frames = [gradient_frame(w, h, t=i / 6, colour=False) for i in range(n)]
    options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
    return write_video(path, frames, fps=fps, audio=True, options=options)


def chroma(path: Path) -> np.ndarray:
    """(N, 2, H, W) int chroma planes of every frame."""
    return np.stack(read_frames(path, "yuv444p"))[:, 1:].astype(int)


def seam(path: Path, joints: list[int]) -> tuple[float, float]:
    """(largest mean |Δ chroma| from the frame before a joint to the joint's frame, median of that
    step over every other pair of consecutive frames): a seam shows as a step above the normal."""
    c = chroma(path)
    steps = np.abs(np.diff(c, axis=0)).mean(axis=(1, 2, 3))  # steps[i]: frame i -> i+1
    at = [steps[j - 1] for j in joints]
    normal = np.delete(steps, [j - 1 for j in joints])
    return float(max(at)), float(np.median(normal))


def joint_frames(src: Path, seconds: float) -> list[int]:
    """Indices of the frames that start a segment (after the first)."""
    times = frame_times(src)
    starts = [s.start for s in plan_segments(keyframe_times(src), seconds)[1:]]
    return [min(range(len(times)), key=lambda i: abs(times[i] - t)) for t in starts]


def same_film(a: Path, b: Path) -> None:
    """Decodes to the same frames: count, timestamps, audio packets."""
    ta, tb = frame_times(a), frame_times(b)
    assert len(ta) == len(tb) and ta == pytest.approx(tb, abs=1e-6)
    assert audio_packets(a) == audio_packets(b) and audio_packets(a)


@pytest.fixture(scope="module")
def film(tmp_path_factory, tiny_model) -> tuple[Path, Path]:
    """A 6-second clip and its uninterrupted colorized run (the reference)."""
    d = tmp_path_factory.mktemp("film")
    src = gop_clip(d / "in.mp4")
    ref = d / "ref.mp4"
    r = run(src, "-o", ref, "--model", tiny_model, *COMMON)
    assert r.exit_code == 0, r.output
    return src, ref


def test_plan_cuts_at_keyframes_the_same_way_every_time(film):
    src, _ = film
    keys = keyframe_times(src)
    assert keys[:3] == pytest.approx([0.0, 1.0, 2.0])
    plan = plan_segments(keys, 1.0)
    assert [s.start for s in plan] == pytest.approx(keys) and plan[-1].end is None
    assert all(a.end == b.start for a, b in itertools.pairwise(plan))
    assert plan_segments(keys, 2.5) == plan_segments(list(keys), 2.5)  # deterministic
    assert [s.start for s in plan_segments(keys, 2.5)] == pytest.approx([0.0, 3.0])
    assert [list(Slice(k, 3).span(6)) for k in range(3)] == [[0, 1], [2, 3], [4, 5]]


def test_resume_equals_an_uninterrupted_run_and_has_no_seam(film, tmp_path, tiny_model):
    """Segments joined with the smoother's state carried: the very pixels of a normal run."""
    src, ref = film
    out = tmp_path / "out.mp4"
    r = run(src, "-o", out, "--model", tiny_model, "--resume", "--segment-seconds", "1", *COMMON)
    assert r.exit_code == 0, r.output
    same_film(out, ref)
    assert np.array_equal(chroma(out), chroma(ref))
    assert not work_dir(out).exists() and sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    step, normal = seam(out, joint_frames(src, 1.0))
    assert step <= 2 * normal + 0.5, (step, normal)


@pytest.mark.parametrize("name", ["out.mkv", "out [1].webm", "out.mov"])
def test_resume_into_other_containers_gives_the_uninterrupted_film(film, tmp_path, tiny_model, name):
    """Matroska and WebM store no dts for the first packets of a stream with B-frames; the join
    gave the muxer such packets and failed (`non monotonically increasing dts`, exit 1)."""
    src, _ = film
    ref, out = tmp_path / f"ref{Path(name).suffix}", tmp_path / name
    lossy = ["--render-size", "64", "--quiet"]  # lossy x264 codes B-frames (lossless here does not)
    assert run(src, "-o", ref, "--model", tiny_model, *lossy).exit_code == 0
    r = run(src, "-o", out, "--model", tiny_model, "--resume", "--segment-seconds", "1", *lossy)
    assert r.exit_code == 0, r.output
    same_film(out, ref)


def test_kill_9_mid_film_then_resume_redoes_only_unfinished_segments(tmp_path, tiny_model):
    src = gop_clip(tmp_path / "long.mp4", n=500)  # 20 s, 20 segments of 1 s
    ref = tmp_path / "ref.mp4"
    assert run(src, "-o", ref, "--model", tiny_model, *COMMON).exit_code == 0
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "vidcolor", str(src), "-o", str(out), "--model", str(tiny_model), "--resume"]
    cmd += ["--segment-seconds", "1", "--render-size", "64", "--crf", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = work_dir(out)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(work.glob("seg-*.json"))) < 8:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = sorted(work.glob("seg-*.json"))
    assert 8 <= len(finished) < 20 and not out.exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in work.glob("seg-*") if p.name in {f.name for f in finished}}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"resuming: {len(finished)} of the 20 segments" in r.stderr
    same_film(out, ref)
    assert np.array_equal(chroma(out), chroma(ref))  # state restored exactly: no seam at all
    assert stamps and not work.exists() and not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_an_interlaced_film_is_deinterlaced_in_segments_as_in_one_run(tmp_path, tiny_model):
    """bwdif weighs each frame with its neighbours: each segment reads two frames either side, so
    resumed segments give the very pixels of one deinterlaced run (luma and chroma)."""
    pictures = [gradient_frame(96, 64, t=i / 12, colour=False) for i in range(2 * 100)]
    woven = [a.copy() for a in pictures[::2]]
    for k, f in enumerate(woven):
        f[1::2] = pictures[2 * k + 1][1::2]
    opts = {"flags": "+ildct+ilme", "x264-params": "tff=1:keyint=25:min-keyint=25:scenecut=0"}
    src = write_video(tmp_path / "tape.mp4", woven, audio=True, options=opts)
    ref, out = tmp_path / "ref.mp4", tmp_path / "out.mp4"
    assert run(src, "-o", ref, "--model", tiny_model, *COMMON).exit_code == 0
    r = run(src, "-o", out, "--model", tiny_model, "--resume", "--segment-seconds", "1", *COMMON)
    assert r.exit_code == 0, r.output
    same_film(out, ref)
    assert np.array_equal(np.stack(read_frames(out, "yuv444p")), np.stack(read_frames(ref, "yuv444p")))
    assert run(src, "-o", tmp_path / "k.mp4", "--model", tiny_model, "--resume", "--interlaced", "keep").exit_code == 2


def test_more_workers_than_segments_and_parts_that_do_not_exist(film, tmp_path, tiny_model):
    """A 6 s film in 10 s segments is one segment: workers 0/3 and 1/3 have nothing to do and say
    so (exit 0), 2/3 colours it and joins. --segments 3/3 is one line before any work (exit 2)."""
    src, ref = film
    out = tmp_path / "out.mp4"
    args = [src, "-o", out, "--model", tiny_model, "--segment-seconds", "10", "--render-size", "64", "--crf", "0"]
    for k in (0, 1):
        r = run(*args, "--segments", f"{k}/3")
        assert r.exit_code == 0 and "has no segment (the film has 1); nothing to do" in r.output, r.output
    assert not out.exists()
    assert run(*args, "--segments", "2/3").exit_code == 0
    same_film(out, ref)
    for bad in ("3/3", "1/0", "half"):
        r = run(*args, "--segments", bad)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output


KILLED_IN_JOIN = """
import os, sys
from vidcolor import segments
from vidcolor.cli import app
copy = segments.JoinWriter.copy
def dying(self, segment):
    copy(self, segment)
    os._exit(137)  # kill -9 after the first segment's packets: no cleanup runs
segments.JoinWriter.copy = dying
sys.argv = ["vidcolor", *sys.argv[1:]]
app()
"""


def test_kill_9_during_the_join_then_the_same_command_finishes(film, tmp_path, tiny_model):
    """The join writes a hidden partial file under a lease; killed inside it, the work folder, a
    partial file and a lease of a dead process are left. The same command again joins afresh."""
    src, ref = film
    out = tmp_path / "out [1].mp4"
    args = [str(src), "-o", str(out), "--model", str(tiny_model), "--resume", "--segment-seconds", "1", *COMMON]
    r = subprocess.run([sys.executable, "-c", KILLED_IN_JOIN, *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 137 and not out.exists(), r.stderr
    assert [p for p in tmp_path.iterdir() if "partial" in p.name]
    assert (work_dir(out) / ".vidcolor-join-lease.json").exists()
    r = subprocess.run([sys.executable, "-m", "vidcolor", *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    same_film(out, ref)
    assert np.array_equal(chroma(out), chroma(ref))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out [1].mp4"]


def test_two_workers_join_into_the_same_frames_as_one(film, tmp_path, tiny_model):
    """--segments 0/2 leaves its part and exits 0; 1/2 finishes last and joins. Worker 1's first
    segment is warmed up on the 32 frames before it: frames, timestamps and audio are the same,
    chroma within a few levels at the joint, and no step there above the normal."""
    src, ref = film
    out = tmp_path / "out.mp4"
    args = ["--model", tiny_model, "--segment-seconds", "1", *COMMON]
    r0 = run(src, "-o", out, "--segments", "0/2", *args)
    assert r0.exit_code == 0, r0.output
    assert not out.exists() and len(list(work_dir(out).glob("seg-*.json"))) == 3
    r1 = run(src, "-o", out, "--segments", "1/2", *args)
    assert r1.exit_code == 0, r1.output
    same_film(out, ref)
    diff = np.abs(chroma(out) - chroma(ref))
    joint = joint_frames(src, 1.0)[2]  # where worker 1 started
    assert diff[:joint].max() == 0  # worker 0's part: exact
    assert diff.max() <= 3, diff.max()
    step, normal = seam(out, joint_frames(src, 1.0))
    assert step <= 2 * normal + 0.5, (step, normal)


def test_a_deleted_segment_is_redone_and_the_rest_kept(film, tmp_path, tiny_model):
    src, ref = film
    out = tmp_path / "out.mp4"
    args = ["--model", tiny_model, "--segment-seconds", "1", *COMMON]
    assert run(src, "-o", out, "--segments", "0/2", *args).exit_code == 0
    work = work_dir(out)
    (work / "seg-00001.mp4").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in work.glob("seg-0000[02].*")}
    r = runner.invoke(app, [str(a) for a in (src, "-o", out, "--segments", "0/2", *args)][:-1])  # not quiet
    assert r.exit_code == 0, r.output
    assert "resuming: 2 of the 3 segments of part 0/2" in r.output
    assert {p.name: p.stat().st_mtime_ns for p in work.glob("seg-0000[02].*")} == kept
    assert run(src, "-o", out, "--segments", "1/2", *args).exit_code == 0
    same_film(out, ref)


def test_two_workers_given_the_same_part(film, tmp_path, tiny_model):
    """While one holds the part, a second stops at once (exit 1, naming the holder); once it is
    finished, a second finds it done, redoes nothing, and exits 0."""
    src, _ = film
    out = tmp_path / "out.mp4"
    args = ["--model", tiny_model, "--segment-seconds", "1", *COMMON]
    assert run(src, "-o", out, "--segments", "1/2", *args).exit_code == 0  # makes the plan and folder
    with Lease(work_dir(out), Slice(0, 2)):  # a live worker on part 0/2
        r = run(src, "-o", out, "--segments", "0/2", *args)
    assert r.exit_code == 1 and "vidcolor-segments: part 0/2 is being processed by" in r.output, r.output
    assert not out.exists()
    before = {p.name: p.stat().st_mtime_ns for p in work_dir(out).glob("seg-*")}
    r = runner.invoke(app, [str(a) for a in (src, "-o", out, "--segments", "1/2", *args)][:-1])
    assert r.exit_code == 0 and "resuming: 3 of the 3 segments" in r.output
    assert {p.name: p.stat().st_mtime_ns for p in work_dir(out).glob("seg-*")} == before


def test_a_changed_input_makes_the_segments_stale(film, tmp_path, tiny_model):
    """The plan records the input's fingerprint, model and settings: another film under the same
    name throws the old segments away instead of joining them into it."""
    src, _ = film
    out = tmp_path / "out.mp4"
    args = ["--model", tiny_model, "--segment-seconds", "1", *COMMON]
    assert run(src, "-o", out, "--segments", "1/2", *args).exit_code == 0  # segments 3..5 of 6
    other = gop_clip(tmp_path / "other.mp4", n=100)  # 4 segments
    assert run(other, "-o", out, "--segments", "0/2", *args).exit_code == 0
    assert sorted(p.name for p in work_dir(out).glob("seg-*.json")) == ["seg-00000.json", "seg-00001.json"]
    assert run(other, "-o", out, "--segments", "1/2", *args).exit_code == 0
    assert len(frame_times(out)) == 100


def test_batch_continues_a_long_film_inside_it(film, tmp_path, tiny_model, monkeypatch):
    """`vidcolor batch` colorizes films over SEGMENTS.batch_min_seconds in segments: stopped in the
    middle of one (Ctrl-C), the next run continues with its first unfinished segment."""
    import vidcolor.batch as batch
    import vidcolor.segments as segments
    from vidcolor.config import SegmentSettings

    src, ref = film
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "film.mp4").write_bytes(src.read_bytes())
    monkeypatch.setattr(batch, "SEGMENTS", SegmentSettings(segment_seconds=1.0, batch_min_seconds=5.0))
    real, calls = segments._colour_segment, []

    def stop_at_the_fourth(*a, **kw):
        calls.append(next(x for x in a if isinstance(x, segments.Segment)).index)  # the segment being coloured
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(segments, "_colour_segment", stop_at_the_fourth)
    out = tmp_path / "out"
    args = [archive, "-o", out, "--model", tiny_model, "--render-size", "64", "--crf", "0"]
    assert run("batch", *args, "--quiet").exit_code == 130
    assert not (out / "film.mp4").exists() and len(list(work_dir(out / "film.mp4").glob("seg-*.json"))) == 3
    monkeypatch.setattr(segments, "_colour_segment", real)
    r = run("batch", *args)
    assert r.exit_code == 0, r.output
    assert "resuming: 3 of the 6 segments" in r.output
    same_film(out / "film.mp4", ref)
    assert np.array_equal(chroma(out / "film.mp4"), chroma(ref))
