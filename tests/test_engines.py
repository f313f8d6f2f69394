import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from vidcolor.cli import app
from vidcolor.config import GeneratorConfig
from vidcolor.engines import (
    FallbackEngine,
    auto_choices,
    create_engine,
    engine_unavailable,
    list_engines,
    register_engine,
)
from vidcolor.engines.cache import set_cache_dir
from vidcolor.errors import BadInputError
from vidcolor.model import ColorNet, Generator, build_generator

# Tolerance on ab (normalised to [-1,1]; 1/110 is one Lab unit) per precision.
TOL = {"fp32": 1e-4, "bf16": 0.05, "fp16": 0.02}
PRECISIONS = {"eager": ["fp32", "bf16"], "compile": ["fp32"], "onnxruntime": ["fp32"], "tensorrt": ["fp16"]}
CASES = [(name, p) for name in list_engines() if not name.startswith("test-") for p in PRECISIONS.get(name, ["fp32"])]


def with_bn_statistics(g: ColorNet) -> ColorNet:
    """Non-trivial running BN statistics (so folding them is really tested), in eval mode."""
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    return g.eval()


@pytest.fixture(scope="module")
def generator() -> Generator:
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(base=8, depth=4, max_channels=32))
    return with_bn_statistics(g)


@pytest.fixture(scope="module")
def hint_generator() -> Generator:
    """A hint-capable U-Net (what ships since issue 12): engines run its exact no-hint path."""
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(base=8, depth=4, max_channels=32, hints=True))
    return with_bn_statistics(g)


@pytest.fixture(scope="module")
def encoder_generator() -> ColorNet:
    """An encoder U-Net on timm's tiny test EfficientNet, with non-trivial BN statistics."""
    pytest.importorskip("timm")
    torch.manual_seed(0)
    g = build_generator(
        GeneratorConfig(arch="encoder-unet-v1", encoder="test_efficientnet", depth=5, base=4, max_channels=16)
    )
    return with_bn_statistics(g)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory):
    set_cache_dir(tmp_path_factory.mktemp("engine-cache"))
    yield
    set_cache_dir(None)


def device_for(name: str) -> str:
    return "cuda" if name == "tensorrt" else "cpu"


def test_unknown_engine_lists_the_valid_ones(generator):
    with pytest.raises(BadInputError, match="choose one of: eager, compile, onnxruntime, tensorrt"):
        create_engine("warp-drive", generator)


# Inductor takes ~1-2 min to compile the encoder U-Net on 2 cores: measured, kept out of the default run.
PARITY = [
    pytest.param(name, p, arch, marks=[pytest.mark.slow] if (name, arch) == ("compile", "encoder-unet") else [])
    for arch in ("unet", "unet-hints", "encoder-unet")
    for name, p in CASES
]


@pytest.mark.parametrize(("name", "precision", "arch"), PARITY)
def test_engine_parity_with_eager_fp32(request, name, precision, arch):
    fixture = {"unet": "generator", "unet-hints": "hint_generator", "encoder-unet": "encoder_generator"}[arch]
    generator = request.getfixturevalue(fixture)
    device = device_for(name)
    reason = engine_unavailable(name, device)
    if reason:
        pytest.skip(f"{name}: {reason}")
    engine = create_engine(name, generator, device, precision=precision)
    for shape in [(1, 1, 64, 64), (3, 1, 37, 75), (5, 1, 64, 128)]:  # batch sizes and odd render sizes
        L = torch.rand(shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
        with torch.no_grad():
            ref = generator(L)
        out = engine(L.to(device)).cpu()
        assert out.shape == ref.shape and out.dtype == torch.float32
        assert (out - ref).abs().max() < TOL[precision], (name, precision, shape)


def test_corrupt_cached_onnx_is_rebuilt_not_trusted(generator, tmp_path, published):
    if engine_unavailable("onnxruntime"):
        pytest.skip(engine_unavailable("onnxruntime"))
    set_cache_dir(tmp_path)
    create_engine("onnxruntime", generator)
    (cached,) = (tmp_path / "onnx").glob("*.onnx")
    assert published == [cached]  # a cache entry is written as every file is: temporary name, fsync, rename
    cached.write_bytes(b"not an onnx graph")
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    out = create_engine("onnxruntime", generator)(L)
    with torch.no_grad():
        assert (out - generator(L)).abs().max() < TOL["fp32"]
    assert cached.stat().st_size > 1000  # rebuilt in place


def test_stale_cached_onnx_from_other_weights_is_rebuilt(generator, tmp_path):
    if engine_unavailable("onnxruntime"):
        pytest.skip(engine_unavailable("onnxruntime"))
    set_cache_dir(tmp_path)
    create_engine("onnxruntime", generator)
    (cached,) = (tmp_path / "onnx").glob("*.onnx")
    other = Generator(generator.config).eval()  # same shape, other weights: a wrong graph under this key
    from vidcolor.engines.onnx import export_onnx

    export_onnx(other, cached)
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert (create_engine("onnxruntime", generator)(L) - generator(L)).abs().max() < TOL["fp32"]


def test_runtime_failure_falls_back_with_one_warning(generator):
    if "test-broken" not in list_engines():

        @register_engine("test-broken", description="tests only: fails at run time")
        def _broken(gen, device, precision="fp32"):
            def run(L):
                raise RuntimeError("simulated engine crash")

            return run

    warnings: list[str] = []
    engine = FallbackEngine(
        [("test-broken", "fp32"), ("eager", "fp32")], generator, torch.device("cpu"), warnings.append
    )
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(engine(L), generator(L), atol=1e-4)
    assert len(warnings) == 1 and "simulated engine crash" in warnings[0]
    assert engine.name == "eager fp32"


def test_auto_rule_on_cpu_ends_with_eager_fp32():
    choices = auto_choices("cpu")
    assert choices[-1] == ("eager", "fp32")
    assert all(name != "tensorrt" for name, _ in choices)


def test_import_vidcolor_does_not_import_optional_backends():
    code = "import sys, vidcolor.cli, vidcolor.pipeline, vidcolor.engines; print(sorted(m for m in ('onnxruntime','tensorrt','onnx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_engines_command_lists_every_engine_with_status():
    r = CliRunner().invoke(app, ["engines", "--device", "cpu"])
    assert r.exit_code == 0
    for name in ("eager", "compile", "onnxruntime", "tensorrt"):
        assert name in r.output
    assert "no CUDA device" in r.output and "--engine auto picks:" in r.output


def test_export_onnx_runs_in_onnxruntime(tiny_model, tmp_path, published):
    if engine_unavailable("onnxruntime"):
        pytest.skip(engine_unavailable("onnxruntime"))
    import numpy as np
    import onnxruntime as ort

    out = tmp_path / "g.onnx"
    r = CliRunner().invoke(app, ["export", "--model", str(tiny_model), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert [p.name for p in tmp_path.iterdir()] == ["g.onnx"]  # weights inside, nothing stray
    assert out in published
    ab = ort.InferenceSession(str(out)).run(None, {"L": np.zeros((2, 1, 64, 128), np.float32)})[0]
    assert ab.shape == (2, 2, 64, 128)


def test_export_tensorrt_without_gpu_is_a_clear_error(tiny_model, tmp_path):
    if not engine_unavailable("tensorrt", "cuda"):
        pytest.skip("a TensorRT-capable GPU is present")
    r = CliRunner().invoke(
        app, ["export", "--format", "tensorrt", "--model", str(tiny_model), "-o", str(tmp_path / "g.plan")]
    )
    assert r.exit_code == 2 and "unavailable" in r.output
    assert not list(tmp_path.iterdir())


def test_every_available_engine_colorizes_a_clip_alike(tiny_model, tmp_path):
    import numpy as np

    from make_media import gradient_frame, read_frames, write_video

    src = write_video(tmp_path / "in.mp4", [gradient_frame(96, 64, t=i / 4, colour=False) for i in range(10)])
    chroma = {}
    for name in [n for n in list_engines() if not n.startswith("test-") and not engine_unavailable(n, "cpu")]:
        out = tmp_path / f"{name}.mp4"
        r = CliRunner().invoke(
            app, [str(src), "-o", str(out), "--model", str(tiny_model), "--engine", name, "--crf", "0", "--quiet"]
        )
        assert r.exit_code == 0, (name, r.output)
        yuv = np.stack(read_frames(out, "yuv444p")).astype(int)
        assert len(yuv) == 10
        chroma[name] = yuv[:, 1:]
    assert {"eager", "onnxruntime"} <= set(chroma)
    for name, c in chroma.items():
        assert np.abs(c - chroma["eager"]).max() <= 2, name  # lossless encode: engine differences only
