"""--confidence: flip averaging and paling colour where the model disagrees with itself (issue 24)."""

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from make_media import gradient_frame, luma_planes, write_image, write_video
from vidcolor.cli import app

runner = CliRunner()
FAST = ["--render-size", "64", "--quiet"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def gray_clip(path: Path, n: int = 4) -> Path:
    return write_video(path, [gradient_frame(96, 64, t=i / 3, colour=False) for i in range(n)])


def colorizer(model: Path, **cfg):
    from vidcolor.colorizer import Colorizer
    from vidcolor.config import ColorizeConfig

    return Colorizer(ColorizeConfig(model=str(model), engine="eager", precision="fp32", **cfg))


def test_flip_averaging_of_a_flip_equivariant_model_changes_nothing(tiny_model):
    """A model that colours a mirrored frame as the mirror of its colour gains nothing from the
    mirror: flip (and pale, since the two agree) give what off gives."""
    rgb = torch.from_numpy(np.stack([gradient_frame(96, 64, t=t, colour=False) for t in (0, 1)])).permute(0, 3, 1, 2)
    outs = {}
    for mode in ("off", "flip", "pale"):
        c = colorizer(tiny_model, confidence=mode)
        plain = c.engine
        c.engine = lambda L, g=plain: (g(L) + g(L.flip(-1)).flip(-1)) / 2  # flip-equivariant by construction
        outs[mode] = c.predict(rgb)
    L_off, ab_off = outs["off"]
    assert ab_off.abs().mean() > 0.05  # there is colour to change
    for mode in ("flip", "pale"):
        L, ab = outs[mode]
        assert torch.equal(L, L_off)
        torch.testing.assert_close(ab, ab_off.float(), atol=1e-6, rtol=0)


def test_flip_averages_the_two_predictions(tiny_model):
    """The tiny model is not flip-equivariant: flip gives the mean of the frame's colour and of its
    mirror's colour flipped back, exactly."""
    c = colorizer(tiny_model, confidence="flip")
    rgb = torch.from_numpy(gradient_frame(96, 64, colour=False)).permute(2, 0, 1)[None]
    L, ab = c.predict(rgb)
    expected = (c.engine(L) + c.engine(L.flip(-1)).flip(-1)) / 2
    assert torch.equal(ab, expected.float())
    assert not torch.allclose(ab, c.engine(L))  # the mirror did change something


def test_confidence_never_increases_chroma_and_leaves_agreement_untouched():
    from vidcolor.colorizer import confident_ab

    g = torch.Generator().manual_seed(0)
    ab = torch.rand(3, 2, 40, 56, generator=g) * 2 - 1
    other = (ab + 0.2 * torch.randn(3, 2, 40, 56, generator=g)).clamp(-1, 1)
    mean = (ab + other) / 2
    for tau in (0.5, 4.0, 8.0, 30.0):
        out = confident_ab(ab, other, tau)
        assert out.shape == ab.shape and out.dtype == torch.float32
        assert (out.norm(dim=1) <= mean.norm(dim=1) + 1e-7).all()  # chroma never grows
        # same hue: a scale of the mean in [0, 1] at every pixel
        scale = (out * mean).sum(1) / mean.pow(2).sum(1).clamp_min(1e-12)
        assert (scale >= 0).all() and (scale <= 1 + 1e-6).all()
        torch.testing.assert_close(out, mean * scale[:, None], atol=1e-6, rtol=0)
    # a smaller tau is paler everywhere, and a very small one leaves next to no colour
    assert (confident_ab(ab, other, 4.0).norm(dim=1) <= confident_ab(ab, other, 8.0).norm(dim=1) + 1e-7).all()
    assert confident_ab(ab, other, 0.5).abs().max() < 1e-3
    # where the two agree nothing changes, whatever tau (bit for bit)
    for tau in (None, 0.1, 8.0):
        assert torch.equal(confident_ab(ab, ab.clone(), tau), ab)
    # bf16 engines: the arithmetic is float32
    assert confident_ab(ab.bfloat16(), other.bfloat16(), 8.0).dtype == torch.float32


def test_confidence_is_local_and_per_frame():
    """Disagreement in one corner pales that corner most; a frame that agrees keeps its colour
    whatever its neighbours in the batch do."""
    from vidcolor.colorizer import confident_ab

    ab = torch.full((2, 2, 64, 96), 0.3)
    other = ab.clone()
    other[0, :, :16, :16] = -0.3  # frame 0 disagrees in its top-left corner
    out = confident_ab(ab, other, 8.0)
    assert torch.equal(out[1], ab[1])
    chroma = out[0].norm(dim=0)
    assert chroma[40:, 60:].min() > 0.0 and chroma[:8, :8].max() < chroma[40:, 60:].min()
    assert chroma[40:, 60:].max() < ab[0].norm(dim=0).max()  # the frame as a whole is paler


@pytest.mark.parametrize("mode", ["flip", "pale"])
def test_option_reaches_the_colorizer_from_the_command_line(tmp_path, tiny_model, monkeypatch, mode):
    import vidcolor.colorizer as colorizer_module

    seen = []
    real = colorizer_module.confident_ab

    def spy(ab, mirrored, tau=None):
        seen.append(tau)
        return real(ab, mirrored, tau)

    monkeypatch.setattr(colorizer_module, "confident_ab", spy)
    out = tmp_path / "o.mp4"
    tau = ["--confidence-tau", "5"] if mode == "pale" else []  # only pale takes it (flip refuses it: below)
    r = run(gray_clip(tmp_path / "in.mp4"), "-o", out, "--model", tiny_model, "--confidence", mode, *tau, *FAST)
    assert r.exit_code == 0, r.output
    assert seen and all(t == (5.0 if mode == "pale" else None) for t in seen)
    with av.open(str(out)) as c:
        ours = c.metadata["comment"].splitlines()[-1].removeprefix("colorized by vidcolor ")
    settings = json.loads(ours)["settings"]
    assert settings["confidence"] == mode and settings["confidence_tau"] == (5.0 if mode == "pale" else 8.0)


def test_eval_and_batch_take_the_option(tmp_path, tiny_model):
    photo = write_image(tmp_path / "truth.png", gradient_frame(80, 56))
    r = run("eval", photo, "--model", tiny_model, "--render-size", "64", "--confidence", "pale",
            "--json", tmp_path / "e.json", "--quiet")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "e.json").read_text())["settings"]["confidence"] == "pale"
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.png", gradient_frame(80, 56, colour=False))
    r = run("batch", folder, "-o", tmp_path / "out", "--model", tiny_model, "--confidence", "flip", *FAST)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "a.png").exists()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--confidence", "maybe"], "--confidence 'maybe' (one of: off, flip, pale)"),
        (["--confidence-tau", "0"], "Invalid value for '--confidence-tau'"),
    ],
)
def test_bad_values_are_refused_in_one_line(tmp_path, tiny_model, args, says):
    r = run(gray_clip(tmp_path / "in.mp4", n=2), "-o", tmp_path / "o.mp4", "--model", tiny_model, *args, *FAST)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error: ") and says in lines[0], r.output
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("mode", ["flip", "pale"])
def test_luma_stays_bit_exact_with_the_option_on(tmp_path, tiny_model, mode):
    src = write_video(
        tmp_path / "in.mkv", [gradient_frame(64, 48, t=i / 3, colour=False) for i in range(3)], codec="ffv1",
        pix_fmt="yuv420p",
    )  # fmt: skip
    r = run(src, "-o", tmp_path / "o.mp4", "--model", tiny_model, "--crf", "0", "--confidence", mode, *FAST)
    assert r.exit_code == 0, r.output
    y_in, y_out = luma_planes(src)[0], luma_planes(tmp_path / "o.mp4")[0]
    assert len(y_out) == len(y_in) and all(np.array_equal(a, b) for a, b in zip(y_in, y_out, strict=True))


def test_confidence_tau_without_pale_is_said_not_ignored():
    from vidcolor.config import ColorizeConfig
    from vidcolor.errors import BadInputError

    with pytest.raises(BadInputError, match="--confidence-tau 4: only --confidence pale uses it"):
        ColorizeConfig(confidence="flip", confidence_tau=4.0)
    assert ColorizeConfig(confidence="pale", confidence_tau=4.0).confidence_tau == 4.0
