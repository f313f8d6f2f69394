import pytest
import torch

from vidcolor.color import (
    AB_SCALE,
    chroma,
    denormalize_lab,
    lab_to_rgb,
    model_to_rgb,
    normalize_lab,
    rgb_to_lab,
    rgb_to_model,
)

# sRGB -> CIE Lab (D65, 2 deg), from Bruce Lindbloom's colour calculator (brucelindbloom.com),
# independently of kornia. Pure primaries and a mid gray (sRGB 0.5 -> Y 0.2140 -> L 53.389).
REFERENCE = [
    ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ((1.0, 0.0, 0.0), (53.2408, 80.0925, 67.2032)),
    ((0.0, 1.0, 0.0), (87.7347, -86.1827, 83.1793)),
    ((0.0, 0.0, 1.0), (32.2970, 79.1875, -107.8602)),
    ((1.0, 1.0, 0.0), (97.1393, -21.5537, 94.4780)),
    ((0.5, 0.5, 0.5), (53.3890, 0.0, 0.0)),
]


def _pixels(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).T.reshape(3, len(values), 1)


def test_rgb_to_lab_matches_reference_values():
    rgb = _pixels([r for r, _ in REFERENCE])
    lab = rgb_to_lab(rgb).reshape(3, -1).T
    expected = torch.tensor([l for _, l in REFERENCE])
    torch.testing.assert_close(lab, expected, atol=0.02, rtol=0)


def test_lab_to_rgb_inverts_reference_values():
    lab = _pixels([l for _, l in REFERENCE])
    rgb = lab_to_rgb(lab).reshape(3, -1).T
    torch.testing.assert_close(rgb, torch.tensor([r for r, _ in REFERENCE]), atol=2e-3, rtol=0)


def test_round_trip_through_model_space_on_random_images():
    rgb = torch.rand(2, 3, 17, 23, generator=torch.Generator().manual_seed(0))
    L, ab = rgb_to_model(rgb)
    assert L.shape == (2, 1, 17, 23) and ab.shape == (2, 2, 17, 23)
    assert L.min() >= -1 and L.max() <= 1 and ab.abs().max() <= 1
    torch.testing.assert_close(model_to_rgb(L, ab), rgb, atol=2e-3, rtol=0)


def test_normalisation_constants():
    lab = torch.tensor([100.0, 110.0, -55.0]).reshape(3, 1, 1)
    L, ab = normalize_lab(lab)
    assert L.item() == pytest.approx(1.0)
    assert ab.flatten().tolist() == pytest.approx([1.0, -0.5])
    torch.testing.assert_close(denormalize_lab(L, ab), lab)
    assert AB_SCALE == 110.0


def test_gray_has_zero_chroma_and_colour_does_not():
    gray = torch.full((1, 3, 8, 8), 0.4)
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1.0
    assert chroma(gray).item() < 0.1
    assert chroma(red).item() > 100


@pytest.mark.parametrize("shape", [(3,), (8, 8), (1, 4, 8, 8), (2, 8, 8)])
def test_bad_shapes_raise_value_error(shape):
    with pytest.raises(ValueError, match="shape"):
        rgb_to_lab(torch.rand(shape))


def test_integer_images_are_rejected():
    with pytest.raises(ValueError, match="floating"):
        rgb_to_lab(torch.zeros(3, 4, 4, dtype=torch.uint8))


def test_mismatched_L_and_ab_sizes_raise():
    with pytest.raises(ValueError, match="sizes differ"):
        denormalize_lab(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 5))
