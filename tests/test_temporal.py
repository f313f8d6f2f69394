import torch

from vidcolor.temporal import TemporalSmoother, scene_cuts


def flat(value: float, n: int = 1, size: int = 32) -> torch.Tensor:
    return torch.full((n, 1, size, size), value)


def test_static_scene_flicker_is_reduced():
    torch.manual_seed(0)
    L = flat(0.2, 20)
    ab = 0.3 + 0.05 * torch.randn(20, 2, 1, 1).expand(20, 2, 32, 32)  # per-frame colour jitter
    out = TemporalSmoother(0.8)(L, ab)
    jitter_in = (ab[1:] - ab[:-1]).abs().mean()
    jitter_out = (out[1:] - out[:-1]).abs().mean()
    assert jitter_out < 0.5 * jitter_in


def test_smoothing_zero_is_identity():
    L, ab = torch.rand(5, 1, 16, 16), torch.rand(5, 2, 16, 16)
    assert torch.equal(TemporalSmoother(0.0)(L, ab), ab)


def test_a_pixel_whose_luma_changed_is_not_dragged():
    L = flat(0.0, 2)
    L[1, :, :8, :] = 0.6  # top rows change strongly in the second frame (motion)
    ab = torch.zeros(2, 2, 32, 32)
    ab[1] = 0.5
    out = TemporalSmoother(0.9)(L, ab)
    assert torch.allclose(out[1, :, :6], torch.tensor(0.5), atol=1e-3)  # moved: takes its new colour
    assert out[1, :, 20:].max() < 0.1  # static: steadied towards the past


def test_state_carries_across_batches_and_resets_on_cut():
    sm = TemporalSmoother(0.9)
    sm(flat(0.0, 3), torch.zeros(3, 2, 32, 32))
    steady = sm(flat(0.0, 1), torch.ones(1, 2, 32, 32))  # same shot, next batch: pulled to the past
    assert steady.max() < 0.2
    cut = sm(flat(0.9, 1), torch.ones(1, 2, 32, 32))  # new shot: its own colour, exactly
    assert torch.equal(cut, torch.ones(1, 2, 32, 32))
    assert sm.cuts == 1


def test_scene_cut_detector():
    L = torch.cat([flat(-0.5, 3), flat(0.6, 2)])
    assert scene_cuts(L).tolist() == [False, False, True, False]
    ramp = torch.linspace(-0.5, 0.5, 32).reshape(1, 1, 1, 32).expand(6, 1, 32, 32).clone()
    pan = torch.stack([torch.roll(ramp[0], shifts=i, dims=-1) for i in range(6)])
    assert not scene_cuts(pan).any()  # a slow pan is not a cut
