"""``vidcolor eval``: colorize grayscale copies of colour footage and measure against the truth.

For each colour video or image (the ground truth) it makes the black-and-white input vidcolor is
for (luma only; videos losslessly encoded so the input is exactly the truth's luma), runs the real
pipeline on it, and compares. Every figure sits beside the trivial baseline, the gray input itself
(ab = 0), which already scores a respectable PSNR.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import torch

from vidcolor import metrics
from vidcolor.decode import check_input, is_image, probe
from vidcolor.errors import BadInputError
from vidcolor.pipeline import Colorizer, colorize_array, colorize_video, load_photo
from vidcolor.preview import save_sheet

METHODS = ("vidcolor", "gray baseline")


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


def score(out: torch.Tensor, truth: torch.Tensor, gray_in: torch.Tensor) -> dict[str, float | None]:
    """All metrics of one method on one item; (T,3,H,W) tensors in [0,1]."""
    luma = metrics.psnr(_luma(out), _luma(gray_in)).mean().item()
    c_out, c_truth = metrics.colorfulness(out).mean().item(), metrics.colorfulness(truth).mean().item()
    video = out.shape[0] > 1
    return {
        "psnr": metrics.psnr(out, truth).clamp(max=100).mean().item(),
        "ssim": metrics.ssim(out, truth).mean().item(),
        "colorfulness": c_out,
        "colorfulness_truth": c_truth,
        "colorfulness_ratio": c_out / c_truth if c_truth > 0 else None,
        "cdc": metrics.cdc(out) if video else None,
        "cdc_truth": metrics.cdc(truth) if video else None,
        "flicker": metrics.flicker(out) if video else None,
        "flicker_truth": metrics.flicker(truth) if video else None,
        "luma_psnr": None if math.isinf(luma) else min(luma, 100.0),
    }


def _gray_video(truth: Path, gray: Path, max_frames: int) -> list[np.ndarray]:
    """Write truth's luma (chroma neutral, lossless H.264) to ``gray``; return truth RGB frames."""
    frames: list[np.ndarray] = []
    with av.open(str(truth)) as inp, av.open(str(gray), "w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        vout = out.add_stream("libx264", rate=vin.average_rate or 25)
        w, h = vin.codec_context.width, vin.codec_context.height
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv444p"
        vout.time_base = vout.codec_context.time_base = vin.time_base
        vout.options = {"qp": "0", "preset": "ultrafast"}  # lossless: the input is exactly the luma
        for frame in inp.decode(vin):
            if len(frames) >= max_frames:
                break
            rgb = frame.to_ndarray(format="rgb24")
            frames.append(rgb)
            yuv = frame.reformat(format="yuv444p").to_ndarray()
            yuv[1:] = 128
            g = av.VideoFrame.from_ndarray(yuv, format="yuv444p")
            g.pts, g.time_base = frame.pts, frame.time_base
            for p in vout.encode(g):
                out.mux(p)
        for p in vout.encode():
            out.mux(p)
    return frames


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def evaluate_item(path: Path, colorizer: Colorizer, max_frames: int, sheet_rows: list, per_item: int = 3) -> ItemResult:
    check_input(path)
    if is_image(path):
        truth_np = [load_photo(path)]
        gray_np = [np.repeat(_gray_rgb(truth_np[0])[..., None], 3, -1)]
        out_np = [colorize_array(gray_np[0], colorizer)]
    else:
        probe(path)  # a clear error for non-video input
        with tempfile.TemporaryDirectory(prefix="vidcolor-eval-") as d:
            gray_path, out_path = Path(d) / "gray.mkv", Path(d) / "out.mkv"
            truth_np = _gray_video(path, gray_path, max_frames)
            colorize_video(gray_path, out_path, colorizer)
            gray_np, out_np = _decode(gray_path), _decode(out_path)
    if not (len(truth_np) == len(gray_np) == len(out_np)):
        raise BadInputError(f"{path}: frame counts differ (truth {len(truth_np)}, output {len(out_np)})")
    truth, gray, out = _t(truth_np), _t(gray_np), _t(out_np)
    result = ItemResult(path.name, "image" if is_image(path) else "video", len(truth_np))
    result.scores["vidcolor"] = score(out, truth, gray)
    result.scores["gray baseline"] = score(gray, truth, gray)
    for i in np.linspace(0, len(truth_np) - 1, min(per_item, len(truth_np))).round().astype(int):
        sheet_rows.append([gray_np[i], out_np[i], truth_np[i]])
    return result


def _gray_rgb(rgb: np.ndarray) -> np.ndarray:
    """The L* of an sRGB image rendered back as gray sRGB (what a B&W copy looks like)."""
    from vidcolor.color import lab_to_rgb, rgb_to_lab

    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0)
    lab[1:] = 0
    return (lab_to_rgb(lab)[0] * 255).round().byte().numpy()


def summarize(results: list[ItemResult]) -> dict[str, dict[str, float | None]]:
    """Mean of each metric over items, per method (None where no item has the metric)."""
    overall: dict[str, dict[str, float | None]] = {}
    for method in METHODS:
        keys = results[0].scores[method].keys() if results else []
        overall[method] = {}
        for k in keys:
            vals = [r.scores[method][k] for r in results if r.scores[method][k] is not None]
            overall[method][k] = float(np.mean(vals)) if vals else None
    return overall


def write_sheet(rows: list[list[np.ndarray]], path: Path, width: int = 320) -> None:
    """Contact sheet: one row per sampled frame, gray | output | truth."""
    from PIL import Image

    out_rows = []
    for triple in rows:
        h, w = triple[0].shape[:2]
        size = (width, max(1, round(h * width / w)))
        tiles = [np.asarray(Image.fromarray(t).resize(size, Image.BILINEAR)) for t in triple]
        gap = np.full((size[1], 4, 3), 255, np.uint8)
        out_rows.append(np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], 1))
    save_sheet(out_rows, path)
