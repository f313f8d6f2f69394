"""Shot-cut detection: precision and recall on films with known cuts, joined from real footage.

    .venv/bin/python benchmarks/shot_detection.py    # validation and test sets, every detector

(PySceneDetect is compared when importable: ``pip install --target /tmp/sdlib scenedetect-headless``
and ``PYTHONPATH=/tmp/sdlib``; it is not a dependency of vidcolor.)

Films are made by joining shots cut from real footage nobody on the project made
(``../shared/data``: the five clips of ``videos/``, bikes.mp4 split at its own five cuts, and the
photos as still shots with a camera pan, zoom, jitter or a fast whip pan, and film grain), in gray
at 256x192 (the default render size's short side) and 25 fps, as the tool sees a B&W film. The
hard cases are there on purpose: cuts between two framings of the *same* clip or photo (similar
histograms, different framing), flashes of 1-4 very bright frames inside a shot (not cuts), fades
through black and dissolves between shots (one cut each, anywhere in the transition), fast motion
and pans, and a few short shots (0.3-0.5 s, montage). The **validation** set (even photos, first
half of every clip, seed 1) chose the thresholds; the **test** set (odd photos, second halves,
seed 2) was scored once with them.

A detected cut counts when it falls within 1 frame of a true hard cut (within the transition,
+-1 frame, for fades and dissolves); each true cut is matched once.

Results (AMD EPYC, 2 cores shared; 30 films per set, 12 shots each, 25 fps):

    PYTHONPATH=/tmp/sdlib .venv/bin/python benchmarks/shot_detection.py   # ~15 min here

validation (330 true cuts: 256 hard, ~40 to another framing of the same footage, fades, dissolves)

| detector | precision | recall | cuts found | false cuts | missed by kind | ms/frame |
|---|---|---|---|---|---|---|
| old (histogram or 16x16 |ΔL|) | 0.392 | 0.815 | 269/330 | 418 (77 on flashes) | dissolve 27, same 34 | 2.86 |
| new (vidcolor.cuts) | 0.917 | 0.936 | 309/330 | 28 (6 on flashes) | dissolve 13, fade 3, hard 3, same 2 | 0.48 |
| PySceneDetect AdaptiveDetector | 0.874 | 0.691 | 228/330 | 33 (32 on flashes) | dissolve 30, fade 39, hard 14, same 19 | 0.99 |
| PySceneDetect ContentDetector | 0.836 | 0.758 | 250/330 | 49 (31 on flashes) | dissolve 29, fade 26, hard 15, same 10 | 0.95 |
| FFmpeg scdet (threshold 10, its default) | 0.757 | 0.745 | 246/330 | 79 (66 on flashes) | dissolve 29, fade 35, hard 2, same 18 | 0.09 |
| FFmpeg scdet (threshold 5) | 0.629 | 0.852 | 281/330 | 166 (68 on flashes) | dissolve 28, fade 16, same 5 | 0.08 |

test (scored once, with the thresholds chosen above)

| detector | precision | recall | cuts found | false cuts | missed by kind | ms/frame |
|---|---|---|---|---|---|---|
| old (histogram or 16x16 |ΔL|) | 0.372 | 0.882 | 291/330 | 492 (91 on flashes) | dissolve 14, hard 3, same 22 | 3.03 |
| new (vidcolor.cuts) | 0.905 | 0.927 | 306/330 | 32 (3 on flashes) | dissolve 10, fade 2, hard 5, same 7 | 0.52 |
| PySceneDetect AdaptiveDetector | 0.876 | 0.730 | 241/330 | 34 (32 on flashes) | dissolve 18, fade 43, hard 16, same 12 | 0.97 |
| PySceneDetect ContentDetector | 0.830 | 0.770 | 254/330 | 52 (32 on flashes) | dissolve 16, fade 31, hard 16, same 13 | 0.81 |
| FFmpeg scdet (threshold 10, its default) | 0.739 | 0.782 | 258/330 | 91 (73 on flashes) | dissolve 17, fade 40, hard 4, same 11 | 0.06 |
| FFmpeg scdet (threshold 5) | 0.573 | 0.903 | 298/330 | 222 (78 on flashes) | dissolve 16, fade 14, same 2 | 0.07 |

ms/frame: detection alone on 256x192 gray L (the old and new detectors include their histogram
pass; scdet is C on the uint8 frames), 1 torch thread, on a machine loaded by other jobs (load ~11
on 2 cores): compare columns, not absolute times. At render size 341x192 in batches of 8 the new
detector costs ~0.3 ms/frame for its features and ~0.15 ms/frame for the decisions.

Thresholds (vidcolor.cuts.CutParams) came from a grid on the validation set only: min_shot 8 or 10
frames, low 0.15-0.3, ratio 2.5-6, high 0.7-1.1, window 12 or 20, same 0.15 or 0.25 (best sum of
precision and recall: low 0.15, ratio 4.5, high 0.9, window 12, same 0.25, min_shot 8).
Why not a library: PySceneDetect's detectors miss most cuts between framings with similar
luma and most fades through black, and cut at nearly every flash (its flash filter enforces a
minimum shot length and keeps the first jump); FFmpeg's scdet is a luma SAD (what the old detector did, faster), with the same blind spot
for reframing and no flash rule. Neither is better here; vidcolor.cuts costs well under 1 ms/frame.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
W, H, FPS = 256, 192, 25
BIKES_CUTS = (0, 30, 76, 137, 187, 242, 250)  # bikes.mp4's own shots (checked by eye), frame indices
CLIPS = ("tree.avi", "carphone_pristine.mp4", "kphotoalbum__movie.avi", "vtest.avi")


# ---------------------------------------------------------------- sources


def decode_gray(path: Path) -> np.ndarray:
    """Every frame of ``path`` as gray (F, H, W) uint8 at WxH."""
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="gray", width=W, height=H) for f in c.decode(video=0)])


def sources(half: int) -> tuple[list[np.ndarray], list[Path]]:
    """(runs, photos): cut-free runs of real footage (their first or second half) and photos."""
    runs = []
    for name in CLIPS:
        f = decode_gray(DATA / "videos" / name)
        runs.append(f[: len(f) // 2] if half == 0 else f[len(f) // 2 :])
    bikes = decode_gray(DATA / "videos" / "bikes.mp4")
    for a, b in itertools.pairwise(BIKES_CUTS):
        if b - a >= 20:
            m = (a + b) // 2
            runs.append(bikes[a:m] if half == 0 else bikes[m:b])
    photos = sorted((DATA / "photos").glob("*.jpg"))[half::2]
    return runs, photos


@dataclass
class Film:
    frames: list[np.ndarray] = field(default_factory=list)  # (H, W) uint8
    cuts: list[tuple[int, int, int, str]] = field(default_factory=list)  # (frame, lo, hi, kind)
    flashes: list[tuple[int, int]] = field(default_factory=list)  # [start, end) of each flash


def grain(f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(f.astype(np.float32) + rng.normal(0, 2.0, f.shape), 0, 255).astype(np.uint8)


def photo_shot(path: Path, n: int, rng: np.random.Generator, zoom: float, motion: str) -> list[np.ndarray]:
    """A still as a shot: a WxH window over the photo, panning / zooming / shaking, with grain."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    s = max(W / img.shape[1], H / img.shape[0]) * 1.25 * zoom  # room to move
    img = cv2.resize(
        img, (max(W, round(img.shape[1] * s)), max(H, round(img.shape[0] * s))), interpolation=cv2.INTER_AREA
    )
    room = np.array([img.shape[1] - W, img.shape[0] - H], np.float32)
    p0 = rng.uniform(0, 1, 2) * room
    speed = {"still": 0.0, "pan": rng.uniform(0.5, 2.0), "fast": rng.uniform(6.0, 14.0)}.get(motion, 0.0)
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-9
    out = []
    for i in range(n):
        p = p0 + direction * speed * i
        p = np.abs(((p / np.maximum(room, 1)) + 1) % 2 - 1) * room  # bounce at the edges
        z = 1.0 + (0.4 * i / n if motion == "zoom" else 0.0)
        jitter = rng.normal(0, 0.3, 2)
        m = np.array([[z, 0, -p[0] - jitter[0]], [0, z, -p[1] - jitter[1]]], np.float32)
        out.append(grain(cv2.warpAffine(img, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), rng))
    return out


def clip_shot(run: np.ndarray, n: int, rng: np.random.Generator, zoom: float) -> list[np.ndarray]:
    """n frames of a run from a random start (played back and forth when short), optionally a
    zoomed crop (another framing of the same footage)."""
    start = int(rng.integers(0, len(run)))
    idx = [(start + i) % (2 * len(run) - 2 or 1) for i in range(n)]
    idx = [i if i < len(run) else 2 * len(run) - 2 - i for i in idx]
    cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)
    out = []
    for i in idx:
        f = run[i]
        if zoom > 1.0:
            w, h = round(W / zoom), round(H / zoom)
            x, y = round(cx * (W - w)), round(cy * (H - h))
            f = cv2.resize(f[y : y + h, x : x + w], (W, H), interpolation=cv2.INTER_LINEAR)
        out.append(f)
    return out


def make_film(runs: list[np.ndarray], photos: list[Path], shots: int, rng: np.random.Generator) -> Film:
    """Join ``shots`` shots with hard cuts (mostly), fades through black and dissolves."""
    film = Film()
    prev_src: tuple[str, int] | None = None
    prev_zoom = 1.0
    for k in range(shots):
        n = int(rng.integers(8, 13)) if rng.random() < 0.08 else int(rng.integers(15, 100))  # 8% montage shots
        same = prev_src is not None and rng.random() < 0.3  # another framing of the previous source
        kind, j = prev_src if same else ("", -1)
        while not same and (kind, j) in (("", -1), prev_src):  # a hard cut joins two different sources
            kind = "clip" if rng.random() < 0.5 else "photo"
            j = int(rng.integers(len(runs) if kind == "clip" else len(photos)))
        # another framing: a close-up after a wide shot or the reverse (a fixed camera's two
        # segments with the same framing would be a jump cut, invisible by design)
        zoom = (1.0 if prev_zoom > 1.0 else float(rng.uniform(1.6, 2.4))) if same else 1.0
        prev_zoom = zoom
        if kind == "clip":
            shot = clip_shot(runs[j], n, rng, zoom)
        else:
            motion = str(rng.choice(["still", "pan", "pan", "zoom", "fast"]))
            shot = photo_shot(photos[j], n, rng, zoom, motion)
        prev_src = (kind, j)
        if n >= 15 and rng.random() < 0.15:  # a flash of 1-4 frames inside the shot
            a = int(rng.integers(2, n - 6))
            b = a + int(rng.integers(1, 5))
            gain = rng.uniform(0.5, 0.9)
            for i in range(a, min(b, n)):
                shot[i] = (shot[i] + (255 - shot[i].astype(np.float32)) * gain).astype(np.uint8)
            film.flashes.append((len(film.frames) + a, len(film.frames) + b))
        if k == 0:
            film.frames += shot
            continue
        r = rng.random()
        at = len(film.frames)
        if r < 0.12 and n >= 15:  # fade out to black, fade in
            m = int(rng.integers(4, 10))
            for i in range(m):
                film.frames[at - m + i] = (film.frames[at - m + i] * (1 - (i + 1) / m)).astype(np.uint8)
                shot[i] = (shot[i] * ((i + 1) / (m + 1))).astype(np.uint8)
            film.cuts.append((at, at - m - 1, at + m + 1, "fade"))
            film.frames += shot
        elif r < 0.2 and n >= 15:  # dissolve
            m = int(rng.integers(5, 12))
            for i in range(m):
                a = (i + 1) / (m + 1)
                film.frames[at - m + i] = (film.frames[at - m + i] * (1 - a) + shot[i] * a).astype(np.uint8)
            film.cuts.append((at - m // 2, at - m - 1, at + 1, "dissolve"))
            film.frames += shot[m:]
        else:
            film.cuts.append((at, at - 1, at + 1, "same" if same else "hard"))
            film.frames += shot
    return film


def films(half: int, seed: int, count: int = 30, shots: int = 12) -> Iterator[Film]:
    runs, photos = sources(half)
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield make_film(runs, photos, shots, rng)


# ---------------------------------------------------------------- detectors: frames (N,H,W) uint8 -> shot starts


def as_L(frames: np.ndarray) -> torch.Tensor:
    from vidcolor.color import uint8_gray_to_L

    return uint8_gray_to_L(torch.from_numpy(frames)[:, None])


def old_detector(frames: np.ndarray, L: torch.Tensor) -> list[int]:
    """The detector before issue 22: histogram TV > 0.35 or 16x16 mean |ΔL| > 0.3, pairwise."""
    import torch.nn.functional as F

    from vidcolor.cuts import luma_histograms

    h = luma_histograms(L)
    tv = 0.5 * (h[1:] - h[:-1]).abs().sum(1)
    thumbs = F.adaptive_avg_pool2d(L.float(), 16)
    diff = (thumbs[1:] - thumbs[:-1]).abs().mean((1, 2, 3))
    return [0, *(i + 1 for i in torch.nonzero((tv > 0.35) | (diff > 0.3)).flatten().tolist())]


def new_detector(params=None) -> Callable[[np.ndarray, torch.Tensor], list[int]]:
    from vidcolor.cuts import detect

    return lambda frames, L: detect(L, params)


def pyscenedetect(adaptive: bool) -> Callable[[np.ndarray, torch.Tensor], list[int]]:
    """PySceneDetect 0.7 (``pip install scenedetect-headless``), frame by frame, luma only."""

    def run(frames: np.ndarray, L: torch.Tensor) -> list[int]:
        from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode

        det = (
            AdaptiveDetector(luma_only=True, min_scene_len=10)
            if adaptive
            else ContentDetector(luma_only=True, min_scene_len=10)
        )
        starts = [0]
        for i, f in enumerate(frames):
            bgr = np.repeat(f[..., None], 3, -1)
            starts += [int(t.frame_num) for t in det.process_frame(FrameTimecode(i, float(FPS)), bgr)]
        starts += [int(t.frame_num) for t in (det.post_process(FrameTimecode(len(frames), float(FPS))) or [])]
        return sorted(set(starts))

    return run


def ffmpeg_scdet(threshold: float = 10.0) -> Callable[[np.ndarray, torch.Tensor], list[int]]:
    """FFmpeg's ``scdet`` filter through PyAV's filter graph (the score is lavfi.scd.score, 0-100)."""

    def run(frames: np.ndarray, L: torch.Tensor) -> list[int]:
        g = av.filter.Graph()
        src = g.add("buffer", f"video_size={W}x{H}:pix_fmt=gray:time_base=1/{FPS}:pixel_aspect=1/1")
        sc = g.add("scdet", f"threshold={threshold}")
        sink = g.add("buffersink")
        src.link_to(sc)
        sc.link_to(sink)
        g.configure()
        starts = [0]
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="gray")
            vf.pts = i
            src.push(vf)
            out = sink.pull()
            if float(out.metadata.get("lavfi.scd.score", 0.0)) >= threshold and i > 0:
                starts.append(i)
        return starts

    return run


# ---------------------------------------------------------------- scoring


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    flash_fp: int = 0
    missed: dict[str, int] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0

    def add(self, film: Film, starts: list[int]) -> None:
        det = sorted(s for s in starts if s > 0)
        used = [False] * len(det)
        for at, lo, hi, kind in film.cuts:
            best = (
                min((abs(s - at), j) for j, s in enumerate(det) if not used[j] and lo <= s <= hi)
                if any(not used[j] and lo <= s <= hi for j, s in enumerate(det))
                else None
            )
            if best is None:
                self.fn += 1
                self.missed[kind] = self.missed.get(kind, 0) + 1
            else:
                used[best[1]] = True
                self.tp += 1
        for j, s in enumerate(det):
            if not used[j]:
                self.fp += 1
                self.flash_fp += any(a <= s <= b for a, b in film.flashes)

    @property
    def precision(self) -> float:
        return self.tp / max(self.tp + self.fp, 1)

    @property
    def recall(self) -> float:
        return self.tp / max(self.tp + self.fn, 1)

    def line(self, name: str) -> str:
        missed = ", ".join(f"{k} {v}" for k, v in sorted(self.missed.items())) or "-"
        ms = 1000 * self.seconds / max(self.frames, 1)
        return (
            f"| {name} | {self.precision:.3f} | {self.recall:.3f} | {self.tp}/{self.tp + self.fn} | {self.fp} "
            f"({self.flash_fp} on flashes) | {missed} | {ms:.2f} |"
        )


def evaluate(
    detectors: dict[str, Callable[[np.ndarray, torch.Tensor], list[int]]], half: int, seed: int
) -> dict[str, Score]:
    scores = {k: Score() for k in detectors}
    for film in films(half, seed):
        frames = np.stack(film.frames)
        L = as_L(frames)
        for name, fn in detectors.items():
            t = time.perf_counter()
            starts = fn(frames, L)
            scores[name].seconds += time.perf_counter() - t
            scores[name].frames += len(frames)
            scores[name].add(film, starts)
    return scores


def table(title: str, scores: dict[str, Score]) -> str:
    head = "| detector | precision | recall | cuts found | false cuts | missed by kind | ms/frame |\n|---|---|---|---|---|---|---|"
    return f"{title}\n\n{head}\n" + "\n".join(s.line(n) for n, s in scores.items())


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    if not (DATA / "videos").is_dir():
        print(f"skipped: {DATA} is absent (the shared data folder is not part of the project)")
        return 0
    torch.set_num_threads(1)  # tiny tensors: threads only contend (the shared 2-core machine)
    from benchmarks.bench_timing import machine

    print(machine())
    detectors = {"old (histogram or 16x16 |ΔL|)": old_detector, "new (vidcolor.cuts)": new_detector()}
    try:
        import scenedetect  # noqa: F401

        detectors["PySceneDetect AdaptiveDetector"] = pyscenedetect(True)
        detectors["PySceneDetect ContentDetector"] = pyscenedetect(False)
    except ImportError:
        print("note: scenedetect not installed; PySceneDetect left out")
    detectors["FFmpeg scdet (threshold 10, its default)"] = ffmpeg_scdet(10.0)
    detectors["FFmpeg scdet (threshold 5)"] = ffmpeg_scdet(5.0)
    for title, half, seed in (("validation", 0, 1), ("test", 1, 2)):
        print(table(title, evaluate(detectors, half, seed)), "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
