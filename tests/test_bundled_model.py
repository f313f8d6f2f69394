"""The bundled default model: present, small, self-describing, and used when --model is not given."""

import numpy as np
from typer.testing import CliRunner

from make_media import gradient_frame, read_frames, write_video
from vidcolor.cli import app
from vidcolor.colorizer import default_model_path
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
    assert g.config.multiple == 64
    assert g.config.hints  # since issue 12 the default also takes colour hints (guided colorization builds on it)


def test_colorize_with_the_default_model(tmp_path):
    frames = [gradient_frame(128, 96, t=i / 5, colour=False) for i in range(6)]
    src = write_video(tmp_path / "bw.mp4", frames)
    out = tmp_path / "colour.mp4"
    r = CliRunner().invoke(app, [str(src), "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    yuv = np.stack(read_frames(out, "yuv444p"))
    assert len(yuv) == 6
    assert np.abs(yuv[:, 1:].astype(int) - 128).mean() > 0.5  # the model adds some colour
