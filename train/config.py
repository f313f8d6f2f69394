"""The training configuration: one frozen dataclass, built at the CLI boundary, saved in every run.

Precedence: dataclass defaults < ``--config FILE`` (TOML) < options given on the command line.
The resolved config is written to ``OUT/config.toml`` and into ``last.pt``; ``--resume`` reads it
back so a resumed run trains exactly the model it started (only ``steps`` may grow).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from vidcolor.device import PRECISIONS, is_device_name
from vidcolor.errors import BadInputError
from vidcolor.model import GeneratorConfig


@dataclass(frozen=True)
class TrainConfig:
    data: tuple[str, ...] = ()
    out: str = "runs/train"
    val: tuple[str, ...] = ()  # explicit validation files/folders; else a split by file
    split: str = ""  # a split file (vidcolor.train.split): train on its train files, validate on val, never test
    val_fraction: float = 0.1
    steps: int = 20000
    pretrain_steps: int = -1  # L1-only steps before the GAN starts; -1 = steps // 4
    size: int = 128  # training crop, px
    batch_size: int = 16
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 100.0
    decay_fraction: float = 0.5  # lr decays linearly to 0 over this last fraction of the steps
    ema_decay: float = 0.999  # EMA of G's weights, validated and saved as best; 0 = off
    frames_per_video: int = 64
    degrade: float = 0.0  # share of training pictures whose L gets film-like degradations (0 = off)
    hint_none: float = 0.5  # hint-capable generators: share of training pictures given no hints
    hint_points: float = 8.0  # ... and the mean number of hints of a picture that has some
    preload: bool = False  # decode all training images into memory once (for fast GPUs)
    crop_min_area: float = 0.3  # random resized crop keeps 30-100 % of the picture's area
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto (bf16/fp16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16
    workers: int = 1
    threads: int = 0  # torch CPU threads; 0 = torch's default (all cores)
    log_every: int = 10
    eval_every: int = 200
    sample_every: int = 200
    ckpt_every: int = 50
    snapshot_every: int = 0  # also keep the validated G as snapshots/step_N.safetensors; 0 = off
    val_items: int = 64  # validation crops evaluated each time
    d_base: int = 64
    d_layers: int = 3
    # Encoder U-Nets only (generator.encoder set):
    encoder_weights: str = "none"  # none | pretrained (ImageNet) | a checkpoint file of the classifier
    encoder_lr_scale: float = 0.1  # encoder learning rate = lr_g * this (pretrained features move slowly)
    encoder_freeze_steps: int = 0  # encoder held still for the first N steps while the decoder learns
    encoder_bn: str = "auto"  # frozen: keep the encoder's running BN statistics | train: batch statistics | auto:
    # frozen when the encoder starts from trained weights, train when it starts from random ones
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)

    def __post_init__(self) -> None:
        checks = {
            "steps": self.steps >= 1,
            "size": self.size >= 16,
            "batch_size": self.batch_size >= 1,
            "lr_g": self.lr_g > 0,
            "lr_d": self.lr_d > 0,
            "lambda_l1": self.lambda_l1 >= 0,
            "val_fraction": 0 <= self.val_fraction < 1,
            "decay_fraction": 0 <= self.decay_fraction <= 1,
            "ema_decay": 0 <= self.ema_decay < 1,
            "frames_per_video": self.frames_per_video >= 1,
            "degrade": 0 <= self.degrade <= 1,
            "hint_none": 0 <= self.hint_none <= 1,
            "hint_points": self.hint_points >= 1,
            "crop_min_area": 0 < self.crop_min_area <= 1,
            "snapshot_every": self.snapshot_every >= 0,
            "workers": self.workers >= 0,
            "threads": self.threads >= 0,
            "pretrain_steps": self.pretrain_steps >= -1,
            "device": is_device_name(self.device),
            "precision": self.precision == "auto" or self.precision in PRECISIONS,
            "log_every": self.log_every >= 1,
            "eval_every": self.eval_every >= 1,
            "sample_every": self.sample_every >= 1,
            "ckpt_every": self.ckpt_every >= 1,
            "val_items": self.val_items >= 1,
            "encoder_lr_scale": self.encoder_lr_scale >= 0,
            "encoder_freeze_steps": self.encoder_freeze_steps >= 0,
            "encoder_bn": self.encoder_bn in ("auto", "frozen", "train"),
            "encoder_weights": bool(self.encoder_weights)
            and (self.generator.encoder or self.encoder_weights == "none"),
        }
        for name, ok in checks.items():
            if not ok:
                hint = " (needs --encoder)" if name == "encoder_weights" and self.encoder_weights else ""
                raise BadInputError(f"invalid training option {name}={getattr(self, name)!r}{hint}")

    @property
    def gan_start(self) -> int:
        """First step of the GAN phase (steps before it are L1-only pre-training)."""
        return self.steps // 4 if self.pretrain_steps < 0 else self.pretrain_steps

    @property
    def encoder_bn_frozen(self) -> bool:
        return self.encoder_bn == "frozen" or (self.encoder_bn == "auto" and self.encoder_weights != "none")

    def resolved(self) -> TrainConfig:
        """Fix values that depend on others, so a resumed run keeps them when ``steps`` grows."""
        return dataclasses.replace(self, pretrain_steps=self.gan_start)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["data"], d["val"] = list(self.data), list(self.val)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise BadInputError(f"unknown training config keys: {', '.join(sorted(unknown))}")
        if "generator" in d:
            try:
                d["generator"] = GeneratorConfig.from_dict(d["generator"])
            except (TypeError, ValueError) as e:
                raise BadInputError(f"bad [generator] config: {e}") from None
        for key in ("data", "val"):
            if key in d:
                d[key] = tuple(str(p) for p in d[key])
        try:
            return cls(**d)
        except TypeError as e:
            raise BadInputError(f"bad training config: {e}") from None

    def save_toml(self, path: str | Path) -> None:
        Path(path).write_text(tomli_w.dumps(self.to_dict()))


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into a dict of TrainConfig fields (validated when merged)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BadInputError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BadInputError(f"{path}: not a valid TOML config ({e})") from None


def build_config(file: str | Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """defaults < file < overrides (``None`` values in ``overrides`` mean "not given")."""
    d: dict[str, Any] = load_toml(file) if file else {}
    gen = dict(d.get("generator", {}))
    for k, v in overrides.items():
        if v is None:
            continue
        if k.startswith("generator."):
            gen[k.split(".", 1)[1]] = v
        else:
            d[k] = v
    if gen.get("encoder") and gen.get("arch", "unet-v1") == "unet-v1":
        # --encoder NAME asks for the encoder U-Net; its depth is the backbone's 5 stride-2 stages.
        gen["arch"] = "encoder-unet-v1"
        if overrides.get("generator.depth") is None and "depth" not in d.get("generator", {}):
            gen["depth"] = 5
    if gen:
        d["generator"] = {**GeneratorConfig().to_dict(), **gen}
    return TrainConfig.from_dict(d)
