import copy

import pytest
import torch

from vidcolor.config import GeneratorConfig
from vidcolor.engines import create_engine, engine_unavailable
from vidcolor.engines.cache import set_cache_dir
from vidcolor.model import Generator

TOL = {"fp32": 1e-3, "bf16": 0.05, "fp16": 0.02}  # fp32: TF32 convolutions (cuDNN's default) on CUDA


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(base=8, depth=4, max_channels=32))
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    return g.eval()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    ("name", "precision"),
    [("eager", "fp32"), ("eager", "fp16"), ("eager", "bf16"), ("compile", "fp16"), ("onnxruntime", "fp32")],
)
def test_engine_parity_on_cuda(generator, name, precision, tmp_path):
    reason = engine_unavailable(name, "cuda")
    if reason:
        pytest.skip(reason)
    set_cache_dir(tmp_path)
    g = copy.deepcopy(generator).to("cuda")  # as the pipeline loads it
    engine = create_engine(name, g, "cuda", precision=precision)
    for shape in [(1, 1, 64, 64), (3, 1, 37, 75), (5, 1, 64, 128)]:
        L = torch.rand(shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
        with torch.no_grad():
            ref = generator(L)
        out = engine(L.to("cuda"))
        assert out.device.type == "cuda" and out.dtype == torch.float32
        assert (out.cpu() - ref).abs().max() < TOL[precision], (name, precision, shape)
    assert next(g.parameters()).device.type == "cuda"  # building an engine leaves the caller's model alone
    set_cache_dir(None)
