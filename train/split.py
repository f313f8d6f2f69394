"""A fixed train / validation / test split by file, written once and shared by every run.

Choosing models on the files you report on flatters them; so the test files are chosen first, by
a seeded draw (and by name for clips, which are too few to draw), written to a JSON file, and a
run given ``split = FILE`` trains on ``train``, validates on ``val`` and never opens ``test``.

    python -m vidcolor.train.split ../shared/data/photos ../shared/data/videos \\
        --test-clip bikes.mp4 --test-clip tree.avi --test-clip carphone_pristine.mp4 \\
        --val-clip kphotoalbum__movie.avi --test-photos 48 --val-photos 48 -o train/recipes/split_v1.json

split_v4 (all of ``../shared/data``; v2's training files stay in train, so every held-out item is one v2
never saw; photos drawn from every folder, clips at random, frame folders as clips):

    python -m vidcolor.train.split ../shared/data/{photos,imagenet,photos_more,videos} \\
        --train-only train/recipes/split_v1.json --test-photos 150 --val-photos 150 \\
        --test-clips 6 --val-clips 6 -o train/recipes/split_v4.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from vidcolor.atomic import write_atomic
from vidcolor.errors import BadInputError
from vidcolor.train.data import scan


def make_split(
    data: Sequence[str],
    test_clips: Sequence[str],
    val_clips: Sequence[str],
    test_photos: int,
    val_photos: int,
    seed: int = 0,
    *,
    draw_test_clips: int = 0,
    draw_val_clips: int = 0,
    train_only: Sequence[str] = (),
) -> dict[str, list[str]]:
    """{"train", "val", "test"}: lists of file paths (as found under ``data``), disjoint by file.

    Clips: those named (``test_clips``, ``val_clips``, by file or folder name), then
    ``draw_test_clips`` / ``draw_val_clips`` more drawn at random. Photos: ``test_photos`` and
    ``val_photos`` drawn from every folder in proportion to its share of the photos (so a small
    folder is tested too). ``train_only``: files that may only train (those an earlier model trained
    on, so that held-out scores compare it fairly); a folder of numbered frames is one clip."""
    report = scan(data, frames_per_video=8, keep_side=64)  # enough frames that no clip looks empty
    videos = sorted(str(s.path) for s in report.sources if s.kind == "video")
    photos = sorted(str(s.path) for s in report.sources if s.kind == "image")
    # By the file itself, not its spelling: a split written from another folder names the same files otherwise.
    kept = {Path(p).resolve() for p in train_only}
    keep = {p for p in [*videos, *photos] if Path(p).resolve() in kept}
    if kept and not keep:
        raise BadInputError(
            f"none of the {len(kept)} --train-only files is in the data (e.g. {next(iter(train_only))})"
        )
    named = {Path(v).name: v for v in videos}
    unknown = [c for c in [*test_clips, *val_clips] if c not in named]
    if unknown:
        raise BadInputError(f"clips not found in the data: {', '.join(unknown)}")
    pinned = [named[c] for c in [*test_clips, *val_clips] if named[c] in keep]
    if pinned:
        raise BadInputError(f"clips kept for training cannot be held out: {', '.join(pinned)}")
    open_photos = [p for p in photos if p not in keep]
    if test_photos + val_photos >= len(open_photos):
        raise BadInputError(
            f"{test_photos} test + {val_photos} val photos leave none of {len(open_photos)} to train on"
        )
    rng = random.Random(seed)
    test_p, val_p = _draw_by_folder(open_photos, test_photos, val_photos, rng)
    free = [v for v in videos if v not in keep and Path(v).name not in {*test_clips, *val_clips}]
    if draw_test_clips + draw_val_clips > len(free):
        raise BadInputError(f"{draw_test_clips} + {draw_val_clips} clips to draw, only {len(free)} free")
    drawn = rng.sample(free, draw_test_clips + draw_val_clips)
    test = sorted(test_p) + [named[c] for c in test_clips] + sorted(drawn[:draw_test_clips])
    val = sorted(val_p) + [named[c] for c in val_clips] + sorted(drawn[draw_test_clips:])
    held = set(test) | set(val)
    train = [p for p in [*photos, *videos] if p not in held]
    return {"train": train, "val": val, "test": test}


def _draw_by_folder(photos: list[str], n_test: int, n_val: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """``n_test`` and ``n_val`` photos, each spread over the folders in proportion to their sizes
    (largest remainders; the draw is seeded). One folder alone: a plain draw, as split_v1 was made."""
    by_folder: dict[str, list[str]] = {}
    for p in photos:
        by_folder.setdefault(str(Path(p).parent), []).append(p)
    if len(by_folder) == 1:
        drawn = rng.sample(photos, n_test + n_val)
        return drawn[:n_test], drawn[n_test:]
    order = {f: rng.sample(files, len(files)) for f, files in sorted(by_folder.items())}
    test, val, used = [], [], dict.fromkeys(order, 0)
    for n, part in ((n_test, test), (n_val, val)):
        for folder, k in _shares(n, {f: len(v) for f, v in order.items()}).items():
            part += order[folder][used[folder] : used[folder] + k]
            used[folder] += k
    return test, val


def _shares(n: int, sizes: dict[str, int]) -> dict[str, int]:
    """``n`` split over ``sizes`` in proportion, by largest remainders."""
    total = sum(sizes.values())
    exact = {f: n * s / total for f, s in sizes.items()}
    out = {f: int(x) for f, x in exact.items()}
    for f in sorted(exact, key=lambda f: out[f] - exact[f])[: n - sum(out.values())]:
        out[f] += 1
    return out


def read_split(path: str | Path) -> dict[str, list[str]]:
    """The split file's lists; every file it names must exist (paths relative to the working folder)."""
    path = Path(path)
    try:
        split = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInputError(f"{path}: split file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInputError(f"{path}: not a split file ({e})") from None
    if not isinstance(split, dict) or not all(isinstance(split.get(k), list) for k in ("train", "val", "test")):
        raise BadInputError(f"{path}: a split file needs train, val and test lists")
    missing = [p for k in ("train", "val") for p in split[k] if not Path(p).exists()]
    if missing:
        raise BadInputError(f"{path}: {len(missing)} listed files do not exist, e.g. {missing[0]}")
    return split


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+")
    ap.add_argument("--test-clip", action="append", default=[], help="a clip for test, by name")
    ap.add_argument("--val-clip", action="append", default=[], help="a clip for validation, by name")
    ap.add_argument("--test-clips", type=int, default=0, help="clips drawn at random for test")
    ap.add_argument("--val-clips", type=int, default=0, help="clips drawn at random for validation")
    ap.add_argument(
        "--train-only", type=Path, action="append", default=[], help="a split file whose train part may only train"
    )
    ap.add_argument("--test-photos", type=int, default=48)
    ap.add_argument("--val-photos", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        write_split(args)
    except BadInputError as e:  # one line and its exit code (2), as every vidcolor command
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(e.exit_code) from None


def write_split(args: argparse.Namespace) -> None:
    """Make the split the command line asks for and write it, atomically."""
    keep = [p for f in args.train_only for p in read_split(f)["train"]]
    split = make_split(
        args.data, args.test_clip, args.val_clip, args.test_photos, args.val_photos, args.seed,
        draw_test_clips=args.test_clips, draw_val_clips=args.val_clips, train_only=keep,
    )  # fmt: skip
    write_atomic(args.out, lambda tmp: tmp.write_text(json.dumps(split, indent=1) + "\n"))  # never half-written
    print(f"{args.out}: " + ", ".join(f"{len(v)} {k}" for k, v in split.items()))


if __name__ == "__main__":
    main()
