"""The eager PyTorch engine: the reference every other engine is checked against.

Inference-only rewrites that do not change the maths beyond float rounding: batch norm folded into
the preceding convolution, channels-last memory layout (faster oneDNN kernels on CPU), and an
optional autocast precision (``precision="bf16"`` or ``"fp16"``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from vidcolor.engines import register_engine
from vidcolor.model import ColorNet

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str) -> torch.dtype | None:
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {list(DTYPES)}, got {precision!r}")
    return DTYPES[precision]


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Return an eval-mode copy of ``module`` with every Conv2d -> BatchNorm2d pair fused."""
    module = copy.deepcopy(module).eval()
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
                seq[i + 1] = nn.Identity()
    return module


class Core(nn.Module):
    """The generator's network without its padding, as engines run and export it."""

    def __init__(self, generator: ColorNet) -> None:
        super().__init__()
        self.generator = fold_batchnorm(generator)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.generator.core(L)


class EagerEngine:
    def __init__(self, generator: ColorNet, device: torch.device, precision: str = "fp32") -> None:
        self.dtype = check_precision(precision)
        self.device = device
        self.model = Core(generator).to(device).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, L: torch.Tensor) -> torch.Tensor:
        x = L.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)
        if self.dtype is None:
            return self.model(x).contiguous()
        with torch.autocast(self.device.type, dtype=self.dtype):
            return self.model(x).float().contiguous()


def _unavailable(device: torch.device) -> str | None:
    return "no CUDA device" if device.type == "cuda" and not torch.cuda.is_available() else None


@register_engine(
    "eager", description="PyTorch eager; BN folded, channels-last; fp32 | bf16 | fp16", unavailable=_unavailable
)
def _create(generator: ColorNet, device: torch.device, precision: str = "fp32", **_options: object) -> EagerEngine:
    return EagerEngine(generator, device, precision)
