"""The colorizer: the model (the bundled one or ``--model``) behind an engine, on a device.

Which engine and precision run (:func:`engine_choices`: what ``--engine``/``--precision`` ask,
then what this machine runs fast, eager fp32 last), which weights (:func:`model_path`) and how an
output names them (:func:`model_id`, :func:`output_metadata`). ``--confidence`` (:func:`confident_ab`)
also predicts each frame's mirror image and pales colour where the two predictions disagree.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F

from vidcolor import __version__
from vidcolor.color import AB_SCALE, rgb_to_gray_L, uint8_rgb_to_L
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
        """sRGB (N,3,h,w), uint8 or float in [0,1], on the device -> normalised (L (N,1,h,w), ab (N,2,h,w)).

        With ``cfg.confidence`` other than ``off`` the engine also colours the mirrored frames and
        ab is :func:`confident_ab` of the two (float32); L is the same either way."""
        L = uint8_rgb_to_L(rgb) if rgb.dtype == torch.uint8 else rgb_to_gray_L(rgb)
        ab = self.engine(L)
        if self.cfg.confidence == "off":
            return L, ab
        # the mirror in a call of its own, not in one batch of 2N: every engine then sees the batch
        # shapes it always sees (a TensorRT profile caps the batch, a compiled graph is per shape)
        mirrored = self.engine(L.flip(-1)).flip(-1)
        return L, confident_ab(ab, mirrored, self.cfg.confidence_tau if self.cfg.confidence == "pale" else None)


# The per-pixel factor is the frame's confidence map at 4x tau (c ** (1 / 16)): on the validation
# split a tight per-pixel gate gained little (flip disagreement marks spots poorly) while the
# frame's mean confidence gained most (train/recipes/RESULTS.md, issue 24).
LOCAL_POWER = 1 / 16


def confident_ab(ab: torch.Tensor, mirrored: torch.Tensor, tau: float | None = None) -> torch.Tensor:
    """Two predictions of one frame, normalised ab (N,2,h,w) in [-1,1] (the second of its mirror
    image, flipped back) -> their mean, as float32 (N,2,h,w), paled where they disagree when ``tau``.

    With ``tau`` (Lab ab units, > 0): the :func:`disagreement` d(x) gives the confidence
    c(x) = exp(-(d(x) / tau)**2) in (0, 1], and the mean is scaled by mean_x(c) * c(x)**(1/16):
    a frame whose predictions disagree overall is paled as a whole, spots of strong disagreement a
    little more. Every factor is at most 1 (chroma never grows) and 1 where the two agree exactly.
    """
    ab, mirrored = ab.float(), mirrored.float()
    mean = (ab + mirrored) / 2
    if tau is None:
        return mean
    c = torch.exp(-((disagreement(ab, mirrored) / tau) ** 2))
    return mean * c.mean(dim=(-2, -1), keepdim=True) * c**LOCAL_POWER


def disagreement(ab: torch.Tensor, mirrored: torch.Tensor) -> torch.Tensor:
    """Two predictions of normalised ab (N,2,h,w) -> how far apart they are, (N,1,h,w) float32 in
    Lab ab units (0 .. 2 * sqrt(2) * AB_SCALE), box-smoothed over about a twentieth of the short side:
    a wrong colour is a patch, not a pixel."""
    diff = ab.float() - mirrored.float()
    d = torch.hypot(diff[:, :1], diff[:, 1:]).mul_(AB_SCALE)  # hypot: several times faster than norm(dim=1)
    k = 2 * (min(d.shape[-2:]) // 48) + 1  # 9 px at the default render size (192)
    if k > 1:  # the k x k box as a row box then a column box: 2k additions a pixel, not k^2
        d = F.avg_pool2d(F.pad(d, (k // 2,) * 4, mode="replicate"), (1, k), stride=1)
        d = F.avg_pool2d(d, (k, 1), stride=1)
    return d


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
