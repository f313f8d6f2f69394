"""Training data: still images and frames sampled from videos, split into train/val by file.

* Folders are searched recursively. Each file is opened to see what it is
  (:func:`vidcolor.decode.media_kind`, as every command does): still images are read with Pillow,
  videos with PyAV (so a ``.mov`` without an extension still counts); anything else is unreadable.
* Video frames are sampled evenly across the whole clip (``frames_per_video`` targets over its
  duration), skipping near-duplicates of the previously kept frame (a static shot gives one frame,
  not 64 copies). Sampled frames are kept in memory, down-scaled so the short side is at most
  ``keep_side`` px; images stay on disk and are decoded on demand.
* Grayscale sources teach no colour and are skipped; unreadable files are skipped with a warning.
  Both are counted in :class:`ScanReport`.
* Augmentation (random resized crop + horizontal flip) is a pure function of a per-sample seed, so
  a resumed or distributed run sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import hashlib
import math
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

from vidcolor.color import chroma

GRAY_CHROMA = 3.0  # mean Lab chroma below which a source counts as grayscale
DUPLICATE_DIFF = 2.0  # mean |gray difference| (0..255) on a 32x32 thumbnail below which frames are near-duplicates


@dataclass
class Source:
    """One input file: an image (decoded on demand) or a video (sampled frames held in memory)."""

    path: Path
    kind: str  # "image" | "video"
    frames: list[np.ndarray] = field(default_factory=list)  # video only: HxWx3 uint8

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
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        total = stream.frames
        if not total:  # some containers do not record it: count packets (cheap, no decoding)
            total = sum(1 for pkt in container.demux(stream) if pkt.size)
            container.seek(0)
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


def scan(paths: Sequence[str | Path], frames_per_video: int = 64, keep_side: int = 512) -> ScanReport:
    """Probe every file under ``paths``: keep colour images and videos, count the rest."""
    report = ScanReport([], [], [])
    for path in find_files(paths):
        try:
            kind, why = _kind(path)
            if kind == "image":
                thumb = load_image(path, max_side=128)
                if _is_gray(thumb):
                    report.gray.append(path)
                    continue
                report.sources.append(Source(path, "image"))
            elif kind == "video":
                frames, dups = sample_video(path, frames_per_video, keep_side)
                report.duplicates_skipped += dups
                if all(_is_gray(f) for f in frames[:: max(1, len(frames) // 8)]):
                    report.gray.append(path)
                    continue
                report.sources.append(Source(path, "video", frames))
            else:
                report.unreadable.append((path, why))
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError, *_video_errors()) as e:
            report.unreadable.append((path, str(e).splitlines()[0][:120] if str(e) else type(e).__name__))
    return report


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
