"""Temporal smoothing of predicted colour: less flicker, no ghosting, never across a scene cut.

A per-frame colorizer makes small independent mistakes, which show as colour flicker. This stage
blends each frame's ab with the previous *output* ab (an exponential moving average), per pixel:

    w    = smoothing * exp(-(|ΔL| / motion_scale)^2)       (ΔL: luma change since the last frame)
    ab_t = w * ab_{t-1} + (1 - w) * ab_pred_t

so static regions are steadied while a pixel whose luma changed strongly (motion, a flash) takes
its new prediction instead of being dragged from its past colour (no ghost trails). On a scene cut
(:mod:`vidcolor.cuts`) the state is reset: no colour crosses a cut.

It is **causal** (no look-ahead): output for frame t depends on frames <= t only, so the stage
adds no latency, holds one frame of state (memory flat), and a cut resets it cleanly. A look-ahead
would cut flicker a little more at the price of buffering and a second pass over each window.
The cut test's flash rule does need a few frames of look-ahead; rather than delaying every frame
(the pipeline hands a batch in and takes the same batch out), the smoother resets at the jump and,
when the detector withdraws it a few frames later (the picture came back: a flash), takes up the
colour it had before the jump again. The flash frames themselves are coloured on their own (their
luma moved too far for the past to count anyway), and the shots the smoother ends with are the ones
the look-ahead shots pass (:mod:`vidcolor.shots`) finds.

All tensors are at render size on the pipeline's device: L (N,1,h,w) in [-1,1], ab (N,2,h,w).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.cuts import CutDetector, Event, cut_params, features


class TemporalSmoother:
    """Stateful causal smoother; feed frames in order with :meth:`__call__`, one batch at a time.

    Args:
        smoothing: 0 (off) .. 1; weight of the past colour on a perfectly static pixel.
        motion_scale: |ΔL| (normalised units) at which the past weight falls to 1/e of its maximum.
        fps: frame rate; the cut test's minimum shot length and flash window are in seconds.
    """

    def __init__(self, smoothing: float = 0.5, motion_scale: float = 0.08, fps: float = 25.0) -> None:
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(f"smoothing must be in [0, 1], got {smoothing}")
        self.smoothing, self.motion_scale = smoothing, motion_scale
        self.detector = CutDetector(cut_params(fps))
        self.prev_L: torch.Tensor | None = None
        self.prev_ab: torch.Tensor | None = None
        self.before: tuple[torch.Tensor, torch.Tensor] | None = None  # (L, ab) of the frame before the last cut
        self.cuts = 0

    def reset(self) -> None:
        self.prev_L = self.prev_ab = self.before = None
        self.detector.reset()

    def state(self) -> dict[str, np.ndarray]:
        """The state as float32 arrays at render size (empty for none), for a file (segments)."""
        before = self.before or (None, None)
        tensors = (
            ("prev_L", self.prev_L),
            ("prev_ab", self.prev_ab),
            ("before_L", before[0]),
            ("before_ab", before[1]),
        )
        arrays = {k: t.float().cpu().numpy() if t is not None else np.zeros(0, np.float32) for k, t in tensors}
        return arrays | self.detector.state()

    def load(self, state: Mapping[str, np.ndarray], device: torch.device) -> None:
        """Go on from :meth:`state`'s arrays so the output is what an uninterrupted run gives
        (KeyError when one is missing; a file without the cut test's state primes it instead)."""
        self.reset()
        t = {k: torch.from_numpy(state[k]).to(device) for k in ("prev_L", "prev_ab")}
        if not (t["prev_L"].numel() and t["prev_ab"].numel()):
            return
        self.prev_L, self.prev_ab = t["prev_L"], t["prev_ab"]
        if "cut_counts" not in state:  # written before the cut test kept state
            return
        self.detector.load(state)
        if state["before_L"].size and state["before_ab"].size:
            self.before = (
                torch.from_numpy(state["before_L"]).to(device),
                torch.from_numpy(state["before_ab"]).to(device),
            )

    def _weight(self, L: torch.Tensor, past_L: torch.Tensor) -> torch.Tensor:
        """Per-pixel weight of the past colour, L and past_L (..., 1, h, w) -> (..., 1, h, w)."""
        motion = F.avg_pool2d((L - past_L).abs(), 3, stride=1, padding=1)
        return self.smoothing * torch.exp(-((motion / self.motion_scale) ** 2))

    def __call__(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Smooth a batch of consecutive frames: L (N,1,h,w), ab (N,2,h,w) -> ab (N,2,h,w)."""
        if not L.shape[0]:
            return ab
        if self.prev_L is not None and self.prev_L.shape != L.shape[1:]:
            self.reset()
        if self.prev_L is not None and self.detector.prev is None:  # state restored from a file (segments)
            self.detector.prime(features(self.prev_L[None])[0])
        first = self.detector.prev is None  # the film's first frame starts a shot: not a cut
        events = self.detector.push(features(L))
        seq = torch.cat([self.prev_L[None], L]) if self.prev_L is not None else torch.cat([L[:1], L])
        w = self._weight(seq[1:], seq[:-1]) if self.smoothing else None
        out = ab.clone() if self.smoothing else ab
        prev = self.prev_ab if self.prev_ab is not None else ab[0]
        for i, event in enumerate(events):
            wi = w[i] if w is not None else None
            if event is Event.CUT:
                self.cuts += not (first and i == 0)
                self.before = (seq[i], prev)
                wi = None  # a new shot starts from its own prediction: no colour crosses a cut
            elif event is Event.WITHDRAWN and self.before is not None:
                self.cuts -= 1  # a flash, not a cut: take up the colour from before it
                past_L, prev = self.before
                wi = self._weight(L[i], past_L) if self.smoothing else None
            if wi is not None:
                out[i] = wi * prev + (1.0 - wi) * ab[i]
            prev = out[i]
        self.prev_L, self.prev_ab = L[-1], out[-1]
        return out
