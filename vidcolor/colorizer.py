"""The colorizer: the model (the bundled one or ``--model``) behind an engine, on a device.

Which engine and precision run (:func:`engine_choices`: what ``--engine``/``--precision`` ask,
then what this machine runs fast, eager fp32 last), which weights (:func:`model_path`) and how an
output names them (:func:`model_id`, :func:`output_metadata`).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import torch

from vidcolor import __version__
from vidcolor.color import rgb_to_gray_L, uint8_rgb_to_L
from vidcolor.config import ColorizeConfig
from vidcolor.device import pick_device  # also imported from here by the CLI
from vidcolor.engines import FallbackEngine, auto_choices, engine_precisions, engine_unavailable
from vidcolor.errors import BadInputError, Log, describe
from vidcolor.guidance import Guidance
from vidcolor.modelfile import load_generator


def default_model_path() -> Path:
    return Path(str(resources.files("vidcolor") / "weights" / "default.safetensors"))


class Colorizer:
    """A loaded model behind an engine, on a device: numpy RGB at render size -> (L, ab) tensors."""

    def __init__(self, cfg: ColorizeConfig, log: Log = lambda _m: None) -> None:
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        path = model_path(cfg)
        generator, self.model_info = load_generator(path, self.device)
        self.multiple = generator.config.multiple
        self.model_id = model_id(path)
        self.engine = FallbackEngine(
            engine_choices(cfg.engine, cfg.precision, self.device), generator, self.device, log
        )

    def predict(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sRGB (N,3,h,w), uint8 or float in [0,1], on the device -> normalised (L (N,1,h,w), ab (N,2,h,w))."""
        L = uint8_rgb_to_L(rgb) if rgb.dtype == torch.uint8 else rgb_to_gray_L(rgb)
        return L, self.engine(L)


def engine_choices(engine: str, precision: str, device: torch.device) -> list[tuple[str, str]]:
    """(engine, precision) to try in order: the ``auto`` rule, or the named engine then eager fp32.

    Eager fp32 always closes the list (the last resort) and appears nowhere else, whatever the CPU:
    on one with native bf16, ``auto`` starts with eager bf16, which at ``--precision fp32`` would
    otherwise become a first eager fp32. An engine never gets a precision it does not run: a named
    one is refused, and ``auto`` leaves it out.
    """
    last = ("eager", "fp32")
    if engine == "auto":
        choices = auto_choices(device)
        if precision != "auto":
            choices = [(n, precision) for n, _p in choices if precision in engine_precisions(n)]
        return [*dict.fromkeys(c for c in choices if c != last), last]
    reason = engine_unavailable(engine, device)  # also rejects unknown names, listing the valid ones
    if reason:
        raise BadInputError(f"--engine {engine}: unavailable here ({reason}); `vidcolor engines` lists what is")
    runs = engine_precisions(engine)
    if precision == "auto":
        precision = runs[0]
    elif precision not in runs:
        raise BadInputError(
            f"--engine {engine} runs {' or '.join(runs)}, not --precision {precision}; "
            f"use --engine eager --precision {precision} or leave --precision out"
        )
    return [*dict.fromkeys([(engine, precision), last])]


def model_path(cfg: ColorizeConfig) -> Path:
    """The weights file ``cfg`` names, or the bundled default model."""
    path = Path(cfg.model) if cfg.model else default_model_path()
    if cfg.model is None and not path.exists():
        raise BadInputError(f"no bundled default model at {path}; pass --model PATH (weights from vidcolor train)")
    return path


def model_id(path: Path) -> str:
    """``name:sha256[:12]`` of a weights file: what outputs and batch manifests record as the model."""
    try:
        with path.open("rb") as f:
            return f"{path.name}:{hashlib.file_digest(f, 'sha256').hexdigest()[:12]}"
    except OSError as e:
        raise BadInputError(f"{path}: cannot read the weights file ({describe(e)})") from None


def output_metadata(colorizer: Colorizer, guidance: Guidance | None = None) -> dict:
    """What a colorized video says made it (its comment tag): version, model, engine, settings."""
    return {
        "version": __version__,
        "model": colorizer.model_id,
        "engine": colorizer.engine.name,
        "settings": colorizer.cfg.public(),
        **({"guidance": guidance.describe()} if guidance else {}),
    }
