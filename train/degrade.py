"""Film-like degradations of the gray input, for training on what archive footage looks like.

A colour photo turned gray is clean: full contrast, no grain, sharp. Real black-and-white film and
its transfers are not: grain, soft focus, low or crushed contrast, other tone curves, brightness
that changes from frame to frame, compression blocks, dust and scratches. :func:`degrade` applies
a random mix of these to L only; the target ab stays the clean truth, so the generator learns to
see through them rather than to colour them.

Everything works on a batch on any device and draws all randomness from one ``torch.Generator``,
so a run (and its resume) sees the same degradations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.enhance import jpeg_codec_differentiable
from kornia.filters import gaussian_blur2d

#: Chance of each effect for a picture that is degraded at all.
EFFECTS = {"tone": 0.8, "blur": 0.5, "grain": 0.6, "dust": 0.3, "scratches": 0.2, "vignette": 0.3, "jpeg": 0.3}


def _u(gen: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def degrade(L: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Degrade a share ``p`` of a batch of L like old film; the rest passes unchanged.

    Args:
        L: (N,1,H,W) model-range L in [-1, 1].
        p: chance that a picture is degraded (0 = off, returns ``L`` itself).
        gen: a CPU generator: every random choice comes from it (per-pixel noise is drawn on the
            device, from a device generator seeded by ``gen``: same run, same degradations).

    Returns:
        (N,1,H,W) in [-1, 1], same dtype and device.
    """
    if p <= 0:
        return L
    n, _, h, w = L.shape
    dev = L.device
    on = torch.rand(n, generator=gen) < p
    # Per-pixel noise is drawn where the batch lives: drawing it on the CPU made a GPU run CPU-bound.
    dgen = torch.Generator(device=dev).manual_seed(int(torch.randint(2**62, (1,), generator=gen)))

    def pick(effect: str) -> torch.Tensor:
        return (on & (torch.rand(n, generator=gen) < EFFECTS[effect])).to(dev).view(n, 1, 1, 1)

    def col(t: torch.Tensor) -> torch.Tensor:
        return t.to(dev, L.dtype).view(n, 1, 1, 1)

    x = (L.float() + 1.0) * 0.5  # [0, 1]

    # Tone: contrast around mid-gray, a gamma curve, brightness offset (also stands for frame-to-frame
    # flicker), then clipping: crushed blacks and blown whites.
    tone = pick("tone")
    contrast, gamma, offset = _u(gen, n, 0.55, 1.25), _u(gen, n, 0.65, 1.5), _u(gen, n, -0.12, 0.12)
    t = ((x - 0.5) * col(contrast) + 0.5 + col(offset)).clamp(0, 1) ** col(gamma)
    x = torch.where(tone, t, x)

    # Soft focus / a soft print.
    blur = pick("blur")
    sigma = _u(gen, n, 0.4, 1.8)
    b = gaussian_blur2d(x, 7, torch.stack([sigma, sigma], 1).to(dev, x.dtype), border_type="replicate")
    x = torch.where(blur, b, x)

    # Vignette: darker corners of old lenses and projectors.
    vig = pick("vignette")
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h, device=dev), torch.linspace(-1, 1, w, device=dev), indexing="ij")
    r2 = (xx**2 + yy**2)[None, None] / 2
    x = torch.where(vig, x * (1 - col(_u(gen, n, 0.1, 0.5)) * r2), x)

    # Grain: noise, strongest in mid-tones, sometimes clumped (blurred) into bigger grains.
    grain = pick("grain")
    noise = torch.randn(n, 1, h, w, generator=dgen, device=dev)
    noise = torch.where(
        col(torch.rand(n, generator=gen) < 0.5) > 0,
        gaussian_blur2d(noise, 5, (0.8, 0.8), border_type="replicate") * 2.0,
        noise,
    )
    amp = col(_u(gen, n, 0.01, 0.07)) * (4 * x * (1 - x)).clamp_min(0.25)
    x = torch.where(grain, x + amp * noise, x)

    # Dust: small bright or dark specks.
    dust = pick("dust")
    seeds = (torch.rand(n, 1, h, w, generator=dgen, device=dev) < col(_u(gen, n, 2e-4, 1.5e-3))).to(x.dtype)
    specks = F.max_pool2d(seeds, 3, stride=1, padding=1) if h >= 3 and w >= 3 else seeds
    bright = col((torch.rand(n, generator=gen) < 0.5).float())
    x = torch.where(dust & (specks > 0), bright * 0.95 + (1 - bright) * 0.05, x)

    # Scratches: thin vertical lines along the film, full or partial height.
    scr = pick("scratches")
    k = 3
    cols = (torch.rand(n, k, generator=gen) * w).long().clamp_max(w - 1)
    present = torch.rand(n, k, generator=gen) < 0.6
    lines = torch.zeros(n, w)
    lines.scatter_(1, cols, present.float())
    start, stop = _u(gen, n, 0.0, 0.5), _u(gen, n, 0.5, 1.0)
    rows = torch.linspace(0, 1, h)
    span = (rows[None, :] >= start[:, None]) & (rows[None, :] <= stop[:, None])  # (n, h)
    mask = (span[:, :, None] & (lines[:, None, :] > 0)).view(n, 1, h, w).to(dev)
    light = col(_u(gen, n, 0.0, 1.0))
    x = torch.where(scr & mask, 0.5 * x + 0.5 * light, x)

    # Compression blocks of a web copy or an old digital transfer.
    jpeg = pick("jpeg")
    if bool(jpeg.any()):
        quality = _u(gen, n, 15.0, 60.0).to(dev)
        j = jpeg_codec_differentiable(x.clamp(0, 1).expand(n, 3, h, w).contiguous(), quality)
        x = torch.where(jpeg, j.mean(1, keepdim=True), x)

    return (x.clamp(0, 1) * 2.0 - 1.0).to(L.dtype)
