"""Image quality metrics shared by training validation and ``vidcolor eval``."""

from __future__ import annotations

import torch


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB.

    Args:
        pred, target: (N, C, H, W) with values in [0, data_range].
    Returns:
        (N,) PSNR = 10 log10(data_range^2 / MSE); +inf where the images are identical.
    """
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(
            f"psnr needs two (N,C,H,W) tensors of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    mse = (pred.float() - target.float()).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range**2 / mse)
