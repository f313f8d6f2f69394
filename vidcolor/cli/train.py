"""``vidcolor train``: its options are TrainConfig's fields (:mod:`vidcolor.config`), generated.

Each option's help, range and default come from its field; an option left out is None, "not
given", so a ``--config`` file can set the field: defaults < ``--config FILE`` < options given.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from vidcolor.cli.app import Debug, Quiet, app, handle_errors, logger
from vidcolor.cli.fields import config_options, field_help, field_option
from vidcolor.config import RESUME_FIELDS, TrainConfig
from vidcolor.errors import BadInputError

# The TrainConfig fields `vidcolor train` takes, in the order --help lists them; generator.NAME is
# the generator's field NAME, as --NAME. Only what the fields cannot say is here: an option's
# other name, a path type, and the option that is given even when left out (its default always
# replaces the --config file's): --device, which --resume also takes. A config file's `out` is
# honoured; a run folder's own config.toml then names that folder, and a new run there is refused
# (it holds a run: --resume it or give --out).
TRAIN_FIELDS = (
    "out", "steps", "pretrain_steps", "size", "batch_size", "device", "precision", "seed", "val", "split",
    "val_fraction", "lambda_l1", "neutral_weight", "lr_g", "lr_d", "workers", "threads", "eval_every", "sample_every", "ckpt_every",
    "log_every", "snapshot_every", "crop_min_area", "ema_decay", "init", "generator.base", "generator.depth",
    "generator.encoder", "encoder_weights", "encoder_lr_scale", "encoder_freeze_steps", "encoder_frozen_stages",
    "encoder_bn",
    "generator.hints", "hint_none", "hint_points", "degrade", "preload",
)  # fmt: skip
NAMES = {"lambda_l1": ("--lambda",)}
KINDS: dict[str, Any] = {"out": Path, "val": list[Path], "split": Path}
ALWAYS_GIVEN = ("device",)
TRAIN_OPTIONS = [
    field_option(TrainConfig, f, *NAMES.get(f, ()), kind=KINDS.get(f), unset=f not in ALWAYS_GIVEN)
    for f in TRAIN_FIELDS
]
FIELD_OF_OPTION = {p.name: f for p, f in zip(TRAIN_OPTIONS, TRAIN_FIELDS, strict=True)}


def flag(field: str) -> str:
    """The command line's name of a TrainConfig field (``generator.base`` -> ``--base``)."""
    return NAMES.get(field, (f"--{field.rpartition('.')[2].replace('_', '-')}",))[0]


def train_overrides(**options: Any) -> dict[str, Any]:
    """The options as :func:`vidcolor.train.config.build_config` overrides, by field (paths as
    text; None and an empty list: not given)."""
    out: dict[str, Any] = {}
    for name, value in options.items():
        if isinstance(value, list):
            value = [str(p) for p in value] or None
        elif isinstance(value, Path):
            value = str(value)
        out[FIELD_OF_OPTION[name]] = value
    return out


@app.command("train", help="Train the pix2pix colorizer on folders of images and videos.")
@handle_errors
@config_options("overrides", TRAIN_OPTIONS, train_overrides)
def train_cmd(
    data: Annotated[list[Path] | None, typer.Argument(help=field_help(TrainConfig, "data"))] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file of training options (the run folder's config.toml works).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last.pt.")] = False,
    *,  # keyword-only: typer passes every option by name, and ``overrides`` (the options it makes) has no default
    overrides: dict[str, Any],
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    from vidcolor.train.config import build_config
    from vidcolor.train.loop import train

    o = overrides
    log = logger(quiet)
    if resume:
        from vidcolor.train.loop import resume_config

        where = {k: o[k] for k in RESUME_FIELDS}
        # The recipe of a resumed run is its saved one: an option that would change it is refused, never ignored.
        given = [flag(k) for k, v in o.items() if v is not None and k not in ("out", "steps", "init", *RESUME_FIELDS)]
        given += ["DATA"] * bool(data) + ["--config"] * (config is not None)
        if given:
            raise BadInputError(
                f"{', '.join(given)}: a resumed run keeps the recipe saved in its last.pt (only --steps, "
                f"{', '.join(flag(k) for k in RESUME_FIELDS)} may change); leave {'it' if len(given) == 1 else 'them'} "
                "out, or start a new run with another --out"
            )
        cfg = resume_config(o["out"] or TrainConfig().out, o["steps"], **where)
        if o["init"] is not None:
            log(f"note: --init is not applied again on --resume: the run carries on from {cfg.out}/last.pt")
    else:
        cfg = build_config(config, {"data": [str(p) for p in data] if data else None, **o})
        if not cfg.data and not cfg.split:
            raise BadInputError(
                "no training data: give image/video files or folders (vidcolor train DATA... --out DIR)"
            )
        missing = [p for p in cfg.data if not Path(p).exists()]
        if missing:
            raise BadInputError(f"training data not found: {', '.join(missing)}")
    result = train(cfg, resume=resume, log=log, progress=not quiet and sys.stderr.isatty())
    log(f"done: step {result.step}, best val L1 {result.best_val_l1:.4f}; run folder {result.out}")
