"""Fuzz: damaged copies of clips in several containers never crash vidcolor (issue 14).

Random byte flips, zeroed blocks, header damage and truncation at random points, from a fixed seed
(a failure names its case and is reproducible). Every run must end within its time limit with exit
0, 1 or 2, no traceback and no "unexpected" error, one line when it fails, the input untouched,
nothing temporary left behind, and either a playable output or none at all.
"""

import json
import random
import signal

import av
import pytest
from test_robustness import leftovers, sha
from typer.testing import CliRunner

from make_media import gradient_frame, write_video
from vidcolor.cli import app

CONTAINERS = {  # extension: (video codec, audio?)
    ".mp4": ("libx264", True),
    ".mkv": ("libx264", True),
    ".mov": ("libx264", True),
    ".avi": ("mpeg4", False),
    ".webm": ("libvpx", False),
}
DAMAGE = ("flip", "zero", "header", "truncate")
CASES = 16  # per container: 80 runs, about 15 s


def damage(data: bytes, how: str, rng: random.Random) -> bytes:
    b, n = bytearray(data), len(data)
    if how == "flip":  # scattered bit errors
        for _ in range(rng.randint(1, 50)):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
    elif how == "zero":  # a dropped block
        i, size = rng.randrange(n), rng.randint(16, 4096)
        b[i : i + size] = bytes(len(b[i : i + size]))
    elif how == "header":  # random bytes in the first 512
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(min(n, 512))] = rng.randrange(256)
    else:  # cut at a random point
        b = b[: rng.randrange(n)]
    return bytes(b)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("fuzz-src")
    out = {}
    for ext, (codec, audio) in CONTAINERS.items():
        frames = [gradient_frame(64, 48, t=i / 3, colour=False) for i in range(20)]
        out[ext] = write_video(root / f"clip{ext}", frames, codec=codec, audio=audio).read_bytes()
    return out


class _Timeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Timeout


@pytest.mark.parametrize("ext", sorted(CONTAINERS))
def test_damaged_copies_never_crash(ext, clips, tmp_path, tiny_model):
    rng = random.Random(f"vidcolor-fuzz{ext}")
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for k in range(CASES):
            how = DAMAGE[k % len(DAMAGE)]
            src, out = tmp_path / f"in {k} [{how}]{ext}", tmp_path / f"out{k}.mp4"
            src.write_bytes(damage(clips[ext], how, rng))
            before = sha(src)
            signal.alarm(60)
            try:
                r = CliRunner().invoke(
                    app, [str(src), "-o", str(out), "--model", str(tiny_model), "--render-size", "64", "--quiet"]
                )
            except _Timeout:
                pytest.fail(f"case {k} ({how}) hung")
            finally:
                signal.alarm(0)
            case = f"case {k} ({how}): exit {r.exit_code}: {r.output.strip()}"
            assert r.exit_code in (0, 1, 2), case
            assert r.exception is None or isinstance(r.exception, SystemExit), case
            assert "Traceback" not in r.output and "unexpected" not in r.output, case
            assert sha(src) == before and leftovers(tmp_path) == [], case
            if r.exit_code == 0:
                with av.open(str(out)) as c:  # a complete, playable file
                    assert sum(1 for _ in c.decode(video=0)) >= 1, case
            else:
                *before, error = r.output.strip().splitlines()  # one error line, after any warning of
                assert error.startswith("vidcolor: error: ") and not out.exists(), case  # what was lost
                assert all(x.startswith("warning: ") for x in before), case
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_batch_over_damaged_copies_records_every_file_and_finishes_the_good_ones(clips, tmp_path, tiny_model):
    rng = random.Random("vidcolor-fuzz-batch")
    root = tmp_path / "archive"
    root.mkdir()
    for k, ext in enumerate(sorted(CONTAINERS) * 2):
        (root / f"{k:02d} damaged{ext}").write_bytes(damage(clips[ext], DAMAGE[k % len(DAMAGE)], rng))
    (root / "99 good.mkv").write_bytes(clips[".mkv"])  # last: every damaged file comes before it
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app, ["batch", str(root), "-o", str(out), "--model", str(tiny_model), "--render-size", "64", "--quiet"]
    )
    assert r.exit_code in (0, 1), r.output
    assert "Traceback" not in r.output and "unexpected" not in r.output, r.output
    last = {}
    for line in (out / "vidcolor-manifest.jsonl").read_text().splitlines():
        rec = json.loads(line)
        last[rec["rel"]] = rec["status"]
    assert last["99 good.mkv"] == "done" and (out / "99 good.mkv").is_file()
    assert set(last.values()) <= {"done", "salvaged", "failed"}  # no file left "running"
    assert len(last) == len(list(root.iterdir()))
    assert not [p.name for p in out.rglob("*") if "partial" in p.name]
