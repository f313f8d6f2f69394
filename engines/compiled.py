"""The ``compile`` engine: ``torch.compile`` (inductor) of the eager engine's model.

Compiles once per input shape family (dynamic shapes off: each new batch size or render size
recompiles, which a video run does once or twice). Needs a C++ compiler on CPU (inductor's
codegen) or Triton on CUDA; the first call is slow (tens of seconds on 2 CPU cores).
"""

from __future__ import annotations

import logging
import shutil

import torch

from vidcolor.engines import register_engine
from vidcolor.engines.eager import EagerEngine
from vidcolor.model import ColorNet


class CompiledEngine(EagerEngine):
    def __init__(self, generator: ColorNet, device: torch.device, precision: str = "fp32") -> None:
        super().__init__(generator, device, precision)
        if device.type == "cpu":  # inductor's C++ build says "No CUDA runtime is found, using CUDA_HOME=...":
            logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # true and beside the point
        self.model = torch.compile(self.model, backend="inductor", dynamic=False)


def _unavailable(device: torch.device) -> str | None:
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "no CUDA device"
        try:
            import triton  # noqa: F401
        except ImportError:
            return "triton not installed (torch.compile needs it on CUDA)"
        return None
    if not (shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")):
        return "no C++ compiler found (inductor compiles C++ kernels on CPU)"
    return None


@register_engine(
    "compile", description="torch.compile (inductor); fp32 | bf16 | fp16; slow first call", unavailable=_unavailable
)
def _create(generator: ColorNet, device: torch.device, precision: str = "fp32", **_options: object) -> CompiledEngine:
    return CompiledEngine(generator, device, precision)
