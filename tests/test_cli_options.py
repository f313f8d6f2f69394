"""Options generated from the config dataclasses (vidcolor.cli.fields): what --help says comes
from the fields, an option reaches the field of its name, and `vidcolor train`'s precedence holds
(defaults < --config FILE < options given). Expectations are read from the dataclasses, never
retyped, so neither side can drift."""

import dataclasses
import inspect
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer.main
from typer.testing import CliRunner

from vidcolor.cli import app
from vidcolor.cli.options import colorize_config
from vidcolor.cli.train import TRAIN_FIELDS
from vidcolor.config import ColorizeConfig, EncodeSettings, GeneratorConfig, TrainConfig

runner = CliRunner()
CONFIG_FIELDS = {f.name: f for c in (ColorizeConfig, EncodeSettings) for f in dataclasses.fields(c)}
# Valid values other than the default for the str fields an option sets (a new one fails below, loudly).
OTHER_STR = {
    "precision": "fp32", "interlaced": "keep", "engine": "torch", "device": "cpu", "codec": "libx265",
    "preset": "slow", "pix_fmt": "yuv420p10le", "encoder_bn": "frozen", "encoder": "resnet18",
    "encoder_weights": "pretrained", "model": "m.safetensors", "confidence": "pale", "init": "default",
    "model_format": "ddcolor",
}  # fmt: skip


def _field(path: str) -> tuple[dataclasses.Field, object]:
    """The TrainConfig field at ``path`` (generator.NAME: the generator's) and its default."""
    owner, value = TrainConfig, TrainConfig()
    *outer, name = path.split(".")
    for part in outer:
        owner, value = type(getattr(value, part)), getattr(value, part)
    return {f.name: f for f in dataclasses.fields(owner)}[name], getattr(value, name)


def _command(name: str):
    return typer.main.get_command(app).commands[name]


def _help_text(*args: str) -> str:
    r = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    return " ".join(r.output.split())


def _other_value(name: str, default: object, p) -> object:
    """A valid value for option ``p`` that is not ``default``, as the field holds it."""
    if isinstance(default, bool):
        return not default
    if isinstance(default, str) or (default is None and name in OTHER_STR):
        return OTHER_STR[name]
    lo, hi = p.min, p.max
    if isinstance(default, int):
        return max(default, lo or 0) + 1
    start = lo or 0.0
    for v in (default / 2 if default else None, start + 0.5, start + 0.1):  # a float in range
        if v is not None and v != default and v >= start and (hi is None or v <= hi):
            return v
    raise AssertionError(f"no test value for {name}={default!r}")


def _args(p, value: object) -> list[str]:
    if isinstance(value, bool):
        flags = p.opts if value else p.secondary_opts
        return [flags[0]]
    return [p.opts[0], str(value)]


# ---------------------------------------------------------------- vidcolor train


def test_train_help_shows_each_fields_default_from_the_dataclass():
    text = _help_text("train")
    params = {p.name: p for p in _command("train").params}
    for path in TRAIN_FIELDS:
        f, default = _field(path)
        p = params[path.rpartition(".")[2]]
        help_said = re.findall(r"\[default: ([^\]]+)\]", p.help or "")
        if isinstance(p.show_default, str):  # flags: typer prints "[default: (no)]"
            said, printed = p.show_default, f"[default: ({p.show_default})]"
        elif help_said:  # unset options (None: a --config file may set the field) say it in their help
            said, printed = help_said[-1], f"[default: {help_said[-1]}]"
        elif p.default is not None:  # given-always options: typer prints their default
            said, printed = str(p.default), f"[default: {p.default}]"
        else:
            said = printed = None
        if "shown" in f.metadata:  # a default that stands for something else (-1: steps/4)
            assert said == f.metadata["shown"], path
        elif isinstance(default, bool):
            assert said == ("yes" if default else "no"), path
        elif default in ("", ()):
            assert said is None, (path, said)  # nothing to show
        elif isinstance(default, int | float):
            assert type(default)(said) == default, (path, said, default)
        else:
            assert said == default, (path, said, default)
        if printed:
            assert printed in text, (path, printed)


def test_every_option_has_its_fields_help_and_no_line_is_bare():
    for name in ("train", "colorize", "batch", "eval", "keyframes"):
        text = _help_text(name)
        assert not re.search(r"\w \.(\s|$)", text) and " . " not in text, name
        for p in _command(name).params:
            if p.name == "help":
                continue
            assert p.help and p.help.strip(" .[]\\"), (name, p.name)
            assert p.help.split(" \\[default")[0].replace("\\[", "[") in text, (name, p.name)
    for path in TRAIN_FIELDS:
        f, _ = _field(path)
        doc = f.metadata["help"]
        assert doc in _help_text("train"), path


@pytest.fixture
def trained(monkeypatch) -> list:
    """`vidcolor train` runs up to the loop, which records the config instead of training."""
    loop = pytest.importorskip("vidcolor.train.loop")
    seen: list = []

    def fake_train(cfg, **_kw):
        seen.append(cfg)
        return SimpleNamespace(step=0, best_val_l1=0.0, out=cfg.out)

    monkeypatch.setattr(loop, "train", fake_train)
    return seen


def test_options_given_override_the_config_file_and_options_left_out_leave_it(tmp_path, trained):
    toml = tmp_path / "c.toml"
    toml.write_text(
        'size = 32\nbatch_size = 2\nlr_g = 0.001\nprecision = "fp32"\npreload = true\nlambda_l1 = 10.0\n'
        "[generator]\nbase = 4\ndepth = 3\n"
    )
    (tmp_path / "data").mkdir()
    given = ["--size", "48", "--base", "8", "--no-preload", "--lambda", "50"]
    r = runner.invoke(app, ["train", str(tmp_path / "data"), "--config", str(toml), *given])
    assert r.exit_code == 0, r.output
    want = dataclasses.replace(
        TrainConfig(),
        data=(str(tmp_path / "data"),),
        size=48,  # given
        batch_size=2,  # from the file
        lr_g=0.001,
        precision="fp32",
        preload=False,  # given (the file said true)
        lambda_l1=50.0,
        generator=GeneratorConfig(base=8, depth=3),  # base given, depth from the file
    )
    assert trained == [want]  # every field left out and not in the file: the dataclass default


@pytest.mark.parametrize("path", TRAIN_FIELDS)
def test_each_train_option_sets_its_field(path, tmp_path, trained):
    _, default = _field(path)
    p = {p.name: p for p in _command("train").params}[path.rpartition(".")[2]]
    extra = ["--encoder", "resnet18"] if path == "encoder_weights" else []  # weights for an encoder U-Net only
    if path in ("out", "split"):
        value: object = str(tmp_path / "x")
    elif path == "val":
        value = (str(tmp_path / "v"),)
    else:
        value = _other_value(p.name, default, p)
    (tmp_path / "data").mkdir()
    args = [p.opts[0], value[0]] if path == "val" else _args(p, value)
    r = runner.invoke(app, ["train", str(tmp_path / "data"), *args, *extra])
    assert r.exit_code == 0, r.output
    got = trained[0]
    for part in path.split("."):
        got = getattr(got, part)
    assert got == value, (path, got, value)


# ---------------------------------------------------------------- colorize options


@pytest.mark.parametrize("command", ["colorize", "batch", "eval", "keyframes"])
def test_each_colorize_option_reaches_its_config_field(command):
    """The options a command builds its ColorizeConfig from are exactly its options named like a
    ColorizeConfig/EncodeSettings field, and each lands in that field."""
    params = [p for p in _command(command).params if p.name in CONFIG_FIELDS]
    written = inspect.signature(inspect.unwrap(_command(command).callback)).parameters  # as the command declares it
    assert "cfg" in written and not CONFIG_FIELDS.keys() & written.keys()  # no field's option bypasses the config
    values = {p.name: _other_value(p.name, CONFIG_FIELDS[p.name].default, p) for p in params}
    cfg = colorize_config(**values)
    for name, value in values.items():
        assert getattr(cfg.encode if name in EncodeSettings.__dataclass_fields__ else cfg, name) == value, name


def test_an_option_that_is_no_config_field_fails_loudly():
    with pytest.raises(TypeError):
        colorize_config(render_sise=256)
    with pytest.raises(TypeError):
        colorize_config(encode=EncodeSettings())


def _every_colorize_option(command: str, tmp_path: Path) -> tuple[list[str], ColorizeConfig]:
    """Arguments giving every config option of ``command`` a non-default value, and the config they make."""
    args, colorize, encode = [], {}, {}
    for p in _command(command).params:
        if p.name not in CONFIG_FIELDS:
            continue
        value = _other_value(p.name, CONFIG_FIELDS[p.name].default, p)
        if p.name == "model":
            value = str(tmp_path / "m.safetensors")
        args += _args(p, value)
        (encode if p.name in EncodeSettings.__dataclass_fields__ else colorize)[p.name] = value
    return args, ColorizeConfig(**colorize, encode=EncodeSettings(**encode))


def test_colorize_passes_every_option_to_its_config(tmp_path, monkeypatch):
    import vidcolor.colorizer
    import vidcolor.engines.cache

    seen, cache = [], []

    class Stop(Exception):
        pass

    def colorizer(cfg, _log):
        seen.append(cfg)
        raise Stop

    monkeypatch.setattr(vidcolor.colorizer, "Colorizer", colorizer)
    monkeypatch.setattr(vidcolor.engines.cache, "set_cache_dir", cache.append)
    args, want = _every_colorize_option("colorize", tmp_path)
    r = runner.invoke(app, [str(tmp_path / "in.mp4"), "-o", str(tmp_path / "o.mp4"), *args, "--cache-dir", "c"])
    assert "Stop" in r.output, r.output
    assert seen == [want] and cache == [Path("c")]


def test_batch_passes_every_option_to_its_config(tmp_path, monkeypatch):
    import vidcolor.batch

    seen = []

    def run_batch(jobs, out_dir, cfg, *_args):
        seen.append(cfg)
        return SimpleNamespace(failed=0, salvaged=0, outcomes=[])

    monkeypatch.setattr(vidcolor.batch, "run_batch", run_batch)
    (tmp_path / "in").mkdir()
    args, want = _every_colorize_option("batch", tmp_path)
    r = runner.invoke(app, ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--quiet", *args])
    assert r.exit_code == 0, r.output
    assert seen == [want]


# ---------------------------------------------------------------- imports


def test_the_command_line_imports_neither_torch_nor_the_train_extra():
    """Options come from the config dataclasses at import time: those must stay torch-free."""
    code = (
        "import sys, vidcolor.cli; "
        "print(sorted(m for m in ('torch', 'tomli_w', 'timm', 'matplotlib', 'torchvision', 'vidcolor.train', "
        "'vidcolor.model') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)


def test_generator_architectures_are_the_ones_the_model_builds():
    from vidcolor.config import GENERATOR_ARCHS
    from vidcolor.model import ARCHITECTURES

    assert tuple(ARCHITECTURES) == GENERATOR_ARCHS


def test_a_config_files_out_is_honoured_and_out_given_wins(tmp_path, trained):
    """A recipe's `out = "runs/x"` is where the run goes (was: always replaced by --out's default,
    runs/train); --out on the line still wins."""
    toml = tmp_path / "recipe.toml"
    toml.write_text(f'out = "{tmp_path / "from_file"}"\nsteps = 5\n')
    (tmp_path / "data").mkdir()
    r = runner.invoke(app, ["train", str(tmp_path / "data"), "--config", str(toml)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", str(tmp_path / "data"), "--config", str(toml), "--out", str(tmp_path / "given")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", str(tmp_path / "data")])
    assert r.exit_code == 0, r.output
    assert [c.out for c in trained] == [str(tmp_path / "from_file"), str(tmp_path / "given"), TrainConfig().out]


@pytest.mark.parametrize(
    "line, said",
    [
        ('seed = "x"', "seed = 'x' should be a whole number"),
        ('data = "tdata"', "data = 'tdata' should be a list of paths"),
        ("lr_g = nan", "lr_g = nan should be a finite number"),
        ("steps = 0", "steps = 0 is out of range (at least 1)"),
        ("[generator]\ndepth = 40", "depth = 40 is out of range (1 to 8)"),
        ("[generator]\nbase = 2.5", "base = 2.5 should be a whole number"),
    ],
)
def test_a_config_file_value_of_the_wrong_type_or_range_is_one_line_naming_it(line, said, tmp_path, trained):
    toml = tmp_path / "c.toml"
    toml.write_text(line + "\n")
    r = runner.invoke(app, ["train", "--config", str(toml)])  # no DATA: the file's data stands
    assert r.exit_code == 2 and trained == []
    assert said in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_resume_refuses_options_that_would_change_the_saved_recipe(tmp_path, trained):
    r = runner.invoke(app, ["train", "--out", str(tmp_path / "run"), "--resume", "--steps", "9", "--lr-g", "0.1"])
    assert r.exit_code == 2 and trained == []
    assert "--lr-g: a resumed run keeps the recipe saved in its last.pt" in r.output
    r = runner.invoke(app, ["train", str(tmp_path), "--out", str(tmp_path / "run"), "--resume", "--size", "32"])
    assert r.exit_code == 2 and "--size, DATA: a resumed run keeps" in r.output
