import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from make_media import gradient_frame, write_image, write_video
from vidcolor.config import GeneratorConfig
from vidcolor.errors import BadInputError
from vidcolor.modelfile import load_generator
from vidcolor.train.bundle import bundle
from vidcolor.train.config import TrainConfig
from vidcolor.train.loop import neutral_weight, resume_config, train, train_step
from vidcolor.train.state import build_state

TINY = GeneratorConfig(base=4, depth=3, max_channels=16)


def tiny_config(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(
        data=(str(data),),
        out=str(out),
        steps=4,
        pretrain_steps=2,
        size=32,
        batch_size=4,
        workers=0,
        log_every=1,
        eval_every=2,
        sample_every=2,
        ckpt_every=2,
        frames_per_video=6,
        d_base=8,
        generator=TINY,
    )
    base.update(kw)
    return TrainConfig(**base)


def quiet(_msg: str) -> None:
    pass


def test_training_run_leaves_every_artefact(image_folder, tmp_path, published):
    out = tmp_path / "run"
    result = train(tiny_config(image_folder, out, snapshot_every=2), log=quiet, progress=False)
    assert result.step == 4
    # checkpoint and models: written under a temporary name, fsynced, renamed (never half-written)
    for name in ("last.pt", "best.safetensors", "best.json", "snapshots/step_0000004.safetensors"):
        assert out / name in published, name
    assert sorted(p.name for p in (out / "snapshots").glob("*.safetensors")) == [
        "step_0000002.safetensors",
        "step_0000004.safetensors",
    ]
    assert load_generator(out / "snapshots" / "step_0000004.safetensors")[1]["step"] == 4
    # Shipping a chosen snapshot: fp16 file + metadata naming the held-out files + the recipe.
    shipped = bundle(out, tmp_path / "weights", out / "snapshots" / "step_0000002.safetensors", "eval")
    g2, info2 = load_generator(shipped)
    assert info2["step"] == 2 and g2.config == TINY and info2["selected_by"] == "eval"
    assert info2["validation_files"] == [Path(p).name for p in json.loads((out / "data.json").read_text())["val"]]
    assert (tmp_path / "weights" / "recipe.toml").read_text() == (out / "config.toml").read_text()
    for name in ("config.toml", "data.json", "log.jsonl", "loss.png", "last.pt", "best.safetensors", "best.json"):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000002.png", "step_0000004.png"]
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert [r["phase"] for r in train_rows] == ["pretrain", "pretrain", "gan", "gan"]
    assert all(r["d"] is not None and r["g_gan"] is not None for r in train_rows[2:])
    assert {"val_l1", "val_psnr"} <= set(next(r for r in rows if r["kind"] == "val"))
    g, info = load_generator(out / "best.safetensors")
    assert g.config == TINY and info["selected_by"] == "val_l1"
    assert "pretrain_steps = 2" in (out / "config.toml").read_text()
    files = json.loads((out / "data.json").read_text())
    assert files["val"] and set(files["train"]).isdisjoint(files["val"])
    assert [Path(p).name for p in files["grayscale_skipped"]] == ["gray.png"]


def test_resume_continues_exactly(image_folder, tmp_path):
    straight = tmp_path / "straight"
    train(tiny_config(image_folder, straight, steps=6, ckpt_every=1), log=quiet, progress=False)
    split = tmp_path / "split"
    train(tiny_config(image_folder, split, steps=6, ckpt_every=1), log=quiet, progress=False, stop_at=3)
    assert torch.load(split / "last.pt", weights_only=True)["step"] == 3
    cfg = resume_config(split)
    assert cfg.steps == 6 and cfg.pretrain_steps == 2 and cfg.generator == TINY
    train(cfg, resume=True, log=quiet, progress=False)
    a = torch.load(straight / "last.pt", weights_only=True)
    b = torch.load(split / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 6
    for key in a["G"]:
        torch.testing.assert_close(a["G"][key], b["G"][key], rtol=0, atol=0, msg=key)
    for key in a["D"]:
        torch.testing.assert_close(a["D"][key], b["D"][key], rtol=0, atol=0, msg=key)
    steps = [json.loads(line)["step"] for line in (split / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps.count(3) == 1  # no duplicated log rows after resume


def test_same_seed_same_weights_other_seed_differs(image_folder, tmp_path):
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        train(tiny_config(image_folder, tmp_path / name, steps=2, seed=seed), log=quiet, progress=False)
        runs[name] = load_file(tmp_path / name / "best.safetensors")
    key = "head.weight"
    assert torch.equal(runs["a"][key], runs["b"][key])
    assert not torch.equal(runs["a"][key], runs["c"][key])


def test_fresh_run_refuses_to_overwrite_an_existing_run(image_folder, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(image_folder, out, steps=2), log=quiet, progress=False)
    with pytest.raises(BadInputError, match="--resume"):
        train(tiny_config(image_folder, out, steps=2), log=quiet, progress=False)


def test_no_colour_data_is_a_clear_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "junk.txt").write_text("hello")
    with pytest.raises(BadInputError, match="no usable colour training data"):
        train(tiny_config(tmp_path / "d", tmp_path / "run"), log=quiet, progress=False)


def test_overfitting_a_few_images_lowers_validation_l1(tmp_path):
    from make_media import write_image

    data = tmp_path / "few"
    data.mkdir()
    for i in range(3):
        write_image(data / f"{i}.png", gradient_frame(40, 40, t=2 * i))
    cfg = tiny_config(
        data,
        tmp_path / "run",
        steps=120,
        pretrain_steps=120,
        val_fraction=0.0,
        eval_every=20,
        log_every=20,
        ckpt_every=120,
        sample_every=120,
        lr_g=3e-3,
        generator=GeneratorConfig(base=8, depth=3, max_channels=32),
    )
    train(cfg, log=quiet, progress=False)
    val = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    l1 = [r["val_l1"] for r in val if r["kind"] == "val"]
    # The do-nothing baseline (ab = 0, a gray output) scores mean |ab| of the targets.
    from vidcolor.color import rgb_to_model
    from vidcolor.train.data import FrameDataset, scan

    ds = FrameDataset(scan([data]).sources, 32, train=False)
    gray_l1 = float(rgb_to_model(torch.stack([ds[i] for i in range(len(ds))]))[1].abs().mean())
    assert l1[-1] < 0.5 * gray_l1, (l1, gray_l1)
    assert l1[-1] < l1[0]


def _cli(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vidcolor", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def _tiny_toml(path: Path) -> Path:
    path.write_text(
        "size = 32\nbatch_size = 2\nworkers = 0\nframes_per_video = 4\nd_base = 8\n"
        "log_every = 1\neval_every = 2\nsample_every = 2\nckpt_every = 1\n"
        "[generator]\nbase = 4\ndepth = 3\nmax_channels = 16\n"
    )
    return path


def test_cli_train_and_resume(image_folder, tmp_path):
    out = tmp_path / "run"
    cfg = _tiny_toml(tmp_path / "tiny.toml")
    r = _cli("train", str(image_folder), "--out", str(out), "--steps", "2", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "grayscale skipped" in r.stderr and "unreadable skipped" in r.stderr
    r = _cli("train", "--out", str(out), "--resume", "--steps", "3")
    assert r.returncode == 0, r.stderr
    assert "resumed" in r.stderr
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 3
    # the run folder's own config.toml names that folder: a new run there is refused, the run kept
    r = _cli("train", "--config", str(out / "config.toml"))
    assert r.returncode == 2 and "already holds a run" in r.stderr, r.stderr
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 3


def test_cli_train_without_data_exits_2_with_one_line(tmp_path):
    r = _cli("train", "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no training data" in r.stderr
    (tmp_path / "empty").mkdir()
    r = _cli("train", str(tmp_path / "empty"), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "no usable colour training data" in r.stderr


TRAIN_ONLY = ("torchvision", "matplotlib", "tomli_w")  # the `train` extra: colorizing never imports them


@pytest.mark.parametrize("module", TRAIN_ONLY)
def test_train_without_the_train_extra_says_how_to_install_it(module, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import vidcolor
    from vidcolor.cli import app

    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it fails
    for name in [m for m in sys.modules if m == "vidcolor.train" or m.startswith("vidcolor.train.")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, as by a new process
    monkeypatch.delattr(vidcolor, "train", raising=False)
    (tmp_path / "data").mkdir()
    r = CliRunner().invoke(app, ["train", str(tmp_path / "data"), "--out", str(tmp_path / "run")])
    assert r.exit_code == 2, r.output
    assert r.output.strip().count("\n") == 0 and "Traceback" not in r.output
    assert "pip install 'vidcolor[train]'" in r.output and module.replace("_", "-") in r.output


def test_colorizing_imports_no_training_dependency(tiny_model, tmp_path):
    """What `make demo` runs (it installs no `train` extra) works with those modules absent."""
    clip = write_video(tmp_path / "in.mp4", [gradient_frame(64, 48, t=i / 4) for i in range(3)], fps=12)
    blocked = "; ".join(f"sys.modules[{m!r}] = None" for m in TRAIN_ONLY)
    args = [str(clip), "-o", str(tmp_path / "out.mp4"), "--model", str(tiny_model), "--preview", "2", "--quiet"]
    code = f"import sys; {blocked}; sys.argv = ['vidcolor', *{args!r}]; from vidcolor.cli import main; main()"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.mp4").is_file() and (tmp_path / "out.preview.png").is_file()


def test_kill_9_then_resume_finishes_the_run(image_folder, tmp_path):
    out = tmp_path / "run"
    cfg = _tiny_toml(tmp_path / "tiny.toml")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vidcolor",
            "train",
            str(image_folder),
            "--out",
            str(out),
            "--steps",
            "400",
            "--config",
            str(cfg),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "last.pt").exists():
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(out / "last.pt", weights_only=True)["step"]
    assert 0 < killed_at < 400
    # A kill during a checkpoint's write leaves its temporary (named by the dead process): the resume removes it.
    from vidcolor.encode import temp_path

    stale = temp_path(out / "last.pt").with_name(temp_path(out / "last.pt").name.replace(f"-{os.getpid()}-", "-1-"))
    stale.write_bytes(b"half a checkpoint")
    r = _cli("train", "--out", str(out), "--resume", "--steps", str(killed_at + 3))
    assert r.returncode == 0, r.stderr
    assert torch.load(out / "last.pt", weights_only=True)["step"] == killed_at + 3
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.partial*"))


def test_torchrun_two_process_ddp_step_on_cpu(image_folder, tmp_path):
    out = tmp_path / "ddp"
    cfg = _tiny_toml(tmp_path / "tiny.toml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-port",
            "29517",
            "-m",
            "vidcolor",
            "train",
            str(image_folder),
            "--out",
            str(out),
            "--steps",
            "3",
            "--pretrain-steps",
            "1",
            "--config",
            str(cfg),
            "--device",
            "cpu",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["step"] == 3
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3]  # rank 0 alone writes
    assert [r for r in rows if r["kind"] == "train"][-1]["phase"] == "gan"


def test_weight_average_is_kept_saved_and_is_what_best_holds(image_folder, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(image_folder, out, steps=4, eval_every=4, lr_g=1e-2), log=quiet, progress=False)
    state = torch.load(out / "last.pt", weights_only=True)
    key = "head.weight"
    assert not torch.equal(state["G_ema"][key], state["G"][key])  # an average, not a copy
    best = load_file(out / "best.safetensors")
    torch.testing.assert_close(best[key], state["G_ema"][key])
    train(tiny_config(image_folder, tmp_path / "plain", steps=2, ema_decay=0.0), log=quiet, progress=False)
    assert "G_ema" not in torch.load(tmp_path / "plain" / "last.pt", weights_only=True)


# What last.pt holds, spelled out: renaming or dropping one breaks the resume of every run already saved.
CHECKPOINT_KEYS = {
    "step",
    "best_val_l1",
    "config",
    "G",
    "G_ema",
    "D",
    "opt_g",
    "opt_d",
    "sched_g",
    "sched_d",
    "scaler",
    "rng",
}


def test_run_state_holds_what_last_pt_holds(tmp_path):
    cpu = torch.device("cpu")
    state = build_state(tiny_config(tmp_path, tmp_path / "run", device="cpu"), cpu, None, quiet)
    saved = state.state_dict()
    assert set(saved) == CHECKPOINT_KEYS
    plain = build_state(tiny_config(tmp_path, tmp_path / "run", ema_decay=0.0), cpu, None, quiet)
    assert set(plain.state_dict()) == CHECKPOINT_KEYS - {"G_ema"}
    # A checkpoint from before the weight average existed starts the average from G.
    before_ema = {k: v for k, v in saved.items() if k != "G_ema"}
    before_ema["G"] = {k: v + 1 if v.is_floating_point() else v for k, v in saved["G"].items()}
    state.load_state_dict(before_ema)
    for key, value in state.G_ema.state_dict().items():
        assert torch.equal(value, before_ema["G"][key]), key


def test_train_step_is_one_d_step_and_one_g_step(tmp_path):
    torch.manual_seed(0)
    state = build_state(tiny_config(tmp_path, tmp_path / "run"), torch.device("cpu"), None, quiet)
    L, ab = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 2, 32, 32) * 2 - 1
    d_before = [p.clone() for p in state.D.parameters()]
    assert set(train_step(state, L, ab, None, False, 100.0, nullcontext)) == {"l1"}
    assert all(torch.equal(a, b) for a, b in zip(d_before, state.D.parameters(), strict=True))  # D untouched
    losses = train_step(state, L, ab, None, True, 100.0, nullcontext)
    assert set(losses) == {"l1", "g_gan", "d"} and all(isinstance(v, float) for v in losses.values())
    assert not all(torch.equal(a, b) for a, b in zip(d_before, state.D.parameters(), strict=True))
    assert all(p.requires_grad for p in state.D.parameters())  # D frozen only for G's adversarial loss


def test_neutral_weight_marks_the_white_of_the_truth_only():
    from vidcolor.color import rgb_to_model

    # white, pale gray, bright yellow, dark gray, near-white with a faint tint (chroma ~4)
    rgb = torch.tensor([[1, 1, 1], [0.75, 0.75, 0.75], [1, 0.9, 0.1], [0.1, 0.1, 0.1], [0.97, 0.95, 0.93]])
    L, ab = rgb_to_model(rgb.T.reshape(1, 3, 1, 5))
    assert neutral_weight(L, ab, 4.0).flatten().tolist() == [5.0, 5.0, 1.0, 1.0, 5.0]


def test_the_neutral_weight_pulls_a_painted_white_subject_back_to_white(tmp_path):
    """One picture in four is white, three are yellow, alike in gray: L1 alone paints all four
    yellow (the median); the weight makes painting the white costlier than missing the yellow."""
    L = torch.full((4, 1, 32, 32), 0.8)  # L* 90: bright
    ab = torch.zeros(4, 2, 32, 32)
    ab[1:, 1] = 0.5  # three yellow (b* 55)
    weight = neutral_weight(L, ab, 10.0)
    chroma = {}
    for name, w in (("plain", None), ("weighted", weight)):
        torch.manual_seed(0)
        state = build_state(tiny_config(tmp_path, tmp_path / name, lr_g=0.01), torch.device("cpu"), None, quiet)
        for _ in range(60):
            train_step(state, L, ab, None, False, 100.0, nullcontext, w)
        with torch.no_grad():
            chroma[name] = state.G(L[:1], None).float()[:, 1].mean().item()
    assert chroma["plain"] > 0.35 and chroma["weighted"] < 0.15, chroma


# A run's last.pt as the loop of December 2026 (commit b45b328, before RunState) saved it: 4 pictures,
# a base-2 U-Net, 6 steps (2 of pre-training), weight average on, stopped after step 4. Made by
# tests/data/make_old_checkpoint.py with that commit's code (its docstring has the exact commands).
OLD_CHECKPOINT = Path(__file__).parent / "data" / "last_pt_v2026_12.pt"


def test_a_december_2026_checkpoint_resumes(tmp_path, monkeypatch):
    old = torch.load(OLD_CHECKPOINT, weights_only=True)
    assert old["step"] == 4 and old["config"]["steps"] == 6
    monkeypatch.chdir(tmp_path)  # its config names "data" and "run", relative to the folder it ran in
    (tmp_path / "data").mkdir()
    for i in range(4):  # the pictures it trained on (make_old_checkpoint.write_data)
        write_image(tmp_path / "data" / f"img{i}.png", gradient_frame(48 + 8 * i, 40, t=i))
    (tmp_path / "run").mkdir()
    shutil.copyfile(OLD_CHECKPOINT, tmp_path / "run" / "last.pt")
    logs: list[str] = []
    result = train(resume_config("run"), resume=True, log=logs.append, progress=False)
    assert f"resumed {Path('run') / 'last.pt'} at step 4" in logs
    assert result.step == 6
    new = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert new["step"] == 6
    assert list(new) == list(old)  # the same keys, in the same order
    for key in ("G", "G_ema", "D", "opt_g", "opt_d", "sched_g", "sched_d", "scaler"):
        assert set(new[key]) == set(old[key]), key
    assert set(new["rng"]) - {"cuda"} == set(old["rng"])  # made on a machine without CUDA
    assert set(new["G"]) == set(new["G_ema"])
    assert not torch.equal(new["G"]["head.weight"], old["G"]["head.weight"])  # it trained on
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["step"]) for r in rows] == [("train", 5), ("train", 6), ("val", 6)]
    assert rows[0]["phase"] == "gan" and rows[0]["d"] is not None


# ---------------------------------------------------------------- fine-tuning: --init MODEL

INIT_ARCH = GeneratorConfig(base=2, depth=2, max_channels=8, hints=True)  # unlike TINY and the defaults


@pytest.fixture
def init_model(tmp_path) -> Path:
    """A generator file of an architecture no default or test config has, with non-default weights
    (batch-norm statistics included), so a run that keeps them is visibly the file's."""
    from vidcolor.model import build_generator
    from vidcolor.modelfile import save_generator

    torch.manual_seed(7)
    g = build_generator(INIT_ARCH)
    with torch.no_grad():
        for t in g.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.rand_like(t) * 0.1)
    path = tmp_path / "init.safetensors"
    save_generator(path, g.eval(), {"step": 123})
    return path


def init_config(data: Path, out: Path, init: str | Path, **kw) -> TrainConfig:
    """A tiny fine-tune built as the command line builds it (the architecture from the init file)."""
    from vidcolor.train.config import build_config

    small = dict(size=32, batch_size=2, workers=0, log_every=1, eval_every=2, sample_every=2, ckpt_every=1, d_base=8)
    return build_config(None, {"data": [str(data)], "out": str(out), "init": str(init), **small, **kw})


def test_init_run_starts_from_the_file_and_keeps_its_architecture(image_folder, init_model, tmp_path):
    cfg = init_config(image_folder, tmp_path / "run", init_model, steps=4)
    assert cfg.generator == INIT_ARCH and cfg.init == str(init_model)
    logs: list[str] = []
    torch.manual_seed(0)  # as train() seeds before building
    state = build_state(cfg, torch.device("cpu"), None, logs.append)
    want = load_file(init_model)
    for name, got in (("G", state.G), ("G_ema", state.G_ema)):
        have = got.state_dict()
        assert set(have) == set(want), name
        for key, value in want.items():
            assert torch.equal(have[key], value), (name, key)
    assert any("weights from" in m and "D starts fresh" in m for m in logs), logs
    # D is a fresh run's D: the init file holds a generator only.
    torch.manual_seed(0)
    fresh = build_state(
        tiny_config(image_folder, tmp_path / "x", generator=INIT_ARCH), torch.device("cpu"), None, quiet
    )
    for key, value in fresh.D.state_dict().items():
        assert torch.equal(state.D.state_dict()[key], value), key

    out = tmp_path / "run"
    train(cfg, log=quiet, progress=False)
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in rows if r["kind"] == "train"] == ["pretrain", "gan", "gan", "gan"]  # as any run
    g, info = load_generator(out / "best.safetensors")  # a normal generator file, of the init's architecture
    assert g.config == INIT_ARCH and info["train_config"]["init"] == str(init_model)
    assert f'init = "{init_model}"' in (out / "config.toml").read_text()


def test_resume_of_an_init_run_continues_exactly_without_the_init_file(image_folder, init_model, tmp_path):
    straight = tmp_path / "straight"
    train(init_config(image_folder, straight, init_model, steps=5), log=quiet, progress=False)
    split = tmp_path / "split"
    train(init_config(image_folder, split, init_model, steps=5), log=quiet, progress=False, stop_at=2)
    init_model.rename(tmp_path / "moved.safetensors")  # a resume reads last.pt, not --init again
    cfg = resume_config(split)
    assert cfg.init == str(init_model) and cfg.pretrain_steps == 1 and cfg.generator == INIT_ARCH
    train(cfg, resume=True, log=quiet, progress=False)
    a = torch.load(straight / "last.pt", weights_only=True)
    b = torch.load(split / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 5
    for part in ("G", "G_ema", "D"):
        for key in a[part]:
            torch.testing.assert_close(a[part][key], b[part][key], rtol=0, atol=0, msg=f"{part}.{key}")


def test_cli_init_default_fine_tunes_the_bundled_model(tmp_path):
    """`vidcolor train DATA --init default`: the bundled model's architecture and weights, and the
    run's best.safetensors colours a picture through `vidcolor IN -o OUT --model`."""
    from vidcolor.colorizer import default_model_path

    data = tmp_path / "frames"
    data.mkdir()
    for i in range(4):
        write_image(data / f"f{i}.png", gradient_frame(48, 40, t=i))
    out = tmp_path / "run"
    r = _cli(
        "train", str(data), "--init", "default", "--out", str(out), "--steps", "2", "--size", "32",
        "--batch-size", "2", "--workers", "0", "--device", "cpu", "--eval-every", "2", "--val-fraction", "0.25",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "weights from" in r.stderr and "D starts fresh" in r.stderr
    bundled, _ = load_generator(default_model_path())
    g, info = load_generator(out / "best.safetensors")
    assert g.config == bundled.config and info["train_config"]["init"] == "default"
    colored = tmp_path / "colored.png"
    r = _cli(str(data / "f0.png"), "-o", str(colored), "--model", str(out / "best.safetensors"), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert colored.is_file()


def _cli_in_process(*args: str):
    from typer.testing import CliRunner

    from vidcolor.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (("--base", "16"), "--base 16 does not match"),
        (("--encoder", "resnet18"), "--encoder 'resnet18' does not match"),
        (("--no-hints",), "--no-hints does not match"),
        (("--encoder-weights", "pretrained"), "brings every weight"),
    ],
)
def test_cli_init_refuses_generator_options_that_differ_from_the_file(option, said, image_folder, init_model, tmp_path):
    out = tmp_path / "run"
    r = _cli_in_process("train", str(image_folder), "--init", str(init_model), "--out", str(out), *option)
    assert r.exit_code == 2, r.output
    assert r.output.strip().count("\n") == 0 and said in r.output, r.output
    assert not out.exists()  # nothing written


def test_cli_init_accepts_generator_options_that_agree_with_the_file(init_model, tmp_path):
    from vidcolor.train.config import build_config

    given = {"init": str(init_model), "generator.base": 2, "generator.hints": True}
    assert build_config(None, given).generator == INIT_ARCH
    # An init file's encoder is a trained one: --encoder-bn auto keeps its statistics, as for --encoder-weights.
    enc = GeneratorConfig(arch="encoder-unet-v1", encoder="resnet18", depth=5)
    assert TrainConfig(init="m.safetensors", generator=enc).encoder_bn_frozen
    assert not TrainConfig(generator=enc).encoder_bn_frozen
    toml = tmp_path / "c.toml"
    toml.write_text("[generator]\ndepth = 3\n")
    with pytest.raises(BadInputError, match=r"c\.toml: \[generator\] depth = 3 does not match"):
        build_config(toml, {"init": str(init_model)})


@pytest.mark.parametrize("kind", ["missing", "corrupt", "foreign"])
def test_cli_init_with_an_unusable_file_exits_2_with_one_line(kind, image_folder, tmp_path):
    from safetensors.torch import save_file

    bad = tmp_path / "model.safetensors"
    if kind == "corrupt":
        bad.write_bytes(b"\x00\x01 not a safetensors file")
    elif kind == "foreign":  # safetensors, but not a vidcolor generator
        save_file({"w": torch.zeros(2)}, str(bad))
    out = tmp_path / "run"
    r = _cli_in_process("train", str(image_folder), "--init", str(bad), "--out", str(out))
    assert r.exit_code == 2, r.output
    assert r.output.strip().count("\n") == 0 and f"error: --init {bad}" in r.output, r.output
    assert not out.exists()


def test_auto_precision_is_bf16_on_a_cpu_with_native_bf16_and_fp32_on_one_without(monkeypatch):
    import vidcolor.train.loop as loop

    cpu = torch.device("cpu")
    monkeypatch.setattr(loop, "cpu_has_fast_bf16", lambda: True)
    assert loop.pick_precision("auto", cpu) == torch.bfloat16
    assert loop.pick_precision("fp32", cpu) is None  # asked for: always obeyed
    monkeypatch.setattr(loop, "cpu_has_fast_bf16", lambda: False)  # emulated bf16 is slower than fp32
    assert loop.pick_precision("auto", cpu) is None
    assert loop.pick_precision("bf16", cpu) == torch.bfloat16


def test_a_cancelled_job_stops_cleanly_with_its_loader_workers(image_folder, tmp_path):
    """A cluster cancels a job by signalling all its processes at once (Slurm's scancel, ``pkill -f``):
    the run stops with "terminated" and exit 143, its checkpoint kept (was: a loader worker died
    first and the run ended "unexpected RuntimeError: DataLoader worker ... killed by signal", exit 1)."""
    out = tmp_path / "run"
    cfg = _tiny_toml(tmp_path / "tiny.toml")
    cmd = [sys.executable, "-m", "vidcolor", "train", str(image_folder), "--out", str(out), "--steps", "4000"]
    proc = subprocess.Popen(
        [*cmd, "--config", str(cfg), "--workers", "1", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a job's
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "last.pt").exists():
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGTERM)  # the main process and its worker, at once
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().endswith("terminated") and "RuntimeError" not in err, err
    assert torch.load(out / "last.pt", weights_only=True)["step"] > 0
