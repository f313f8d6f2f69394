"""vidcolor batch: exactly-once over an archive, failure isolation, crash recovery, sharding."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from make_media import gradient_frame, read_frames, truncated_clip, write_image, write_video
from vidcolor.batch import discover
from vidcolor.cli import app

FAST = ["--render-size", "64", "--quiet"]


def clip(path: Path, n: int, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, [gradient_frame(64, 48, t=i / 5, colour=False) for i in range(n)], **kw)


@pytest.fixture
def archive(tmp_path) -> Path:
    root = tmp_path / "archive"
    clip(root / "reel1" / "a.mp4", 12)
    clip(root / "reel1" / "sub" / "b.mkv", 9, audio=True)
    clip(root / "c.mp4", 7)
    (root / "photos").mkdir()
    write_image(root / "photos" / "p.png", gradient_frame(40, 30, colour=False))
    whole = (root / "c.mp4").read_bytes()
    (root / "reel1" / "damaged.mp4").write_bytes(whole[: len(whole) // 3])  # cut before its index
    (root / "reel1" / "notes.mp4").write_text("a text file, not a video\n")
    (root / "readme.txt").write_text("ignored: not media\n")
    return root


def batch(*args) -> object:
    return CliRunner().invoke(app, ["batch", *[str(a) for a in args]])


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in folder.rglob("*")
        if p.is_file() and "manifest" not in p.name
    }


def records(out: Path) -> list[dict]:
    return [json.loads(line) for m in out.glob("vidcolor-manifest*.jsonl") for line in m.read_text().splitlines()]


def test_batch_finishes_good_files_and_reports_bad_ones(archive, tmp_path, tiny_model):
    out = tmp_path / "out"
    r = batch(archive, "-o", out, "--model", tiny_model, *FAST)
    assert r.exit_code == 1  # some files failed
    assert "damaged.mp4" in r.output and "notes.mp4" in r.output
    assert len(read_frames(out / "reel1" / "a.mp4")) == 12
    assert len(read_frames(out / "reel1" / "sub" / "b.mkv")) == 9
    assert len(read_frames(out / "c.mp4")) == 7
    assert (out / "photos" / "p.png").is_file()
    assert not (out / "readme.txt").exists() and not (out / "reel1" / "damaged.mp4").exists()
    status = {r["rel"]: r["status"] for r in records(out)}
    assert status["reel1/damaged.mp4"] == status["reel1/notes.mp4"] == "failed"
    assert status["reel1/a.mp4"] == "done"


def test_rerun_changes_nothing_and_changed_input_is_redone(archive, tmp_path, tiny_model):
    out = tmp_path / "out"
    batch(archive, "-o", out, "--model", tiny_model, *FAST)
    before, lines = snapshot(out), len(records(out))
    r = batch(archive, "-o", out, "--model", tiny_model, *FAST)
    assert r.exit_code == 1  # the damaged files are still failed (reported, not retried)
    assert snapshot(out) == before and len(records(out)) == lines
    clip(archive / "c.mp4", 5)  # the input changes: its output is redone, the others untouched
    assert batch(archive, "-o", out, "--model", tiny_model, *FAST).exit_code == 1
    assert len(read_frames(out / "c.mp4")) == 5
    after = snapshot(out)
    assert after["reel1/a.mp4"] == before["reel1/a.mp4"]
    r = batch(archive, "-o", out, "--model", tiny_model, "--strength", "0.5", "--dry-run", *FAST)
    assert "would run" in r.output  # new settings: everything good would be redone
    assert snapshot(out) == after


def test_kill_9_mid_file_then_rerun_completes_exactly_once(tmp_path, tiny_model):
    root = tmp_path / "archive"
    clip(root / "long.mp4", 400)
    clip(root / "short.mp4", 6)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vidcolor", "batch", str(root), "-o", str(out), "--model", str(tiny_model)]
    cmd += ["--batch-size", "1", *FAST]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline and not any("partial" in p.name for p in out.rglob("*") if out.exists()):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any("partial" in p.name for p in out.rglob("*"))  # killed mid-file
    assert not (out / "long.mp4").exists()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(read_frames(out / "long.mp4")) == 400 and len(read_frames(out / "short.mp4")) == 6
    assert not [p.name for p in out.rglob("*") if "partial" in p.name]
    done = [x for x in records(out) if x["status"] == "done"]
    assert sorted(x["rel"] for x in done) == ["long.mp4", "short.mp4"]  # each finished exactly once


def test_shards_cover_every_file_exactly_once(archive, tmp_path, tiny_model):
    out = tmp_path / "shared-out"
    for k in (0, 1):
        batch(archive, "-o", out, "--model", tiny_model, "--shard", f"{k}/2", *FAST)
    recs = records(out)
    by_rel: dict[str, list[str]] = {}
    for x in recs:
        if x["status"] in ("done", "failed"):
            by_rel.setdefault(x["rel"], []).append(x["shard"])
    assert sorted(by_rel) == sorted(j.rel for j in discover([archive]))
    assert all(len(v) == 1 for v in by_rel.values())  # nobody processed a file twice
    assert {p.name for p in out.glob("vidcolor-manifest*")} == {
        "vidcolor-manifest.shard-0-of-2.jsonl",
        "vidcolor-manifest.shard-1-of-2.jsonl",
    }


def test_adding_files_never_moves_or_redoes_finished_ones(tmp_path, tiny_model):
    """Shards and --from-list names depend on each file alone: adding files (one from a sibling
    folder, and more to the shard) leaves every finished output where it was, untouched."""
    root = tmp_path / "films"
    lst = root / "list.txt"
    first = [clip(root / "reel1" / f"f{i}.mp4", 3) for i in range(6)]
    lst.write_text("".join(f"{p.relative_to(root)}\n" for p in first))
    out = tmp_path / "out"
    for k in (0, 1):
        assert batch("--from-list", lst, "-o", out, "--model", tiny_model, "--shard", f"{k}/2", *FAST).exit_code == 0
    before = snapshot(out)
    assert sorted(before) == [f"reel1/f{i}.mp4" for i in range(6)]
    added = [clip(tmp_path / "elsewhere" / "g.mp4", 3), *(clip(root / "reel2" / f"h{i}.mp4", 3) for i in range(4))]
    lst.write_text(lst.read_text() + "".join(f"{p}\n" for p in added))  # absolute lines, one outside the folder
    for k in (0, 1):
        assert batch("--from-list", lst, "-o", out, "--model", tiny_model, "--shard", f"{k}/2", *FAST).exit_code == 0
    after = snapshot(out)
    assert {k: after[k] for k in before} == before  # same names, same bytes, same mtimes
    assert sorted(set(after) - set(before)) == sorted(
        [(tmp_path / "elsewhere" / "g.mp4").relative_to("/").as_posix(), *(f"reel2/h{i}.mp4" for i in range(4))]
    )
    done = [x["rel"] for x in records(out) if x["status"] == "done"]
    assert len(done) == len(set(done)) == 11  # each file done exactly once, by one shard


def test_from_list_suffix_container_and_dry_run(archive, tmp_path, tiny_model):
    lst = tmp_path / "list.txt"
    lst.write_text(f"{archive / 'c.mp4'}\n# a comment\narchive/reel1/a.mp4\n")  # absolute, and relative to the list
    out = tmp_path / "out"
    r = batch(
        "--from-list", lst, "-o", out, "--model", tiny_model, "--suffix", "_color", "--container", "mkv", "--dry-run"
    )
    assert r.exit_code == 0 and r.output.count("would run:") == 2
    assert not out.exists()
    assert (
        batch(
            "--from-list", lst, "-o", out, "--model", tiny_model, "--suffix", "_color", "--container", "mkv", *FAST
        ).exit_code
        == 0
    )
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mkv")) == [
        "archive/c_color.mkv",
        "archive/reel1/a_color.mkv",
    ]


def test_existing_foreign_output_is_never_overwritten(tmp_path, tiny_model):
    root = tmp_path / "archive"
    clip(root / "a.mp4", 4)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.mp4").write_bytes(b"someone else's file")
    r = batch(root, "-o", out, "--model", tiny_model, *FAST)
    assert r.exit_code == 0
    assert (out / "a.mp4").read_bytes() == b"someone else's file"


def test_bad_shard_and_missing_inputs_are_usage_errors(tmp_path):
    assert batch(tmp_path, "-o", tmp_path / "o", "--shard", "2/2").exit_code == 2
    assert batch(tmp_path / "missing", "-o", tmp_path / "o").exit_code == 2
    assert batch("-o", tmp_path / "o").exit_code == 2


def test_output_folder_inside_the_input_is_never_an_input(tmp_path, tiny_model):
    root = tmp_path / "films"
    clip(root / "a.mp4", 6)
    out = root / "colorized"
    for _ in range(2):
        r = batch(root, "-o", out, "--model", tiny_model, *FAST)
        assert r.exit_code == 0, r.output
    assert {rec["rel"] for rec in records(out)} == {"a.mp4"}  # colorized/a.mp4 was never taken as input
    assert sorted(p.name for p in out.iterdir() if "manifest" not in p.name) == ["a.mp4"]
    assert [j.rel for j in discover([root], exclude=out)] == ["a.mp4"]


def test_outputs_reach_the_disk_before_they_are_renamed(tmp_path, monkeypatch):
    from vidcolor import encode

    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(encode.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(encode.os, "replace", lambda a, b: (calls.append("rename"), real_replace(a, b))[1])
    encode.save_image(gradient_frame(8, 8), tmp_path / "x.png")
    assert calls[:2] == ["fsync", "rename"] and calls.count("fsync") == 2  # the file, then its folder


def test_stale_temporaries_of_names_with_glob_characters_are_removed(tmp_path):
    from vidcolor.batch import remove_stale_partials
    from vidcolor.encode import temp_path

    out = tmp_path / "Film [1950] (restored).mp4"
    stale = temp_path(out).with_name(temp_path(out).name.replace(f"-{os.getpid()}-", "-999999999-"))
    stale.write_bytes(b"half a film")
    remove_stale_partials(out)
    assert not stale.exists()


def test_any_failure_of_one_file_is_recorded_and_the_batch_goes_on(tmp_path, tiny_model, monkeypatch):
    """A damaged header (a stream whose codec is unknown) and an error vidcolor does not expect
    (here an OSError raised inside colorize) each fail their own file only, with a one-line
    reason; the files after them are done, and a re-run does not stop on them either."""
    import vidcolor.batch

    root = tmp_path / "archive"
    good = clip(root / "c good.mkv", 4, audio=True)
    data = good.read_bytes()
    (root / "a unknown video codec.mkv").write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/AVC"))
    (root / "b unknown audio codec.mkv").write_bytes(data.replace(b"A_AAC", b"A_QQQ"))
    clip(root / "b2 disk trouble.mp4", 4)
    real = vidcolor.batch.colorize

    def flaky(input, *a, **kw):
        if "disk trouble" in input.name:
            raise OSError(5, "Input/output error")
        return real(input, *a, **kw)

    monkeypatch.setattr(vidcolor.batch, "colorize", flaky)
    out = tmp_path / "out"
    for _ in range(2):  # the second run meets the same files again
        r = batch(root, "-o", out, "--model", tiny_model, *FAST)
        assert r.exit_code == 1 and "Traceback" not in r.output
    last = {x["rel"]: x for x in records(out)}
    assert last["c good.mkv"]["status"] == "done" and len(read_frames(out / "c good.mkv")) == 4
    b = last["b unknown audio codec.mkv"]  # the video is fine, the audio is left out: salvaged, with why
    assert b["status"] == "salvaged" and any("audio stream" in w for w in b["warnings"])
    assert last["a unknown video codec.mkv"]["status"] == "failed"
    assert "damaged header" in last["a unknown video codec.mkv"]["error"]
    assert last["b2 disk trouble.mp4"]["error"] == "unexpected OSError: Input/output error"
    assert not (out / "b2 disk trouble.mp4").exists()


def test_one_writer_per_shard_across_hosts(tmp_path, tiny_model):
    """A second run of the same shard on the same output folder (another host, e.g. a rescheduled
    Kubernetes pod while the first still runs) stops with one line; a lease whose holder stopped
    beating (a dead machine) or died on this host is taken over; another shard is not blocked."""
    import json

    from vidcolor.lease import Lease, Slice

    root = tmp_path / "archive"
    clip(root / "a.mp4", 3)
    out = tmp_path / "out"
    out.mkdir()
    lease = out / ".vidcolor-lease.json"
    lease.write_text(json.dumps({"host": "node-17", "pid": 4242, "token": "x"}))  # alive elsewhere, just beat
    r = batch(root, "-o", out, "--model", tiny_model, *FAST)
    assert r.exit_code == 1 and "node-17 pid 4242" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (out / "a.mp4").exists() and lease.exists()
    assert batch(root, "-o", out, "--model", tiny_model, "--dry-run", *FAST).exit_code == 0  # reading is free
    old = time.time() - 600
    os.utime(lease, (old, old))  # node-17 died ten minutes ago: its lease is stale
    assert batch(root, "-o", out, "--model", tiny_model, *FAST).exit_code == 0
    assert (out / "a.mp4").is_file() and not lease.exists()  # taken over, done, released
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lease.write_text(json.dumps({"host": os.uname().nodename, "pid": int(dead.stdout), "token": "y"}))
    with Lease(out, Slice(0, 1)):  # a holder killed on this machine: taken over at once
        with Lease(out, Slice(1, 2)):  # other shards have their own lease
            pass
        with pytest.raises(Exception, match="being processed by"):
            Lease(out, Slice(0, 1)).__enter__()
    assert not lease.exists()


def test_settings_added_later_do_not_redo_an_archive():
    """Upgrading vidcolor must not redo a finished archive because the settings grew a field:
    at its default a new field is left out of the hash (the manifests' hash is the old one)."""
    import dataclasses
    import hashlib
    import json

    from vidcolor.batch import settings_hash
    from vidcolor.config import ColorizeConfig, EncodeSettings

    # --confidence off: what 0.1 did (the default is pale since issue 33, a different output: redone)
    cfg = ColorizeConfig(render_size=64, confidence="off")
    assert settings_hash(dataclasses.replace(cfg, confidence="pale")) != settings_hash(cfg)
    v01 = ("model", "render_size", "batch_size", "smoothing", "strength", "start", "duration", "preview", "engine")
    before = {k: v for k, v in cfg.to_dict().items() if k in (*v01, "precision")}  # the 0.1 layout
    before["encode"] = {"codec": None, "crf": 18, "preset": "fast"}
    old = hashlib.sha256(json.dumps(before, sort_keys=True, default=str).encode()).hexdigest()[:16]
    assert settings_hash(cfg) == old
    exact = dataclasses.replace(cfg, encode=EncodeSettings(exact_size=True))
    assert settings_hash(exact) != old  # a different output: redone
    assert settings_hash(dataclasses.replace(cfg, interlaced="keep")) != old


def test_overall_progress_counts_only_what_will_run(tmp_path, tiny_model):
    """The batch's overall ETA is in frames of the files that will run (a finished or failed file
    weighs nothing; a long film weighs its length), counted from container headers."""
    from vidcolor.batch import run_batch
    from vidcolor.config import ColorizeConfig
    from vidcolor.decode import header_frames

    root = tmp_path / "archive"
    clip(root / "a.mp4", 12)
    clip(root / "b.mkv", 30)
    assert header_frames(root / "a.mp4") == 12 and header_frames(root / "b.mkv") == 30
    assert header_frames(tmp_path / "nope.mp4") == 0
    cfg = ColorizeConfig(model=str(tiny_model), render_size=64)
    planned: list[list[str]] = []
    run_batch(discover([root]), tmp_path / "out", cfg, on_plan=lambda jobs: planned.append([j.rel for j in jobs]))
    clip(root / "c.mp4", 5)
    run_batch(discover([root]), tmp_path / "out", cfg, on_plan=lambda jobs: planned.append([j.rel for j in jobs]))
    assert planned == [["a.mp4", "b.mkv"], ["c.mp4"]]


def test_a_salvaged_file_is_recorded_as_salvaged_and_strict_fails_it(tmp_path, tiny_model):
    """Was: recorded as plain ``done``, nothing in the summary, exit 0 even with --strict."""
    root = tmp_path / "in"
    clip(root / "good.mp4", 6)
    truncated_clip(root / "cut.mp4", frames=60)
    out = tmp_path / "out"
    r = batch(root, "-o", out, "--model", tiny_model, "--render-size", "64")
    assert r.exit_code == 0, r.output
    rec = {x["rel"]: x for x in records(out)}
    assert rec["good.mp4"]["status"] == "done" and "warnings" not in rec["good.mp4"]
    assert rec["cut.mp4"]["status"] == "salvaged" and any("ended early" in w for w in rec["cut.mp4"]["warnings"])
    assert "salvaged" in r.output and (out / "cut.mp4").is_file()
    # --strict: the same archive (nothing redone) exits 1 and names the file, even with -q
    r = batch(root, "-o", out, "--model", tiny_model, "--strict", *FAST)
    assert r.exit_code == 1 and "salvaged earlier" in r.output and "cut.mp4" in r.output, r.output
    assert [x["status"] for x in records(out) if x["rel"] == "cut.mp4"] == ["running", "salvaged"]


def test_file_names_with_brackets_are_printed_as_they_are_and_once(tmp_path, tiny_model):
    """Rich read ``[x]`` in a path as markup (``sub dir [x]/bad.mp4`` showed as ``sub dir /bad.mp4``),
    and a failure line named the file twice (``failed: P: P: not a readable video``)."""
    root = tmp_path / "in"
    bad = root / "sub dir [x]" / "bad [1].mp4"
    bad.parent.mkdir(parents=True)
    bad.write_text("not a video\n")
    r = CliRunner().invoke(app, ["batch", str(root), "-o", str(tmp_path / "out"), "--model", tiny_model])
    assert r.exit_code == 1
    lines = [x for x in r.output.splitlines() if x.startswith("failed:")]
    assert lines and all(x.count("bad [1].mp4") == 1 and "sub dir [x]" in x for x in lines), r.output


def test_batch_does_films_from_a_minute_in_resumable_segments(tmp_path, tiny_model, monkeypatch):
    """Was: only from 5 minutes, so a 2-minute film killed at 60 % started again from zero."""
    import vidcolor.segments

    seen: list[str] = []
    real = vidcolor.segments.colorize_in_segments

    def spy(input, *args, **kwargs):
        seen.append(Path(input).name)
        return real(input, *args, **kwargs)

    monkeypatch.setattr(vidcolor.segments, "colorize_in_segments", spy)
    root = tmp_path / "in"
    for name, seconds in (("minute.mp4", 61), ("short.mp4", 50)):  # 2 frames/s keeps them small
        clip(root / name, 2 * seconds, fps=2, options={"x264-params": "keyint=20:min-keyint=20:scenecut=0"})
    r = batch(root, "-o", tmp_path / "out", "--model", tiny_model, *FAST)
    assert r.exit_code == 0, r.output
    assert seen == ["minute.mp4"]
    assert len(read_frames(tmp_path / "out" / "minute.mp4")) == 122


def test_the_files_bar_counts_a_file_when_it_is_finished(tmp_path, tiny_model, monkeypatch):
    """Was: a file counted when it started (`2/4` files with one done)."""
    import rich.progress

    import vidcolor.batch

    bars: list[rich.progress.Progress] = []
    real_init, real_colorize = rich.progress.Progress.__init__, vidcolor.batch.colorize

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        bars.append(self)

    def spy(*args, **kwargs):
        seen.append(bars[-1].tasks[0].completed)  # the files bar, as this file starts
        return real_colorize(*args, **kwargs)

    seen: list[float] = []
    monkeypatch.setattr(rich.progress.Progress, "__init__", init)
    monkeypatch.setattr(vidcolor.batch, "colorize", spy)
    root = tmp_path / "in"
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        clip(root / name, 3)
    r = batch(root, "-o", tmp_path / "out", "--model", tiny_model, "--render-size", "64")  # with the bars
    assert r.exit_code == 0, r.output
    assert seen == [0, 1, 2] and bars[-1].tasks[0].completed == 3
