"""Known colour carried to where it belongs: dense matching, motion propagation, spreading, fusion.

Guidance (a colour reference, hint points, painted strokes) becomes a *guide*: colours ab with a
per-pixel confidence c in [0, 1], at the render size the model sees. Three pure steps use it:

    match(frame L, reference L, reference ab) -> guide   dense optical flow (OpenCV DIS) from the
                                                         frame to the reference; c from how well
                                                         the lightness agrees after warping and
                                                         from forward-backward flow consistency
    carry(guide, flow, c) / move_points(...)   -> guide  the previous frame's guide (hint points
                                                         as points) moved with the motion (same
                                                         confidence terms; the dense guide also
                                                         decays, points are checked against the
                                                         lightness they were put on instead)
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

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class PropagationConfig:
    """Constants of matching and spreading (chosen on the validation split, see RESULTS.md)."""

    photo_sigma: float = 0.1  # |ΔL| (normalised, L* / 50 - 1; 0.1 = 5 L*) at which match confidence falls to 1/e
    fb_sigma: float = 1.0  # forward-backward flow disagreement, px at render size, at which it falls to 1/e
    decay: float = 0.995  # confidence a carried dense guide (references, strokes) keeps per frame; not points
    carry_floor: float = 0.0  # share of its confidence a carried pixel keeps through one doubtful step
    gate: float = 0.3  # mean match confidence a frame needs for an unpinned reference to count
    min_conf: float = 0.05  # below this a guide pixel is ignored
    # |ΔL| (normalised) between a hint point's anchor lightness (where it was put) and the lightness
    # where it is now, at which the point's confidence falls to 1/e: the guard against a point
    # drifting onto other content over thousands of frames. Wider than photo_sigma, which judges one
    # step: over a whole shot the light under a well-tracked point may change a little (exposure,
    # flicker, grain); drifting onto another region changes it by more (0.2 = 10 L*). Set by this
    # reasoning, not tuned on the validation split as the others were
    anchor_sigma: float = 0.2
    spread_sigma: float = 0.15  # spatial reach of the residual spread, fraction of the frame's diagonal
    spread_luma: float = 0.3  # |ΔL| (normalised) at which the spread falls to 1/e (edge awareness)
    spread_eps: float = 1.0  # confidence mass (px) that keeps the spread at half strength far from hints
    pool: int = 4  # the spread is computed on cells of pool x pool pixels
    max_keys: int = 256  # guidance is pooled into at most this many cells for the spread
    point_radius: float = 0.012  # radius of a hint point, fraction of the frame's short side
    guide_short: int = 96  # guides are computed at about this short side (px), then scaled up


# Columns of a hint-point tensor (n,6) or, once placed on its frame (:func:`place_points`), (n,7):
# x, y fractions of width/height; a, b normalised; confidence in [0,1]; reach (how far its colour
# spreads, a fraction of the frame's diagonal; 0: ``spread_sigma``); anchor lightness in [-1,1].
X, Y, A, B, CONF, REACH, ANCHOR = range(7)


@dataclass
class Guide:
    """Known colour at render size: ab (2,h,w) and confidence c (1,h,w) in [0, 1]; ``reach``
    (1,h,w) how far each pixel's colour spreads (fraction of the diagonal; 0 or None: ``spread_sigma``)."""

    ab: torch.Tensor
    c: torch.Tensor
    reach: torch.Tensor | None = None

    @staticmethod
    def empty(h: int, w: int, device: torch.device | str = "cpu") -> Guide:
        return Guide(torch.zeros(2, h, w, device=device), torch.zeros(1, h, w, device=device))

    def merge(self, other: Guide) -> Guide:
        """Per pixel, the more confident of the two guides (its colour and its reach)."""
        take = other.c > self.c
        reach = None
        if self.reach is not None or other.reach is not None:
            mine, theirs = (g.reach if g.reach is not None else torch.zeros_like(g.c) for g in (self, other))
            reach = torch.where(take, theirs, mine)
        return Guide(torch.where(take, other.ab, self.ab), torch.maximum(self.c, other.c), reach)

    @property
    def coverage(self) -> float:
        """Mean confidence over the frame, in [0, 1]."""
        return float(self.c.mean())


def to_u8(L: torch.Tensor) -> np.ndarray:
    """L (1,h,w) in [-1,1] -> (h,w) uint8 for the flow (once per frame; flows reuse it)."""
    return ((L[0].float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).cpu().numpy()


def flow(src: np.ndarray, dst: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Dense optical flow (DIS, OpenCV) from ``src`` to ``dst``: (h,w) uint8 -> (2,h,w) px.

    ``src(x) ~ dst(x + flow(x))``; flow[0] is horizontal, flow[1] vertical.
    """
    return torch.from_numpy(_dis().calc(src, dst, None)).permute(2, 0, 1).to(device)


@functools.cache
def _dis() -> cv2.DISOpticalFlow:
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


@functools.cache
def _grid(h: int, w: int, device: torch.device) -> torch.Tensor:
    """(2,h,w) pixel coordinates (x, y), cached per size and device."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([xs, ys]).to(device)


def _sample(x: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``x`` (C,h,w) at pixel positions (n,) -> (C, n)."""
    _, h, w = x.shape
    grid = torch.stack([px * (2.0 / max(w - 1, 1)) - 1.0, py * (2.0 / max(h - 1, 1)) - 1.0], -1)[None, None]
    return F.grid_sample(x[None].float(), grid, mode="bilinear", padding_mode="border", align_corners=True)[0, :, 0]


def warp(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` (C,h,w) at x + f (f (2,h,w) in px), bilinear, borders replicated."""
    c, h, w = x.shape
    pos = _grid(h, w, x.device) + f
    return _sample(x, pos[0].flatten(), pos[1].flatten()).reshape(c, h, w)


def _inside(f: torch.Tensor) -> torch.Tensor:
    """(1,h,w) 1 where x + f lands inside the frame, else 0."""
    _, h, w = f.shape
    pos = _grid(h, w, f.device) + f
    return ((pos[0] >= -0.5) & (pos[0] <= w - 0.5) & (pos[1] >= -0.5) & (pos[1] <= h - 0.5)).float()[None]


def correspondence(
    L: torch.Tensor, L_src: torch.Tensor, cfg: PropagationConfig, u8: np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where each pixel of ``L`` is found in ``L_src``, and how sure: (flow (2,h,w) from ``L`` to
    ``L_src``, the flow back (2,h,w) from ``L_src`` to ``L``, confidence (1,h,w) per pixel of ``L``).

    Confidence = exp(-(ΔL / photo_sigma)^2) * exp(-(fb / fb_sigma)^2), with ΔL the 3x3-averaged
    lightness difference after warping and fb the forward-backward flow disagreement; 0 where the
    match falls outside ``L_src``. ``u8``: ``to_u8(L)`` when the caller already has it.
    """
    a = to_u8(L) if u8 is None else u8
    b = to_u8(L_src)
    fw, bw = flow(a, b, L.device), flow(b, a, L.device)
    dl = F.avg_pool2d((L - warp(L_src, fw)).abs()[None], 3, stride=1, padding=1)[0]
    fb = (fw + warp(bw, fw)).square().sum(0, keepdim=True)
    c = torch.exp(-((dl / cfg.photo_sigma) ** 2) - fb / cfg.fb_sigma**2) * _inside(fw)
    return fw, bw, c


def match_histogram(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``x`` with its values remapped so their distribution is ``target``'s (rank -> quantile)."""
    flat = x.flatten()
    ranks = torch.empty_like(flat, dtype=torch.long)
    ranks[flat.argsort()] = torch.arange(flat.numel(), device=x.device)
    q = torch.sort(target.flatten()).values
    idx = (ranks.float() * (q.numel() - 1) / max(flat.numel() - 1, 1)).round().long()
    return q[idx].reshape(x.shape)


def match(
    L: torch.Tensor, ref_L: torch.Tensor, ref_ab: torch.Tensor, cfg: PropagationConfig, u8: np.ndarray | None = None
) -> Guide:
    """A reference (L, ab at this render size) as a guide for a frame of lightness ``L``.

    The reference's lightness is first given the frame's histogram: a colour still from another
    print, or a frame graded brighter by the colourist, still matches where the content does."""
    f, _back, c = correspondence(L, match_histogram(ref_L, L), cfg, u8)
    return Guide(warp(ref_ab, f), c)


def carry(guide: Guide, fw: torch.Tensor, c: torch.Tensor, cfg: PropagationConfig) -> Guide:
    """The previous frame's guide moved to the current frame: ``fw`` (2,h,w) is the flow from the
    current frame to the previous one, ``c`` (1,h,w) the confidence of that correspondence.

    The carried confidence also loses ``decay`` a frame: this guide holds the references' colour,
    matched afresh on the frames of their shot (a sure fresh match takes over from colour carried,
    and bilinearly eroded, for long), and painted strokes, which so fade over a long shot. Hint
    points are carried by :func:`move_points`, without decay."""
    if float(guide.c.max()) < cfg.min_conf:
        return guide
    moved = warp(torch.cat([guide.ab * guide.c, guide.c]), fw)
    conf = moved[2:].clamp(0, 1)
    ab = moved[:2] / conf.clamp_min(1e-6)
    conf = _keep(conf, c, cfg, cfg.decay)
    return Guide(ab, torch.where(conf >= cfg.min_conf, conf, torch.zeros_like(conf)))


def _keep(conf: torch.Tensor, c: torch.Tensor, cfg: PropagationConfig, decay: float = 1.0) -> torch.Tensor:
    # min, not product: a pixel tracked well for 100 frames keeps its confidence; a step the flow
    # is unsure of (fast motion, noise) costs at most a share of it, occlusion over several frames all
    return torch.minimum(conf * decay, torch.maximum(c, cfg.carry_floor * conf))


def _window_L(L: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Mean lightness of the 3x3 window around pixel positions (n,) of ``L`` (1,h,w) -> (n,), bilinear
    between windows. A window, not one pixel: noise and grain average out, texture does not flicker."""
    box = F.avg_pool2d(L[None].float(), 3, stride=1, padding=1, count_include_pad=False)[0]
    return _sample(box, px, py)[0]


def place_points(points: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """Hint points (n,6) (columns X..REACH) put on the frame of lightness ``L`` (1,h,w) in [-1,1]
    they are drawn on -> (n,7), with each point's anchor lightness (:func:`_window_L` at the point,
    in [-1,1]) appended (ANCHOR): what :func:`move_points` checks it against."""
    _, h, w = L.shape
    anchor = _window_L(L, points[:, X] * w - 0.5, points[:, Y] * h - 0.5)[:, None]
    return torch.cat([points[:, : REACH + 1], anchor], 1)


def move_points(
    points: torch.Tensor, bw: torch.Tensor, c: torch.Tensor, L: torch.Tensor, cfg: PropagationConfig
) -> torch.Tensor:
    """Placed hint points (n,7) (columns X..ANCHOR; :func:`place_points`) moved along ``bw`` (2,h,w),
    the flow from the previous frame to the current one; ``c`` (1,h,w) is the current frame's
    correspondence confidence and ``L`` (1,h,w) its lightness. -> (m,7), m <= n: points that leave
    the frame or fall under ``min_conf`` are dropped.

    Points move as points (not as painted discs, which bilinear warping would erode a little every
    frame), so a hint keeps its size and colour for as long as the motion is followed. They keep
    their confidence too (no per-frame decay: a hint holds its region's colour through a shot of
    any length); it falls only where the correspondence doubts the step (``c``: occlusion, fast
    motion) or where the lightness under the point no longer agrees with its anchor
    (exp(-(ΔL / anchor_sigma)^2): the point has drifted onto other content). Both as a minimum, so
    a point's confidence never rises again once doubted."""
    if not len(points):
        return points
    _, h, w = bw.shape
    px, py = points[:, 0] * w - 0.5, points[:, 1] * h - 0.5
    d = _sample(bw, px, py)
    px, py = px + d[0], py + d[1]
    inside = (px >= -0.5) & (px <= w - 0.5) & (py >= -0.5) & (py <= h - 0.5)
    agree = torch.exp(-(((_window_L(L, px, py) - points[:, ANCHOR]) / cfg.anchor_sigma) ** 2))
    conf = torch.minimum(_keep(points[:, CONF], _sample(c, px, py)[0], cfg), agree)
    moved = points.clone()
    moved[:, X], moved[:, Y], moved[:, CONF] = (px + 0.5) / w, (py + 0.5) / h, conf
    return moved[inside & (conf >= cfg.min_conf)]


def spread(
    L: torch.Tensor,
    residual: torch.Tensor,
    c: torch.Tensor,
    cfg: PropagationConfig,
    reach: torch.Tensor | None = None,
) -> torch.Tensor:
    """Edge-aware interpolation of a sparse residual: (L (1,h,w), residual (2,h,w), c (1,h,w)) -> (2,h,w).

    Each cell q of ``pool`` px takes sum_s K(q,s) m_s r_s / (sum_s K(q,s) m_s + spread_eps) over
    the key cells s holding guidance (mass m_s = summed confidence, r_s their mean residual), with
    K = exp(-d^2 / 2 (sigma_s * diagonal)^2 - (L_q - L_s)^2 / spread_luma^2), sigma_s the key's
    reach (``reach`` (1,h,w), confidence-weighted over its cell; 0 or None: ``spread_sigma``): a hint
    given a small reach colours its own region, not the frame. Far from any guidance the result
    falls to 0, so the automatic colour is kept there. Keys are pooled coarser (at most
    ``max_keys`` cells) so a dense guide costs what a sparse one does.
    """
    _, h, w = L.shape
    k = cfg.pool
    kk = max(k, math.ceil(math.sqrt(h * w / cfg.max_keys)))  # key cell size

    def pooled(x: torch.Tensor, size: int) -> torch.Tensor:  # sums over size x size cells
        return F.avg_pool2d(x[None], size, ceil_mode=True)[0] * (size * size)

    mass = pooled(c, kk)  # (1,Hk,Wk)
    keys = mass[0].flatten() > cfg.min_conf
    if not bool(keys.any()):
        return torch.zeros_like(residual)
    m = mass.flatten()[keys]
    Ls = pooled(L * c, kk).flatten()[keys] / m
    rs = pooled(residual * c, kk).flatten(1)[:, keys] / m  # (2,K)
    ps = (_grid(*mass.shape[-2:], L.device) * kk + (kk - 1) / 2).flatten(1)[:, keys]  # (2,K) centres, px
    Lq = F.avg_pool2d(L[None], k, ceil_mode=True)[0]
    H, W = Lq.shape[-2:]
    pq = (_grid(H, W, L.device) * k + (k - 1) / 2).flatten(1)  # (2,Q)
    if reach is None:
        sigma: torch.Tensor | float = cfg.spread_sigma
    else:
        sigma = pooled(torch.where(reach > 0, reach, cfg.spread_sigma) * c, kk).flatten()[keys] / m  # (K,)
    s2 = 2 * (sigma * math.hypot(h, w)) ** 2
    d2 = ((pq[0][:, None] - ps[0][None]) ** 2 + (pq[1][:, None] - ps[1][None]) ** 2) / s2
    dl2 = (Lq.flatten()[:, None] - Ls[None]) ** 2 / cfg.spread_luma**2
    K = torch.exp(-d2 - dl2) * m[None]  # (Q,K)
    out = (K @ rs.T) / (K.sum(1, keepdim=True) + cfg.spread_eps)  # (Q,2)
    return F.interpolate(out.T.reshape(1, 2, H, W), size=(h, w), mode="bilinear", align_corners=False)[0]


def guide_factor(h: int, w: int, cfg: PropagationConfig) -> int:
    """Guides work at 1/factor of the render size (short side about ``guide_short`` px): colour is
    smooth, and flow, warps and spreading cost factor^2 less."""
    return max(1, round(min(h, w) / cfg.guide_short))


def shrink(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(C,h,w) -> (C, ceil(h/factor), ceil(w/factor)) by area averaging; ``x`` itself at factor 1."""
    return x if factor == 1 else F.avg_pool2d(x[None], factor, ceil_mode=True)[0]


def fuse(L: torch.Tensor, ab: torch.Tensor, guide: Guide, cfg: PropagationConfig) -> torch.Tensor:
    """Automatic ab (2,h,w) at render size + a guide (at render size or smaller) -> guided ab (2,h,w).

    out = ab + up(c (g - ab) + (1 - c) spread(g - ab)), computed at the guide's size: where the guide
    is sure its colour replaces the automatic one, near it the automatic colour is corrected, far
    from it nothing changes. Returns ``ab`` itself when the guide is empty."""
    if float(guide.c.max()) < cfg.min_conf:
        return ab
    factor = round(L.shape[-1] / guide.c.shape[-1])
    Lg, abg = (shrink(x, factor) for x in (L, ab))
    c = torch.where(guide.c >= cfg.min_conf, guide.c, torch.zeros_like(guide.c))
    residual = guide.ab - abg
    delta = c * residual + (1.0 - c) * spread(Lg, residual, c, cfg, guide.reach)
    if factor > 1:
        delta = F.interpolate(delta[None], size=ab.shape[-2:], mode="bilinear", align_corners=False)[0]
    return ab + delta


def point_guide(points: torch.Tensor, h: int, w: int, cfg: PropagationConfig) -> Guide:
    """Hint points (n,5..7) (columns X..CONF, then REACH and ANCHOR where present; ANCHOR is not used
    here) -> a guide of small discs (radius ``point_radius`` of the short side, at least 1 px) with
    each point's reach. Where discs overlap, the colour and reach are their confidence-weighted
    mean and the confidence their maximum. Vectorised: a hint file of ten thousand points costs
    milliseconds per frame."""
    g = Guide.empty(h, w, device=points.device)
    if not len(points):
        return g
    r = max(1.0, cfg.point_radius * min(h, w))
    k = math.ceil(r)
    dy, dx = torch.meshgrid(torch.arange(-k, k + 1), torch.arange(-k, k + 1), indexing="ij")
    px, py = points[:, 0] * w - 0.5, points[:, 1] * h - 0.5  # (n,) pixel coordinates
    cx, cy = (
        px.round().long()[:, None] + dx.flatten().to(points.device),
        py.round().long()[:, None] + dy.flatten().to(points.device),
    )
    inside_disc = (cx - px[:, None]) ** 2 + (cy - py[:, None]) ** 2 <= r * r
    nearest = (dx.flatten() == 0) & (dy.flatten() == 0)  # a point between pixel centres still marks one pixel
    keep = (inside_disc | nearest.to(points.device)[None]) & (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
    idx = (cy * w + cx)[keep]
    conf = points[:, 4:5].expand_as(cx)[keep]
    c = torch.zeros(h * w, device=points.device).scatter_reduce(0, idx, conf, "amax")
    wsum = torch.zeros(h * w, device=points.device).index_add_(0, idx, conf)

    def mean(v: torch.Tensor) -> torch.Tensor:  # (n,) a value per point -> (h, w), confidence-weighted over discs
        total = torch.zeros(h * w, device=points.device).index_add_(0, idx, v[:, None].expand_as(cx)[keep] * conf)
        return (total / wsum.clamp_min(1e-9)).reshape(h, w)

    g.ab[0], g.ab[1] = mean(points[:, A]), mean(points[:, B])
    g.c[0] = c.reshape(h, w)
    if points.shape[1] > REACH and bool((points[:, REACH] > 0).any()):  # else every point has the default
        g.reach = mean(torch.where(points[:, REACH] > 0, points[:, REACH], cfg.spread_sigma))[None]
    return g
