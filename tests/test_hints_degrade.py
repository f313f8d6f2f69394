"""Colour hints (hint-capable generators, simulated hints) and film-like degradations of L."""

import dataclasses

import pytest
import torch
from test_train import TINY, quiet, tiny_config

from vidcolor.config import GeneratorConfig
from vidcolor.model import Generator, make_hint
from vidcolor.modelfile import load_generator, save_generator
from vidcolor.train.degrade import degrade
from vidcolor.train.hints import random_point_hints, simulate_hints
from vidcolor.train.loop import resume_config, train

HINTED = dataclasses.replace(TINY, hints=True)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _net(cfg: GeneratorConfig) -> Generator:
    torch.manual_seed(0)
    return Generator(cfg).eval()


def test_no_hint_is_exactly_an_all_zero_hint():
    g = _net(HINTED)
    L = torch.rand(2, 1, 37, 53) * 2 - 1
    with torch.no_grad():
        auto = g(L)
        zero = g(L, torch.zeros(2, 3, 37, 53))
    torch.testing.assert_close(auto, zero, rtol=0, atol=1e-6)


def test_a_hint_changes_the_colour():
    g = _net(HINTED)
    L = torch.rand(1, 1, 32, 32) * 2 - 1
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 10:14, 10:14] = 1
    hint = make_hint(torch.full((1, 2, 32, 32), 0.8), mask)
    with torch.no_grad():
        assert (g(L, hint) - g(L)).abs().max() > 1e-4


def test_old_files_without_hint_channels_load_and_refuse_hints(tmp_path):
    old = _net(TINY)
    path = tmp_path / "old.safetensors"
    save_generator(path, old, {})
    loaded, _ = load_generator(path)
    assert loaded.config.hints is False
    L = torch.rand(1, 1, 24, 24) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(L), old(L))
    with pytest.raises(ValueError, match="takes no colour hints"):
        loaded(L, torch.zeros(1, 3, 24, 24))


def test_hint_file_round_trip_keeps_hint_behaviour(tmp_path):
    g = _net(HINTED)
    path = tmp_path / "h.safetensors"
    save_generator(path, g, {})
    loaded, _ = load_generator(path)
    L = torch.rand(1, 1, 24, 24) * 2 - 1
    hint = random_point_hints(torch.rand(1, 2, 24, 24) * 2 - 1, 10, _gen())
    with torch.no_grad():
        torch.testing.assert_close(loaded(L, hint), g(L, hint))


def test_hint_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="hint must be"):
        _net(HINTED)(torch.zeros(1, 1, 16, 16), torch.zeros(1, 2, 16, 16))


def test_hints_are_for_the_plain_unet_only():
    with pytest.raises(ValueError, match="unet-v1 only"):
        GeneratorConfig(arch="encoder-unet-v1", encoder="efficientnet-lite0", depth=5, hints=True)


def test_random_point_hints_give_exactly_n_true_colours():
    ab = torch.rand(3, 2, 20, 30) * 2 - 1
    h = random_point_hints(ab, 10, _gen())
    assert h.shape == (3, 3, 20, 30)
    assert h[:, 2].sum((1, 2)).tolist() == [10, 10, 10]
    on = h[:, 2:3].expand(-1, 2, -1, -1) > 0
    torch.testing.assert_close(h[:, :2][on], ab[on])
    assert (h[:, :2][~on] == 0).all()


def test_simulated_hints_hold_local_true_colour_and_leave_a_share_without():
    ab = torch.zeros(64, 2, 32, 32)
    ab[:, 0] = torch.linspace(-0.5, 0.5, 32)  # a varies slowly: a patch mean is close to its centre
    h = simulate_hints(ab, _gen(1), p_none=0.5, mean_points=8)
    counts = h[:, 2].sum((1, 2))
    assert 15 <= int((counts == 0).sum()) <= 49  # about half get none
    on = h[:, 2:3] > 0
    assert ((h[:, 0:1] - ab[:, 0:1]).abs()[on] < 0.1).all()
    assert torch.equal(h, simulate_hints(ab, _gen(1), p_none=0.5, mean_points=8))  # seeded
    assert simulate_hints(ab, _gen(2), p_none=1.0).abs().sum() == 0


def test_degrade_is_off_at_zero_and_seeded_in_range_otherwise():
    L = torch.rand(8, 1, 48, 40) * 2 - 1
    assert degrade(L, 0.0, _gen()) is L
    a, b = degrade(L, 1.0, _gen(3)), degrade(L, 1.0, _gen(3))
    assert torch.equal(a, b) and a.shape == L.shape and a.dtype == L.dtype
    assert a.min() >= -1 and a.max() <= 1
    assert (a - L).abs().mean() > 0.01
    assert not torch.equal(a, degrade(L, 1.0, _gen(4)))


@pytest.mark.parametrize("hw", [(1, 1), (2, 3), (7, 5)])
def test_degrade_survives_tiny_pictures(hw):
    out = degrade(torch.zeros(4, 1, *hw), 1.0, _gen())
    assert out.shape == (4, 1, *hw) and torch.isfinite(out).all()


def test_hinted_degraded_training_resumes_exactly(image_folder, tmp_path):
    kw = dict(steps=4, ckpt_every=1, generator=HINTED, degrade=1.0, hint_none=0.3)
    train(tiny_config(image_folder, tmp_path / "a", **kw), log=quiet, progress=False)
    train(tiny_config(image_folder, tmp_path / "b", **kw), log=quiet, progress=False, stop_at=2)
    cfg = resume_config(tmp_path / "b")
    assert cfg.generator.hints and cfg.degrade == 1.0
    train(cfg, resume=True, log=quiet, progress=False)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["G"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["G"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    rows = (tmp_path / "a" / "log.jsonl").read_text()
    assert "val_psnr_hints10" in rows
