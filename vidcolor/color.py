"""Colour maths: sRGB <-> CIE Lab (D65) with kornia, and the [-1, 1] normalisation the model sees.

Ranges (all tensors float, any device):
    RGB: (*, 3, H, W) in [0, 1], sRGB-encoded.
    Lab: (*, 3, H, W), L in [0, 100], a and b roughly in [-110, 110] for sRGB colours.
    normalised: L_n = L / 50 - 1 in [-1, 1];  ab_n = ab / 110 in about [-1, 1].
"""

from __future__ import annotations

import functools

import kornia.color
import torch

AB_SCALE = 110.0
L_SCALE = 50.0


def _check(x: torch.Tensor, channels: int, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 3 or x.shape[-3] != channels:
        raise ValueError(f"{name} must have shape (*, {channels}, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB (*,3,H,W) in [0,1] -> Lab (*,3,H,W), L in [0,100]. Computed in float32."""
    _check(rgb, 3, "rgb")
    return kornia.color.rgb_to_lab(rgb.float().clamp(0.0, 1.0))


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """Lab (*,3,H,W) -> sRGB (*,3,H,W) clipped to [0,1] (out-of-gamut colours are clipped);
    ``clip=False``: as computed, so a colour sRGB cannot show is seen outside [0,1]."""
    _check(lab, 3, "lab")
    return kornia.color.lab_to_rgb(lab.float(), clip=clip)


def normalize_lab(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab (*,3,H,W) -> (L_n (*,1,H,W) in [-1,1], ab_n (*,2,H,W) in about [-1,1])."""
    _check(lab, 3, "lab")
    return lab[..., :1, :, :] / L_SCALE - 1.0, lab[..., 1:, :, :] / AB_SCALE


def denormalize_lab(L_n: torch.Tensor, ab_n: torch.Tensor) -> torch.Tensor:
    """(L_n (*,1,H,W), ab_n (*,2,H,W)) in [-1,1] -> Lab (*,3,H,W)."""
    _check(L_n, 1, "L")
    _check(ab_n, 2, "ab")
    if L_n.shape[-2:] != ab_n.shape[-2:]:
        raise ValueError(f"L and ab sizes differ: {tuple(L_n.shape)} vs {tuple(ab_n.shape)}")
    return torch.cat([(L_n.float() + 1.0) * L_SCALE, ab_n.float() * AB_SCALE], dim=-3)


def rgb_to_model(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB (*,3,H,W) in [0,1] -> normalised (L_n, ab_n), the generator's input and target."""
    return normalize_lab(rgb_to_lab(rgb))


def model_to_rgb(L_n: torch.Tensor, ab_n: torch.Tensor) -> torch.Tensor:
    """Normalised (L_n, ab_n) -> sRGB (*,3,H,W) in [0,1]."""
    return lab_to_rgb(denormalize_lab(L_n, ab_n))


def rgb_to_gray_L(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB (*,3,H,W) -> normalised L (*,1,H,W): what a black-and-white copy of the image shows."""
    return rgb_to_model(rgb)[0]


_LUMINANCE = (0.212671, 0.715160, 0.072169)  # Y row of kornia's linear sRGB -> XYZ (D65) matrix


@functools.cache
def _srgb_lut(device: torch.device) -> torch.Tensor:
    """8-bit sRGB -> linear light, 256 entries (one per device)."""
    v = torch.arange(256, dtype=torch.float64) / 255.0
    lin = torch.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)
    return lin.float().to(device)


def uint8_rgb_to_L(rgb: torch.Tensor) -> torch.Tensor:
    """8-bit sRGB (N,3,H,W) uint8 -> normalised L (N,1,H,W) in [-1,1], without the a/b work.

    Same L as :func:`rgb_to_gray_L` (CIE L* of the D65 luminance), via a 256-entry table for the
    sRGB transfer curve: the pipeline's hot path needs only lightness.
    """
    if rgb.dtype != torch.uint8 or rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"expected uint8 RGB of shape (N,3,H,W), got {rgb.dtype} {tuple(rgb.shape)}")
    lin = _srgb_lut(rgb.device)[rgb.long()]
    y = _LUMINANCE[0] * lin[:, 0:1] + _LUMINANCE[1] * lin[:, 1:2] + _LUMINANCE[2] * lin[:, 2:3]
    eps = (6.0 / 29.0) ** 3
    f = torch.where(y > eps, y.clamp_min(eps).pow(1.0 / 3.0), y * (841.0 / 108.0) + 4.0 / 29.0)
    return (116.0 * f - 16.0) / L_SCALE - 1.0


def chroma(rgb: torch.Tensor) -> torch.Tensor:
    """Mean Lab chroma sqrt(a^2+b^2) per image, (*,3,H,W) -> (*,). Near 0 for grayscale images."""
    lab = rgb_to_lab(rgb)
    return lab[..., 1:, :, :].pow(2).sum(-3).sqrt().mean((-2, -1))


@functools.cache
def _gray_lut(device: torch.device) -> torch.Tensor:
    """8-bit gray -> normalised L, 256 entries (one per device)."""
    levels = torch.arange(256, dtype=torch.uint8, device=device).reshape(1, 1, 1, 256).expand(1, 3, 1, 256)
    return uint8_rgb_to_L(levels.contiguous()).flatten()


def uint8_gray_to_L(y: torch.Tensor) -> torch.Tensor:
    """8-bit gray (N,1,H,W) uint8 -> normalised L (N,1,H,W): :func:`uint8_rgb_to_L` of R = G = B = y,
    by a 256-entry table (cut detection on a whole film needs only this)."""
    if y.dtype != torch.uint8 or y.ndim != 4 or y.shape[1] != 1:
        raise ValueError(f"expected uint8 gray of shape (N,1,H,W), got {y.dtype} {tuple(y.shape)}")
    return _gray_lut(y.device)[y.long()]
