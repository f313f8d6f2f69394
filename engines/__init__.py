"""Inference back-ends: a small registry of engines, each a stateless callable ``L -> ab``.

An engine maps normalised L (N,1,H,W) in [-1,1] to ab (N,2,H,W) in [-1,1] on the pipeline's
device. Batching, padding and tiling live outside engines and serve all of them.

    >>> from vidcolor.engines import create_engine, list_engines
    >>> engine = create_engine("eager", generator, "cpu")
    >>> ab = engine(L)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from vidcolor.errors import BadInputError
from vidcolor.model import Generator


class Engine(Protocol):
    def __call__(self, L: torch.Tensor) -> torch.Tensor: ...


Factory = Callable[..., Engine]


@dataclass(frozen=True)
class EngineSpec:
    name: str
    factory: Factory
    unavailable: Callable[[torch.device], str | None]  # None when usable, else the reason
    description: str


_REGISTRY: dict[str, EngineSpec] = {}


def register_engine(
    name: str, *, description: str = "", unavailable: Callable[[torch.device], str | None] | None = None
) -> Callable[[Factory], Factory]:
    """Decorator: register ``factory(generator, device, **options) -> Engine`` under ``name``."""

    def deco(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"engine {name!r} is already registered")
        _REGISTRY[name] = EngineSpec(name, factory, unavailable or (lambda _d: None), description)
        return factory

    return deco


def list_engines() -> list[str]:
    """Names of all registered engines (available or not), in registration order."""
    return list(_REGISTRY)


def engine_unavailable(name: str, device: str | torch.device = "cpu") -> str | None:
    """Why engine ``name`` cannot run on ``device``, or None if it can."""
    return _spec(name).unavailable(torch.device(device))


def create_engine(
    name: str, model: Generator | str | Path, device: str | torch.device = "cpu", **options: Any
) -> Engine:
    """Build engine ``name`` for ``model`` (a Generator or a weights file) on ``device``."""
    spec = _spec(name)
    device = torch.device(device)
    reason = spec.unavailable(device)
    if reason:
        raise BadInputError(f"engine {name!r} is unavailable: {reason}")
    if not isinstance(model, Generator):
        from vidcolor.modelfile import load_generator

        model, _ = load_generator(model, device)
    return spec.factory(model, device, **options)


def _spec(name: str) -> EngineSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BadInputError(f"unknown engine {name!r}; choose one of: {', '.join(_REGISTRY)}") from None


# Built-in engines register themselves on import.
from vidcolor.engines import eager as _eager  # noqa: E402, F401
