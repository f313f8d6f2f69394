"""``vidcolor batch``: many files, resumable and shardable; its progress bars and summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vidcolor.cli.app import Debug, Quiet, app, handle_errors, logger
from vidcolor.cli.options import colorize_options, given_options
from vidcolor.cli.progress import batch_progress
from vidcolor.config import ColorizeConfig
from vidcolor.errors import BadInputError


@app.command("batch", help="Colorize many files: folders (recursive), files or a list; resumable, shardable.")
@handle_errors
@colorize_options(
    "model", "model_format", "render_size", "batch_size", "smoothing", "strength", "engine", "precision", "cache_dir", "device",
    "codec", "crf", "preset", "exact_size", "pix_fmt", "interlaced", "confidence", "confidence_tau",
)  # fmt: skip
def batch_cmd(
    *,  # keyword-only: typer passes every option by name, and ``cfg`` (the options it makes) has no default
    ctx: typer.Context,
    inputs: Annotated[list[Path] | None, typer.Argument(help="Folders (searched recursively) and files.")] = None,
    out_dir: Annotated[Path, typer.Option("--output", "-o", help="Output folder (mirrors the inputs' layout).")] = Path(
        "colorized"
    ),
    from_list: Annotated[Path | None, typer.Option("--from-list", help="A file with one input path per line.")] = None,
    suffix: Annotated[str, typer.Option(help="Added to each output's name, before the extension.")] = "",
    container: Annotated[
        str | None,
        typer.Option(help="Video container for outputs: mp4, mkv, mov, webm \\[default: the input's, else mp4]."),
    ] = None,
    redo: Annotated[
        str,
        typer.Option(help="changed (default): redo changed inputs/model/settings; failed: also retry failures; all."),
    ] = "changed",
    shard: Annotated[
        str, typer.Option(help="K/N: process only shard K of N (for job arrays on several machines).")
    ] = "0/1",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be done; write nothing.")] = False,
    cfg: ColorizeConfig,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit 1 when a file was salvaged (damaged frames, audio or streams left out), as for a failure.",
        ),
    ] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    from vidcolor.batch import discover, run_batch
    from vidcolor.formats import CONTAINERS
    from vidcolor.lease import Slice

    if container is not None and f".{container.lstrip('.')}" not in CONTAINERS:
        raise BadInputError(f"--container must be one of {', '.join(c[1:] for c in CONTAINERS)}, got {container!r}")
    if not inputs and from_list is None:
        raise BadInputError("no inputs: give folders/files or --from-list FILE")
    part = Slice.parse(shard)
    log = logger(quiet)
    jobs = discover(inputs or [], from_list, exclude=out_dir)
    with batch_progress(enabled=not quiet and not dry_run, total=sum(part.owns(j.rel) for j in jobs)) as hooks:
        on_file, on_plan = hooks or (None, None)
        given = given_options(ctx, "strength", "smoothing")  # over the settings saved beside a film
        report = run_batch(jobs, out_dir, cfg, part, suffix, container, redo, dry_run, log, on_file, on_plan, given)
    if not quiet or report.failed or report.salvaged:
        batch_summary(report, dry_run, strict)
    if report.failed or (strict and report.salvaged):
        raise typer.Exit(1)


def batch_summary(report: Any, dry_run: bool, strict: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    from vidcolor.batch import outcome_line

    console = Console(stderr=True)
    table = Table(title="vidcolor batch" + (" (dry run)" if dry_run else ""))
    for col in ("result", "files", "frames", "seconds"):
        table.add_column(col, justify="right" if col != "result" else "left")
    for action in ("done", "salvaged", "would run", "skipped", "failed"):
        rows = [o for o in report.outcomes if o.action == action]
        if rows:
            table.add_row(
                action, str(len(rows)), str(sum(o.frames for o in rows)), f"{sum(o.seconds for o in rows):.1f}"
            )
    console.print(table)
    for o in report.outcomes:
        if o.action in ("failed", "salvaged", "would run") or o.detail.startswith(
            ("failed earlier", "salvaged earlier")
        ):
            line = outcome_line(o.action, o.job.input, o.detail)  # file names are text, not rich markup
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    if strict and report.salvaged:
        console.print("--strict: salvaged files count as failed", markup=False, highlight=False)
