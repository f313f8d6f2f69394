"""Bring your own colorizer (issue 26): ONNX files of other projects' conventions (DDColor, DeOldify,
a sidecar), blends, and the refusals. The tests build tiny ONNX graphs whose colour is known:
a DDColor-style one answers a constant (a, b), a DeOldify-style one tints the gray picture by a
known RGB offset; the colour that arrives in the output is checked against that."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from make_media import luma_planes, read_frames, write_image, write_video
from vidcolor.cli import app
from vidcolor.color import AB_SCALE, lab_to_rgb, rgb_to_lab
from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
from vidcolor.engines.foreign import ForeignEngine, inspect_onnx
from vidcolor.errors import BadInputError, ModelFileError

runner = CliRunner()
AB = (20.0, -15.0)  # the DDColor graph's constant colour, Lab units
TINT = (40.0, 0.0, -30.0)  # the DeOldify graph's RGB offset, 0-255


def _save(path: Path, graph: onnx.GraphProto, **kw) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), *kw.pop("opsets", [])], **kw)
    model.ir_version = 8  # what the installed ONNX Runtime reads
    onnx.save(model, str(path))
    return path


def _dims(batch: int | str, size: int | None, channels: int | str) -> list:
    return [batch, channels, size or "H", size or "W"]


def ddcolor_file(
    path: Path, ab=AB, size: int | None = 256, batch: int | str = 1, out_channels: int = 2, declare: bool = True
) -> Path:
    """DDColor's convention: gray RGB [N,3,S,S] in [0,1] -> constant (a, b) in Lab units [N,2,S,S]
    (a 1x1 convolution with zero weights and (a, b) as its bias)."""
    w = numpy_helper.from_array(np.zeros((out_channels, 3, 1, 1), np.float32), "w")
    b = numpy_helper.from_array(np.array([*ab, 0.0][:out_channels], np.float32), "b")
    node = helper.make_node("Conv", ["image", "w", "b"], ["ab"])
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, _dims(batch, size, 3))
    out = helper.make_tensor_value_info("ab", TensorProto.FLOAT, _dims(batch, size, out_channels if declare else "C"))
    return _save(path, helper.make_graph([node], "ddcolor-const", [inp], [out], [w, b]))


def deoldify_file(path: Path, tint=TINT, size: int | None = 256, batch: int | str = 1) -> Path:
    """DeOldify's convention: gray RGB [N,3,S,S] in 0-255 -> the same plus an RGB offset, 0-255."""
    offset = numpy_helper.from_array(np.array(tint, np.float32).reshape(1, 3, 1, 1), "offset")
    node = helper.make_node("Add", ["image", "offset"], ["rgb"])
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, _dims(batch, size, 3))
    out = helper.make_tensor_value_info("rgb", TensorProto.FLOAT, _dims(batch, size, 3))
    return _save(path, helper.make_graph([node], "deoldify-tint", [inp], [out], [offset]))


def gray_frame(w: int = 64, h: int = 48, t: float = 0.0) -> np.ndarray:
    """Mid-tone gray (80..180, where most colours are in gamut), a gradient that moves with ``t``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    v = 130 + 50 * np.sin(xx / w * 3.0 + yy / h * 2.0 + t)
    return np.repeat(v[..., None], 3, -1).round().astype(np.uint8)


def lab_of(frames: list[np.ndarray]) -> torch.Tensor:
    """uint8 RGB frames (H,W,3) -> Lab (N,3,H,W)."""
    return rgb_to_lab(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255)


def in_gamut(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Where the colour (L (N,1,H,W), ab (N,2,H,W) in Lab units) is inside sRGB, with a margin."""
    import kornia.color

    rgb = kornia.color.lab_to_rgb(torch.cat([L, ab.expand(len(L), -1, *L.shape[-2:])], 1), clip=False)
    return ((rgb > 0.02) & (rgb < 0.98)).all(1, keepdim=True)


def tinted_ab(gray: np.ndarray, tint=TINT) -> torch.Tensor:
    """The ab of the gray picture plus the RGB offset (what the DeOldify graph answers), Lab units."""
    rgb = (torch.from_numpy(gray).permute(2, 0, 1)[None].float() + torch.tensor(tint).view(1, 3, 1, 1)) / 255
    return rgb_to_lab(rgb.clamp(0, 1))[:, 1:]


def run(*args: str) -> object:
    return runner.invoke(app, [*map(str, args)])


# ---------------------------------------------------------------- the two conventions, end to end


def test_ddcolor_constant_ab_arrives_in_the_video_with_luma_untouched(tmp_path):
    src = write_video(tmp_path / "in.mp4", [gray_frame(t=i / 3) for i in range(6)], fps=6)
    model = ddcolor_file(tmp_path / "m.onnx")
    r = run(src, "-o", tmp_path / "o.mp4", "--model", model, "--model-format", "ddcolor", "--crf", "0", "-q")
    assert r.exit_code == 0, r.output
    lab = lab_of(read_frames(tmp_path / "o.mp4"))
    want = torch.tensor(AB).view(1, 2, 1, 1)
    mask = in_gamut(lab[:, :1], want)[..., 2:-2, 2:-2]  # chroma is 4:2:0: away from the edges
    err = (lab[:, 1:] - want)[..., 2:-2, 2:-2].abs().amax(1, keepdim=True)
    assert mask.float().mean() > 0.9 and err[mask].max() <= 2.0, err[mask].max()
    y_in, y_out = luma_planes(src)[0], luma_planes(tmp_path / "o.mp4")[0]
    assert all(np.array_equal(a, b) for a, b in zip(y_in, y_out, strict=True))


def test_deoldify_tint_chroma_on_the_original_luma_of_a_still(tmp_path):
    gray = gray_frame()
    src = write_image(tmp_path / "in.png", gray)
    model = deoldify_file(tmp_path / "m.onnx")
    r = run(src, "-o", tmp_path / "o.png", "--model", model, "--model-format", "deoldify", "-q")
    assert r.exit_code == 0, r.output
    from PIL import Image

    out = lab_of([np.asarray(Image.open(tmp_path / "o.png").convert("RGB"))])
    L_in = lab_of([gray])[:, :1]
    want = tinted_ab(gray)
    mask = in_gamut(L_in, want)
    assert mask.float().mean() > 0.9
    err = (out[:, 1:] - want).abs().amax(1, keepdim=True)
    assert err[mask].max() <= 2.5, err[mask].max()
    assert (out[:, :1] - L_in).abs()[mask].max() <= 1.0  # its own lightness, not the tinted picture's


@pytest.mark.parametrize("size", [256, None], ids=["fixed", "dynamic"])
@pytest.mark.parametrize("batch", [1, "N"], ids=["batch1", "dynamic-batch"])
def test_sizes_and_batches(tmp_path, size, batch):
    """Fixed S (resized both ways) or dynamic (the render size, padded), fixed batch 1 (one frame
    at a time) or dynamic: the same colour for every frame of a batch of 3."""
    engine = ForeignEngine(deoldify_file(tmp_path / "m.onnx", size=size, batch=batch), "deoldify", torch.device("cpu"))
    assert engine.batch == (1 if batch == 1 else None) and engine.size == ((size, size) if size else None)
    L = torch.linspace(-0.4, 0.4, 40 * 56).view(1, 1, 40, 56).repeat(3, 1, 1, 1)  # 56: no multiple of 32
    ab = engine(L)
    assert ab.shape == (3, 2, 40, 56) and ab.dtype == torch.float32
    gray = (lab_to_rgb(torch.cat([(L[:1] + 1) * 50, torch.zeros(1, 2, 40, 56)], 1)) * 255)[0].permute(1, 2, 0)
    want = tinted_ab(gray.numpy()) / AB_SCALE
    tol = 0.5 if size else 0.05  # Lab units: a fixed S resizes the gradient there and back
    assert (ab - want).abs().max() * AB_SCALE <= tol


def test_a_preset_for_every_model_format():
    from vidcolor.config import MODEL_FORMATS
    from vidcolor.engines.foreign import PRESETS

    assert set(PRESETS) == set(MODEL_FORMATS)


def test_a_sidecar_describes_another_convention(tmp_path):
    """FILE.onnx.json: the same fields as the presets; here ab in units of 1/128, 0-255 input."""
    model = ddcolor_file(tmp_path / "m.onnx", ab=(0.25, -0.125), size=None, batch="N")
    (tmp_path / "m.onnx.json").write_text(json.dumps({"input_range": [0, 255], "ab_scale": 128, "multiple": 8}))
    engine = ForeignEngine(model, None, torch.device("cpu"))
    ab = engine(torch.zeros(2, 1, 20, 30)) * AB_SCALE
    assert engine.conv.multiple == 8 and torch.allclose(ab, torch.tensor([32.0, -16.0]).view(1, 2, 1, 1), atol=1e-4)


def test_a_sidecar_can_say_channels_last(tmp_path):
    """NHWC in and out (TensorFlow-style exports): the same tint as the NCHW graph."""
    offset = numpy_helper.from_array(np.array(TINT, np.float32).reshape(1, 1, 1, 3), "offset")
    node = helper.make_node("Add", ["image", "offset"], ["rgb"])
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 64, 64, 3])
    out = helper.make_tensor_value_info("rgb", TensorProto.FLOAT, [1, 64, 64, 3])
    model = _save(tmp_path / "m.onnx", helper.make_graph([node], "nhwc", [inp], [out], [offset]))
    (tmp_path / "m.onnx.json").write_text(json.dumps({"base": "deoldify", "layout": "NHWC"}))
    engine = ForeignEngine(model, None, torch.device("cpu"))
    assert engine.size == (64, 64) and engine.conv.name == "m.onnx.json"
    gray = np.full((64, 64, 3), 120, np.uint8)
    L = rgb_to_lab(torch.from_numpy(gray).permute(2, 0, 1)[None].float() / 255)[:, :1] / 50 - 1
    assert (engine(L) * AB_SCALE - tinted_ab(gray)).abs().max() < 0.5


def test_vidcolors_own_export_is_recognised_without_a_format(tmp_path, tiny_model):
    pytest.importorskip("onnxscript")
    from vidcolor.engines.onnx import export_onnx
    from vidcolor.modelfile import load_generator

    generator, _ = load_generator(tiny_model)
    path = export_onnx(generator, tmp_path / "own.onnx")
    engine = ForeignEngine(path, None, torch.device("cpu"))
    assert engine.conv.name == "vidcolor" and engine.multiple == generator.config.multiple
    L = torch.rand(1, 1, 24, 40) * 2 - 1
    eager = Colorizer(ColorizeConfig(model=str(tiny_model), engine="eager", precision="fp32", device="cpu"))
    assert (engine(L) - eager.engine(L)).abs().max() < 1e-3


# ---------------------------------------------------------------- blends


def test_blend_is_the_weighted_mean_of_the_members_ab(tmp_path):
    dd = ddcolor_file(tmp_path / "dd.onnx")
    de = deoldify_file(tmp_path / "de.onnx")
    # confidence off: the blend's arithmetic (pale, the default, then pales the blend as a whole)
    base = {"device": "cpu", "engine": "auto", "precision": "auto", "confidence": "off"}
    alone = [
        Colorizer(ColorizeConfig(model=str(dd), model_format="ddcolor", **base)),
        Colorizer(ColorizeConfig(model=str(de), model_format="deoldify", **base)),
        Colorizer(ColorizeConfig(model="default", **base)),
    ]
    blend = Colorizer(
        ColorizeConfig(model=f"{dd}:1", blend=(f"{de}:2", "default:1"), model_format="ddcolor,deoldify", **base)
    )
    rgb = torch.from_numpy(np.stack([gray_frame()])).permute(0, 3, 1, 2)
    abs_ = [c.predict(rgb)[1].float() for c in alone]
    want = (abs_[0] * 1 + abs_[1] * 2 + abs_[2] * 1) / 4
    assert (blend.predict(rgb)[1] - want).abs().max() < 1e-5
    assert blend.engine.name.startswith("blend of ") and blend.model_id.count("+") == 2
    # --engine/--precision are the generator's in a blend; alone, an ONNX file refuses them (below)
    eager = Colorizer(
        ColorizeConfig(
            model=str(dd), blend=("default",), model_format="ddcolor", device="cpu", engine="eager", precision="fp32"
        )
    )
    assert "eager fp32" in eager.engine.name and "onnxruntime cpu (ddcolor)" in eager.engine.name


def test_blend_on_the_command_line(tmp_path):
    gray = gray_frame()
    src = write_image(tmp_path / "in.png", gray)
    dd = ddcolor_file(tmp_path / "dd.onnx")
    de = deoldify_file(tmp_path / "de.onnx")
    args = ["--model", f"{dd}:3", "--model", de, "--model-format", "ddcolor,deoldify", "-q"]
    r = run(src, "-o", tmp_path / "o.png", *args)
    assert r.exit_code == 0, r.output
    from PIL import Image

    out = lab_of([np.asarray(Image.open(tmp_path / "o.png").convert("RGB"))])
    want = (3 * torch.tensor(AB).view(1, 2, 1, 1) + tinted_ab(gray)) / 4
    mask = in_gamut(out[:, :1], want)
    assert (out[:, 1:] - want).abs().amax(1, keepdim=True)[mask].max() <= 2.5


# ---------------------------------------------------------------- refusals: one line, exit 2


def _custom_op_file(path: Path) -> Path:
    node = helper.make_node("Colorize", ["image"], ["ab"], domain="evil.ops")
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 256, 256])
    out = helper.make_tensor_value_info("ab", TensorProto.FLOAT, [1, 2, 256, 256])
    return _save(path, helper.make_graph([node], "g", [inp], [out]), opsets=[helper.make_opsetid("evil.ops", 1)])


def _external_data_file(path: Path, location: str) -> Path:
    ddcolor_file(path)
    model = onnx.load(str(path))
    w = next(t for t in model.graph.initializer if t.name == "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    "case, needle",
    [
        ("no-format", "--model-format vidcolor|ddcolor|deoldify"),
        ("custom-op", "custom operator evil.ops::Colorize"),
        ("external-data", "outside the model's folder"),
        ("wrong-channels", "output declares 3 channels"),
        ("wrong-channels-found", "output gives 3 channels"),
        ("bad-format", "invalid option --model-format"),
        ("wrong-engine", "runs on onnxruntime"),
        ("nan", "NaN or infinite values"),
        ("not-onnx", "not a readable ONNX file"),
    ],
)
def test_refusals_are_one_line_and_exit_2(tmp_path, case, needle):
    src = write_video(tmp_path / "in.mp4", [gray_frame(t=i) for i in range(2)], fps=2)
    m = tmp_path / "models" / "m.onnx"
    m.parent.mkdir()
    extra = ["--model-format", "ddcolor"]
    if case == "no-format":
        ddcolor_file(m)
        extra = []
    elif case == "custom-op":
        _custom_op_file(m)
    elif case == "external-data":
        _external_data_file(m, "../secrets.bin")
    elif case == "wrong-channels":
        ddcolor_file(m, out_channels=3)
    elif case == "wrong-channels-found":
        ddcolor_file(m, out_channels=3, declare=False)
    elif case == "bad-format":
        ddcolor_file(m)
        extra = ["--model-format", "pix2pix"]
    elif case == "nan":  # zeros / 0: a broken export's NaN must not reach the chroma planes
        ddcolor_file(m, ab=(0.0, 0.0))
        model = onnx.load(str(m))
        model.graph.initializer.append(numpy_helper.from_array(np.zeros((1,), np.float32), "zero"))
        model.graph.node[0].output[0] = "c"
        model.graph.node.append(helper.make_node("Div", ["c", "zero"], ["ab"]))
        onnx.save(model, str(m))
    elif case == "not-onnx":
        m.write_text("this is not a model")
    else:
        ddcolor_file(m)
        extra += ["--engine", "eager"]
    r = run(src, "-o", tmp_path / "o.mp4", "--model", m, *extra)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.output, r.output
    assert not (tmp_path / "o.mp4").exists()


def test_external_data_inside_the_folder_is_allowed(tmp_path):
    m = _external_data_file(tmp_path / "m.onnx", "weights/w.bin")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "w.bin").write_bytes(np.zeros((2, 3, 1, 1), np.float32).tobytes())
    assert inspect_onnx(m).input_shape == (1, 3, 256, 256)
    ab = ForeignEngine(m, "ddcolor", torch.device("cpu"))(torch.zeros(1, 1, 16, 16)) * AB_SCALE
    assert torch.allclose(ab, torch.tensor(AB).view(1, 2, 1, 1), atol=1e-4)


def test_a_bad_weight_or_format_count_is_refused(tmp_path):
    dd = ddcolor_file(tmp_path / "dd.onnx")
    with pytest.raises(BadInputError, match="weight must be a number > 0"):
        Colorizer(ColorizeConfig(model=f"{dd}:0", model_format="ddcolor", device="cpu"))
    with pytest.raises(BadInputError, match="2 formats for 1 ONNX models"):
        Colorizer(ColorizeConfig(model=str(dd), model_format="ddcolor,deoldify", device="cpu"))
    with pytest.raises(ModelFileError, match="not a readable ONNX file"):
        inspect_onnx(Path(__file__))


# ---------------------------------------------------------------- the pipeline around a foreign model


def test_smoothing_and_resume_with_a_foreign_model(tmp_path):
    src = write_video(tmp_path / "in.mp4", [gray_frame(t=i / 4) for i in range(12)], fps=6, options={"g": "3"})
    model = ddcolor_file(tmp_path / "m.onnx")
    common = ["--model", model, "--model-format", "ddcolor", "--smoothing", "0.9", "-q"]
    r = run(src, "-o", tmp_path / "o.mp4", *common, "--resume", "--segment-seconds", "0.5")
    assert r.exit_code == 0, r.output
    assert len(read_frames(tmp_path / "o.mp4")) == 12
    meta = _comment(tmp_path / "o.mp4")
    assert meta["model"].startswith("m.onnx:") and "ddcolor" in meta["engine"]
    assert meta["settings"]["model_format"] == "ddcolor"


def _comment(path: Path) -> dict:
    import av

    with av.open(str(path)) as c:
        return json.loads(c.metadata["comment"].splitlines()[-1].removeprefix("colorized by vidcolor "))


def test_batch_with_a_foreign_model(tmp_path):
    (tmp_path / "in").mkdir()
    write_video(tmp_path / "in" / "a.mp4", [gray_frame(t=i) for i in range(3)], fps=3)
    write_image(tmp_path / "in" / "b.png", gray_frame())
    model = ddcolor_file(tmp_path / "m.onnx")
    args = ["batch", tmp_path / "in", "-o", tmp_path / "out", "--model", model, "--model-format", "ddcolor", "-q"]
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "a.mp4").exists() and (tmp_path / "out" / "b.png").exists()
    made = (tmp_path / "out" / "a.mp4").stat().st_mtime_ns
    assert run(*args).exit_code == 0  # the same model and settings: nothing to redo
    assert (tmp_path / "out" / "a.mp4").stat().st_mtime_ns == made
    ddcolor_file(model, ab=(5.0, 5.0))  # another model under the same name: its digest differs
    assert run(*args).exit_code == 0
    assert (tmp_path / "out" / "a.mp4").stat().st_mtime_ns != made


def test_hints_guide_a_foreign_models_colour(tmp_path):
    photo = write_image(tmp_path / "p.png", gray_frame(96, 64))
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps([{"x": 0.5, "y": 0.5, "rgb": [40, 60, 230]}]))
    common = ("--model", ddcolor_file(tmp_path / "m.onnx"), "--model-format", "ddcolor", "-q")
    assert run(photo, "-o", tmp_path / "auto.png", *common).exit_code == 0
    r = run(photo, "-o", tmp_path / "guided.png", "--hints", hints, *common)
    assert r.exit_code == 0, r.output
    auto, guided = (read_frames(tmp_path / n)[0].astype(int) for n in ("auto.png", "guided.png"))
    blue = lambda im: (im[28:36, 44:52, 2] - im[28:36, 44:52, 0]).mean()  # noqa: E731
    assert blue(guided) > blue(auto) + 40


def test_eval_measures_a_foreign_model(tmp_path):
    truth = write_image(tmp_path / "truth.png", gray_frame())
    out = tmp_path / "e.json"
    model = ddcolor_file(tmp_path / "m.onnx")
    r = run("eval", truth, "--json", out, "--model", model, "--model-format", "ddcolor", "-q")
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["model"].startswith("m.onnx:") and "ddcolor" in doc["engine"]


def test_model_command_describes_a_file(tmp_path, tiny_model):
    r = run("model", tiny_model)
    assert r.exit_code == 0 and "vidcolor generator" in r.output and "base=4" in r.output, r.output
    model = deoldify_file(tmp_path / "m.onnx", size=None, batch="N")
    r = run("model", model)
    assert r.exit_code == 0 and "input       image [N, 3, H, W]" in r.output and "unknown:" in r.output, r.output
    r = run("model", model, "--model-format", "deoldify")
    assert r.exit_code == 0, r.output
    assert "deoldify (input=gray_rgb" in r.output and "padded to a multiple of 32" in r.output
    assert "dynamic: --batch-size" in r.output and "onnxruntime cpu (deoldify)" in r.output
    r = run("model", _custom_op_file(tmp_path / "evil.onnx"))
    assert r.exit_code == 2 and "custom operator" in r.output


@pytest.mark.parametrize(
    "text, said",
    [
        ('{"ab_scale": NaN}', "ab_scale = NaN should be a finite number > 0"),
        ('{"ab_scale": "1"}', 'ab_scale = "1" should be a finite number > 0'),
        ('{"ab_scale": [1]}', "ab_scale = [1] should be a finite number > 0"),
        ('{"multiple": 2.5}', "multiple = 2.5 should be a whole number of pixels, 1 to 4096"),
        ('{"size": 256.5}', "size = 256.5 should be a whole number of pixels, 1 to 4096 (or dynamic)"),
        ('{"size": 100000}', "size = 100000 should be a whole number of pixels"),
        ('{"input_range": [0]}', "input_range = [0] should be [low, high], two finite numbers"),
        ('{"layout": 1}', "layout = 1 should be text"),
    ],
)
def test_a_sidecar_value_of_the_wrong_type_or_size_is_one_line_naming_it(text, said, tmp_path):
    # Was: an all-black picture with exit 0 (NaN), a TypeError, or a 40 GB allocation (size 100000).
    from vidcolor.engines.foreign import read_sidecar
    from vidcolor.errors import ModelFileError

    (tmp_path / "m.onnx.json").write_text(text)
    with pytest.raises(ModelFileError) as e:
        read_sidecar(tmp_path / "m.onnx.json")
    assert said in str(e.value) and "\n" not in str(e.value)


def test_the_model_id_changes_with_external_data_the_convention_file_and_the_format(tmp_path):
    # Was: the id hashed the .onnx alone, so batch took a changed model's films as done, --resume
    # joined stale segments, and two models' outputs carried the same digest.
    from vidcolor.colorizer import model_id

    plain = ddcolor_file(tmp_path / "plain.onnx")
    assert model_id(plain) == f"plain.onnx:{hashlib.sha256(plain.read_bytes()).hexdigest()[:12]}"  # as before
    m = ddcolor_file(tmp_path / "m.onnx")
    model = onnx.load(str(m))
    onnx.save(model, str(m), save_as_external_data=True, all_tensors_to_one_file=True, location="m.data",
              size_threshold=0)  # fmt: skip
    ids = {model_id(m)}
    (tmp_path / "m.data").write_bytes((tmp_path / "m.data").read_bytes()[:-4] + b"\0\0\x80?")  # other weights
    ids.add(model_id(m))
    (tmp_path / "m.onnx.json").write_text('{"ab_scale": 2}')
    ids.add(model_id(m))
    ids.add(model_id(m, "deoldify"))
    assert len(ids) == 4


def test_a_dynamic_batch_whose_output_batch_is_always_1_is_refused_before_any_frame(tmp_path):
    # Was an IndexError on video: the dry run tried batch 1 only, where such a file looks right.
    w = numpy_helper.from_array(np.zeros((2, 3, 1, 1), np.float32), "w")
    b = numpy_helper.from_array(np.array([20.0, -10.0], np.float32), "b")
    conv = helper.make_node("Conv", ["image", "w", "b"], ["ab_n"])
    first = helper.make_node("ReduceMean", ["ab_n"], ["ab"], axes=[0], keepdims=1)
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 64, 64])
    out = helper.make_tensor_value_info("ab", TensorProto.FLOAT, ["M", 2, 64, 64])
    graph = helper.make_graph([conv, first], "one", [inp], [out], [w, b])
    model = _save(tmp_path / "one.onnx", graph)
    with pytest.raises(ModelFileError, match="output gives batch 1 for an input of 2"):
        ForeignEngine(model, "ddcolor", torch.device("cpu"))
