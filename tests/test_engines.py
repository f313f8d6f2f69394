import pytest
import torch

from vidcolor.engines import create_engine, engine_unavailable, list_engines
from vidcolor.errors import BadInputError
from vidcolor.model import Generator, GeneratorConfig

# Tolerance on ab (normalised to [-1,1]; 1/110 is one Lab unit) per precision.
TOL = {"fp32": 1e-4, "bf16": 0.05, "fp16": 0.01}


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(base=8, depth=4, max_channels=32))
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    return g.eval()


def test_unknown_engine_lists_the_valid_ones(generator):
    with pytest.raises(BadInputError, match="choose one of: eager"):
        create_engine("warp-drive", generator)


@pytest.mark.parametrize("name", [n for n in list_engines() if not n.startswith("test-")])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("shape", [(1, 1, 64, 64), (3, 1, 37, 75)])
def test_engine_parity_with_eager_fp32(generator, name, precision, shape):
    reason = engine_unavailable(name, "cpu")
    if reason:
        pytest.skip(f"{name}: {reason}")
    L = torch.rand(shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        ref = generator(L)
    out = create_engine(name, generator, "cpu", precision=precision)(L)
    assert out.shape == ref.shape and out.dtype == torch.float32
    assert (out - ref).abs().max() < TOL[precision]
