"""Inference back-ends: a small registry of engines, each a stateless callable ``L -> ab``.

An engine maps normalised L (N,1,H,W) in [-1,1] to ab (N,2,H,W) in [-1,1] on the pipeline's
device. Engine factories only ever see H and W that are multiples of the model's ``multiple``;
:func:`create_engine` wraps every engine in the padding that makes any size work, so padding (like
batching and tiling in the pipeline) lives outside the engines and serves all of them.

    >>> from vidcolor.engines import create_engine, list_engines
    >>> engine = create_engine("onnxruntime", "model.safetensors", "cpu")
    >>> ab = engine(L)

Heavy imports (onnxruntime, tensorrt) happen inside the factories, so ``import vidcolor`` stays
fast and works without them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from vidcolor.errors import BadInputError
from vidcolor.model import ColorNet, pad_to_multiple


class Engine(Protocol):
    def __call__(self, L: torch.Tensor) -> torch.Tensor: ...


Factory = Callable[..., Engine]


@dataclass(frozen=True)
class EngineSpec:
    name: str
    factory: Factory
    unavailable: Callable[[torch.device], str | None]  # None when usable, else the reason
    description: str
    precisions: tuple[str, ...]  # what it runs; the first is its default


_REGISTRY: dict[str, EngineSpec] = {}


def register_engine(
    name: str,
    *,
    description: str = "",
    unavailable: Callable[[torch.device], str | None] | None = None,
    precisions: tuple[str, ...] = ("fp32", "bf16", "fp16"),
) -> Callable[[Factory], Factory]:
    """Decorator: register ``factory(generator, device, precision=..., **options) -> Engine`` under ``name``.

    The factory receives a ColorNet and inputs whose H, W are multiples of its ``multiple``;
    ``precisions`` are those it runs, its default first.
    """

    def deco(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"engine {name!r} is already registered")
        _REGISTRY[name] = EngineSpec(name, factory, unavailable or (lambda _d: None), description, precisions)
        return factory

    return deco


def list_engines() -> list[str]:
    """Names of all registered engines (available or not), in registration order."""
    return list(_REGISTRY)


def engine_unavailable(name: str, device: str | torch.device = "cpu") -> str | None:
    """Why engine ``name`` cannot run on ``device``, or None if it can."""
    return _spec(name).unavailable(torch.device(device))


def engine_precisions(name: str) -> tuple[str, ...]:
    """The precisions engine ``name`` runs, its default first."""
    return _spec(name).precisions


def describe_engines(device: str | torch.device = "cpu") -> list[tuple[str, str | None, str]]:
    """(name, reason unavailable or None, description) for every registered engine."""
    return [(s.name, s.unavailable(torch.device(device)), s.description) for s in _REGISTRY.values()]


def create_engine(
    name: str, model: ColorNet | str | Path, device: str | torch.device = "cpu", **options: Any
) -> Engine:
    """Build engine ``name`` for ``model`` (a ColorNet or a weights file) on ``device``."""
    spec = _spec(name)
    device = torch.device(device)
    reason = spec.unavailable(device)
    if reason:
        raise BadInputError(f"engine {name!r} is unavailable: {reason}")
    generator = _generator(model, device)
    return Padded(spec.factory(generator, device, **options), generator.config.multiple)


class Padded:
    """Any-size wrapper: pads L to the model's multiple, crops ab back."""

    def __init__(self, engine: Engine, multiple: int) -> None:
        self.engine, self.multiple = engine, multiple

    def __call__(self, L: torch.Tensor) -> torch.Tensor:
        if L.ndim != 4 or L.shape[1] != 1:
            raise ValueError(f"engines expect L of shape (N,1,H,W), got {tuple(L.shape)}")
        h, w = L.shape[-2:]
        return self.engine(pad_to_multiple(L, self.multiple))[..., :h, :w]


def _generator(model: ColorNet | str | Path, device: torch.device) -> ColorNet:
    if isinstance(model, ColorNet):
        return model
    from vidcolor.modelfile import load_generator

    return load_generator(model, device)[0]


def _spec(name: str) -> EngineSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join([*_REGISTRY, "auto"])
        raise BadInputError(f"unknown engine {name!r}; choose one of: {valid}") from None


def module_missing(module: str, extra: str) -> str | None:
    """Reason string when ``module`` cannot be imported (without importing it)."""
    if importlib.util.find_spec(module) is None:
        return f"{module} not installed (pip install 'vidcolor[{extra}]')"
    return None


# ---------------------------------------------------------------- auto choice and fallback


def cpu_has_fast_bf16() -> bool:
    """Native bf16 matrix units (AVX512-BF16 / AMX) that oneDNN uses; emulated bf16 is slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def auto_choices(device: str | torch.device) -> list[tuple[str, str]]:
    """The ``--engine auto`` rule: (engine, precision) candidates, best first, for ``device``.

    GPU: TensorRT fp16, else torch.compile fp16, else eager fp16. CPU: eager bf16 where the CPU has
    native bf16 (fastest measured, within a few chroma levels of fp32), else ONNX Runtime fp32, else
    eager fp32 (see README, "Engines"). Eager fp32 always closes the list as the last resort.
    """
    device = torch.device(device)
    if device.type == "cuda":
        order = [("tensorrt", "fp16"), ("compile", "fp16"), ("eager", "fp16")]
    else:
        order = [("eager", "bf16")] if cpu_has_fast_bf16() else []
        order.append(("onnxruntime", "fp32"))
    order.append(("eager", "fp32"))
    return [(n, p) for n, p in order if n in _REGISTRY and not engine_unavailable(n, device)]


class FallbackEngine:
    """Tries engines in order: one that fails to build or to run is replaced by the next, with a
    one-line warning, and the failed batch is recomputed (never a silent wrong result)."""

    def __init__(
        self,
        choices: Sequence[tuple[str, str]],
        generator: ColorNet,
        device: torch.device,
        warn: Callable[[str], None],
        **options: Any,
    ) -> None:
        if not choices:
            raise BadInputError(f"no engine is available on {device}")
        self.choices, self.generator, self.device, self.warn, self.options = (
            list(choices),
            generator,
            device,
            warn,
            options,
        )
        self.engine: Engine | None = None
        self.name = ""
        self._next()

    def _next(self) -> None:
        while self.choices:
            name, precision = self.choices.pop(0)
            try:
                self.engine = create_engine(name, self.generator, self.device, precision=precision, **self.options)
                self.name = f"{name} {precision}"
                return
            except Exception as e:  # a back-end's own errors vary (TensorRT, ORT, inductor)
                self.warn(f"warning: engine {name} ({precision}) failed to build ({_first_line(e)}); trying the next")
        raise BadInputError("every engine failed to build; see the warnings above")

    def __call__(self, L: torch.Tensor) -> torch.Tensor:
        while True:
            try:
                return self.engine(L)  # type: ignore[misc]
            except Exception as e:
                if not self.choices:
                    raise
                self.warn(f"warning: engine {self.name} failed at run time ({_first_line(e)}); falling back")
                self._next()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:160] if text else type(e).__name__


def _register_builtins() -> None:
    import importlib

    for module in ("eager", "compiled", "onnx", "tensorrt"):  # the order `vidcolor engines` lists
        importlib.import_module(f"vidcolor.engines.{module}")


_register_builtins()
