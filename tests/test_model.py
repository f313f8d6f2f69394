import pickle

import pytest
import torch

from vidcolor.config import GeneratorConfig
from vidcolor.errors import ModelFileError
from vidcolor.model import Generator, PatchDiscriminator
from vidcolor.modelfile import load_generator, read_info, save_generator

TINY = GeneratorConfig(base=4, depth=3, max_channels=16)


@pytest.mark.parametrize("hw", [(1, 1), (2, 2), (37, 53), (64, 64), (241, 321)])
def test_generator_keeps_any_size_and_range(hw):
    g = Generator(TINY).eval()
    with torch.no_grad():
        ab = g(torch.rand(2, 1, *hw) * 2 - 1)
    assert ab.shape == (2, 2, *hw)
    assert ab.abs().max() <= 1.0


def test_default_generator_is_the_benchmarked_architecture():
    cfg = GeneratorConfig()
    assert (cfg.base, cfg.depth, cfg.max_channels, cfg.blocks) == (16, 6, 256, 1)
    assert cfg.multiple == 64


def test_generator_rejects_rgb_input():
    with pytest.raises(ValueError, match=r"\(N,1,H,W\)"):
        Generator(TINY)(torch.zeros(1, 3, 8, 8))


def test_patchgan_is_70x70_on_256():
    d = PatchDiscriminator()
    logits = d(torch.zeros(2, 1, 256, 256), torch.zeros(2, 2, 256, 256))
    assert logits.shape == (2, 1, 30, 30)  # the pix2pix 70x70 PatchGAN output grid


def test_patchgan_scores_samples_independently():
    d = PatchDiscriminator(base=8).train()
    L, ab = torch.randn(4, 1, 64, 64), torch.randn(4, 2, 64, 64)
    together = d(L, ab)
    alone = torch.cat([d(L[i : i + 1], ab[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)


def test_config_round_trip_and_validation():
    assert GeneratorConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ValueError, match="unknown generator config keys"):
        GeneratorConfig.from_dict({**TINY.to_dict(), "colour": 3})
    with pytest.raises(ValueError):
        GeneratorConfig(base=0)


def _trained_like(cfg: GeneratorConfig) -> Generator:
    g = Generator(cfg)
    for m in g.modules():  # non-trivial BN statistics so a lost buffer would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return g.eval()


def test_model_file_round_trip_is_self_describing(tmp_path):
    g = _trained_like(TINY)
    path = tmp_path / "m.safetensors"
    save_generator(path, g, {"step": 7})
    assert read_info(path)["step"] == 7
    assert (tmp_path / "m.json").exists()
    loaded, info = load_generator(path)
    assert loaded.config == TINY and info["generator"] == TINY.to_dict()
    x = torch.rand(1, 1, 24, 24) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), g(x))


def test_half_precision_file_is_smaller_and_close(tmp_path):
    g = _trained_like(TINY)
    save_generator(tmp_path / "f.safetensors", g)
    save_generator(tmp_path / "h.safetensors", g, half=True)
    assert (tmp_path / "h.safetensors").stat().st_size < 0.6 * (tmp_path / "f.safetensors").stat().st_size
    loaded, _ = load_generator(tmp_path / "h.safetensors")
    x = torch.rand(1, 1, 24, 24) * 2 - 1
    with torch.no_grad():
        assert (loaded(x) - g(x)).abs().max() < 5e-3


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_generator(tmp_path / "nope.safetensors")


def test_truncated_model_file(tmp_path):
    path = tmp_path / "m.safetensors"
    save_generator(path, _trained_like(TINY))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"m\.safetensors"):
        load_generator(path)


def test_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"weights": Evil()}))
    with pytest.raises(ModelFileError):
        load_generator(path)
    assert not marker.exists()


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_generator(path, _trained_like(TINY))
    # Same file, but its metadata now claims a wider network than its tensors hold.
    import json

    from safetensors.torch import load_file, save_file

    info = read_info(path)
    info["generator"]["base"] = 8
    save_file(load_file(path), str(path), metadata={"vidcolor": json.dumps(info)})
    with pytest.raises(ModelFileError, match="do not match"):
        load_generator(path)


def test_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(ModelFileError, match="no vidcolor metadata"):
        load_generator(path)
