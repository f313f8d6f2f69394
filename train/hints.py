"""Simulated colour hints for training a hint-capable generator (what a user's clicks would give).

Following the user-guided colorization recipe of Zhang et al. (2017): a geometric number of
hints per picture, each a small square of the true colour averaged over the square, at uniformly
random places; a share of the pictures gets none, so the same generator also colorizes alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vidcolor.model import make_hint

SIZES = (1, 3, 5)  # hint square sides, px


def simulate_hints(
    ab: torch.Tensor, gen: torch.Generator, p_none: float = 0.5, mean_points: float = 8.0, max_points: int = 32
) -> torch.Tensor:
    """Hints taken from the true colours of a batch.

    Args:
        ab: (N,2,H,W) true ab in [-1, 1].
        gen: CPU generator for every random choice (device-independent, resumable).
        p_none: share of pictures with no hint at all.
        mean_points: mean number of hints of a picture that has some (geometric, >= 1).
        max_points: cap on hints per picture.

    Returns:
        (N,3,H,W) hint channels (a * mask, b * mask, mask), see :func:`vidcolor.model.make_hint`.
    """
    n, _, h, w = ab.shape
    dev = ab.device
    # Geometric count >= 1 with the given mean, or 0 for the no-hint share.
    q = 1.0 / mean_points
    u = torch.rand(n, generator=gen).clamp_min(1e-12)
    count = (torch.floor(torch.log(u) / torch.log1p(torch.tensor(-q))) + 1).clamp(1, max_points)
    count = torch.where(torch.rand(n, generator=gen) < p_none, torch.zeros_like(count), count).long()
    ys = (torch.rand(n, max_points, generator=gen) * h).long().clamp_max(h - 1)
    xs = (torch.rand(n, max_points, generator=gen) * w).long().clamp_max(w - 1)
    size = torch.randint(len(SIZES), (n, max_points), generator=gen)
    valid = torch.arange(max_points)[None] < count[:, None]
    total = torch.zeros(n, 3, h, w, device=dev)
    flat = (ys * w + xs).to(dev)
    abf = ab.float()
    for i, s in enumerate(SIZES):
        sel = (valid & (size == i)).to(dev)
        if not bool(sel.any()):
            continue
        # The colour of a hint is the mean true colour over its square.
        mean = F.avg_pool2d(abf, s, stride=1, padding=s // 2, count_include_pad=False) if s > 1 else abf
        centres = torch.zeros(n, h * w, device=dev)
        centres.scatter_(1, flat, sel.float())  # 1 at each chosen centre of this size
        centres = centres.view(n, 1, h, w).clamp_max(1)
        # Spread centre -> square (a box sum), carrying colour * weight and weight.
        painted = torch.cat([mean * centres, centres], 1)
        if s > 1:
            painted = F.conv2d(painted, torch.ones(3, 1, s, s, device=dev), padding=s // 2, groups=3)
        total += painted
    weight = total[:, 2:3]
    mask = (weight > 0).float()
    hint_ab = total[:, :2] / weight.clamp_min(1e-6)
    return make_hint(hint_ab, mask).to(ab.dtype)


def random_point_hints(ab: torch.Tensor, points: int, gen: torch.Generator) -> torch.Tensor:
    """Exactly ``points`` single-pixel hints of the true colour per picture (the evaluation protocol).

    ab (N,2,H,W) in [-1, 1] -> (N,3,H,W) hint channels.
    """
    n, _, h, w = ab.shape
    mask = torch.zeros(n, h * w)
    for i in range(n):
        mask[i, torch.randperm(h * w, generator=gen)[:points]] = 1.0
    mask = mask.view(n, 1, h, w).to(ab.device)
    return make_hint(ab.float() * mask, mask).to(ab.dtype)
