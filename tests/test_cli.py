import pytest
from typer.testing import CliRunner

from vidcolor.cli import app

runner = CliRunner()


def test_help_lists_default_command_and_subcommands():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    assert "vidcolor INPUT -o OUTPUT" in r.output
    for name in ("colorize", "train"):
        assert name in r.output


def test_bare_input_routes_to_the_default_command(tmp_path):
    r = runner.invoke(app, [str(tmp_path / "in.mp4"), "--help"])
    assert r.exit_code == 0
    assert "--output" in r.output


def test_train_help_shows_its_options():
    r = runner.invoke(app, ["train", "--help"])
    assert r.exit_code == 0
    for opt in (
        "--out",
        "--steps",
        "--pretrain-steps",
        "--size",
        "--batch-size",
        "--device",
        "--config",
        "--resume",
        "--seed",
    ):
        assert opt in r.output


def test_bad_option_value_is_a_usage_error():
    r = runner.invoke(app, ["train", "x", "--steps", "0"])
    assert r.exit_code == 2


def test_resume_without_a_run_is_one_line_exit_2(tmp_path):
    r = runner.invoke(app, ["train", "--out", str(tmp_path / "none"), "--resume"])
    assert r.exit_code == 2
    assert "nothing to resume" in r.output
    assert "Traceback" not in r.output


def test_version_prints_and_exits_0():
    from vidcolor import __version__

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"vidcolor {__version__}"


@pytest.mark.parametrize("fast_bf16", [True, False], ids=["cpu-with-bf16", "cpu-without-bf16"])
def test_auto_engine_with_a_precision_keeps_the_eager_fp32_last_resort(monkeypatch, fast_bf16):
    """On either kind of CPU (the rule once held only where the CPU had no native bf16: with it,
    ``--precision fp32`` put eager fp32 first and the ONNX Runtime after it)."""
    import torch

    import vidcolor.engines
    from vidcolor.colorizer import engine_choices
    from vidcolor.engines import engine_precisions

    monkeypatch.setattr(vidcolor.engines, "cpu_has_fast_bf16", lambda: fast_bf16)
    cpu = torch.device("cpu")
    assert engine_choices("auto", "auto", cpu)[0] == (("eager", "bf16") if fast_bf16 else ("onnxruntime", "fp32"))
    for precision in ("auto", "bf16", "fp16", "fp32"):
        choices = engine_choices("auto", precision, cpu)
        assert choices[-1] == ("eager", "fp32") and len(choices) == len(set(choices)), choices
        assert all(p in engine_precisions(n) for n, p in choices), choices
        if precision != "auto":
            assert all(p == precision for _n, p in choices[:-1])
    assert engine_choices("auto", "fp32", cpu) == [("onnxruntime", "fp32"), ("eager", "fp32")]


def test_an_engine_is_never_given_a_precision_it_does_not_run(tmp_path):
    """Was: ``--engine onnxruntime --precision fp16`` fell back to eager fp32 with a warning."""
    from make_media import gradient_frame, write_video

    clip = write_video(tmp_path / "in.mp4", [gradient_frame(32, 32, t=i) for i in range(3)])
    out = tmp_path / "out.mp4"
    r = runner.invoke(app, [str(clip), "-o", str(out), "--engine", "onnxruntime", "--precision", "fp16"])
    assert r.exit_code == 2, r.output
    assert "--engine onnxruntime runs fp32, not --precision fp16" in r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert not out.exists()


def test_option_defaults_are_the_config_defaults():
    """One home per default: every colorize/batch option that is a ColorizeConfig or EncodeSettings
    field shows that field's default (they were typed twice and could drift)."""
    import dataclasses

    import typer.main

    from vidcolor.config import ColorizeConfig, EncodeSettings

    want = {f.name: f.default for c in (ColorizeConfig, EncodeSettings) for f in dataclasses.fields(c)}
    group = typer.main.get_command(app)
    checked = 0
    for name in ("colorize", "batch", "eval", "keyframes"):
        for p in group.commands[name].params:
            if p.name in want and p.name != "model" and want[p.name] is not dataclasses.MISSING:
                assert p.default == want[p.name], (name, p.name)
                checked += 1
    assert checked >= 30


def test_train_help_defaults_match_the_training_config():
    """`vidcolor train` options default to None (so a TOML config can fill them) and print the
    training default in their help; those printed defaults must be TrainConfig's."""
    import re

    import typer.main

    from vidcolor.train.config import TrainConfig

    cfg = TrainConfig()
    checked = 0
    for p in typer.main.get_command(app).commands["train"].params:
        m = re.search(r"\[default: ([^\]]+)\]", p.help or "")
        if m and hasattr(cfg, p.name) and p.name not in ("pretrain_steps", "threads"):  # computed: steps/4, cores
            want, said = getattr(cfg, p.name), m.group(1)
            assert (float(said) == want) if isinstance(want, int | float) else said == str(want), (p.name, want)
            checked += 1
    assert checked >= 10


def test_help_shows_every_default_and_no_markup_is_eaten():
    """Rich read "[default: 128]" and "vidcolor[train]" in help texts as style tags and dropped
    them: `train --help` showed ~20 options without their defaults and bare " ." endings."""
    import re

    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        out = runner.invoke(app, [name, "--help"], env={"COLUMNS": "400"}).output
        text = " ".join(out.split())  # undo the table's wrapping
        assert not re.search(r"\w \.(\s|$)", text), (name, re.findall(r".{40}\w \.\s", text))
        for p in command.params:
            for said in re.findall(r"\[default: [^\]]+\]", p.help or ""):
                assert said in text, (name, p.name, said)
    assert "pip install 'vidcolor[train]'" in " ".join(
        runner.invoke(app, ["train", "--help"], env={"COLUMNS": "400"}).output.split()
    )


@pytest.mark.parametrize(
    "args, says",
    [
        (["in.mp4", "-o", "o.mp4", "--render-size", "5"], "Invalid value for '--render-size'"),
        (["in.mp4", "-o", "o.mp4", "--smoothing", "2"], "Invalid value for '--smoothing'"),
        (["in.mp4", "-o", "o.mp4", "--no-such-option"], "No such option: --no-such-option"),
        (["in.mp4"], "Missing option '--output'"),
        (["train", "d", "--size", "4"], "Invalid value for '--size'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(args, says):
    """Was: a usage block and a multi-line box; now like every other error, one line."""
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error: ") and says in lines[0], r.output


def test_an_empty_output_name_is_refused_not_frames_in_the_current_folder(tmp_path, monkeypatch):
    # `vidcolor film.mp4 -o "$OUT"` with OUT unset: was exit 0 and frame_000001.png ... here.
    from make_media import gradient_frame, write_video

    src = write_video(tmp_path / "film.mp4", [gradient_frame(64, 48, t=i) for i in range(3)])
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, [str(src), "-o", ""])
    assert r.exit_code == 2 and "-o/--output is empty" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4"]


def test_a_model_weight_left_out_after_the_colon_is_said(tmp_path):
    r = runner.invoke(app, [str(tmp_path / "in.mp4"), "-o", str(tmp_path / "o.mp4"), "--model", "dd256.onnx:"])
    assert r.exit_code == 2 and "--model 'dd256.onnx:': the weight after ':' is missing" in r.output


def test_model_default_describes_the_bundled_model():
    r = runner.invoke(app, ["model", "default"])
    assert r.exit_code == 0, r.output
    assert "weights/default.safetensors" in r.output and "architecture" in r.output
