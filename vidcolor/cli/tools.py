"""``vidcolor eval``, ``keyframes``, ``engines`` and ``export``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from vidcolor.cli.app import Debug, Quiet, app, handle_errors, logger
from vidcolor.cli.options import FILM_HELP, DeviceOpt, colorize_options, film_path
from vidcolor.cli.progress import progress_bar
from vidcolor.config import ColorizeConfig
from vidcolor.errors import BadInputError


@app.command("eval", help="Measure colorization against colour ground truth (videos/images), beside the gray baseline.")
@handle_errors
@colorize_options(
    "model", "model_format", "render_size", "batch_size", "smoothing", "strength", "engine", "precision", "device", "confidence",
    "confidence_tau",
)  # fmt: skip
def eval_cmd(
    *,  # keyword-only: typer passes every option by name, and ``cfg`` (the options it makes) has no default
    truth: Annotated[list[Path], typer.Argument(help="Colour videos and images (the ground truth).")],
    json_path: Annotated[Path | None, typer.Option("--json", help="Write all figures as JSON here.")] = None,
    sheet: Annotated[
        Path | None, typer.Option("--sheet", help="Write a contact sheet PNG (gray | output | truth).")
    ] = None,
    max_frames: Annotated[int, typer.Option(help="Frames evaluated per video (from its start).", min=2)] = 250,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="first: also run guided, with each clip's true first frame as its reference."),
    ] = None,
    hints: Annotated[
        int,
        typer.Option(
            "--hints",
            help="Also run guided with N random true-colour points of each clip's first frame / each photo.",
            min=0,
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the random hint points.")] = 0,
    cfg: ColorizeConfig,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    import json

    from rich.console import Console
    from rich.table import Table

    from vidcolor.colorizer import Colorizer
    from vidcolor.evaluate import GuideMode, evaluate_item, summarize, write_sheet

    if reference not in (None, "first"):
        raise BadInputError(f"--reference: only 'first' (each clip's true first frame) is measured, got {reference!r}")
    mode = GuideMode(reference == "first", hints, seed)
    for out in (json_path, sheet):
        if out is not None and not out.parent.is_dir():
            raise BadInputError(f"{out.parent}: output folder does not exist")
    log = logger(quiet)
    colorizer = Colorizer(cfg, log)
    rows: list = []
    results = []
    for path in truth:
        log(f"evaluating {path} ...")
        results.append(evaluate_item(path, colorizer, max_frames, rows, mode=mode, index=len(results)))
    overall = summarize(results)
    methods = list(overall)
    # CDC stays in the JSON but not here: it scores the gray copy like the truth, so it says nothing
    # about colour; flicker / truth does (gray: 0, steadier than the truth: < 1).
    cols = [
        ("PSNR", "psnr", 2), ("PSNR last 10", "psnr_last", 2), ("SSIM", "ssim", 3), ("colourful. ratio", "colorfulness_ratio", 2),
        ("flicker", "flicker", 2), ("flicker truth", "flicker_truth", 2), ("flicker / truth", "flicker_ratio", 2), ("luma PSNR", "luma_psnr", 1),
    ]  # fmt: skip
    table = Table(title=f"vidcolor eval ({colorizer.model_id}, {colorizer.engine.name})")
    for name in ("item", "frames", "method", *[c[0] for c in cols]):
        table.add_column(name, justify="left" if name in ("item", "method") else "right")

    def fmt(scores: dict, key: str, digits: int) -> str:
        if key == "flicker_ratio":
            f, t = scores.get("flicker"), scores.get("flicker_truth")
            v = f / t if f is not None and t else None
        else:
            v = scores.get(key)
        return "-" if v is None else f"{v:.{digits}f}"

    for r in results:
        for m in methods:
            table.add_row(r.name, str(r.frames), m, *[fmt(r.scores[m], k, d) for _n, k, d in cols])
    for m in methods:
        table.add_row(
            "[bold]overall", str(sum(r.frames for r in results)), m, *[fmt(overall[m], k, d) for _n, k, d in cols]
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    if json_path is not None:
        doc = {
            "model": colorizer.model_id,
            "engine": colorizer.engine.name,
            "settings": cfg.public(),
            "guided": {"reference": mode.reference, "hints": mode.hints, "seed": mode.seed} if mode else None,
            "items": [{"name": r.name, "kind": r.kind, "frames": r.frames, "scores": r.scores} for r in results],
            "overall": overall,
        }
        json_path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    if sheet is not None:
        write_sheet(rows, sheet)
        log(f"wrote {sheet}")


@app.command("keyframes", help="Write one gray PNG per shot (named by its time) to colour by hand for --reference.")
@handle_errors
@colorize_options("render_size", "start", "duration")
def keyframes_cmd(
    input: Annotated[Path, typer.Argument(help=FILM_HELP, show_default=False, callback=film_path)],
    out_dir: Annotated[Path, typer.Option("--output", "-o", help="Folder for the keyframes (created if missing).")],
    cfg: ColorizeConfig,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace keyframes already in the folder (they are kept by default).")
    ] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    from vidcolor.decode import is_image
    from vidcolor.planes import render_size as size_for
    from vidcolor.shots import write_keyframes
    from vidcolor.source import probe

    if is_image(input):
        raise BadInputError(f"{input}: an image is its own keyframe; colour it and pass it as --reference")
    info = probe(input)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"{out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInputError(f"{out_dir}: cannot create the folder ({e.strerror})") from None
    size = size_for(info.width, info.height, cfg.render_size, 1)
    with progress_bar(input, cfg, enabled=not quiet, label="keyframes") as advance:
        shown = (info.display_width, info.height) if info.sar else None
        written, kept = write_keyframes(input, out_dir, size, cfg.start, cfg.duration, advance, overwrite, shown)
    if not written and not kept:
        raise BadInputError(f"{input}: no decodable video frames")
    if kept and not quiet:
        typer.echo(
            f"kept {len(kept)} keyframe{'s' * (len(kept) > 1)} already in {out_dir} (--overwrite replaces them)",
            err=True,
        )
    if not quiet:
        typer.echo(
            f"wrote {len(written)} keyframe{'s' * (len(written) > 1)} to {out_dir}; colour any of them, then "
            f"vidcolor {shlex.quote(str(input))} -o OUT --reference {shlex.quote(str(out_dir))}",
            err=True,
        )


@app.command("engines", help="List inference engines: available here or not, and why.")
@handle_errors
def engines_cmd(
    device: DeviceOpt = ColorizeConfig().device,
    debug: Debug = False,
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from vidcolor.device import pick_device
    from vidcolor.engines import auto_choices, describe_engines

    dev = pick_device(device)
    table = Table(title=f"vidcolor engines on {dev}")
    for col in ("engine", "status", "what"):
        table.add_column(col)
    for name, reason, what in describe_engines(dev):
        table.add_row(name, f"[red]unavailable: {escape(reason)}" if reason else "[green]available", what)
    Console().print(table)
    choice = auto_choices(dev)
    typer.echo("--engine auto picks: " + (f"{choice[0][0]} ({choice[0][1]})" if choice else "nothing available"))


@app.command("export", help="Write the generator as ONNX or a TensorRT engine for deployment elsewhere.")
@handle_errors
def export_cmd(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write (.onnx, or .plan/.engine for TensorRT).")
    ],
    format: Annotated[str, typer.Option("--format", help="onnx | tensorrt.")] = "onnx",
    model: Annotated[Path | None, typer.Option(help="Generator weights \\[default: bundled model].")] = None,
    precision: Annotated[str, typer.Option(help="TensorRT precision: fp16 | fp32.")] = "fp16",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT if it exists.")] = False,
    debug: Debug = False,
) -> None:
    from vidcolor.atomic import write_atomic
    from vidcolor.colorizer import default_model_path
    from vidcolor.modelfile import load_generator

    if format not in ("onnx", "tensorrt"):
        raise BadInputError(f"--format must be onnx or tensorrt, got {format!r}")
    if output.exists() and not overwrite:
        raise BadInputError(f"{output}: already exists (pass --overwrite to replace it)")
    if not output.parent.is_dir():
        raise BadInputError(f"{output.parent}: output folder does not exist")
    generator, _ = load_generator(model or default_model_path())
    if format == "onnx":
        from vidcolor.engines.onnx import export_onnx

        write_atomic(output, lambda tmp: export_onnx(generator, tmp))
    else:
        from vidcolor.engines import engine_unavailable

        reason = engine_unavailable("tensorrt", "cuda")
        if reason:
            raise BadInputError(f"--format tensorrt: unavailable here ({reason})")
        from vidcolor.engines.onnx import cached_onnx
        from vidcolor.engines.tensorrt import build_engine, default_profile

        plan = build_engine(cached_onnx(generator), default_profile(generator.config.multiple), precision)
        write_atomic(output, lambda tmp: tmp.write_bytes(plan))
    typer.echo(f"wrote {output}", err=True)
