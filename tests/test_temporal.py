import torch

from vidcolor.cuts import detect
from vidcolor.temporal import TemporalSmoother


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
    sm(flat(0.0, 10), torch.zeros(10, 2, 32, 32))  # a shot of 0.4 s (the minimum is 0.3 s)
    steady = sm(flat(0.0, 1), torch.ones(1, 2, 32, 32))  # same shot, next batch: pulled to the past
    assert steady.max() < 0.2
    cut = sm(flat(0.9, 1), torch.ones(1, 2, 32, 32))  # new shot: its own colour, exactly
    assert torch.equal(cut, torch.ones(1, 2, 32, 32))
    assert sm.cuts == 1


def textured(n: int, seed: int, shift: int = 0) -> torch.Tensor:
    """n frames (n,1,32,32) of a fixed random texture, moved ``shift`` px right per frame."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 32, 32, generator=g), 3, 1, 1) * 1.6 - 0.8
    return torch.cat([torch.roll(base, i * shift, -1) for i in range(n)])


def test_scene_cut_detector():
    L = torch.cat([flat(-0.5, 10), flat(0.6, 10)])
    assert detect(L) == [0, 10]
    ramp = torch.linspace(-0.5, 0.5, 32).reshape(1, 1, 1, 32).expand(6, 1, 32, 32).clone()
    pan = torch.stack([torch.roll(ramp[0], shifts=i, dims=-1) for i in range(6)])
    assert detect(pan) == [0]  # a slow pan is not a cut
    assert detect(textured(20, 0, shift=1)) == [0]  # nor a pan over a detailed picture
    assert detect(torch.cat([textured(10, 0), textured(10, 1)])) == [0, 10]  # another picture, same brightness


def test_a_flash_is_not_a_cut_and_the_shot_keeps_its_colour():
    L = textured(20, 0)
    L[8:10] = 0.95  # two frames of a flash bulb
    ab = torch.zeros(20, 2, 32, 32)
    ab[9:] = 0.5  # the colorizer changes its mind after the flash
    sm = TemporalSmoother(0.9)
    out = torch.cat([sm(L[k : k + 4], ab[k : k + 4]) for k in range(0, 20, 4)])  # in batches, as the pipeline does
    assert sm.cuts == 0
    assert out[10].mean() < 0.1  # after the flash: steadied towards the colour from before it
    assert detect(L) == [0]
