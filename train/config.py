"""The training configuration, built at the CLI boundary and saved in every run.

:class:`~vidcolor.config.TrainConfig` itself lives in :mod:`vidcolor.config`, torch-free and
beside the other settings, so that the command line can build ``vidcolor train``'s options and
their help from it without importing the ``train`` extra. Here: reading a TOML file and merging.

Precedence: dataclass defaults < ``--config FILE`` (TOML) < options given on the command line.
The resolved config is written to ``OUT/config.toml`` and into ``last.pt``; ``--resume`` reads it
back so a resumed run trains exactly the model it started (only ``steps`` may grow).

A fine-tune (``init``: a generator file) takes its generator's architecture from that file, here,
before anything is written: a generator option that says otherwise is refused, not half-obeyed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from vidcolor.config import GeneratorConfig, TrainConfig
from vidcolor.errors import BadInputError

__all__ = ["DEFAULT_INIT", "TrainConfig", "build_config", "init_generator", "init_path", "load_toml"]

DEFAULT_INIT = "default"  # --init default: the bundled model


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
    """defaults < file < overrides (``None`` values in ``overrides`` mean "not given"; keys
    ``generator.NAME`` set the generator's fields)."""
    d: dict[str, Any] = load_toml(file) if file else {}
    gen = dict(d.get("generator", {}))
    said = {k: f"{file}: [generator] {k} =" for k in gen}  # who set each generator field, for a refusal
    for k, v in overrides.items():
        if v is None:
            continue
        if k.startswith("generator."):
            name = k.split(".", 1)[1]
            gen[name] = v
            said[name] = f"--{name.replace('_', '-')}"
        else:
            d[k] = v
    if d.get("init"):
        d["generator"] = init_generator(str(d["init"]), gen, said).to_dict()
        return TrainConfig.from_dict(d)
    if gen.get("encoder") and gen.get("arch", "unet-v1") == "unet-v1":
        # --encoder NAME asks for the encoder U-Net; its depth is the backbone's 5 stride-2 stages.
        gen["arch"] = "encoder-unet-v1"
        if overrides.get("generator.depth") is None and "depth" not in d.get("generator", {}):
            gen["depth"] = 5
    if gen:
        d["generator"] = {**GeneratorConfig().to_dict(), **gen}
    return TrainConfig.from_dict(d)


def init_path(init: str) -> Path:
    """The generator file ``--init`` names: a path, or ``default`` for the bundled model."""
    if init == DEFAULT_INIT:
        from vidcolor.colorizer import default_model_path

        return default_model_path()
    return Path(init)


def init_generator(
    init: str, given: dict[str, Any] | None = None, said: dict[str, str] | None = None
) -> GeneratorConfig:
    """The architecture of the generator file ``init`` (read from its metadata; no weights loaded).

    ``given``: generator fields set on the command line or in a ``--config`` file; one that differs
    from the file's is refused (``said`` names where it was set), since the weights fix the
    architecture and quietly overruling the user would train something they did not ask for."""
    from vidcolor.modelfile import read_info  # torch: only a fine-tune's set-up needs it

    path = init_path(init)
    try:
        info = read_info(path)
        config = GeneratorConfig.from_dict(info["generator"])
    except BadInputError as e:
        raise BadInputError(f"--init {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise BadInputError(f"--init {path}: bad generator config in its metadata ({e})") from None
    ours = config.to_dict()
    for name, value in (given or {}).items():
        if name not in ours:
            raise BadInputError(f"unknown generator option {name!r}")
        if value != ours[name]:
            where = f"{(said or {}).get(name, f'generator.{name} =')} {value!r}"
            if isinstance(value, bool) and where.startswith("--"):  # a flag: --hints / --no-hints
                where = f"--{'' if value else 'no-'}{name}"
            raise BadInputError(
                f"{where} does not match --init {init}, whose generator has {name} = {ours[name]!r}: "
                f"a fine-tune keeps the init model's architecture (leave that option out)"
            )
    return config
