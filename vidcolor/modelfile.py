"""Self-describing generator files: safetensors weights + the architecture in their metadata.

A file ``name.safetensors`` carries ``{"vidcolor": json}`` metadata with the generator config and
whatever the trainer recorded (step, validation metrics, training config). A sidecar
``name.json`` holds the same JSON for people and tools that do not read safetensors headers.
Loading never unpickles: safetensors holds raw tensors only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from vidcolor.atomic import write_atomic
from vidcolor.config import GeneratorConfig
from vidcolor.errors import BadInputError, ModelFileError, describe
from vidcolor.model import ColorNet, build_generator

FORMAT = "vidcolor-generator/1"


def save_generator(
    path: str | Path, generator: ColorNet, meta: dict[str, Any] | None = None, half: bool = False
) -> None:
    """Write ``generator``'s weights and config to ``path`` (.safetensors) and ``path``.json.

    ``half=True`` stores float tensors as float16 (half the size; loading upcasts to float32).
    Both files are written to a temporary name first and renamed, so a crash never leaves a
    truncated model under the final name.
    """
    path = Path(path)
    info = {"format": FORMAT, "generator": generator.config.to_dict(), **(meta or {})}
    state = {}
    for k, v in generator.state_dict().items():
        v = v.detach().to("cpu").contiguous()
        state[k] = v.half() if half and v.is_floating_point() else v
    text = json.dumps(info, indent=2, sort_keys=True, default=str)

    def write(tmp: Path) -> None:
        save_file(state, str(tmp), metadata={"vidcolor": text})
        os.chmod(tmp, 0o644)  # a model file is for sharing: readable like any other output

    write_atomic(path, write)
    write_atomic(path.with_suffix(".json"), lambda tmp: tmp.write_text(text + "\n"))


def read_info(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a generator file (config, training facts), without loading weights."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, expected a .safetensors model file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{path}: not a readable safetensors model file ({describe(e)})") from None
    if "vidcolor" not in meta:
        raise ModelFileError(f"{path}: safetensors file has no vidcolor metadata (not written by vidcolor)")
    try:
        info = json.loads(meta["vidcolor"])
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{path}: corrupt vidcolor metadata ({e})") from None
    if info.get("format") != FORMAT:
        raise ModelFileError(f"{path}: unsupported model format {info.get('format')!r}, expected {FORMAT!r}")
    return info


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[ColorNet, dict[str, Any]]:
    """Load a generator file written by :func:`save_generator`; returns (model in eval mode, info)."""
    info = read_info(path)
    try:
        config = GeneratorConfig.from_dict(info["generator"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: bad generator config in metadata ({describe(e)})") from None
    try:
        generator = build_generator(config)  # architecture only: nothing is downloaded
    except BadInputError as e:
        raise ModelFileError(f"{path}: {e}") from None
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{path}: cannot read weights ({describe(e)})") from None
    ref = generator.state_dict()
    missing, unexpected = set(ref) - set(state), set(state) - set(ref)
    bad_shape = [k for k in set(ref) & set(state) if ref[k].shape != state[k].shape]
    if missing or unexpected or bad_shape:
        raise ModelFileError(
            f"{path}: weights do not match the {config.arch} architecture in its metadata "
            f"(missing {len(missing)}, unexpected {len(unexpected)}, wrong shape {len(bad_shape)} tensors)"
        )
    state = {k: v.to(ref[k].dtype) for k, v in state.items()}
    generator.load_state_dict(state)
    return generator.to(device).eval(), info
