"""Shot cuts in B&W film: where one shot ends and the next begins, from luma alone.

Each frame is reduced to a 16x16 thumbnail and a 32-bin luma histogram (:func:`features`); two
frames differ (:func:`distance`) by the largest of three normalised changes:

* **structure**: ``1 - correlation`` of the thumbnails, so a new framing is seen even when the
  histogram hardly moves (the same street from another angle, a close-up of the same scene), and a
  fade or exposure change (a gain on every pixel) is not;
* **histogram**: total-variation distance of the histograms (a new scene lit differently);
* **picture**: mean |ΔL| of the thumbnails, in L units (what the old detector used).

A frame starts a new shot when its distance from the previous frame is both large in absolute terms
and large *relative to the recent motion*: several times the median of the last ``window``
distances (the adaptive test of PySceneDetect's ``AdaptiveDetector`` and FFmpeg's ``scdet``), so
fast motion or a whip pan, which makes every distance large, does not cut the shot into pieces.
Two rules then remove what is not a cut:

* **flash**: a very bright frame or few (a flash bulb, lightning, an explosion) look like a cut
  when they start. When, within ``flash`` frames, a frame looks like the last frame before the
  jump again, the jump was a flash inside one shot and the cut is withdrawn;
* **minimum shot length**: no shot is shorter than ``min_shot`` frames (0.3 s, MIN_SHOT_S); a second
  jump so soon after a cut is a flash that did not return or a burst of flicker, not a new shot.

:class:`CutDetector` is causal: it reports a cut on the frame where it happens and, at most
``flash`` frames later, that it withdrew it. The temporal smoother (no look-ahead) resets at once and
restores its state on a withdrawal; the shots pass (which may look ahead) waits ``flash`` frames
before it settles a frame, so both end with the same cuts.

Tensors: L (N,1,h,w) normalised luma in [-1,1] at any size (render size in the pipeline).
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
import torch.nn.functional as F

THUMB = 16  # px: thumbnail side for the structure and picture tests (framing, not detail or noise)
CONTRAST = 0.08  # L units (4 L*): rms contrast of a thumbnail below which its structure is not trusted
SHIFT = 2  # thumbnail px: the largest move between two frames the structure test forgives
BINS = 32  # luma histogram bins
SMALL = 64  # px: frames are shrunk to SMALLxSMALL first; the histogram is taken there (cheap)


def luma_histograms(L: torch.Tensor, bins: int = BINS) -> torch.Tensor:
    """Normalised histograms of L (N,1,h,w) in [-1,1] -> (N, bins), each summing to 1."""
    n = L.shape[0]
    idx = ((L.reshape(n, -1).clamp(-1, 1) + 1) * 0.5 * (bins - 1)).round().long()
    idx = idx + bins * torch.arange(n, device=L.device)[:, None]
    return torch.bincount(idx.flatten(), minlength=n * bins).reshape(n, bins).float() / idx.shape[1]


def features(L: torch.Tensor) -> torch.Tensor:
    """L (N,1,h,w) in [-1,1] -> (N, THUMB*THUMB + BINS) float32 on the CPU: thumbnail, then histogram."""
    if not L.shape[0]:
        return torch.zeros(0, THUMB * THUMB + BINS)
    small = F.adaptive_avg_pool2d(L.float(), SMALL)
    thumb = F.adaptive_avg_pool2d(small, THUMB).flatten(1)
    return torch.cat([thumb, luma_histograms(small)], 1).cpu()


def _correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Correlation of rows a, b (N, P) -> (N,) in [-1, 1] (0 for a flat row)."""
    za, zb = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (za * zb).sum(1) / (za.norm(dim=1) * zb.norm(dim=1)).clamp_min(1e-6)


def components(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Feature rows a, b (N, D) -> (N, 3): structure (1 - correlation, 0..2), histogram TV (0..1),
    picture mean |ΔL| (L units, 0..2).

    Structure is the best correlation of b's centre with a over shifts of up to SHIFT thumbnail px
    (1/8 of the frame): a pan or a shake moves the picture, a cut replaces it."""
    n, k, c = a.shape[0], THUMB, THUMB - 2 * SHIFT
    if not n:
        return torch.zeros(0, 3)
    ta, tb = a[:, : k * k].reshape(n, 1, k, k), b[:, : k * k].reshape(n, 1, k, k)
    windows = F.unfold(ta, c).transpose(1, 2)  # (N, shifts, c*c): every c x c window of a
    centre = tb[:, :, SHIFT : k - SHIFT, SHIFT : k - SHIFT].reshape(n, 1, c * c).expand_as(windows)
    corr = _correlation(windows.reshape(-1, c * c), centre.reshape(-1, c * c)).reshape(n, windows.shape[1])
    # a low-contrast picture (fog, a frame near black in a fade) has no structure to compare: its
    # correlation is grain, so the structure term fades out below an rms contrast of CONTRAST
    contrast = torch.minimum(ta.flatten(1).std(1), tb.flatten(1).std(1))
    structure = (1.0 - corr.amax(1)) * (contrast / CONTRAST).clamp(max=1.0)
    tv = 0.5 * (a[:, k * k :] - b[:, k * k :]).abs().sum(1)
    picture = (ta - tb).abs().mean((1, 2, 3))
    return torch.stack([structure, tv, picture], 1)


MIN_SHOT_S = 0.3  # s: shortest shot (fast montage goes down to about this; a flash is withdrawn anyway)
FLASH_S = 0.25  # s: longest flash (a flash bulb or lightning lasts 1-4 frames at 24 fps)
WINDOW_S = 0.5  # s: "the recent motion" whose median a cut must clearly exceed


@dataclass(frozen=True)
class CutParams:
    """Thresholds, chosen on the validation set of ``benchmarks/shot_detection.py`` (at 25 fps).

    Distances are the largest weighted component of :func:`components`."""

    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    low: float = 0.15  # a cut's distance is at least this ...
    ratio: float = 4.5  # ... and this many times the median of the last `window` distances,
    high: float = 0.9  # ... or at least this, whatever the recent motion
    window: int = 12  # frames: WINDOW_S at 25 fps
    flash: int = 6  # frames: FLASH_S at 25 fps
    same: float = 0.25  # the picture is back when its distance from the pre-jump frame is under
    same_ratio: float = 0.5  # ... this and this fraction of the jump (a new framing of the same scene is not "back")
    min_shot: int = 8  # frames: MIN_SHOT_S at 25 fps


def cut_params(fps: float) -> CutParams:
    """The default thresholds with the frame counts for ``fps`` (a bad or unknown rate: 25)."""
    fps = fps if 1.0 <= fps <= 1000.0 else 25.0
    return CutParams(
        window=max(3, round(WINDOW_S * fps)),
        flash=max(1, round(FLASH_S * fps)),
        min_shot=max(1, round(MIN_SHOT_S * fps)),
    )


def distance(a: torch.Tensor, b: torch.Tensor, params: CutParams) -> torch.Tensor:
    """Feature rows a, b (N, D) -> (N,) one distance: the largest weighted component."""
    return (components(a, b) * torch.tensor(params.weights)).amax(1)


class Event(Enum):
    CUT = "cut"  # this frame starts a new shot
    WITHDRAWN = "withdrawn"  # the last cut was a flash: this frame is in the shot before it again


class CutDetector:
    """Feed the features of consecutive frames in order; learn of cuts as they happen.

    State: the last frame's features, the recent distances, and while a cut is young (under
    ``flash`` frames) the features of the frame before it."""

    def __init__(self, params: CutParams | None = None) -> None:
        self.params = params or CutParams()
        self.prev: torch.Tensor | None = None  # (D,) features of the last frame
        self.recent: deque[float] = deque(maxlen=self.params.window)
        self.since_cut = self.params.min_shot  # frames since the last cut (the film's start counts as one)
        self.before_cut: torch.Tensor | None = None  # (D,) last frame before a cut still young enough to withdraw
        self.since_before = 0  # since_cut when that cut came, restored on a withdrawal
        self.jump = 0.0  # that cut's distance

    def reset(self) -> None:
        """Forget the past: the next frame starts a shot (as the first frame of a film does)."""
        self.__init__(self.params)

    def prime(self, feat: torch.Tensor) -> None:
        """Take ``feat`` (D,) as the last frame seen, mid-shot (a smoother state restored from a file)."""
        self.reset()
        self.prev, self.since_cut = feat.clone(), self.params.min_shot

    def state(self) -> dict[str, np.ndarray]:
        """Everything :meth:`load` needs to go on exactly where this detector is (for a file)."""
        empty = np.zeros(0, np.float32)
        return {
            "cut_prev": self.prev.numpy() if self.prev is not None else empty,
            "cut_before": self.before_cut.numpy() if self.before_cut is not None else empty,
            "cut_recent": np.asarray(self.recent, np.float64),
            "cut_counts": np.asarray([self.since_cut, self.since_before, self.jump], np.float64),
        }

    def load(self, state: Mapping[str, np.ndarray]) -> None:
        """Go on from :meth:`state`'s arrays (KeyError when one is missing)."""
        prev, before = state["cut_prev"], state["cut_before"]
        recent, (since_cut, since_before, jump) = state["cut_recent"], state["cut_counts"].tolist()
        self.reset()
        self.prev = torch.from_numpy(prev.astype(np.float32)) if prev.size else None
        self.before_cut = torch.from_numpy(before.astype(np.float32)) if before.size else None
        self.recent.extend(recent.tolist())
        self.since_cut, self.since_before, self.jump = int(since_cut), int(since_before), float(jump)

    def push(self, feats: torch.Tensor) -> list[Event | None]:
        """Features (N, D) of the next N frames -> one event (or None) per frame."""
        if not len(feats):  # an empty batch (the end of a stream) changes nothing
            return []
        seq = feats if self.prev is None else torch.cat([self.prev[None], feats])
        d = distance(seq[1:], seq[:-1], self.params).tolist()
        if self.prev is None:
            d = [None, *d]  # the very first frame: a shot starts, nothing to compare with
        events: list[Event | None] = []
        for i, di in enumerate(d):
            events.append(self._step(feats, i, di))
        self.prev = feats[-1].clone()
        return events

    def _step(self, feats: torch.Tensor, i: int, d: float | None) -> Event | None:
        p = self.params
        self.since_cut += 1
        if d is None:
            self.since_cut = 0
            return Event.CUT
        if self.before_cut is not None:
            if self.since_cut <= p.flash:
                back = float(distance(feats[i : i + 1], self.before_cut[None], p))
                if back < min(p.same, p.same_ratio * self.jump):  # the picture is back: the jump was a flash
                    self.before_cut = None
                    self.since_cut += self.since_before
                    self.recent.append(back)
                    return Event.WITHDRAWN
            else:
                self.before_cut = None
        median = statistics.median(self.recent) if self.recent else 0.0
        is_cut = d >= p.high or (d >= p.low and d >= p.ratio * median)
        if is_cut and self.since_cut >= p.min_shot:
            self.before_cut = feats[i - 1].clone() if i > 0 else self.prev
            self.since_before, self.since_cut, self.jump = self.since_cut, 0, d
            return Event.CUT
        self.recent.append(d)  # not a cut's own distance: it would mask the next cut in the median
        return None


def detect(L: torch.Tensor, params: CutParams | None = None, chunk: int = 64) -> list[int]:
    """Indices of the frames of L (N,1,h,w) that start a shot, after withdrawals; [0, ...]."""
    det, starts = CutDetector(params), []
    for k in range(0, L.shape[0], chunk):
        for j, e in enumerate(det.push(features(L[k : k + chunk]))):
            if e is Event.CUT:
                starts.append(k + j)
            elif e is Event.WITHDRAWN:
                starts.pop()
    return starts
