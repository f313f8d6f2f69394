"""The colorizer: the model (the bundled one or ``--model``) behind an engine, on a device.

Which engine and precision run (:func:`engine_choices`: what ``--engine``/``--precision`` ask,
then what this machine runs fast, eager fp32 last), which weights (:func:`model_path`) and how an
output names them (:func:`model_id`, :func:`output_metadata`). ``--confidence`` (:func:`confident_ab`)
also predicts each frame's mirror image and pales colour where the two predictions disagree.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F

from vidcolor import __version__
from vidcolor.color import AB_SCALE, rgb_to_gray_L, uint8_rgb_to_L
from vidcolor.config import ColorizeConfig
from vidcolor.device import pick_device  # also imported from here by the CLI
from vidcolor.engines import (
    Engine,
    FallbackEngine,
    auto_choices,
    engine_precisions,
    engine_unavailable,
    module_missing,
)
from vidcolor.errors import BadInputError, Log, ModelFileError, describe
from vidcolor.guidance import Guidance
from vidcolor.modelfile import load_generator


def default_model_path() -> Path:
    return Path(str(resources.files("vidcolor") / "weights" / "default.safetensors"))


@dataclass(frozen=True)
class ModelSpec:
    """One ``--model``: its file, its weight in a blend, and (an ONNX file) the format it was given."""

    path: Path
    weight: float = 1.0
    format: str | None = None

    @property
    def is_onnx(self) -> bool:
        return self.path.suffix.lower() == ".onnx"


class Colorizer:
    """A loaded model behind an engine, on a device: numpy RGB at render size -> (L, ab) tensors.

    The model is a vidcolor generator behind the engine ``--engine`` picks, an ONNX colorizer of
    another project (:class:`vidcolor.engines.foreign.ForeignEngine`), or a :class:`Blend` of
    several: every one maps L to ab at the same size, so nothing downstream tells them apart."""

    def __init__(self, cfg: ColorizeConfig, log: Log = lambda _m: None) -> None:
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        specs = model_specs(cfg)
        for spec in specs:  # before hashing them for the model id: one clear line for a wrong path
            if not spec.path.is_file():
                raise ModelFileError(f"{spec.path}: model file not found")
        self.model_id = models_id(specs)
        self.model_info: dict = {}
        # --engine/--precision choose how vidcolor generators run; with none among the models
        # anything but onnxruntime fp32 is a mistake worth a line, not a silent no-op
        self.onnx_only = all(s.is_onnx for s in specs)
        members = [self._load(spec, log) for spec in specs]
        self.multiple = math.lcm(*(m for _e, m in members))
        if len(specs) == 1:
            self.engine = members[0][0]
        else:
            self.engine = Blend([e for e, _m in members], [s.weight for s in specs])

    def _load(self, spec: ModelSpec, log: Log) -> tuple[Engine, int]:
        """(the engine that runs ``spec``, the multiple its sizes are best rounded to)."""
        if spec.is_onnx:
            engine, multiple = foreign_engine(spec, self.cfg, self.device, check_engine=self.onnx_only)
            size = getattr(engine, "size", None)
            if size and self.cfg.render_size < min(size):  # frames would reach it upscaled: blurrier colour
                log(
                    f"note: {spec.path.name} runs at {size[1]}x{size[0]}; --render-size {min(size)} gives it that detail"
                )
            return engine, multiple
        generator, info = load_generator(spec.path, self.device)
        self.model_info = self.model_info or info
        choices = engine_choices(self.cfg.engine, self.cfg.precision, self.device)
        return FallbackEngine(choices, generator, self.device, log), generator.config.multiple

    def with_config(self, cfg: ColorizeConfig) -> Colorizer:
        """This loaded model with settings that do not choose it (strength, smoothing, a segment...)
        changed: no second load. The engine is shared."""
        for name in ("model", "model_format", "engine", "precision", "device", "render_size", "confidence"):
            if getattr(cfg, name) != getattr(self.cfg, name):
                raise ValueError(f"with_config cannot change {name}: load another Colorizer")
        twin = copy.copy(self)
        twin.cfg = cfg
        return twin

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
    """The weights file ``cfg`` names first, or the bundled default model."""
    return model_specs(cfg)[0].path


def model_specs(cfg: ColorizeConfig) -> list[ModelSpec]:
    """The models ``cfg`` names (``--model`` then the blend), each ``PATH[:WEIGHT]`` or
    ``default[:WEIGHT]``; the ONNX ones get their ``--model-format`` (one for all, or one each)."""
    specs = [_parse_spec(s) for s in ([cfg.model] if cfg.model else ["default"] if cfg.blend else []) + list(cfg.blend)]
    specs = specs or [ModelSpec(_default_path())]
    formats = cfg.model_format.split(",") if cfg.model_format else []
    onnx = [i for i, s in enumerate(specs) if s.is_onnx]
    if formats and len(formats) not in (1, len(onnx)):
        raise BadInputError(
            f"--model-format {cfg.model_format}: {len(formats)} formats for {len(onnx)} ONNX models; give one for "
            "all, or one each in their order"
        )
    if formats and not onnx:
        raise BadInputError(f"--model-format {cfg.model_format}: for .onnx models, and no --model is one")
    for k, i in enumerate(onnx):
        specs[i] = dataclasses.replace(specs[i], format=formats[k if len(formats) > 1 else 0] if formats else None)
    return specs


def _parse_spec(text: str) -> ModelSpec:
    """``PATH``, ``PATH:WEIGHT``, ``default`` or ``default:WEIGHT`` -> a ModelSpec (weight > 0)."""
    name, sep, tail = text.rpartition(":")
    if sep and not tail.strip() and not Path(text).exists():
        raise BadInputError(f"--model {text!r}: the weight after ':' is missing (PATH:WEIGHT, e.g. {name}:0.5)")
    try:
        weight = float(tail) if sep else None
    except ValueError:  # a ':' that is part of the file's name
        weight = None
    if weight is None:
        name, weight = text, 1.0
    if not (weight > 0 and math.isfinite(weight)):
        raise BadInputError(f"--model {text}: the weight must be a number > 0, got {tail}")
    return ModelSpec(named_model(name), weight)


def named_model(name: str) -> Path:
    """The file a model name means: ``default`` is the bundled model (unless a file of that name is here)."""
    return _default_path() if name == "default" and not Path(name).exists() else Path(name)


def _default_path() -> Path:
    path = default_model_path()
    if not path.exists():
        raise BadInputError(f"no bundled default model at {path}; pass --model PATH (weights from vidcolor train)")
    return path


def foreign_engine(
    spec: ModelSpec, cfg: ColorizeConfig, device: torch.device, check_engine: bool = True
) -> tuple[Engine, int]:
    """The ONNX Runtime adapter for an ONNX file and its multiple; with ``check_engine``, the
    engine options must allow it (in a blend with vidcolor generators they are theirs)."""
    wrong = cfg.engine not in ("auto", "onnxruntime") or cfg.precision not in ("auto", "fp32")
    if check_engine and wrong:
        raise BadInputError(
            f"--model {spec.path.name}: an ONNX model runs on onnxruntime fp32, not --engine {cfg.engine} "
            f"--precision {cfg.precision}; leave them out"
        )
    reason = module_missing("onnxruntime", "onnx") or module_missing("onnx", "onnx")
    if reason:
        raise BadInputError(f"--model {spec.path.name}: an ONNX model needs ONNX Runtime ({reason})")
    from vidcolor.engines.foreign import ForeignEngine  # the file exists: Colorizer checked every model first

    engine = ForeignEngine(spec.path, spec.format, device)
    return engine, engine.multiple


class Blend:
    """Several engines as one: their ab averaged per pixel by weight (normalised ab (N,2,H,W) float32)."""

    def __init__(self, engines: list[Engine], weights: list[float]) -> None:
        total = sum(weights)
        self.engines, self.weights = engines, [w / total for w in weights]

    @property
    def name(self) -> str:
        parts = zip(self.engines, self.weights, strict=True)
        return "blend of " + ", ".join(f"{e.name} x{w:.3g}" for e, w in parts)  # type: ignore[attr-defined]

    def __call__(self, L: torch.Tensor) -> torch.Tensor:
        ab = self.engines[0](L).float() * self.weights[0]
        for engine, w in zip(self.engines[1:], self.weights[1:], strict=True):
            ab += engine(L).float() * w
        return ab


def models_id(specs: list[ModelSpec] | ColorizeConfig) -> str:
    """What outputs and batch manifests record as the model: :func:`model_id` of one file, or of
    each file of a blend with its weight (``a.onnx:1f2e..*0.5+default.safetensors:9a8b..*0.5``)."""
    specs = model_specs(specs) if isinstance(specs, ColorizeConfig) else specs
    if len(specs) == 1:
        return model_id(specs[0].path, specs[0].format)
    return "+".join(f"{model_id(s.path, s.format)}*{s.weight:g}" for s in specs)


def model_id(path: Path, fmt: str | None = None) -> str:
    """``name:sha256[:12]``: what outputs and batch manifests record as the model, so a changed model is
    never taken for the one a film was coloured with. The digest covers everything that decides the
    colour: the weights file; for an ONNX file also its external data files, its ``FILE.onnx.json``
    convention and the ``--model-format`` given. A file with none of those extras keeps the plain
    SHA-256 of its bytes (the ids of earlier outputs and manifests)."""
    extras: list[Path] = []
    if path.suffix.lower() == ".onnx":
        from vidcolor.engines.foreign import external_data_files, sidecar_path

        extras = [*external_data_files(path), *[p for p in [sidecar_path(path)] if p.is_file()]]
    digests = []
    for f in [path, *extras]:
        try:
            with f.open("rb") as fh:
                digests.append(hashlib.file_digest(fh, "sha256").hexdigest())
        except OSError as e:
            what = "the weights file" if f == path else f"its file {f.name}"
            raise BadInputError(f"{path}: cannot read {what} ({describe(e)})") from None
    if not extras and not fmt:
        return f"{path.name}:{digests[0][:12]}"
    parts = [*(f"{f.name}:{d}" for f, d in zip([path, *extras], digests, strict=True)), f"format:{fmt or ''}"]
    return f"{path.name}:{hashlib.sha256(chr(10).join(parts).encode()).hexdigest()[:12]}"


def output_metadata(colorizer: Colorizer, guidance: Guidance | None = None) -> dict:
    """What a colorized video says made it (its comment tag): version, model, engine, settings."""
    return {
        "version": __version__,
        "model": colorizer.model_id,
        "engine": colorizer.engine.name,
        "settings": colorizer.cfg.public(),
        **({"guidance": guidance.describe()} if guidance else {}),
    }
