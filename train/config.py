"""The training configuration, built at the CLI boundary and saved in every run.

:class:`~vidcolor.config.TrainConfig` itself lives in :mod:`vidcolor.config`, torch-free and
beside the other settings, so that the command line can build ``vidcolor train``'s options and
their help from it without importing the ``train`` extra. Here: reading a TOML file and merging.

Precedence: dataclass defaults < ``--config FILE`` (TOML) < options given on the command line.
The resolved config is written to ``OUT/config.toml`` and into ``last.pt``; ``--resume`` reads it
back so a resumed run trains exactly the model it started (only ``steps`` may grow).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from vidcolor.config import GeneratorConfig, TrainConfig
from vidcolor.errors import BadInputError

__all__ = ["TrainConfig", "build_config", "load_toml"]


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
