"""``vidcolor eval``: colorize grayscale copies of colour footage and measure against the truth.

For each colour video or image (the ground truth) it makes the black-and-white input vidcolor is
for (luma only; videos losslessly encoded so the input is exactly the truth's luma), runs the real
pipeline on it, and compares. Every figure sits beside the trivial baseline, the gray input itself
(ab = 0), which already scores a respectable PSNR.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import zip_longest
from pathlib import Path

import av
import numpy as np
import torch
from av.video.reformatter import ColorRange
from PIL import Image

from vidcolor import metrics, source
from vidcolor.colorizer import Colorizer
from vidcolor.decode import check_input, is_image, load_photo
from vidcolor.errors import BadInputError
from vidcolor.guidance import Guidance
from vidcolor.pipeline import colorize_array, colorize_video
from vidcolor.preview import save_sheet, side_by_side
from vidcolor.sequence import is_sequence

METHODS = ("vidcolor", "gray baseline")
GUIDED_METHODS = ("vidcolor", "guided", "gray baseline")


@dataclass(frozen=True)
class GuideMode:
    """What ``vidcolor eval`` gives the guided run: the first frame's true colour as a reference,
    and/or ``hints`` random true-colour points of the first frame (of each photo)."""

    reference: bool = False
    hints: int = 0
    seed: int = 0

    def __bool__(self) -> bool:
        return self.reference or self.hints > 0


@dataclass
class ItemResult:
    name: str
    kind: str
    frames: int
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)  # method -> metric -> value


def _t(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def _luma(frames: torch.Tensor) -> torch.Tensor:
    return (0.299 * frames[:, 0] + 0.587 * frames[:, 1] + 0.114 * frames[:, 2])[:, None]


class Scorer:
    """All metrics of one method on one item, fed in chunks of consecutive frames.

    Memory holds one chunk plus a few numbers and a 3x256 histogram per frame, so a long or large
    clip is measured in the same memory as a short one. Chunking does not change any figure:
    per-frame metrics are averaged at the end, CDC is computed from the gathered histograms, and
    flicker pairs each chunk with the last frame of the one before.
    """

    def __init__(self) -> None:
        self.per_frame: dict[str, list[torch.Tensor]] = {k: [] for k in ("psnr", "ssim", "c_out", "c_truth", "luma")}
        self.recent: list[torch.Tensor] = []  # PSNR of the last frames seen (for "still right at the end")
        self.hist_out: list[torch.Tensor] = []
        self.hist_truth: list[torch.Tensor] = []
        self.flicker = {"out": [0.0, 0], "truth": [0.0, 0]}
        self.last: tuple[torch.Tensor, torch.Tensor] | None = None
        self.frames = 0

    def add(self, out: torch.Tensor, truth: torch.Tensor, gray_in: torch.Tensor) -> Scorer:
        """Add consecutive frames: (T,3,H,W) tensors in [0,1]."""
        f = self.per_frame
        f["psnr"].append(metrics.psnr(out, truth).clamp(max=100))
        self.recent = [*self.recent, f["psnr"][-1]][-LAST_FRAMES:]
        if min(out.shape[-2:]) >= metrics.SSIM_WINDOW:  # standard SSIM needs one whole 11x11 window
            f["ssim"].append(metrics.ssim(out, truth))
        f["c_out"].append(metrics.colorfulness(out))
        f["c_truth"].append(metrics.colorfulness(truth))
        f["luma"].append(metrics.psnr(_luma(out), _luma(gray_in)))
        self.hist_out.append(metrics.channel_histograms(out))
        self.hist_truth.append(metrics.channel_histograms(truth))
        if self.last is not None:
            out, truth = torch.cat([self.last[0], out]), torch.cat([self.last[1], truth])
        for key, frames in (("out", out), ("truth", truth)):
            total, count = metrics.flicker_sums(frames)
            self.flicker[key][0] += total
            self.flicker[key][1] += count
        self.last = (out[-1:], truth[-1:])
        self.frames += len(f["psnr"][-1])
        return self

    def result(self) -> dict[str, float | None]:
        mean = {k: torch.cat(v).mean().item() if v else None for k, v in self.per_frame.items()}
        video = self.frames > 1

        def flick(key: str) -> float | None:
            total, count = self.flicker[key]
            return (total / count if count else 0.0) if video else None

        c_out, c_truth, luma = mean["c_out"], mean["c_truth"], mean["luma"]
        last = torch.cat(self.recent)[-LAST_FRAMES:].mean().item()
        return {
            "psnr": mean["psnr"],
            "psnr_last": last if video else None,
            "ssim": mean["ssim"],  # None for pictures smaller than 11x11
            "colorfulness": c_out,
            "colorfulness_truth": c_truth,
            "colorfulness_ratio": c_out / c_truth if c_truth > 0 else None,
            "cdc": metrics.cdc_from_histograms(torch.cat(self.hist_out)) if video else None,
            "cdc_truth": metrics.cdc_from_histograms(torch.cat(self.hist_truth)) if video else None,
            "flicker": flick("out"),
            "flicker_truth": flick("truth"),
            "luma_psnr": None if math.isinf(luma) else min(luma, 100.0),
        }


def score(out: torch.Tensor, truth: torch.Tensor, gray_in: torch.Tensor) -> dict[str, float | None]:
    """All metrics of one method on one item; (T,3,H,W) tensors in [0,1]."""
    return Scorer().add(out, truth, gray_in).result()


def _truth_frames(truth: Path) -> tuple[Iterator[av.VideoFrame], Fraction | None, Fraction]:
    """A truth clip's frames (a video file's first stream, or numbered frames), its rate and time base."""
    if is_sequence(truth):
        info = source.probe(truth)
        return source.frames(truth), info.rate, info.time_base

    def decoded() -> Iterator[av.VideoFrame]:
        with av.open(str(truth)) as inp:
            vin = inp.streams.video[0]
            vin.thread_type = "AUTO"
            yield from inp.decode(vin)

    with av.open(str(truth)) as inp:
        vin = inp.streams.video[0]
        rate, time_base = vin.average_rate, vin.time_base
    return decoded(), rate, time_base


def write_gray_video(truth: Path, gray: Path, max_frames: int) -> int:
    """Write truth's luma (chroma neutral, lossless H.264) to ``gray``; return the frame count."""
    n = 0
    frames, rate, time_base = _truth_frames(truth)
    with av.open(str(gray), "w") as out:
        first = None
        vout = None
        for frame in frames:
            if n >= max_frames:
                break
            if vout is None:
                first = frame
                vout = out.add_stream("libx264", rate=rate or 25)
                vout.width, vout.height, vout.pix_fmt = first.width, first.height, "yuv444p"
                vout.time_base = vout.codec_context.time_base = time_base
                vout.options = {"qp": "0", "preset": "ultrafast"}  # lossless: the input is exactly the luma
            n += 1
            # limited range whatever the source's (a full-range yuvj source would otherwise keep its
            # 0-255 values under a limited-range tag: a gray copy of higher contrast than the truth)
            yuv = frame.reformat(format="yuv444p", dst_color_range=ColorRange.MPEG).to_ndarray()
            yuv[1:] = 128
            g = av.VideoFrame.from_ndarray(yuv, format="yuv444p")
            g.pts, g.time_base = frame.pts, frame.time_base
            for p in vout.encode(g):
                out.mux(p)
        if vout is not None:
            for p in vout.encode():
                out.mux(p)
    frames.close()
    return n


def rgb_frames(path: Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """RGB frames of a video's first stream (or of numbered frames), streamed, at most ``limit``."""
    frames = _truth_frames(path)[0] if is_sequence(path) else None
    if frames is not None:
        for i, f in enumerate(frames):
            if limit is not None and i >= limit:
                frames.close()
                return
            yield f.to_ndarray(format="rgb24")
        return
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        for i, f in enumerate(c.decode(stream)):
            if limit is not None and i >= limit:
                return
            yield f.to_ndarray(format="rgb24")


LAST_FRAMES = 10  # "psnr_last": mean PSNR of a clip's last frames (is guided colour still right there?)
CHUNK_PIXELS = 16 * 640 * 480  # pixels of the frames scored at once (16 at 480p, 2 at 1080p): flat memory for any
# clip's length and size (16 frames of 1080p took 8 GB, and the system's OOM killer stopped eval)


def chunk_frames(w: int, h: int) -> int:
    """How many frames of ``w`` x ``h`` are scored at once (the figures do not depend on it)."""
    return max(1, min(16, CHUNK_PIXELS // max(1, w * h)))


def _random_points(rgb: np.ndarray, n: int, seed: int) -> list[dict]:
    """``n`` hint points at seeded random places, with the true colour there (the --hints JSON form)."""
    g = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    pts = []
    for x, y in g.random((n, 2)):
        pts.append({"x": float(x), "y": float(y), "rgb": rgb[min(h - 1, int(y * h)), min(w - 1, int(x * w))].tolist()})
    return pts


def _guidance(truth_first: np.ndarray, mode: GuideMode, seed: int, folder: Path, still: bool) -> Guidance:
    """The guidance a user would give from the truth's first frame, written as real files."""
    refs, hints = [], []
    if mode.reference and not still:  # a photo's own colour as its reference would be the answer
        ref = folder / "reference.png"
        Image.fromarray(truth_first).save(ref)
        refs.append(str(ref))
    if mode.hints:
        f = folder / "hints.json"
        f.write_text(json.dumps(_random_points(truth_first, mode.hints, seed)))
        hints.append(str(f))
    return Guidance.load(refs, hints)


def evaluate_item(
    path: Path,
    colorizer: Colorizer,
    max_frames: int,
    sheet_rows: list,
    per_item: int = 3,
    mode: GuideMode = GuideMode(),
    index: int = 0,
) -> ItemResult:
    """Score one truth file: automatic (and, with a ``mode``, guided) colour beside the gray input.

    ``sheet_rows`` gets ``per_item`` rows of gray | automatic (| guided) | truth."""
    if not is_sequence(path):  # numbered frames are a clip (vidcolor.sequence)
        check_input(path)
    kind = "video" if is_sequence(path) or not is_image(path) else "image"
    methods = GUIDED_METHODS if mode else METHODS
    scorers = {m: Scorer() for m in methods}
    seed = mode.seed * 100003 + index
    with tempfile.TemporaryDirectory(prefix="vidcolor-eval-") as d:
        if kind == "image":
            truth_np = load_photo(path)
            gray_np = np.repeat(gray_rgb(truth_np)[..., None], 3, -1)
            outs = [colorize_array(gray_np, colorizer)]
            if mode:
                outs.append(colorize_array(gray_np, colorizer, _guidance(truth_np, mode, seed, Path(d), still=True)))
            _score_chunk([(truth_np, gray_np, *outs)], scorers)
            sheet_rows.append([gray_np, *outs, truth_np])
            n = 1
        else:
            source.probe(path)  # a clear error for non-video input
            gray_path = Path(d) / "gray.mkv"
            n = write_gray_video(path, gray_path, max_frames)
            outs = [Path(d) / "out.mkv"]
            colorize_video(gray_path, outs[0], colorizer)
            if mode:
                first = next(rgb_frames(path, 1))
                outs.append(Path(d) / "guided.mkv")
                colorize_video(gray_path, outs[1], colorizer, guidance=_guidance(first, mode, seed, Path(d), False))
            picks = set(np.linspace(0, n - 1, min(per_item, n)).round().astype(int).tolist())
            names = ("truth", "gray copy", *(f"output {i + 1}" for i in range(len(outs))))
            chunk = []
            end = object()
            streams = zip_longest(rgb_frames(path, n), rgb_frames(gray_path), *map(rgb_frames, outs), fillvalue=end)
            for i, frames in enumerate(streams):
                if any(x is end for x in frames):
                    short = [name for name, x in zip(names, frames, strict=True) if x is end]
                    raise BadInputError(f"{path}: frame counts differ: the {' and '.join(short)} ended at frame {i}")
                if i in picks:
                    sheet_rows.append([frames[1], *frames[2:], frames[0]])
                chunk.append(frames)
                if len(chunk) == chunk_frames(frames[0].shape[1], frames[0].shape[0]):
                    _score_chunk(chunk, scorers)
                    chunk = []
            if chunk:
                _score_chunk(chunk, scorers)
            scored = scorers["vidcolor"].frames
            if scored != n:
                raise BadInputError(f"{path}: frame counts differ (truth {n}, output {scored})")
    result = ItemResult(path.name, kind, n)
    result.scores = {method: s.result() for method, s in scorers.items()}
    return result


def _score_chunk(chunk: list[tuple[np.ndarray, ...]], scorers: dict[str, Scorer]) -> None:
    """(truth, gray, automatic[, guided]) frames -> each method's scorer."""
    truth, gray, *outs = (_t([c[k] for c in chunk]) for k in range(len(chunk[0])))
    for name, out in zip([m for m in scorers if m != "gray baseline"], outs, strict=True):
        scorers[name].add(out, truth, gray)
    scorers["gray baseline"].add(gray, truth, gray)


def gray_rgb(rgb: np.ndarray) -> np.ndarray:
    """The L* of an sRGB image rendered back as gray sRGB (what a B&W copy looks like)."""
    from vidcolor.color import lab_to_rgb, rgb_to_lab

    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0)
    lab[1:] = 0
    return (lab_to_rgb(lab)[0] * 255).round().byte().numpy()


def summarize(results: list[ItemResult]) -> dict[str, dict[str, float | None]]:
    """Mean of each metric over items, per method (None where no item has the metric)."""
    overall: dict[str, dict[str, float | None]] = {}
    for method in results[0].scores if results else METHODS:
        keys = results[0].scores[method].keys() if results else []
        overall[method] = {}
        for k in keys:
            vals = [r.scores[method][k] for r in results if r.scores[method][k] is not None]
            overall[method][k] = float(np.mean(vals)) if vals else None
    return overall


def write_sheet(rows: list[list[np.ndarray]], path: Path, width: int = 320) -> None:
    """Contact sheet: one row per sampled frame, gray | output(s) | truth."""
    out_rows = []
    for tiles in rows:
        h, w = tiles[0].shape[:2]
        size = (width, max(1, round(h * width / w)))
        out_rows.append(side_by_side(*[np.asarray(Image.fromarray(t).resize(size, Image.BILINEAR)) for t in tiles]))
    save_sheet(out_rows, path)
