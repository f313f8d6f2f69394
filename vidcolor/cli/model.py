"""``vidcolor model FILE``: what a model file is and what would run it (bring your own colorizer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidcolor.cli.app import Debug, app, handle_errors
from vidcolor.cli.options import DeviceOpt, colorize_option
from vidcolor.config import ColorizeConfig
from vidcolor.errors import BadInputError

ModelFormatOpt = colorize_option("model_format").annotation


@app.command("model", help="Describe a model file: inputs, outputs, shapes, its convention and what would run it.")
@handle_errors
def model_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="An .onnx colorizer or a .safetensors generator; `default` is the bundled model.", show_default=False
        ),
    ],
    model_format: ModelFormatOpt = None,
    device: DeviceOpt = ColorizeConfig().device,
    debug: Debug = False,
) -> None:
    from vidcolor.colorizer import named_model
    from vidcolor.device import pick_device

    file = named_model(str(file))  # `default`: the bundled model, as everywhere else
    if not file.is_file():
        raise BadInputError(f"{file}: no such model file")
    ColorizeConfig(model_format=model_format)  # the same check of the value as everywhere
    dev = pick_device(device)
    if file.suffix.lower() == ".onnx":
        from vidcolor.engines.foreign import describe_onnx

        rows = describe_onnx(file, model_format, dev)
    else:
        rows = _generator_rows(file, dev)
    width = max(len(k) for k, _v in rows)
    for key, value in rows:
        typer.echo(f"{key:<{width}}  {value}")


def _generator_rows(file: Path, device: object) -> list[tuple[str, str]]:
    """A vidcolor generator: its architecture and the engine ``--engine auto`` would pick."""
    from vidcolor.engines import auto_choices
    from vidcolor.modelfile import read_info

    info = read_info(file)
    gen = info.get("generator", {})
    choice = auto_choices(device)
    return [
        ("file", str(file)),
        ("convention", "vidcolor generator: L (N,1,H,W) in [-1,1] -> ab / 110 (N,2,H,W)"),
        ("architecture", ", ".join(f"{k}={v}" for k, v in gen.items()) or "?"),
        ("runs on", f"{choice[0][0]} {choice[0][1]} (--engine auto)" if choice else "eager fp32"),
    ]
