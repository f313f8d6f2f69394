"""Foreign colorizers: ONNX files made by other projects (DDColor, DeOldify, ...) behind the engine contract.

A :class:`ForeignEngine` maps normalised L (N,1,H,W) in [-1,1] to ab (N,2,H,W) in about [-1,1]
(Lab ab / 110) at the same size, like every engine, so smoothing, guidance, previews, batch and
segments see no difference. What a file expects is a :class:`Convention`: what goes in (the gray
picture as RGB, or L), in which value range, at which size and layout, and what comes out (ab in
some scale, or RGB in some range). The presets (:data:`PRESETS`) are such descriptions; a sidecar
``FILE.onnx.json`` holds the same fields for any other convention.

An ONNX file is data, not code (:func:`inspect_onnx`): operators outside the standard domains and
external-data files outside the model's folder are refused, and one dry run checks the outputs
against the convention before any frame is coloured.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.color import AB_SCALE, model_to_rgb, rgb_to_lab
from vidcolor.config import MODEL_FORMATS
from vidcolor.errors import ModelFileError
from vidcolor.model import pad_to_multiple

INPUTS = ("gray_rgb", "L")
OUTPUTS = ("ab", "rgb")
LAYOUTS = ("NCHW", "NHWC")
# Operator domains ONNX Runtime implements itself; anything else needs a custom-op library (code).
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
METADATA_KEY = "vidcolor.convention"  # in vidcolor's own exports (vidcolor.engines.onnx.mark_vidcolor)
MULTIPLE_KEY = "vidcolor.multiple"  # ... with the multiple its sizes must be
# |ab| / 110 beyond which no sRGB colour lies (sRGB's extremes are within about ±128 Lab units)
AB_LIMIT = 1.5


@dataclass(frozen=True)
class Convention:
    """How a colorizer file wants its input and gives its output.

    ``input``: ``gray_rgb`` (the picture's L with a = b = 0, as sRGB) or ``L`` (CIE L*), mapped
    linearly from [0, 1] (gray) or [0, 100] (L*) onto ``input_range``. ``size``: the square side
    it runs at, or None for the file's own fixed size, else the render size padded to ``multiple``.
    ``output``: ``ab`` (Lab units = output * ``ab_scale``) or ``rgb`` (sRGB, ``output_range``
    mapped onto [0, 1]; only its chroma is kept). ``layout``: NCHW or NHWC, both ways.
    """

    name: str
    input: str = "gray_rgb"
    input_range: tuple[float, float] = (0.0, 1.0)
    size: int | None = None
    multiple: int = 1
    layout: str = "NCHW"
    output: str = "ab"
    ab_scale: float = 1.0
    output_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        for field, value, valid in (("input", self.input, INPUTS), ("output", self.output, OUTPUTS)):
            if value not in valid:
                raise ModelFileError(f"convention {self.name}: {field} {value!r} is none of {', '.join(valid)}")
        if self.layout not in LAYOUTS:
            raise ModelFileError(f"convention {self.name}: layout {self.layout!r} is none of {', '.join(LAYOUTS)}")
        if self.multiple < 1 or (self.size is not None and self.size < 1) or not self.ab_scale:
            raise ModelFileError(f"convention {self.name}: size, multiple and ab_scale must be positive")
        for field, (lo, hi) in (("input_range", self.input_range), ("output_range", self.output_range)):
            if not lo < hi:
                raise ModelFileError(f"convention {self.name}: {field} [{lo}, {hi}] is empty")

    @property
    def channels_in(self) -> int:
        return 3 if self.input == "gray_rgb" else 1

    @property
    def channels_out(self) -> int:
        return 2 if self.output == "ab" else 3


# The presets, as their own code defines them (README, "Bring your own model"):
PRESETS = {
    # piddnad/DDColor scripts/export_onnx.py + ddcolor/pipeline.py: the gray picture (L, a = b = 0)
    # as RGB in [0, 1] at the export's fixed S (ImageNet normalisation inside the graph); out: a, b
    # in Lab units (about +-128) at S.
    "ddcolor": Convention("ddcolor", "gray_rgb", (0.0, 1.0), multiple=32, output="ab", ab_scale=1.0),
    # jantic/DeOldify deoldify/filters.py and its ONNX conversions: the gray picture as RGB, square S,
    # 0-255 (normalisation inside the graph); out: RGB in the same scale, of which only chroma is kept.
    "deoldify": Convention("deoldify", "gray_rgb", (0.0, 255.0), multiple=32, output="rgb", output_range=(0.0, 255.0)),
    # vidcolor's own export (vidcolor export): L in [-1, 1], ab / 110, any size that is a multiple
    # of the model's (its metadata says which; 64, the default depth's, suits every architecture).
    "vidcolor": Convention("vidcolor", "L", (-1.0, 1.0), multiple=64, output="ab", ab_scale=AB_SCALE),
}  # fmt: skip
FORMATS = MODEL_FORMATS  # a preset for each (tests/test_foreign_models.py checks)


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def read_sidecar(path: Path) -> Convention:
    """``FILE.onnx.json`` -> its Convention: the fields of :class:`Convention` (ranges as [lo, hi]),
    optionally ``"base": "ddcolor"`` to start from a preset."""
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ModelFileError(f"{path}: unreadable convention file ({e})") from None
    if not isinstance(d, dict):
        raise ModelFileError(f"{path}: a convention file holds one JSON object, got {type(d).__name__}")
    base = PRESETS.get(d.pop("base", "ddcolor"))
    if base is None:
        raise ModelFileError(f"{path}: base must be one of {', '.join(FORMATS)}")
    known = {f.name for f in dataclasses.fields(Convention)} - {"name"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ModelFileError(
            f"{path}: unknown convention keys {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    if d.get("size") == "dynamic":
        d["size"] = None
    for key, value in d.items():
        why = _sidecar_value_problem(key, value)
        if why:
            raise ModelFileError(f"{path}: {key} = {json.dumps(value)} {why}")
    d = {k: tuple(float(x) for x in v) if k.endswith("_range") else v for k, v in d.items()}
    return dataclasses.replace(base, name=path.name, **d)


MAX_SIDE = 4096  # a model's square side or multiple beyond this is a typo (100000 would allocate 40 GB a frame)


def _sidecar_value_problem(key: str, value: object) -> str:
    """Why a convention file's ``key: value`` cannot be (its type, its range), or ''; checked before
    use, so a wrong one is one line naming it, never a TypeError or a black picture."""

    def number(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def whole(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if key in ("input", "layout", "output"):
        return "" if isinstance(value, str) else "should be text"
    if key.endswith("_range"):
        ok = isinstance(value, list) and len(value) == 2 and all(number(v) for v in value)
        return "" if ok else "should be [low, high], two finite numbers"
    if key == "ab_scale":
        return "" if number(value) and value > 0 else "should be a finite number > 0"
    if key == "size" and value is None:
        return ""
    if key in ("size", "multiple"):
        ok = whole(value) and 1 <= value <= MAX_SIDE
        return "" if ok else f"should be a whole number of pixels, 1 to {MAX_SIDE}{' (or dynamic)' * (key == 'size')}"
    return ""


# ---------------------------------------------------------------- inspecting a file


@dataclass(frozen=True)
class OnnxInfo:
    """What an ONNX file declares: its one input and first output (dims: int, or a name/None when
    dynamic), and its vidcolor metadata if any."""

    path: Path
    input_name: str
    input_shape: tuple[int | str | None, ...]
    output_name: str
    output_shape: tuple[int | str | None, ...]
    metadata: dict[str, str]

    @property
    def fixed_batch(self) -> int | None:
        n = self.input_shape[0]
        return n if isinstance(n, int) and n > 0 else None

    def fixed_size(self, layout: str) -> tuple[int, int] | None:
        h, w = self.input_shape[1:3] if layout == "NHWC" else self.input_shape[2:4]
        return (h, w) if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 else None

    def channels(self, layout: str) -> int | None:
        c = self.input_shape[3] if layout == "NHWC" else self.input_shape[1]
        return c if isinstance(c, int) and c > 0 else None


def inspect_onnx(path: Path) -> OnnxInfo:
    """Read ``path``'s graph without its weights and refuse what would run code or read files
    elsewhere: operators outside :data:`STANDARD_DOMAINS` (and the file's own functions), and
    external data outside the model's folder. Raises ModelFileError, one line."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf's and onnx's errors vary
        raise ModelFileError(f"{path}: not a readable ONNX file ({type(e).__name__})") from None
    _check_operators(path, model)
    _check_external_data(path, model)
    inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if len(inputs) != 1 or not model.graph.output:
        raise ModelFileError(f"{path}: a colorizer takes one picture input, this file takes {len(inputs)}")
    ins, outs = _shape(inputs[0]), _shape(model.graph.output[0])
    if len(ins) != 4:
        raise ModelFileError(f"{path}: input {inputs[0].name} has {len(ins)} dimensions, a picture batch has 4")
    meta = {p.key: p.value for p in model.metadata_props}
    return OnnxInfo(path, inputs[0].name, ins, model.graph.output[0].name, outs, meta)


def _shape(value: Any) -> tuple[int | str | None, ...]:
    dims = value.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims)


def _graphs(graph: Any) -> Any:
    """``graph`` and every subgraph in its nodes' attributes (If, Loop, Scan bodies)."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                yield from _graphs(sub)


def _check_operators(path: Path, model: Any) -> None:
    own = {(f.domain, f.name) for f in model.functions}  # local functions: made of checked operators too
    nodes = [n for g in _graphs(model.graph) for n in g.node] + [n for f in model.functions for n in f.node]
    for node in nodes:
        if node.domain not in STANDARD_DOMAINS and (node.domain, node.op_type) not in own:
            raise ModelFileError(
                f"{path}: custom operator {node.domain}::{node.op_type} refused (an ONNX file is data; custom "
                "operators need code vidcolor does not load)"
            )


def external_data_files(path: Path) -> list[Path]:
    """The files an ONNX file keeps its weights in besides itself (external data), sorted: part of
    what the model is (:func:`vidcolor.colorizer.model_id`). Unreadable: ModelFileError."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf's and onnx's errors vary
        raise ModelFileError(f"{path}: not a readable ONNX file ({type(e).__name__})") from None
    _check_external_data(path, model)  # nothing outside the model's folder is read, not even to hash it
    found = set()
    for g in _graphs(model.graph):
        for t in g.initializer:
            if t.data_location == onnx.TensorProto.EXTERNAL:
                location = {e.key: e.value for e in t.external_data}.get("location", "")
                found.add(path.parent / location)
    return sorted(found)


def _check_external_data(path: Path, model: Any) -> None:
    import onnx

    folder = path.resolve().parent
    tensors = [t for g in _graphs(model.graph) for t in g.initializer]
    for t in tensors:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = {e.key: e.value for e in t.external_data}.get("location", "")
        target = (folder / location).resolve()
        if Path(location).is_absolute() or not target.is_relative_to(folder):
            raise ModelFileError(
                f"{path}: external data {location!r} of tensor {t.name} is outside the model's folder; refused"
            )


def convention_for(info: OnnxInfo, fmt: str | None) -> Convention:
    """The convention of a file: ``fmt`` (a preset name) when given, else its sidecar, else
    vidcolor's own metadata; a foreign file with none of them is refused, naming the choices."""
    if fmt is not None:
        if fmt not in PRESETS:
            raise ModelFileError(f"--model-format {fmt!r}: choose one of {'|'.join(FORMATS)}")
        conv = PRESETS[fmt]
    elif sidecar_path(info.path).exists():
        conv = read_sidecar(sidecar_path(info.path))
    elif info.metadata.get(METADATA_KEY) == "vidcolor":
        conv = PRESETS["vidcolor"]
    else:
        raise ModelFileError(
            f"{info.path}: not a vidcolor export; say what it is with --model-format {'|'.join(FORMATS)} "
            f"(or describe it in {sidecar_path(info.path).name})"
        )
    if conv.name == "vidcolor" and info.metadata.get(MULTIPLE_KEY, "").isdigit():
        conv = dataclasses.replace(conv, multiple=int(info.metadata[MULTIPLE_KEY]))
    return conv


# ---------------------------------------------------------------- the adapter


def ort_providers(device: torch.device) -> list[str]:
    """CPU, with CUDA first only where the pipeline runs on a GPU and ORT really has its provider."""
    import onnxruntime as ort

    cuda = device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers()
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]


class ForeignEngine:
    """An ONNX colorizer of any :class:`Convention` as an engine: normalised L (N,1,H,W) in [-1,1]
    -> ab (N,2,H,W) float32, Lab ab / 110, at the same H, W, on L's device.

    Pre- and post-processing run on the device in torch; the file runs in ONNX Runtime, in batches
    when its batch dimension is dynamic, else in chunks of its fixed batch (often 1)."""

    def __init__(self, path: Path, fmt: str | None, device: torch.device) -> None:
        import onnxruntime as ort

        self.info = inspect_onnx(path)
        self.conv = convention_for(self.info, fmt)
        self.device = device
        self.size = self.info.fixed_size(self.conv.layout) or (
            (self.conv.size, self.conv.size) if self.conv.size else None
        )
        self.multiple = 1 if self.size else self.conv.multiple  # a fixed-size file takes any frame: it is resized
        self.batch = self.info.fixed_batch
        self._check_declared()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # cores shared with decoding
        try:
            self.session = ort.InferenceSession(str(path), options, providers=ort_providers(device))
        except Exception as e:  # ORT's own errors: a bad graph, an operator it lacks
            raise ModelFileError(
                f"{path}: ONNX Runtime cannot load it ({str(e).strip().splitlines()[0][:160]})"
            ) from None
        provider = self.session.get_providers()[0].removesuffix("ExecutionProvider").lower()
        self.name = f"onnxruntime {provider} ({self.conv.name})"
        self.dry_run()

    def _check_declared(self) -> None:
        """Refuse a file whose declared shapes contradict its convention (channels in and out)."""
        c_in = self.info.channels(self.conv.layout)
        if c_in is not None and c_in != self.conv.channels_in:
            raise ModelFileError(
                f"{self.info.path}: input has {c_in} channels; the {self.conv.name} convention "
                f"({self.conv.input}) takes {self.conv.channels_in}"
            )
        self._check_output(self.info.output_shape, "declares")

    def _check_output(self, shape: tuple, verb: str, want_batch: int | None = None) -> None:
        want = self.conv.channels_out
        if len(shape) != 4:
            raise ModelFileError(f"{self.info.path}: output {verb} {len(shape)} dimensions, not 4 ({self.conv.name})")
        c = shape[3] if self.conv.layout == "NHWC" else shape[1]
        if isinstance(c, int) and c > 0 and c != want:
            raise ModelFileError(
                f"{self.info.path}: output {verb} {c} channels; the {self.conv.name} convention "
                f"({self.conv.output}) gives {want}"
            )
        if want_batch is not None and shape[0] != want_batch:
            raise ModelFileError(f"{self.info.path}: output {verb} batch {shape[0]} for an input of {want_batch}")

    def dry_run(self) -> None:
        """One run on a mid-gray picture: the real output shape against the convention, before any frame."""
        h, w = self.size or (2 * self.conv.multiple, 2 * self.conv.multiple)
        n = self.batch or 2  # a dynamic batch is tried with 2: a file that always answers 1 shows here, not mid-film
        x = self._model_input(torch.zeros(n, 1, h, w, device=self.device))
        try:
            out = self.session.run([self.info.output_name], {self.info.input_name: x})[0]
        except Exception as e:
            raise ModelFileError(
                f"{self.info.path}: the dry run failed ({str(e).strip().splitlines()[0][:160]})"
            ) from None
        self._check_output(tuple(out.shape), "gives", n)
        self._to_ab(torch.from_numpy(out).to(self.device))  # refuses NaN and infinities

    def __call__(self, L: torch.Tensor) -> torch.Tensor:
        if L.ndim != 4 or L.shape[1] != 1:
            raise ValueError(f"engines expect L of shape (N,1,H,W), got {tuple(L.shape)}")
        h, w = L.shape[-2:]
        if self.size:  # antialiased: a render size above the file's S is shrunk, not sampled
            x = F.interpolate(L.float(), size=self.size, mode="bilinear", antialias=True, align_corners=False)
        else:
            x = pad_to_multiple(L.float(), self.multiple)
        step = self.batch or len(x)
        ab = torch.cat([self._run(x[i : i + step]) for i in range(0, len(x), step)])
        if ab.shape[-2:] != x.shape[-2:]:  # a file may answer at another resolution than it was asked
            ab = F.interpolate(ab, size=x.shape[-2:], mode="bilinear", align_corners=False)
        if self.size:  # the file's square back onto the frame
            return F.interpolate(ab, size=(h, w), mode="bilinear", align_corners=False)
        return ab[..., :h, :w]

    def _run(self, L: torch.Tensor) -> torch.Tensor:
        """Normalised L (n,1,h,w), n <= the file's batch -> normalised ab (n,2,h',w'), on the device."""
        n = len(L)
        if self.batch and n < self.batch:  # a fixed batch larger than what is left: fill with copies
            L = torch.cat([L, L[-1:].expand(self.batch - n, -1, -1, -1)])
        out = self.session.run([self.info.output_name], {self.info.input_name: self._model_input(L)})[0]
        self._check_output(tuple(out.shape), "gave", len(L))
        return self._to_ab(torch.from_numpy(out).to(self.device)[:n])

    def _model_input(self, L: torch.Tensor) -> np.ndarray:
        """Normalised L (N,1,h,w) -> the file's input, float32 numpy in its layout and range."""
        lo, hi = self.conv.input_range
        if self.conv.input == "gray_rgb":
            x = model_to_rgb(L, torch.zeros_like(L).expand(-1, 2, -1, -1))  # the gray picture, sRGB in [0, 1]
        else:
            x = (L.float() + 1.0) / 2.0  # L* / 100
        x = x * (hi - lo) + lo
        if self.conv.layout == "NHWC":
            x = x.permute(0, 2, 3, 1)
        return np.ascontiguousarray(x.to("cpu", torch.float32).numpy())

    def _to_ab(self, out: torch.Tensor) -> torch.Tensor:
        """The file's output (n,C,h',w') -> normalised ab (n,2,h',w') float32, within ±:data:`AB_LIMIT`."""
        out = out.float().permute(0, 3, 1, 2) if self.conv.layout == "NHWC" else out.float()
        if not torch.isfinite(out).all():  # NaN would reach the video as garbage chroma: stop instead
            raise ModelFileError(f"{self.info.path}: the model gave NaN or infinite values; no frame written with them")
        if self.conv.output == "ab":
            # a wrong scale (a convention that does not fit the file) must not overflow what follows
            return (out * (self.conv.ab_scale / AB_SCALE)).clamp(-AB_LIMIT, AB_LIMIT)
        lo, hi = self.conv.output_range
        rgb = ((out - lo) / (hi - lo)).clamp(0.0, 1.0)
        return rgb_to_lab(rgb)[:, 1:] / AB_SCALE  # only its chroma: L comes from the picture itself


def describe_onnx(path: Path, fmt: str | None, device: torch.device) -> list[tuple[str, str]]:
    """What ``vidcolor model FILE`` prints: (what, found) rows for the inputs, outputs, shapes, the
    convention and what would run it. A refused file raises (ModelFileError); a file of no known
    convention is described as far as it goes, with the line saying what to give."""
    info = inspect_onnx(path)
    rows = [
        ("file", str(path)),
        ("input", f"{info.input_name} {_dims_text(info.input_shape)}"),
        ("output", f"{info.output_name} {_dims_text(info.output_shape)}"),
        ("metadata", ", ".join(f"{k}={v}" for k, v in info.metadata.items()) or "none"),
    ]
    try:
        conv = convention_for(info, fmt)
    except ModelFileError as e:
        return [*rows, ("convention", f"unknown: {e}")]
    engine = ForeignEngine(path, fmt, device)  # its dry run too: what it says is what would happen
    fields = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(conv).items() if k != "name")
    size = engine.size
    return [
        *rows,
        ("convention", f"{conv.name} ({fields})"),
        ("runs at", f"{size[0]}x{size[1]}, resized" if size else f"the render size, padded to a multiple of {engine.multiple}"),
        ("batch", f"fixed at {engine.batch}: that many frames a call" if engine.batch else "dynamic: --batch-size frames a call"),
        ("runs on", engine.name),
    ]  # fmt: skip


def _dims_text(shape: tuple[int | str | None, ...]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
