"""The bundled default model: present, small, self-describing, and used when --model is not given."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from make_media import gradient_frame, read_frames, write_video
from vidcolor.cli import app
from vidcolor.colorizer import default_model_path
from vidcolor.engines import create_engine, engine_unavailable
from vidcolor.modelfile import load_generator, read_info


def test_default_model_is_bundled_small_and_documented():
    path = default_model_path()
    assert path.is_file()
    assert path.stat().st_size <= 30 * 1024 * 1024
    info = read_info(path)
    assert {"step", "val", "train_config"} <= set(info)
    assert info["val"]["val_l1"] > 0
    assert (path.parent / "MODEL_CARD.md").is_file()
    g, _ = load_generator(path)
    assert sum(p.numel() for p in g.parameters()) > 1e6  # a real model, not a placeholder


def test_colorize_with_the_default_model(tmp_path):
    frames = [gradient_frame(128, 96, t=i / 5, colour=False) for i in range(6)]
    src = write_video(tmp_path / "bw.mp4", frames)
    out = tmp_path / "colour.mp4"
    r = CliRunner().invoke(app, [str(src), "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    yuv = np.stack(read_frames(out, "yuv444p"))
    assert len(yuv) == 6
    assert np.abs(yuv[:, 1:].astype(int) - 128).mean() > 0.5  # the model adds some colour


# The bundled model on every engine (the fixtures of test_engines.py are tiny stand-ins; this is the
# file users run). Tolerances in ab/110: bf16 is 3 Lab units, the others well under one.
BUNDLED_CASES = [
    ("eager", "fp32", 1e-4),
    ("eager", "bf16", 0.03),
    ("onnxruntime", "fp32", 2e-3),
    pytest.param("compile", "fp32", 2e-3, marks=pytest.mark.slow),  # inductor: minutes on 2 cores
    ("tensorrt", "fp16", 0.02),
]


@pytest.mark.parametrize(("name", "precision", "tol"), BUNDLED_CASES)
def test_bundled_model_agrees_on_every_engine(name, precision, tol, tmp_path):
    from vidcolor.engines.cache import set_cache_dir

    device = "cuda" if name == "tensorrt" else "cpu"
    if reason := engine_unavailable(name, device):
        pytest.skip(f"{name}: {reason}")
    g, _ = load_generator(default_model_path())
    g.eval()
    set_cache_dir(tmp_path)
    try:
        engine = create_engine(name, g, device, precision=precision)
        # the default render size on a 4:3 and a 16:9 frame, and a batch of 3
        for shape in [(1, 1, 192, 256), (3, 1, 192, 342)]:
            L = torch.rand(shape, generator=torch.Generator().manual_seed(2)) * 2 - 1
            with torch.no_grad():
                ref = g(L)
            out = engine(L.to(device)).cpu()
            assert out.shape == ref.shape
            err = (out - ref).abs()
            assert err.mean() < tol / 4 and err.max() < 20 * tol, (name, precision, shape, float(err.max()))
    finally:
        set_cache_dir(None)
