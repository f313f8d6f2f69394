"""Options shared by several commands, one definition each: those of ColorizeConfig and
EncodeSettings fields are generated from the fields (:mod:`vidcolor.cli.fields`), which hold
every default and every help text."""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from vidcolor.cli.fields import config_options, field_option
from vidcolor.config import ColorizeConfig, EncodeSettings, SegmentSettings

F = TypeVar("F", bound=Callable[..., Any])
SEQUENCE = "image sequence (a folder, or a pattern like scan_%06d.tif)"  # what a film of numbered frames is
FILM_HELP = f"Black-and-white video, or {SEQUENCE}."


def film_path(path: Path) -> Path:
    """A film named ``.`` or ``..`` (``cd scans && vidcolor . -o ../out.mp4``) as its absolute
    path: the folder then has a name, which the guidance beside it and the messages need."""
    return Path(os.path.abspath(path)) if path.name in ("", "..") else path


ENCODE_FIELDS = frozenset(f.name for f in dataclasses.fields(EncodeSettings))
COLORIZE_FIELDS = frozenset(f.name for f in dataclasses.fields(ColorizeConfig)) - {"encode"}

CacheDirOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Folder for compiled engines \\[default: ~/.cache/vidcolor].")
]
CACHE_DIR = inspect.Parameter("cache_dir", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=CacheDirOpt)


def colorize_option(name: str) -> inspect.Parameter:
    """The option of the ColorizeConfig or EncodeSettings field ``name`` (``--cache-dir``: where
    compiled engines are kept, which is no setting of the output)."""
    if name == "cache_dir":
        return CACHE_DIR
    owner = EncodeSettings if name in ENCODE_FIELDS else ColorizeConfig
    return field_option(owner, name, kind=list[str] if name == "model" else None)  # --model again: a blend


DeviceOpt = colorize_option("device").annotation
SegmentSecondsOpt = field_option(SegmentSettings, "segment_seconds").annotation


def _repeatable(flag: str, help: str) -> Any:
    """A ``list[str]`` option given once per value (``--reference A --reference B``)."""
    return Annotated[list[str] | None, typer.Option(flag, help=help, show_default=False)]


ReferenceOpt = _repeatable(
    "--reference",
    "[T:]IMAGE or FOLDER: colour picture(s) of the film's content; T (seconds) pins it to the shot at T. Repeatable.",
)
HintsOpt = _repeatable(
    "--hints",
    "[T:]FILE: JSON points [{x, y, rgb[, t]}] (x, y fractions) or an image with alpha (painted strokes) on the "
    "frame at T. Repeatable.",
)


def colorize_config(*, cache_dir: Path | None = None, **options: Any) -> ColorizeConfig:
    """The frozen ColorizeConfig from a command's options, by field name (an option that is no
    field of ColorizeConfig or EncodeSettings is a TypeError); sets the engine cache folder."""
    if cache_dir is not None:
        from vidcolor.engines.cache import set_cache_dir

        set_cache_dir(cache_dir)
    encode = {k: options.pop(k) for k in ENCODE_FIELDS & options.keys()}
    models = options.get("model")
    if isinstance(models, list | tuple):  # --model given again and again: the first, then the blend
        options["model"] = str(models[0]) if models else None
        options["blend"] = tuple(str(m) for m in models[1:])
    elif models is not None:
        options["model"] = str(models)
    return ColorizeConfig(**options, encode=EncodeSettings(**encode))


def colorize_options(*names: str) -> Callable[[F], F]:
    """Decorate a command: the options of these ColorizeConfig/EncodeSettings fields (in this
    order) take the place of its ``cfg`` parameter, which gets the ColorizeConfig they make."""
    return config_options("cfg", [colorize_option(n) for n in names], colorize_config)


def given_options(ctx: typer.Context, *names: str) -> set[str]:
    """Which of the options ``names`` the user gave (on the command line or in the environment),
    rather than left at their defaults: settings saved beside a film yield to them."""
    sources = {n: ctx.get_parameter_source(n) for n in names}
    return {n for n, source in sources.items() if source is not None and source.name != "DEFAULT"}
