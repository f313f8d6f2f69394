"""One meaning of --device and of --precision for colorizing, engines and training."""

import pytest
import torch

from vidcolor.device import pick_device as colorize_pick_device
from vidcolor.engines import cpu_has_fast_bf16
from vidcolor.errors import BadInputError
from vidcolor.train.loop import pick_device as train_pick_device

BOTH = pytest.mark.parametrize("pick", [colorize_pick_device, train_pick_device], ids=["colorize", "train"])


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine that shows two CUDA devices (nothing is run on them: only torch.device is made)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("LOCAL_RANK", raising=False)


@BOTH
def test_cuda_is_this_process_gpu_cuda_local_rank_under_torchrun(pick, two_gpus, monkeypatch):
    assert pick("cuda") == torch.device("cuda", 0)
    assert pick("auto") == torch.device("cuda", 0)
    assert pick("cuda:1") == torch.device("cuda", 1)
    monkeypatch.setenv("LOCAL_RANK", "1")  # what torchrun sets for the second process of a node
    assert pick("cuda") == torch.device("cuda", 1)
    assert pick("auto") == torch.device("cuda", 1)
    assert pick("cuda:0") == torch.device("cuda", 0)
    assert pick("cpu") == torch.device("cpu")


@BOTH
@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cuda0", "CPU", "", "cuda:"])
def test_a_name_that_is_not_a_device_is_refused_with_the_bad_value(pick, name, two_gpus):
    with pytest.raises(BadInputError, match="auto, cpu, cuda") as e:
        pick(name)
    assert repr(name) in str(e.value)


@BOTH
def test_a_gpu_that_is_not_there_is_refused(pick, two_gpus):
    with pytest.raises(BadInputError, match="cuda:5"):
        pick("cuda:5")


@BOTH
@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_is_refused_auto_takes_the_cpu(pick, name, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BadInputError, match=f"--device {name}: no CUDA device"):
        pick(name)
    assert pick("auto") == torch.device("cpu")


def test_training_config_takes_the_same_device_names():
    from vidcolor.train.config import TrainConfig

    for name in ("auto", "cpu", "cuda", "cuda:3"):
        assert TrainConfig(device=name).device == name
    for name in ("gpu", "cuda:x", "cuda:"):
        with pytest.raises(BadInputError, match="device"):
            TrainConfig(device=name)


def test_one_precision_map_for_engines_and_training():
    from vidcolor.config import GeneratorConfig
    from vidcolor.engines.eager import EagerEngine
    from vidcolor.model import build_generator
    from vidcolor.train.loop import pick_precision

    g = build_generator(GeneratorConfig(base=4, depth=3, max_channels=16))
    cpu = torch.device("cpu")
    for name, dtype in {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}.items():
        assert EagerEngine(g, cpu, name).dtype is dtype
        assert pick_precision(name, cpu) is dtype
    assert pick_precision("auto", cpu) is (torch.bfloat16 if cpu_has_fast_bf16() else None)  # native bf16 only
    with pytest.raises(ValueError, match="fp64"):
        EagerEngine(g, cpu, "fp64")
