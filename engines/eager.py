"""The eager PyTorch engine: the reference every other engine is checked against.

Inference-only rewrites that do not change the maths beyond float rounding: batch norm folded into
the preceding convolution, channels-last memory layout (faster oneDNN kernels on CPU), and an
optional autocast precision (``precision="bf16"`` or ``"fp16"``).
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from vidcolor.device import precision_dtype
from vidcolor.engines import register_engine
from vidcolor.model import ColorNet


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Return an eval-mode copy of ``module`` with every Conv2d -> BatchNorm2d pair fused.

    A pair is a convolution and a batch norm registered one after the other in the same parent
    (a Sequential, or a timm block's ``conv_pw``/``bn1`` attributes), which is the order they run
    in for the networks vidcolor builds; :class:`Core` checks the result against the unfused model
    and keeps the unfused one if they ever disagree.
    """
    module = copy.deepcopy(module).eval()
    for parent in list(module.modules()):
        names = list(parent._modules)
        for a, b in itertools.pairwise(names):
            owner, key = parent, a
            while isinstance(owner._modules[key], nn.Sequential) and len(
                owner._modules[key]
            ):  # a deep stem's last conv
                owner, key = owner._modules[key], list(owner._modules[key]._modules)[-1]
            conv, bn = owner._modules[key], parent._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and conv.out_channels == bn.num_features:
                owner._modules[key] = fuse_conv_bn_eval(conv, bn)
                parent._modules[b] = _after_norm(bn)
    return module


def _after_norm(bn: nn.BatchNorm2d) -> nn.Module:
    """What a fused norm leaves: nothing, or (timm's BatchNormAct2d) its dropout and activation."""
    rest = [m for m in (getattr(bn, "drop", None), getattr(bn, "act", None)) if isinstance(m, nn.Module)]
    rest = [m for m in rest if not isinstance(m, nn.Identity)]
    return nn.Sequential(*rest) if rest else nn.Identity()


class Core(nn.Module):
    """The generator's network without its padding, as engines run and export it."""

    def __init__(self, generator: ColorNet) -> None:
        super().__init__()
        folded = fold_batchnorm(generator)
        m = generator.config.multiple
        L = torch.rand(2, 1, m, 2 * m, generator=torch.Generator().manual_seed(0)) * 2 - 1
        with torch.inference_mode():
            ref = copy.deepcopy(generator).eval().float().cpu().core(L)
            same = (folded.float().cpu().core(L) - ref).abs().max() <= 1e-4
        self.generator = folded if same else copy.deepcopy(generator).eval()

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.generator.core(L)


class EagerEngine:
    def __init__(self, generator: ColorNet, device: torch.device, precision: str = "fp32") -> None:
        self.dtype = precision_dtype(precision)
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
