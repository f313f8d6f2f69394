"""Options shared by several commands, one definition each; their defaults come from the config
dataclasses, the one home of every default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vidcolor.config import ColorizeConfig, EncodeSettings, SegmentSettings

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


def colorize_config(opts: dict[str, Any]) -> ColorizeConfig:
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
