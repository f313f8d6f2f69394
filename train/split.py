"""A fixed train / validation / test split by file, written once and shared by every run.

Choosing models on the files you report on flatters them; so the test files are chosen first, by
a seeded draw (and by name for clips, which are too few to draw), written to a JSON file, and a
run given ``split = FILE`` trains on ``train``, validates on ``val`` and never opens ``test``.

    python -m vidcolor.train.split ../shared/data/photos ../shared/data/videos \\
        --test-clip bikes.mp4 --test-clip tree.avi --test-clip carphone_pristine.mp4 \\
        --val-clip kphotoalbum__movie.avi --test-photos 48 --val-photos 48 -o train/recipes/split_v1.json
"""

from __future__ import annotations

import argparse
import json
import random
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
) -> dict[str, list[str]]:
    """{"train", "val", "test"}: lists of file paths (as found under ``data``), disjoint by file."""
    report = scan(data, frames_per_video=8, keep_side=64)  # enough frames that no clip looks empty
    videos = sorted(str(s.path) for s in report.sources if s.kind == "video")
    photos = sorted(str(s.path) for s in report.sources if s.kind == "image")
    named = {Path(v).name: v for v in videos}
    unknown = [c for c in [*test_clips, *val_clips] if c not in named]
    if unknown:
        raise BadInputError(f"clips not found in the data: {', '.join(unknown)}")
    if test_photos + val_photos >= len(photos):
        raise BadInputError(f"{test_photos} test + {val_photos} val photos leave none of {len(photos)} to train on")
    rng = random.Random(seed)
    drawn = rng.sample(photos, test_photos + val_photos)
    test = sorted(drawn[:test_photos]) + [named[c] for c in test_clips]
    val = sorted(drawn[test_photos:]) + [named[c] for c in val_clips]
    held = set(test) | set(val)
    train = [p for p in [*photos, *videos] if p not in held]
    return {"train": train, "val": val, "test": test}


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
    ap.add_argument("--test-clip", action="append", default=[])
    ap.add_argument("--val-clip", action="append", default=[])
    ap.add_argument("--test-photos", type=int, default=48)
    ap.add_argument("--val-photos", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args(argv)
    split = make_split(args.data, args.test_clip, args.val_clip, args.test_photos, args.val_photos, args.seed)
    write_atomic(args.out, lambda tmp: tmp.write_text(json.dumps(split, indent=1) + "\n"))  # never half-written
    print(f"{args.out}: " + ", ".join(f"{len(v)} {k}" for k, v in split.items()))


if __name__ == "__main__":
    main()
