"""Training data: still images and frames sampled from videos, split into train/val by file.

* Folders are searched recursively. Each file is opened to see what it is
  (:func:`vidcolor.decode.media_kind`, as every command does): still images are read with Pillow,
  videos with PyAV (so a ``.mov`` without an extension still counts); anything else is unreadable.
* A folder's numbered frames (``00001.jpg`` ..., at least :data:`~vidcolor.formats.SEQUENCE_FRAMES`
  of one series) are one clip, not that many photos: a split keeps them on one side, and they are
  sampled like a video's.
* Video frames are sampled evenly across the whole clip (``frames_per_video`` targets over its
  duration), skipping near-duplicates of the previously kept frame (a static shot gives one frame,
  not 64 copies). Sampled frames are kept in memory, down-scaled so the short side is at most
  ``keep_side`` px, and cached on disk (``$VIDCOLOR_CACHE/train-frames``, keyed by the file's size
  and time and the sampling): a clip is decoded once, not at every run and resume. Images stay on
  disk and are decoded on demand (or once, with ``--preload``).
* Grayscale sources teach no colour and are skipped; unreadable files are skipped with a warning.
  Both are counted in :class:`ScanReport`.
* Augmentation (random resized crop + horizontal flip) is a pure function of a per-sample seed, so
  a resumed or distributed run sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:
    import av

from vidcolor.atomic import write_atomic
from vidcolor.color import chroma
from vidcolor.formats import VIDEO_EXTS, frame_series

GRAY_CHROMA = 3.0  # mean Lab chroma below which a source counts as grayscale
DUPLICATE_DIFF = 2.0  # mean |gray difference| (0..255) on a 32x32 thumbnail below which frames are near-duplicates
FILM_NEIGHBOUR_DIFF = 20.0  # ... below which two numbered pictures are neighbouring frames of one shot


@dataclass
class Source:
    """One input file: an image (decoded on demand) or a video (sampled frames held in memory)."""

    path: Path  # a file, or the folder of a clip given as numbered frames
    kind: str  # "image" | "video"
    frames: list[np.ndarray] = field(default_factory=list)  # video only (or preloaded): HxWx3 uint8

    def __len__(self) -> int:
        return len(self.frames) if self.kind == "video" else 1


@dataclass
class ScanReport:
    sources: list[Source]
    gray: list[Path]
    unreadable: list[tuple[Path, str]]
    duplicates_skipped: int = 0

    @property
    def items(self) -> int:
        return sum(len(s) for s in self.sources)


def find_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files and folders (recursively) into a sorted, de-duplicated list of files."""
    out: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            out.update(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            out.add(p)
    return sorted(out)


def load_image(path: Path, max_side: int | None = None) -> np.ndarray:
    """Decode an image file to HxWx3 uint8 RGB, optionally letting JPEG decode at reduced size."""
    with Image.open(path) as im:
        if max_side:
            im.draft("RGB", (max_side, max_side))
        return np.array(im.convert("RGB"))


def _is_gray(rgb: np.ndarray) -> bool:
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
    t = TF.resize(t, [64, 64], antialias=True)
    return float(chroma(t)) < GRAY_CHROMA


def _resize_short(frame: av.VideoFrame, keep_side: int) -> np.ndarray:
    w, h = frame.width, frame.height
    s = min(1.0, keep_side / min(w, h))
    return frame.to_ndarray(format="rgb24", width=max(1, round(w * s)), height=max(1, round(h * s)))


def sample_video(path: Path, n: int, keep_side: int) -> tuple[list[np.ndarray], int]:
    """Decode ``path`` once and keep up to ``n`` frames spread evenly over its length.

    Returns (frames, near-duplicates skipped). Frame ``i`` is taken at the first decoded frame at
    or after position (i + 0.5) / n of the clip that differs from the last kept frame.
    """
    import av  # here, not at the top: training on pictures alone needs no PyAV

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        total = container.streams.video[0].frames
        if not total:  # some containers do not record it: count packets (cheap, no decoding)
            total = sum(1 for pkt in container.demux(video=0) if pkt.size)
    # Opened again rather than seeking back: a raw stream (.264, .m2v) cannot seek.
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        targets = sorted({min(total - 1, int((i + 0.5) * total / n)) for i in range(n)}) if total else []
        frames: list[np.ndarray] = []
        dups = 0
        last_thumb: np.ndarray | None = None
        t = 0
        for idx, frame in enumerate(container.decode(stream)):
            if t >= len(targets):
                break
            if idx < targets[t]:
                continue
            thumb = frame.to_ndarray(format="gray", width=32, height=32).astype(np.float32)
            if last_thumb is not None and np.abs(thumb - last_thumb).mean() < DUPLICATE_DIFF:
                dups += 1
                if t + 1 < len(targets) and idx + 1 >= targets[t + 1]:
                    t += 1  # give up on this target, move to the next one
                continue
            frames.append(_resize_short(frame, keep_side))
            last_thumb = thumb
            t += 1
    if not frames:
        raise ValueError("no decodable frames")
    return frames, dups


def sample_sequence(
    files: Sequence[Path], n: int, keep_side: int
) -> tuple[list[np.ndarray], int, list[tuple[Path, str]]]:
    """:func:`sample_video` for a clip given as numbered frames (``files`` in frame order): up to
    ``n`` frames spread evenly, near-duplicates of the last kept frame skipped. Also returns the
    damaged frames it met (path, why): skipped, the clip kept, and said."""
    targets = sorted({min(len(files) - 1, int((i + 0.5) * len(files) / n)) for i in range(n)})
    frames: list[np.ndarray] = []
    dups = 0
    damaged: list[tuple[Path, str]] = []
    last_thumb: np.ndarray | None = None
    for t in targets:
        try:
            im = _open_frame(files[t], keep_side)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as e:
            damaged.append((files[t], _why(e)))  # one damaged frame of a clip: the others still teach
            continue
        with im:
            thumb = np.asarray(im.convert("L").resize((32, 32), Image.BILINEAR), dtype=np.float32)  # as _thumb
            if last_thumb is not None and np.abs(thumb - last_thumb).mean() < DUPLICATE_DIFF:
                dups += 1
                continue
            s = min(1.0, keep_side / min(im.size))
            size = (max(1, round(im.width * s)), max(1, round(im.height * s)))
            frames.append(np.array(im.resize(size, Image.BILINEAR, reducing_gap=2.0) if s < 1 else im))
        last_thumb = thumb
    if not frames:
        raise ValueError("no decodable frames")
    return frames, dups, damaged


def _why(e: Exception) -> str:
    return str(e).splitlines()[0][:120] if str(e) else type(e).__name__


def _open_frame(path: Path, keep_side: int) -> Image.Image:
    with Image.open(path) as im:
        im.draft("RGB", (keep_side, keep_side))
        return im.convert("RGB")  # decoded here: a damaged file fails now, not later


FRAME_CACHE_VERSION = 2  # bump when sampling changes, so old cached frames are not reused


def frame_cache_dir() -> Path:
    """Where sampled training frames are cached: ``$VIDCOLOR_CACHE/train-frames`` (or
    ``$XDG_CACHE_HOME/vidcolor/...``, ``~/.cache/vidcolor/...``), as the engine cache."""
    from vidcolor.engines.cache import default_cache_dir

    return default_cache_dir() / "train-frames"


def _cache_key(files: Sequence[Path], n: int, keep_side: int) -> str:
    h = hashlib.sha256(f"v{FRAME_CACHE_VERSION}:{n}:{keep_side}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def sample_clip(
    path: Path, files: Sequence[Path] | None, n: int, keep_side: int, cache: Path | None
) -> tuple[list[np.ndarray], int, list[tuple[Path, str]]]:
    """The sampled frames of a video file (``files`` None) or of numbered frames, from ``cache``
    when an earlier scan sampled the same clip the same way, else decoded (and then cached); the
    near-duplicates skipped and the damaged frames met, as :func:`sample_sequence`.
    A cache that cannot be read or written is skipped: it only saves time."""
    key = _cache_key(files or [path], n, keep_side) if cache is not None else ""
    entry = cache / f"{key}.npz" if cache is not None else None
    if entry is not None and entry.exists():
        try:
            with np.load(entry) as z:
                damaged = [(Path(p), why) for p, why in json.loads(str(z["damaged"]))]
                return [z[f"f{i:05d}"] for i in range(int(z["count"]))], int(z["dups"]), damaged
        except (OSError, ValueError, KeyError):
            pass  # damaged: decode again and rewrite it
    if files is None:
        frames, dups, damaged = (*sample_video(path, n, keep_side), [])
    else:
        frames, dups, damaged = sample_sequence(files, n, keep_side)
    if entry is not None:
        arrays = {f"f{i:05d}": f for i, f in enumerate(frames)}
        said = json.dumps([[str(p), why] for p, why in damaged])
        try:
            os.makedirs(entry.parent, exist_ok=True)
            write_atomic(entry, lambda tmp: np.savez(tmp, count=len(frames), dups=dups, damaged=said, **arrays))
        except OSError:
            pass
    return frames, dups, damaged


def _video_errors() -> tuple[type[Exception], ...]:
    import av

    return (av.error.FFmpegError,)


def _kind(path: Path) -> tuple[str, str]:
    """What a training file is (:func:`vidcolor.decode.media_kind`), asking Pillow first: a still
    picture needs no PyAV, so a machine without it (a GPU image) trains on pictures and frames
    saved as pictures; only what Pillow cannot call a still picture goes to PyAV."""
    try:
        with Image.open(path) as im:  # damaged data shows when the scan decodes it: unreadable, with why
            if not getattr(im, "is_animated", False):
                return "image", ""
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        pass  # media_kind says what it is, and why not when it is damaged
    try:
        from vidcolor.decode import media_kind  # PyAV
    except ImportError:
        return "other", "not a still picture Pillow reads, and PyAV (for videos) is not installed: pip install av"
    return media_kind(path)


def scan(
    paths: Sequence[str | Path], frames_per_video: int = 64, keep_side: int = 512, cache: Path | None = None
) -> ScanReport:
    """Probe every file under ``paths``: keep colour images and videos (and folders of numbered frames,
    as videos), count the rest. ``cache``: a folder for the frames sampled from clips (:func:`sample_clip`)."""
    report = ScanReport([], [], [])
    files = find_files(paths)
    stills = _still_exts()
    numbered = frame_series(f for f in files if f.suffix.lower() in stills)
    series = {folder: frames for folder, (_, frames) in numbered.items() if _is_film(folder, frames, stills)}
    in_series = {f: folder for folder, frames in series.items() for f in frames}
    for path in files:
        folder = in_series.get(path)
        if folder is not None and path != series[folder][0]:
            continue  # a frame of a clip, taken with its first frame
        try:
            kind, why = ("video", "") if folder is not None else _kind(path)
            if kind == "image":
                thumb = load_image(path, max_side=128)
                if _is_gray(thumb):
                    report.gray.append(path)
                    continue
                report.sources.append(Source(path, "image"))
            elif kind == "video":
                path = folder or path
                frames, dups, damaged = sample_clip(path, series.get(folder), frames_per_video, keep_side, cache)
                report.duplicates_skipped += dups
                report.unreadable += damaged  # frames left out of a clip that is kept: said, as any file
                if all(_is_gray(f) for f in frames[:: max(1, len(frames) // 8)]):
                    report.gray.append(path)
                    continue
                report.sources.append(Source(path, "video", frames))
            else:
                report.unreadable.append((path, why))
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError, *_video_errors()) as e:
            report.unreadable.append((path, _why(e)))
    return report


def _is_film(folder: Path, frames: list[Path], stills: frozenset[str]) -> bool:
    """Whether a folder's numbered series is one clip's frames: the folder holds no other picture, and
    neighbouring frames look alike (a camera's ``IMG_0001.jpg`` ... or a test set's ``img_001.png`` ...
    are numbered too, but each is another picture, trained on as a photo)."""
    others = [f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in stills and not f.name.startswith(".")]
    if len(others) != len(frames):
        return False
    pairs = [round(i * (len(frames) - 2) / 4) for i in range(5)]
    alike = 0
    for i in pairs:
        try:
            a, b = (np.asarray(_thumb(frames[j]), dtype=np.float32) for j in (i, i + 1))
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
            continue  # a damaged frame says nothing either way
        alike += a.shape == b.shape and float(np.abs(a - b).mean()) < FILM_NEIGHBOUR_DIFF
    return alike >= 3


def _thumb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.draft("L", (64, 64))
        return im.convert("L").resize((32, 32), Image.BILINEAR)


def _still_exts() -> frozenset[str]:
    """Extensions of the stills Pillow reads (not video names: a numbered series of .mp4 files is
    not one clip's frames)."""
    Image.init()
    return frozenset(e for e, fmt in Image.registered_extensions().items() if fmt in Image.OPEN) - VIDEO_EXTS


def preload_images(sources: Sequence[Source], max_side: int) -> None:
    """Decode every image source once into memory (``Source.frames``), as videos already are.

    Saves a JPEG decode per sample: worth it when the data loader, not the model, limits speed
    (a GPU). Memory: about 3 bytes per pixel of every picture.
    """
    for s in sources:
        if s.kind == "image" and not s.frames:
            s.frames = [load_image(s.path, max_side=max_side)]


def split_by_file(sources: list[Source], val_fraction: float, seed: int) -> tuple[list[Source], list[Source]]:
    """Hold out whole files for validation (frames of one clip never sit on both sides).

    The held-out set is a seeded choice, at least one file when there are two or more, and it
    includes a video whenever the data has two or more videos.
    """
    if len(sources) < 2 or val_fraction <= 0:
        return list(sources), []
    rng = random.Random(seed)
    order = list(range(len(sources)))
    rng.shuffle(order)
    n_val = max(1, round(val_fraction * len(sources)))
    val_idx = set(order[:n_val])
    videos = [i for i in order if sources[i].kind == "video"]
    if len(videos) >= 2 and not any(sources[i].kind == "video" for i in val_idx):
        val_idx.add(videos[0])
    train = [s for i, s in enumerate(sources) if i not in val_idx]
    val = [s for i, s in enumerate(sources) if i in val_idx]
    return train, val


def sample_seed(seed: int, position: int) -> int:
    """Seed for the ``position``-th sample of a run: stable across processes and resumes."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{position}".encode(), digest_size=8).digest(), "little")


class FrameDataset(torch.utils.data.Dataset):
    """Items are (index, seed) pairs -> RGB crops (3, size, size) float in [0, 1].

    ``train=True``: random resized crop (area ``min_area``-100 %, aspect 3:4-4:3) + flip, from ``seed``.
    ``train=False``: the centre square, resized (fixed validation views).
    """

    def __init__(self, sources: list[Source], size: int, train: bool, min_area: float = 0.3) -> None:
        self.items = [(s, j) for s in sources for j in range(len(s))]
        self.size, self.train, self.min_area = size, train, min_area

    def __len__(self) -> int:
        return len(self.items)

    def _rgb(self, i: int) -> torch.Tensor:
        source, j = self.items[i]
        arr = source.frames[j] if source.frames else load_image(source.path, max_side=4 * self.size)
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)

    def __getitem__(self, key: tuple[int, int] | int) -> torch.Tensor:
        i, seed = key if isinstance(key, tuple) else (key, 0)
        img = self._rgb(i)
        h, w = img.shape[-2:]
        if self.train:
            rng = random.Random(seed)
            top, left, ch, cw = crop_params(rng, h, w, self.min_area)
            img = TF.resized_crop(img, top, left, ch, cw, [self.size, self.size], antialias=True)
            if rng.random() < 0.5:
                img = TF.horizontal_flip(img)
        else:
            side = min(h, w)
            img = TF.resized_crop(
                img, (h - side) // 2, (w - side) // 2, side, side, [self.size, self.size], antialias=True
            )
        return img.float() / 255.0


def crop_params(rng: random.Random, h: int, w: int, min_area: float) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a random resized crop of an ``h`` x ``w`` picture: area
    ``min_area``-100 %, aspect 3:4-4:3, from ``rng`` (the centre square after 10 misses)."""
    area = h * w
    for _ in range(10):
        target = area * rng.uniform(min_area, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            return rng.randint(0, h - ch), rng.randint(0, w - cw), ch, cw
    side = min(h, w)
    return (h - side) // 2, (w - side) // 2, side, side


class StepSampler(torch.utils.data.Sampler):
    """Yields one batch of (index, seed) per step, from ``start_step`` on, for one rank.

    Global sample ``g`` of a run is index ``perm_epoch[g % n]`` with ``epoch = g // n``; rank ``r``
    of ``world`` takes the ``r``-th slice of each step's global batch. Unlike DistributedSampler,
    this resumes mid-epoch exactly, which ``--resume`` needs.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int = 0, rank: int = 0, world: int = 1) -> None:
        if n < 1:
            raise ValueError("StepSampler needs at least one item")
        self.n, self.batch, self.seed = n, batch_size, seed
        self.start, self.rank, self.world = start_step, rank, world
        self._perm_epoch, self._perm = -1, torch.arange(0)

    def _index(self, g: int) -> int:
        epoch = g // self.n
        if epoch != self._perm_epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(self.n, generator=gen), epoch
        return int(self._perm[g % self.n])

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start
        while True:
            base = (step * self.world + self.rank) * self.batch
            yield [(self._index(g), sample_seed(self.seed, g)) for g in range(base, base + self.batch)]
            step += 1
