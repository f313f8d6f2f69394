import av
import numpy as np
import pytest
import torch

from vidcolor.planes import ColourSpec, render_size, rgb_to_cbcr, upsample_chroma, write_chroma


@pytest.mark.parametrize(
    ("matrix", "rgb", "cbcr"),
    [
        # 8-bit limited-range Y'CbCr of pure colours (ITU-R BT.601 / BT.709 tables).
        ("bt601", (1.0, 0.0, 0.0), (90.0, 240.0)),
        ("bt601", (0.0, 0.0, 1.0), (240.0, 110.0)),
        ("bt709", (1.0, 0.0, 0.0), (102.0, 240.0)),
        ("bt709", (0.0, 1.0, 0.0), (42.0, 26.0)),
        ("bt709", (0.5, 0.5, 0.5), (128.0, 128.0)),
    ],
)
def test_rgb_to_cbcr_reference_values(matrix, rgb, cbcr):
    x = torch.tensor(rgb).reshape(1, 3, 1, 1)
    got = rgb_to_cbcr(x, ColourSpec(matrix)).flatten().tolist()
    assert got == pytest.approx(cbcr, abs=0.6)


def test_render_size_keeps_aspect_and_multiple():
    assert render_size(1920, 1080, 256, 64) == (448, 256)
    assert render_size(640, 272, 256, 64) == (576, 256)
    assert render_size(176, 144, 256, 64) == (192, 128)  # never upscaled past the frame
    assert render_size(1, 1, 256, 64) == (64, 64)


def test_upsample_chroma_odd_sizes():
    up = upsample_chroma(torch.full((2, 2, 8, 8), 200.0), 321, 241)
    assert up.shape == (2, 2, 121, 161) and up.dtype == torch.uint8 and int(up[0, 0, 5, 5]) == 200


def test_write_chroma_leaves_luma_untouched():
    frame = av.VideoFrame.from_ndarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8), format="rgb24")
    frame = frame.reformat(format="yuv420p")
    y_before = frame.to_ndarray()[:48].copy()
    write_chroma(frame, np.full((2, 24, 32), 77, np.uint8))
    arr = frame.to_ndarray()
    assert np.array_equal(arr[:48], y_before)
    assert (arr[48:] == 77).all()
