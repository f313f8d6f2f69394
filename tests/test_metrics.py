"""Metrics against values computed by hand on tiny arrays."""

import math

import pytest
import torch

from vidcolor.color import lab_to_rgb
from vidcolor.evaluate import Scorer
from vidcolor.metrics import cdc, colorfulness, flicker, flicker_sums, js_divergence, psnr, ssim


def test_psnr_by_hand():
    a, b = torch.full((1, 3, 4, 4), 0.5), torch.full((1, 3, 4, 4), 0.6)
    assert psnr(a, b).item() == pytest.approx(20.0, abs=1e-4)  # MSE 0.01 -> 10 log10(1 / 0.01)
    assert math.isinf(psnr(a, a).item())


def test_colorfulness_by_hand():
    # Two pixels, pure red and pure blue: rg = (255, 0), yb = (127.5, -255).
    # std: rg 127.5, yb 191.25; mean: rg 127.5, yb -63.75
    # M = sqrt(127.5^2 + 191.25^2) + 0.3 sqrt(127.5^2 + 63.75^2) = 229.8539 + 42.7648 = 272.6187
    img = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]).reshape(1, 3, 1, 2)
    assert colorfulness(img).item() == pytest.approx(272.6187, abs=1e-3)
    assert colorfulness(torch.full((1, 3, 5, 5), 0.3)).item() == pytest.approx(0.0, abs=1e-5)


def test_js_divergence_by_hand():
    assert js_divergence(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])).item() == pytest.approx(math.log(2))
    assert js_divergence(torch.tensor([3.0, 1.0]), torch.tensor([3.0, 1.0])).item() == pytest.approx(0.0, abs=1e-7)
    # p = (.5, .5), q = (1, 0), m = (.75, .25): (KL(p||m) + KL(q||m)) / 2 = (0.143841 + 0.287682) / 2
    assert js_divergence(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])).item() == pytest.approx(0.215762, abs=1e-6)


def test_cdc_by_hand():
    black, white = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    frames = torch.cat([black, black, white])
    # d=1: pairs (0,1) -> 0 and (1,2) -> ln 2 (disjoint histograms): mean ln2/2; d=2: (0,2) -> ln 2.
    # d=4 has no pair. CDC = mean(ln2/2, ln2) = 0.75 ln 2.
    assert cdc(frames) == pytest.approx(0.75 * math.log(2), abs=1e-6)
    assert cdc(torch.cat([black] * 5)) == pytest.approx(0.0, abs=1e-7)


def test_flicker_counts_colour_change_where_light_is_still():
    lab = torch.zeros(2, 3, 4, 4)
    lab[:, 0] = 50.0
    lab[1, 1, :2] = 20.0  # top half turns reddish in frame 2, same lightness
    frames = lab_to_rgb(lab)
    # |Δa| = 20 on half the pixels, |Δb| = 0: mean over (a, b) and pixels = 20 / 2 / 2 = 5
    assert flicker(frames) == pytest.approx(5.0, abs=0.2)
    assert flicker(torch.cat([frames[:1], frames[:1]])) == pytest.approx(0.0, abs=1e-4)


def test_ssim_identical_and_different():
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert ssim(x, x).tolist() == pytest.approx([1.0, 1.0], abs=1e-4)
    assert (ssim(x, 1 - x) < 0.5).all()


def test_eval_scores_a_clip_in_chunks_exactly_as_at_once():
    # vidcolor eval scores long clips a chunk of frames at a time (flat memory); every figure must equal
    # the metric functions applied to the whole clip.
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(37, 3, 24, 32, generator=g)
    out = (truth + 0.2 * torch.rand(37, 3, 24, 32, generator=g) - 0.1).clamp(0, 1)
    gray = truth.mean(1, keepdim=True).expand(-1, 3, -1, -1)
    s = Scorer()
    for i in range(0, 37, 16):
        s.add(out[i : i + 16], truth[i : i + 16], gray[i : i + 16])
    r = s.result()
    assert r["psnr"] == pytest.approx(psnr(out, truth).mean().item(), rel=1e-6)
    assert r["ssim"] == pytest.approx(ssim(out, truth).mean().item(), rel=1e-6)
    assert r["colorfulness_ratio"] == pytest.approx(
        (colorfulness(out).mean() / colorfulness(truth).mean()).item(), rel=1e-6
    )
    assert r["cdc"] == pytest.approx(cdc(out), rel=1e-6) and r["cdc_truth"] == pytest.approx(cdc(truth), rel=1e-6)
    assert r["flicker"] == pytest.approx(flicker(out), rel=1e-5)
    assert r["flicker_truth"] == pytest.approx(flicker(truth), rel=1e-5)


def _structured(h: int, w: int) -> torch.Tensor:
    """(1,3,h,w) in [0,1]: a ramp, a checkerboard and rings, one per channel."""
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    ramp = (x + y) / (h + w - 2)
    checker = ((x // 4 + y // 4) % 2) * 0.8 + 0.1
    rings = 0.5 + 0.5 * torch.sin(((x - w / 3) ** 2 + (y - h / 2) ** 2).sqrt() / 2.0)
    return torch.stack([ramp, checker, rings])[None]


def _reference_ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> list[float]:
    """scikit-image's SSIM with the settings of Wang et al. 2004 (11x11 Gaussian, sigma 1.5, population
    covariance), per image, channels averaged."""
    from skimage.metrics import structural_similarity

    def one(a: torch.Tensor, b: torch.Tensor) -> float:
        a, b = a.permute(1, 2, 0).double().numpy(), b.permute(1, 2, 0).double().numpy()
        return structural_similarity(
            a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=data_range
        )

    return [one(a, b) for a, b in zip(pred, target, strict=True)]


def test_ssim_matches_scikit_image():
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(2, 3, 37, 53, generator=g)
    pairs = [
        (noise, (noise + 0.3 * torch.rand(2, 3, 37, 53, generator=g) - 0.15).clamp(0, 1)),  # random, noisy copy
        (noise, 1 - noise),  # anti-correlated
        (_structured(40, 64), _structured(40, 64).roll(2, dims=-1)),  # structure, shifted
        (_structured(48, 48), (0.7 * _structured(48, 48) + 0.05).clamp(0, 1)),  # contrast and brightness
        (_structured(11, 11), _structured(11, 11).flip(-1)),  # exactly one window
    ]
    for pred, target in pairs:
        assert ssim(pred, target).tolist() == pytest.approx(_reference_ssim(pred, target, 1.0), abs=1e-4)
    pred, target = pairs[2][0] * 255, pairs[2][1] * 255  # the constants follow data_range
    assert ssim(pred, target, data_range=255.0).tolist() == pytest.approx(
        _reference_ssim(pred, target, 255.0), abs=1e-4
    )


def test_ssim_by_hand_and_too_small():
    # Flat images a and b: both sigma terms are 0, so SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = 0.01^2.
    a, b = torch.full((1, 3, 16, 16), 0.5), torch.full((1, 3, 16, 16), 0.6)
    assert ssim(a, b).item() == pytest.approx((0.6 + 1e-4) / (0.61 + 1e-4), abs=1e-6)
    with pytest.raises(ValueError, match="11x11"):
        ssim(torch.rand(1, 3, 10, 64), torch.rand(1, 3, 10, 64))


def test_flicker_of_gray_frames_is_exactly_zero():
    # A gray copy has a = b = 0 by definition: its flicker must read 0, not float noise, so that
    # "flicker" separates a gray input from colour (the truth's own flicker is > 0).
    g = torch.Generator().manual_seed(0)
    luma = torch.rand(6, 1, 16, 16, generator=g).mul(0.01).add(torch.linspace(0.1, 0.9, 16))  # nearly still light
    gray = luma.expand(-1, 3, -1, -1).clamp(0, 1)
    assert flicker(gray) == 0.0 and flicker_sums(gray)[1] > 0
    colour = (gray + 0.1 * torch.rand(6, 3, 16, 16, generator=g)).clamp(0, 1)
    assert flicker(colour) > 0.5


def test_eval_reports_gray_flicker_as_zero_and_no_ssim_below_one_window():
    g = torch.Generator().manual_seed(1)
    truth = torch.rand(5, 3, 24, 32, generator=g)
    gray = truth.mean(1, keepdim=True).expand(-1, 3, -1, -1)
    r = Scorer().add(gray, truth, gray).result()
    assert r["flicker"] == 0.0 and r["flicker_truth"] > 0
    tiny = Scorer().add(truth[:2, :, :8, :8], truth[:2, :, :8, :8], gray[:2, :, :8, :8]).result()
    assert tiny["ssim"] is None and tiny["psnr"] == 100.0


def test_eval_scores_large_frames_a_few_at_a_time():
    from vidcolor.evaluate import chunk_frames

    assert chunk_frames(640, 480) == 16 and chunk_frames(1920, 1080) == 2 and chunk_frames(7680, 4320) == 1
    assert chunk_frames(176, 144) == 16  # never more than 16, however small
