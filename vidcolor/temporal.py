"""Temporal smoothing of predicted colour: less flicker, no ghosting, never across a scene cut.

A per-frame colorizer makes small independent mistakes, which show as colour flicker. This stage
blends each frame's ab with the previous *output* ab (an exponential moving average), per pixel:

    w    = smoothing * exp(-(|ΔL| / motion_scale)^2)       (ΔL: luma change since the last frame)
    ab_t = w * ab_{t-1} + (1 - w) * ab_pred_t

so static regions are steadied while a pixel whose luma changed strongly (motion, a flash) takes
its new prediction instead of being dragged from its past colour (no ghost trails). On a scene cut,
detected from luma statistics, the state is reset: no colour crosses a cut.

It is **causal** (no look-ahead): output for frame t depends on frames <= t only, so the stage
adds no latency, holds one frame of state (memory flat), and a cut resets it cleanly. A look-ahead
would cut flicker a little more at the price of buffering and a second pass over each window.

All tensors are at render size on the pipeline's device: L (N,1,h,w) in [-1,1], ab (N,2,h,w).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def luma_histograms(L: torch.Tensor, bins: int = 32) -> torch.Tensor:
    """Normalised histograms of L (N,1,h,w) in [-1,1] -> (N, bins), each summing to 1."""
    n = L.shape[0]
    idx = ((L.reshape(n, -1).clamp(-1, 1) + 1) * 0.5 * (bins - 1)).round().long()
    idx = idx + bins * torch.arange(n, device=L.device)[:, None]
    return torch.bincount(idx.flatten(), minlength=n * bins).reshape(n, bins).float() / idx.shape[1]


def scene_cuts(L: torch.Tensor, hist_threshold: float = 0.35, diff_threshold: float = 0.3) -> torch.Tensor:
    """Hard cuts between consecutive frames of L (N,1,h,w) in [-1,1] -> bool (N-1,).

    Entry i is True when frame i+1 starts a new shot: its luma histogram moved far from frame i's
    (total-variation distance over 32 bins > ``hist_threshold``) or the coarse picture did (mean
    |ΔL| between 16x16 thumbnails > ``diff_threshold``, in normalised units: 0.3 = 15 L*).
    """
    h = luma_histograms(L)
    tv = 0.5 * (h[1:] - h[:-1]).abs().sum(1)
    thumbs = F.adaptive_avg_pool2d(L.float(), 16)
    diff = (thumbs[1:] - thumbs[:-1]).abs().mean((1, 2, 3))
    return (tv > hist_threshold) | (diff > diff_threshold)


class TemporalSmoother:
    """Stateful causal smoother; feed frames in order with :meth:`__call__`, one batch at a time.

    Args:
        smoothing: 0 (off) .. 1; weight of the past colour on a perfectly static pixel.
        motion_scale: |ΔL| (normalised units) at which the past weight falls to 1/e of its maximum.
    """

    def __init__(self, smoothing: float = 0.5, motion_scale: float = 0.08) -> None:
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(f"smoothing must be in [0, 1], got {smoothing}")
        self.smoothing, self.motion_scale = smoothing, motion_scale
        self.prev_L: torch.Tensor | None = None
        self.prev_ab: torch.Tensor | None = None
        self.cuts = 0

    def reset(self) -> None:
        self.prev_L = self.prev_ab = None

    def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Smooth a batch of consecutive frames: L (N,1,h,w), ab (N,2,h,w) -> ab (N,2,h,w)."""
        if self.prev_L is not None and self.prev_L.shape != L.shape[1:]:
            self.reset()
        has_past = self.prev_L is not None
        seq = torch.cat([self.prev_L[None], L]) if has_past else torch.cat([L[:1], L])
        cut = scene_cuts(seq)  # (N,): cut[i] is between frame i and its predecessor
        if has_past:
            self.cuts += int(cut.sum())
        else:
            self.cuts += int(cut[1:].sum())
            cut[0] = True  # nothing before the first frame
        self.prev_L = L[-1]
        if self.smoothing == 0.0:
            self.prev_ab = ab[-1]
            return ab
        motion = F.avg_pool2d((seq[1:] - seq[:-1]).abs(), 3, stride=1, padding=1)
        w = self.smoothing * torch.exp(-((motion / self.motion_scale) ** 2))
        w[cut] = 0.0  # a new shot starts from its own prediction: no colour crosses a cut
        out = torch.empty_like(ab)
        prev = self.prev_ab if self.prev_ab is not None else ab[0]
        for i in range(ab.shape[0]):
            prev = out[i] = w[i] * prev + (1.0 - w[i]) * ab[i]
        self.prev_ab = out[-1]
        return out
