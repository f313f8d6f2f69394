"""The ``tensorrt`` engine: a TensorRT engine built from the ONNX export, run on torch CUDA tensors.

Written to TensorRT 10's documented Python API (Builder, OnnxParser, an optimisation profile over
batch and render size, ``execute_async_v3`` with tensor addresses). FP16 by default. Serialized
engines are cached, keyed by weights, profile, TensorRT version and GPU name; a cached engine
that fails to deserialize or disagrees with the eager model is rebuilt.

TensorRT is optional and imported lazily: without a CUDA device or the ``tensorrt`` package this
engine reports itself unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from vidcolor.engines import cache, module_missing, register_engine
from vidcolor.engines.onnx import cached_onnx, reference_check
from vidcolor.errors import ProcessingError
from vidcolor.model import ColorNet

PARITY_ATOL = {"fp32": 1e-2, "fp16": 5e-2}  # TF32/FP16 kernels; ab in normalised units


@dataclass(frozen=True)
class Profile:
    """Optimisation profile: shapes (N, H, W) TensorRT tunes for and accepts."""

    min: tuple[int, int, int]
    opt: tuple[int, int, int]
    max: tuple[int, int, int]


def default_profile(
    multiple: int, batch: int = 8, opt_hw: tuple[int, int] = (256, 448), max_side: int = 1024
) -> Profile:
    return Profile((1, multiple, multiple), (batch, *opt_hw), (max(batch, 32), max_side, max_side))


def build_engine(onnx_path, profile: Profile, precision: str) -> bytes:
    """Parse ONNX, build and serialize a TensorRT engine for ``profile``."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ProcessingError(f"TensorRT could not parse the ONNX graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 2 << 30)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    opt = builder.create_optimization_profile()
    opt.set_shape(
        "L",
        (profile.min[0], 1, *profile.min[1:]),
        (profile.opt[0], 1, *profile.opt[1:]),
        (profile.max[0], 1, *profile.max[1:]),
    )
    config.add_optimization_profile(opt)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ProcessingError("TensorRT engine build failed")
    return bytes(serialized)


class TensorRTEngine:
    def __init__(
        self,
        generator: ColorNet,
        device: torch.device,
        precision: str = "fp16",
        profile: Profile | None = None,
    ) -> None:
        import tensorrt as trt

        if precision not in PARITY_ATOL:
            raise ValueError(f"the tensorrt engine runs fp16 or fp32, not {precision}")
        self.device = device if device.index is not None else torch.device("cuda", torch.cuda.current_device())
        self.profile = profile or default_profile(generator.config.multiple)
        onnx_path = cached_onnx(generator)
        key = {
            "weights": cache.weights_digest(generator),
            "profile": self.profile,
            "precision": precision,
            "tensorrt": trt.__version__,
            "gpu": torch.cuda.get_device_name(self.device),
            "capability": torch.cuda.get_device_capability(self.device),
        }
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))

        def load(path: Path) -> bool:
            self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
            if self.engine is None:
                return False
            self.context = self.engine.create_execution_context()
            return reference_check(self, generator, PARITY_ATOL[precision])

        cache.load_checked(
            lambda: cache.build_once(
                cache.entry("tensorrt", ".plan", **key),
                lambda tmp: tmp.write_bytes(build_engine(onnx_path, self.profile, precision)),
            ),
            load,
            "tensorrt engine: built engine",
        )

    def __call__(self, L: torch.Tensor) -> torch.Tensor:
        n, _, h, w = L.shape
        lo, hi = self.profile.min, self.profile.max
        if not (lo[0] <= n <= hi[0] and lo[1] <= h <= hi[1] and lo[2] <= w <= hi[2]):
            raise ValueError(f"input {n}x{h}x{w} is outside the TensorRT profile {self.profile}")
        x = L.to(self.device, torch.float32).contiguous()
        out = torch.empty((n, 2, h, w), device=self.device, dtype=torch.float32)
        self.context.set_input_shape("L", tuple(x.shape))
        self.context.set_tensor_address("L", x.data_ptr())
        self.context.set_tensor_address("ab", out.data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise ProcessingError("TensorRT execution failed")
        stream.synchronize()
        return out


def _unavailable(device: torch.device) -> str | None:
    if device.type != "cuda" or not torch.cuda.is_available():
        return "no CUDA device"
    return module_missing("tensorrt", "tensorrt") or module_missing("onnxscript", "onnx")


@register_engine(
    "tensorrt",
    description="TensorRT from the ONNX export; fp16 (default) | fp32; engine cached",
    unavailable=_unavailable,
    precisions=("fp16", "fp32"),
)
def _create(generator: ColorNet, device: torch.device, precision: str = "fp16", **options: object) -> TensorRTEngine:
    return TensorRTEngine(generator, device, precision, options.get("profile"))  # type: ignore[arg-type]
