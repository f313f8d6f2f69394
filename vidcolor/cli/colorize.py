"""``vidcolor INPUT -o OUTPUT``: one film, still or frame sequence."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidcolor.cli.app import DEFAULT_COMMAND, Debug, Quiet, app, handle_errors, logger
from vidcolor.cli.options import (
    SEQUENCE,
    HintsOpt,
    ReferenceOpt,
    SegmentSecondsOpt,
    colorize_options,
    film_path,
    given_options,
)
from vidcolor.cli.progress import progress_bar
from vidcolor.config import ColorizeConfig, SegmentSettings
from vidcolor.errors import BadInputError


@app.command(DEFAULT_COMMAND, help="Colorize a video or image (the default command: vidcolor INPUT -o OUTPUT).")
@handle_errors
@colorize_options(
    "model", "model_format", "render_size", "batch_size", "smoothing", "strength", "start", "duration", "preview", "engine",
    "precision", "cache_dir", "device", "codec", "crf", "preset", "exact_size", "pix_fmt", "interlaced", "fps",
    "confidence", "confidence_tau",
)  # fmt: skip
def colorize_cmd(
    ctx: typer.Context,
    input: Annotated[
        Path,
        typer.Argument(
            help=f"Black-and-white video, image, or {SEQUENCE}.",
            show_default=False,
            callback=film_path,
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
    cfg: ColorizeConfig,
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
    segment_seconds: SegmentSecondsOpt = SegmentSettings().segment_seconds,
    reference: ReferenceOpt = None,
    hints: HintsOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUTPUT if it exists.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    from vidcolor.atomic import remove_dead_partials
    from vidcolor.colorizer import Colorizer
    from vidcolor.guidance import Guidance, beside, load_beside, settings_path, with_saved_settings
    from vidcolor.pipeline import check_output, colorize
    from vidcolor.sequence import check_frame_target, frame_target, is_sequence, set_fps

    if not output_arg.strip():  # an unset $OUT: Path('') is '.', and frames would land in the current folder
        raise BadInputError("-o/--output is empty; give the output file (out.mp4) or folder (frames/)")
    output = Path(output_arg)
    log = logger(quiet)
    target = frame_target(output_arg)  # DIR/, an existing folder or out_%06d.png: one image a frame
    if target is not None and (resume or segments is not None):
        raise BadInputError(f"{target}: --resume and --segments write a video file, not frames")
    if is_sequence(input) and (resume or segments is not None):
        raise BadInputError(f"{input}: --resume and --segments cut a video file; an image sequence runs in one go")
    if target is not None:
        check_frame_target(input, target, overwrite)
    else:
        check_output(input, output, overwrite)
        for p in remove_dead_partials(output):  # what a killed or hung-up run of this -o left behind
            log(f"note: removed {p.name}, left by a run that was stopped")
    if is_sequence(input):
        set_fps(input, cfg.fps)
    part = None
    if resume or segments is not None:  # segment by segment, resumable (vidcolor.segments)
        from vidcolor.lease import Slice
        from vidcolor.segments import colorize_in_segments

        part = Slice.parse(segments or "0/1", "--segments")
    if not reference and not hints:
        # the batch convention (what `vidcolor studio` saves): film.ref/, film.hints.json beside
        # the film guide it here too; --reference/--hints given on the line replace them
        refs, hint_files = beside(input)
        found = [Path(p).name for p in [*refs, *hint_files]]
        if found:
            log(f"using the guidance beside {input.name}: {', '.join(found)}")
        guidance = load_beside(input, log)
        # the studio's sliders, saved beside the film: a flag given here wins
        cfg, saved = with_saved_settings(cfg, input, given_options(ctx, "strength", "smoothing"))
        if saved:
            flags = " ".join(f"--{k} {v:g}" for k, v in saved.items())
            log(f"using the settings saved beside {input.name} ({settings_path(input).name}): {flags}")
    else:
        guidance = Guidance.load(reference or [], hints or [], log)
    colorizer = Colorizer(cfg, log)
    with progress_bar(input, cfg, enabled=not quiet, parts=part.count if part else 1) as advance:
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
