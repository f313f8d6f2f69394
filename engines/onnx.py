"""ONNX export and the ``onnxruntime`` engine (CPU; CUDA execution provider where present).

The generator's core (no padding) is exported once with dynamic batch, height and width
(multiples of the model's ``multiple``) and cached; a cached graph is checked against the eager
model on a small input before use and rebuilt if it disagrees or does not load.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import torch

from vidcolor.engines import cache, module_missing, register_engine
from vidcolor.engines.eager import Core
from vidcolor.engines.foreign import METADATA_KEY, MULTIPLE_KEY
from vidcolor.model import ColorNet

OPSET = 18
PARITY_ATOL = 1e-3  # a cached fp32 graph must match eager fp32 to this (ab, normalised units)


def export_onnx(generator: ColorNet, path: str | Path) -> Path:
    """Write the generator (BN folded, no padding) as ONNX with dynamic N, H, W to ``path``."""
    path = Path(path)
    core = Core(generator).to("cpu").float().eval()  # Core copies: the caller's generator stays where it is
    m = generator.config.multiple
    dim = torch.export.Dim
    shapes = {"L": {0: dim("batch", min=1, max=4096), 2: m * dim("h", min=1, max=512), 3: m * dim("w", min=1, max=512)}}
    example = torch.zeros(2, 1, 2 * m, 3 * m)
    # The exporter narrates its passes on stdout; keep the CLI's output clean.
    with contextlib.redirect_stdout(io.StringIO()), torch.inference_mode(False):
        torch.onnx.export(
            core, (example,), str(path), dynamo=True, dynamic_shapes=shapes,
            input_names=["L"], output_names=["ab"], opset_version=OPSET, external_data=False,
        )  # fmt: skip
    mark_vidcolor(path, m)
    return path


def mark_vidcolor(path: Path, multiple: int) -> None:
    """Say in the file's metadata that it is vidcolor's (L in, ab out) and its sizes' multiple, so
    ``--model FILE.onnx`` recognises it (vidcolor.engines.foreign) without a --model-format."""
    import onnx

    model = onnx.load(str(path))
    for key, value in ((METADATA_KEY, "vidcolor"), (MULTIPLE_KEY, str(multiple))):
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def cached_onnx(generator: ColorNet) -> Path:
    import onnx

    key = {
        "weights": cache.weights_digest(generator),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "opset": OPSET,
    }
    return cache.build_once(cache.entry("onnx", ".onnx", **key), lambda tmp: export_onnx(generator, tmp))


def reference_check(engine, generator: ColorNet, atol: float) -> bool:
    """Does ``engine`` agree with eager fp32 on a small random input?"""
    m = generator.config.multiple
    L = torch.rand(2, 1, m, 2 * m, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        ref = Core(generator).to("cpu").float()(L)
    try:
        out = engine(L.to(engine.device)).float().cpu()
    except Exception:
        return False
    return out.shape == ref.shape and bool((out - ref).abs().max() <= atol)


class OrtEngine:
    def __init__(self, generator: ColorNet, device: torch.device, precision: str = "fp32") -> None:
        if precision != "fp32":
            raise ValueError(f"the onnxruntime engine runs fp32, not {precision}")
        import onnxruntime as ort

        self.device = device
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # no busy-waiting between calls: decoding, encoding and guidance share the cores meanwhile
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")

        def load(path: Path) -> bool:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
            return reference_check(self, generator, PARITY_ATOL)

        cache.load_checked(lambda: cached_onnx(generator), load, "onnxruntime engine: exported graph")

    def __call__(self, L: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(L.detach().to("cpu", torch.float32).numpy())
        out = self.session.run(["ab"], {"L": x})[0]
        return torch.from_numpy(out).to(L.device)


@register_engine(
    "onnxruntime",
    description="ONNX Runtime, fp32; CUDA provider where present; graph cached",
    unavailable=lambda d: module_missing("onnxruntime", "onnx") or module_missing("onnxscript", "onnx"),
    precisions=("fp32",),
)
def _create(generator: ColorNet, device: torch.device, precision: str = "fp32", **_options: object) -> OrtEngine:
    return OrtEngine(generator, device, precision)
