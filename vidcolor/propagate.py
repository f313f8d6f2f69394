"""Known colour carried to where it belongs: dense matching, motion propagation, spreading, fusion.

Guidance (a colour reference, hint points, painted strokes) becomes a *guide*: colours ab with a
per-pixel confidence c in [0, 1], at the render size the model sees. Three pure steps use it:

    match(frame L, reference L, reference ab) -> guide   dense optical flow (OpenCV DIS) from the
                                                         frame to the reference; c from how well
                                                         the lightness agrees after warping and
                                                         from forward-backward flow consistency
    warp_guide(guide, prev L, L)               -> guide  the previous frame's guide moved with the
                                                         motion (same confidence terms, plus decay)
    fuse(L, automatic ab, guide)               -> ab     the guide where it is confident; elsewhere
                                                         the automatic colour, corrected near the
                                                         guide by an edge-aware spread of the
                                                         guide-minus-automatic residual

Only confident pixels count, so a reference that does not match adds (almost) nothing, and where
nothing is known the generator's automatic colour stays. Shapes: L (1,h,w) in [-1,1], ab (2,h,w)
in about [-1,1], c (1,h,w); all float32 torch tensors on one device. Flow runs on the CPU (DIS at
render size takes a few milliseconds per pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class PropagationConfig:
    """Constants of matching and spreading (chosen on the validation split, see RESULTS.md)."""

    photo_sigma: float = 0.06  # |ΔL| (normalised; 0.06 = 1.5 L*) at which match confidence falls to 1/e
    fb_sigma: float = 1.0  # forward-backward flow disagreement, px at render size, at which it falls to 1/e
    decay: float = 0.995  # confidence kept per frame of carrying a guide through motion
    gate: float = 0.3  # mean match confidence a frame needs for an unpinned reference to count
    min_conf: float = 0.05  # below this a guide pixel is ignored
    spread_sigma: float = 0.15  # spatial reach of the residual spread, fraction of the frame's diagonal
    spread_luma: float = 0.3  # |ΔL| (normalised) at which the spread falls to 1/e (edge awareness)
    spread_eps: float = 1.0  # confidence mass (px) that keeps the spread at half strength far from hints
    pool: int = 4  # the spread works on cells of pool x pool pixels
    point_radius: float = 0.012  # radius of a hint point, fraction of the frame's short side


@dataclass
class Guide:
    """Known colour at render size: ab (2,h,w) and confidence c (1,h,w) in [0, 1]."""

    ab: torch.Tensor
    c: torch.Tensor

    @staticmethod
    def empty(h: int, w: int, device: torch.device | str = "cpu") -> Guide:
        return Guide(torch.zeros(2, h, w, device=device), torch.zeros(1, h, w, device=device))

    def merge(self, other: Guide) -> Guide:
        """Per pixel, the more confident of the two guides."""
        take = other.c > self.c
        return Guide(torch.where(take, other.ab, self.ab), torch.maximum(self.c, other.c))

    @property
    def coverage(self) -> float:
        """Mean confidence over the frame, in [0, 1]."""
        return float(self.c.mean())


_DIS: dict[int, cv2.DISOpticalFlow] = {}


def flow(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Dense optical flow (DIS, OpenCV) from ``src`` to ``dst``: L (1,h,w) in [-1,1] -> (2,h,w) px.

    ``src(x) ~ dst(x + flow(x))``; flow[0] is horizontal, flow[1] vertical.
    """
    dis = _DIS.setdefault(0, cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM))

    def u8(L: torch.Tensor) -> np.ndarray:
        return ((L[0].float().clamp(-1, 1) + 1.0) * 127.5).round().byte().cpu().numpy()

    f = dis.calc(u8(src), u8(dst), None)
    return torch.from_numpy(f).permute(2, 0, 1).to(src.device)


def warp(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` (C,h,w) at x + f (f (2,h,w) in px), bilinear, borders replicated."""
    _, h, w = x.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=x.device, dtype=torch.float32),
        torch.arange(w, device=x.device, dtype=torch.float32),
        indexing="ij",
    )
    gx = (xs + f[0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + f[1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], -1)[None]
    return F.grid_sample(x[None].float(), grid, mode="bilinear", padding_mode="border", align_corners=True)[0]


def _inside(f: torch.Tensor) -> torch.Tensor:
    """(1,h,w) 1 where x + f lands inside the frame, else 0."""
    _, h, w = f.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=f.device), torch.arange(w, device=f.device), indexing="ij")
    x, y = xs + f[0], ys + f[1]
    return ((x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5)).float()[None]


def correspondence(L: torch.Tensor, L_src: torch.Tensor, cfg: PropagationConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each pixel of ``L`` is found in ``L_src``, and how sure: (flow (2,h,w), confidence (1,h,w)).

    Confidence = exp(-(ΔL / photo_sigma)^2) * exp(-(fb / fb_sigma)^2), with ΔL the 3x3-averaged
    lightness difference after warping and fb the forward-backward flow disagreement; 0 where the
    match falls outside ``L_src``.
    """
    fw = flow(L, L_src)
    bw = flow(L_src, L)
    dl = F.avg_pool2d((L - warp(L_src, fw)).abs()[None], 3, stride=1, padding=1)[0]
    fb = (fw + warp(bw, fw)).norm(dim=0, keepdim=True)
    c = torch.exp(-((dl / cfg.photo_sigma) ** 2)) * torch.exp(-((fb / cfg.fb_sigma) ** 2)) * _inside(fw)
    return fw, c


def match_histogram(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``x`` with its values remapped so their distribution is ``target``'s (rank -> quantile)."""
    flat = x.flatten()
    ranks = torch.empty_like(flat, dtype=torch.long)
    ranks[flat.argsort()] = torch.arange(flat.numel(), device=x.device)
    q = torch.sort(target.flatten()).values
    idx = (ranks.float() * (q.numel() - 1) / max(flat.numel() - 1, 1)).round().long()
    return q[idx].reshape(x.shape)


def match(L: torch.Tensor, ref_L: torch.Tensor, ref_ab: torch.Tensor, cfg: PropagationConfig) -> Guide:
    """A reference (L, ab at this render size) as a guide for a frame of lightness ``L``.

    The reference's lightness is first given the frame's histogram: a colour still from another
    print, or a frame graded brighter by the colourist, still matches where the content does."""
    f, c = correspondence(L, match_histogram(ref_L, L), cfg)
    return Guide(warp(ref_ab, f), c)


def warp_guide(guide: Guide, L_prev: torch.Tensor, L: torch.Tensor, cfg: PropagationConfig) -> Guide:
    """Carry the previous frame's guide to the current frame along the motion."""
    if float(guide.c.max()) < cfg.min_conf:
        return guide
    f, c = correspondence(L, L_prev, cfg)
    moved = warp(torch.cat([guide.ab * guide.c, guide.c]), f)
    conf = moved[2:].clamp(0, 1)
    ab = moved[:2] / conf.clamp_min(1e-6)
    # min, not product: a pixel tracked well for 100 frames keeps its confidence; one bad step drops it
    conf = torch.minimum(conf * cfg.decay, c)
    return Guide(ab, torch.where(conf >= cfg.min_conf, conf, torch.zeros_like(conf)))


def spread(L: torch.Tensor, residual: torch.Tensor, c: torch.Tensor, cfg: PropagationConfig) -> torch.Tensor:
    """Edge-aware interpolation of a sparse residual: (L (1,h,w), residual (2,h,w), c (1,h,w)) -> (2,h,w).

    On cells of ``pool`` px, each cell q takes sum_s K(q,s) m_s r_s / (sum_s K(q,s) m_s + eps) over
    the cells s holding guidance (mass m_s = summed confidence, r_s their mean residual), with
    K = exp(-d^2 / 2 (spread_sigma * diagonal)^2 - (L_q - L_s)^2 / spread_luma^2). Far from any
    guidance the result falls to 0, so the automatic colour is kept there.
    """
    _, h, w = L.shape
    k = cfg.pool
    mass = F.avg_pool2d(c[None], k, ceil_mode=True)[0] * (k * k)  # (1,H,W)
    keys = mass[0].flatten() > cfg.min_conf
    if not bool(keys.any()):
        return torch.zeros_like(residual)
    Lq = F.avg_pool2d(L[None], k, ceil_mode=True)[0]
    Ls = F.avg_pool2d((L * c)[None], k, ceil_mode=True)[0] * (k * k) / mass.clamp_min(1e-6)
    rs = F.avg_pool2d((residual * c)[None], k, ceil_mode=True)[0] * (k * k) / mass.clamp_min(1e-6)
    H, W = Lq.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(H, device=L.device, dtype=torch.float32) * k,
        torch.arange(W, device=L.device, dtype=torch.float32) * k,
        indexing="ij",
    )
    pos = torch.stack([ys.flatten(), xs.flatten()], 1)
    sigma = cfg.spread_sigma * float(np.hypot(h, w))
    d2 = torch.cdist(pos, pos[keys]).pow(2) / (2 * sigma**2)
    dl2 = (Lq.flatten()[:, None] - Ls.flatten()[keys][None]).pow(2) / cfg.spread_luma**2
    K = torch.exp(-d2 - dl2) * mass.flatten()[keys][None]  # (cells, keys)
    num = K @ rs.reshape(2, -1)[:, keys].T  # (cells, 2)
    out = (num / (K.sum(1, keepdim=True) + cfg.spread_eps)).T.reshape(1, 2, H, W)
    return F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)[0]


def fuse(L: torch.Tensor, ab: torch.Tensor, guide: Guide, cfg: PropagationConfig) -> torch.Tensor:
    """Automatic ab (2,h,w) + guide -> guided ab (2,h,w); returns ``ab`` itself when the guide is empty."""
    if float(guide.c.max()) < cfg.min_conf:
        return ab
    c = torch.where(guide.c >= cfg.min_conf, guide.c, torch.zeros_like(guide.c))
    corrected = ab + spread(L, guide.ab - ab, c, cfg)
    return c * guide.ab + (1.0 - c) * corrected


def point_guide(points: list[tuple[float, float, float, float]], h: int, w: int, cfg: PropagationConfig) -> Guide:
    """Hint points (x, y as fractions of width/height; a, b normalised) -> a guide of small discs."""
    g = Guide.empty(h, w)
    r = max(1.0, cfg.point_radius * min(h, w))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    for x, y, a, b in points:
        disc = ((xs - (x * w - 0.5)) ** 2 + (ys - (y * h - 0.5)) ** 2 <= r * r)[None]
        if not bool(disc.any()):  # a point between pixel centres: its nearest pixel
            disc = torch.zeros_like(disc)
            disc[0, min(h - 1, int(y * h)), min(w - 1, int(x * w))] = True
        g.ab[0][disc[0]], g.ab[1][disc[0]] = a, b
        g.c[disc] = 1.0
    return g
