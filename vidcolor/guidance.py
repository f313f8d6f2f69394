"""Guided colorization: colour references and hints from the user, and the stage that applies them.

Inputs (``vidcolor IN -o OUT --reference [T:]IMAGE|DIR --hints [T:]FILE``):

* a **reference** is a colour picture of the film's content (a hand-coloured frame, a colour still);
  pinned to the shot that contains time T, or, without T, tried on every shot and used where it
  matches. A folder is every image in it; a name with ``_t<seconds>s`` (what ``vidcolor keyframes``
  writes) pins that image to its time. Gray images in a folder (keyframes not coloured yet) are
  skipped.
* **hints** are colours at points: a JSON list ``[{"x": 0.25, "y": 0.5, "rgb": [200, 30, 40],
  "t": 3.0}, ...]`` (x, y fractions of width and height, t seconds, default T or 0), or an image
  with an alpha channel, opaque where it holds colour (strokes painted over an exported frame).
  Hints start at their frame and are carried with the motion to the end of its shot.

:class:`Guider` turns them, frame by frame, into a :class:`~vidcolor.propagate.Guide` at render
size; :func:`vidcolor.propagate.fuse` puts it on the automatic colour.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from vidcolor.color import rgb_to_model, uint8_rgb_to_L
from vidcolor.config import ColorizeConfig
from vidcolor.decode import media_kind
from vidcolor.errors import BadInputError, Log, describe
from vidcolor.planes import MATRICES
from vidcolor.propagate import (
    Guide,
    PropagationConfig,
    carry,
    correspondence,
    guide_factor,
    match,
    move_points,
    place_points,
    point_guide,
    shrink,
    to_u8,
)
from vidcolor.sequence import is_sequence
from vidcolor.shots import ShotMap

MIN_SIZE = 16  # px: a smaller reference cannot be matched
TIME_IN_NAME = re.compile(r"_t(\d+(?:\.\d+)?)s$")


def parse_timed(spec: str, option: str) -> tuple[float | None, Path]:
    """``[T:]PATH`` -> (T seconds or None, PATH). A path that exists as given wins over a T: prefix."""
    if Path(spec).exists() or ":" not in spec:
        return None, Path(spec)
    head, tail = spec.split(":", 1)
    try:
        t = float(head)
    except ValueError:
        return None, Path(spec)
    if not math.isfinite(t) or t < 0:
        raise BadInputError(f"{option} {spec}: time must be seconds >= 0, got {head!r}")
    return t, Path(tail)


def _open_image(path: Path, option: str) -> Image.Image:
    if not path.exists():
        raise BadInputError(f"{option} {path}: not found")
    try:
        im = Image.open(path)
        im.load()
        return ImageOps.exif_transpose(im)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError) as e:
        raise BadInputError(f"{option} {path}: {_unreadable(e, path.read_bytes()[:16])}") from None


# the first bytes of the videos a user may give where a picture is wanted (offset, bytes, what it is)
VIDEO_MAGIC = (
    (4, b"ftyp", "an MP4/MOV video"),
    (0, b"\x1aE\xdf\xa3", "a Matroska/WebM video"),
    (8, b"AVI ", "an AVI video"),
    (0, b"\x00\x00\x01\xba", "an MPEG video"),
    (0, b"OggS", "an Ogg file"),
)
REACH = (0.01, 1.0)  # a hint's reach (how far its colour spreads), fraction of the frame's diagonal
MAX_REFERENCE_SIDE = 2048  # a reference is matched at the render size: a 12000 px scan is kept at this


def _unreadable(e: Exception, head: bytes) -> str:
    """Why a file is no picture, in the user's terms (not Pillow's ``<_io.BytesIO object at ...>``)."""
    what = next((name for at, magic, name in VIDEO_MAGIC if head[at : at + len(magic)] == magic), None)
    if isinstance(e, UnidentifiedImageError):
        found = f"it is {what}" if what else "not a picture format Pillow reads"
        return f"{found}; a reference or hints file is a still picture (PNG, JPEG, TIFF, WebP, ...)"
    return f"not a readable image ({describe(e)})"


def _is_gray(rgb: np.ndarray) -> bool:
    """No chroma at all: the channels of every pixel (but 0.1 %, stray outliers) within one level
    of each other (rounding). A faint colour (a gray suit, an overcast street, a photo at 3 %
    saturation) is colour information, so the test is this strict; a gray picture stays exactly
    gray through PNG and JPEG (its Cb and Cr are constant 128), so it is still refused."""
    spread = rgb.max(axis=-1).astype(np.int16) - rgb.min(axis=-1)
    return float((spread >= 2).mean()) < 1e-3


@dataclass(frozen=True)
class Reference:
    path: Path
    t: float | None  # pinned to the shot containing t; None = every shot it matches
    rgb: np.ndarray = field(repr=False)  # (H, W, 3) uint8


@dataclass(frozen=True)
class Hints:
    path: Path
    t: float  # the frame the hints are drawn on (points may carry their own "t")
    # (t, x, y, rgb, reach): reach None is PropagationConfig.spread_sigma
    points: tuple[tuple[float, float, float, tuple[int, int, int], float | None], ...] = ()
    rgba: np.ndarray | None = field(default=None, repr=False)  # (H, W, 4) uint8 strokes


def reference_rgb(data: bytes, name: str) -> np.ndarray:
    """An uploaded colour picture (the file's bytes) -> (H, W, 3) uint8 RGB, checked as
    :func:`load_reference` checks a file (readable, not tiny, not gray); ``name`` is for messages."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((MAX_REFERENCE_SIDE, MAX_REFERENCE_SIDE), Image.LANCZOS)
            rgb = np.array(im)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError) as e:
        raise BadInputError(f"{name}: {_unreadable(e, data[:16])}") from None
    _check_reference(rgb, name)
    return rgb


def _check_reference(rgb: np.ndarray, where: str) -> None:
    if min(rgb.shape[:2]) < MIN_SIZE:
        raise BadInputError(f"{where}: {rgb.shape[1]}x{rgb.shape[0]} px is too small to match (at least {MIN_SIZE} px)")
    if _is_gray(rgb):
        raise BadInputError(f"{where}: the image has no colour (gray); colour it first")


def load_reference(path: Path, t: float | None, option: str = "--reference") -> Reference:
    with _open_image(path, option) as im:
        im = im.convert("RGB")
        im.thumbnail((MAX_REFERENCE_SIDE, MAX_REFERENCE_SIDE), Image.LANCZOS)
        rgb = np.array(im)
    _check_reference(rgb, f"{option} {path}")
    return Reference(path, t, rgb)


def load_references(specs: list[str], log: Log = lambda _m: None) -> list[Reference]:
    """Each ``[T:]IMAGE`` or ``[T:]FOLDER`` -> references (a folder's gray images are skipped)."""
    refs: list[Reference] = []
    for spec in specs:
        t, path = parse_timed(spec, "--reference")
        if not path.is_dir():
            refs.append(load_reference(path, t))
            continue
        files = sorted(  # images, and broken files (they are reported); videos and other files are not references
            f for f in path.iterdir() if not f.name.startswith(".") and media_kind(f).kind in ("image", "damaged")
        )
        gray = 0
        for f in files:
            m = TIME_IN_NAME.search(f.stem)
            try:
                refs.append(load_reference(f, float(m.group(1)) if m and t is None else t))
            except BadInputError as e:
                if "no colour" not in str(e):
                    raise
                gray += 1
        if gray:
            log(f"note: --reference {path}: skipped {gray} gray image{'s' * (gray > 1)} (not coloured yet)")
        if len(files) == gray:
            raise BadInputError(f"--reference {path}: no colour image in the folder")
    return refs


def _number(v: object, where: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise BadInputError(f"{where} must be a number in [{lo:g}, {hi:g}], got {v!r}")
    return float(v)


def load_hints(spec: str) -> Hints:
    """``[T:]FILE``: a JSON list of points, or an image with an alpha channel (strokes)."""
    t, path = parse_timed(spec, "--hints")
    t = t or 0.0
    if path.is_dir():
        raise BadInputError(f"--hints {path}: is a folder; give a .json file of points or an image with alpha")
    if not path.is_file():
        raise BadInputError(f"--hints {path}: not found")
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError) as e:
            raise BadInputError(f"--hints {path}: cannot read ({describe(e)})") from None
        except json.JSONDecodeError as e:
            raise BadInputError(
                f"--hints {path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
            ) from None
        if not isinstance(doc, list):
            raise BadInputError(
                f"--hints {path}: expected a JSON list of points like {{'x':0.5,'y':0.5,'rgb':[r,g,b]}}"
            )
        points = []
        for i, p in enumerate(doc):
            where = f"--hints {path}: point {i}"
            if not isinstance(p, dict) or not {"x", "y", "rgb"} <= p.keys():
                raise BadInputError(f"{where}: needs x, y and rgb, got {p!r}")
            x = _number(p["x"], f"{where}: x (fraction of the width)", 0.0, 1.0)
            y = _number(p["y"], f"{where}: y (fraction of the height)", 0.0, 1.0)
            rgb = p["rgb"]
            if not (isinstance(rgb, list) and len(rgb) == 3):
                raise BadInputError(f"{where}: rgb must be [r, g, b] in 0..255, got {rgb!r}")
            rgb = tuple(int(_number(c, f"{where}: rgb", 0, 255)) for c in rgb)
            pt = _number(p.get("t", t), f"{where}: t (seconds)", 0.0, math.inf)
            reach = p.get("reach")
            if reach is not None:
                reach = _number(reach, f"{where}: reach (how far its colour spreads, fraction of the diagonal)", *REACH)
            points.append((pt, x, y, rgb, reach))
        if not points:
            raise BadInputError(f"--hints {path}: the list has no points")
        return Hints(path, t, tuple(points))
    with _open_image(path, "--hints") as im:
        if "A" not in im.getbands() and "transparency" not in im.info:
            raise BadInputError(
                f"--hints {path}: the image has no alpha channel; paint hints on a transparent layer (PNG)"
            )
        rgba = np.array(im.convert("RGBA"))
    if not (rgba[..., 3] >= 128).any():
        raise BadInputError(f"--hints {path}: no opaque pixel (nothing painted)")
    return Hints(path, t, rgba=rgba)


@dataclass(frozen=True)
class Guidance:
    """Everything the user told about the colour of one input."""

    references: tuple[Reference, ...] = ()
    hints: tuple[Hints, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.references or self.hints)

    @classmethod
    def load(cls, references: list[str], hints: list[str], log: Log = lambda _m: None) -> Guidance:
        return cls(tuple(load_references(references, log)), tuple(load_hints(h) for h in hints))

    def for_still(self) -> Guidance:
        """The guidance of a photo: one frame, so every reference is tried and every hint applies."""
        refs = tuple(Reference(r.path, None, r.rgb) for r in self.references)
        hints = tuple(Hints(s.path, 0.0, tuple((0.0, *p[1:]) for p in s.points), s.rgba) for s in self.hints)
        return Guidance(refs, hints)

    def digest(self) -> str:
        """Content hash (pixels, points, times): a batch redoes a file whose guidance changed."""
        h = hashlib.sha256()
        for r in self.references:
            h.update(f"ref {r.t} {r.rgb.shape}".encode())
            h.update(r.rgb.tobytes())
        for s in self.hints:
            # a point without a reach as before reaches existed: a batch's earlier outputs stay valid
            points = tuple(p[:4] if p[4] is None else p for p in s.points)
            h.update(f"hints {s.t} {points}".encode())
            if s.rgba is not None:
                h.update(s.rgba.tobytes())
        return h.hexdigest()[:16] if self else ""

    def describe(self) -> dict[str, object]:
        """For output metadata: file names (not paths of the user's machine), times and the digest."""
        return {
            "references": [{"file": r.path.name, "t": r.t} for r in self.references],
            "hints": [{"file": s.path.name, "t": s.t} for s in self.hints],
            "digest": self.digest(),
        }


def film_base(film: Path) -> Path:
    """The path whose name the guidance files beside a film take: a film file without its extension
    (``film.mp4`` -> ``film``), a folder of frames whole (``scans`` -> ``scans``, ``reel.v2`` -> ``reel.v2``), a
    frame pattern as its folder (``scans/f_%04d.png`` -> ``scans``): one name per film, whichever way it is given."""
    if is_sequence(film) and not film.is_dir():  # a printf pattern names the frames in a folder
        film = film.parent
    if film.name in ("", ".", ".."):
        film = Path(os.path.abspath(film))
    return film if film.is_dir() else film.with_suffix("")


def beside(input: Path) -> tuple[list[str], list[str]]:
    """The batch convention: ``film.ref/`` or ``film.ref.<image>`` and ``film.hints.json`` or
    ``film.hints.png`` next to ``film.mp4`` (or to a folder of frames, :func:`film_base`) ->
    (reference specs, hint specs)."""
    refs, hints = [], []
    base = film_base(input)
    folder = base.with_name(base.name + ".ref")
    if folder.is_dir():
        refs.append(str(folder))
    for f in sorted(base.parent.glob(f"{glob.escape(base.name)}.ref.*")):
        if f.stem == f"{base.name}.ref" and media_kind(f).kind in ("image", "damaged"):
            refs.append(str(f))
    for ext in (".json", ".png", ".webp", ".tif", ".tiff"):
        if (f := base.with_name(f"{base.name}.hints{ext}")).is_file():
            hints.append(str(f))
    return refs, hints


# The sliders a studio Save keeps beside the film (``film.settings.json``) and their ranges, as the
# options take them: the command line and batch apply them to that film; a flag given overrides.
SAVED_SETTINGS = {"strength": (0.0, 4.0), "smoothing": (0.0, 1.0)}


def settings_path(film: Path) -> Path:
    """``film.settings.json`` beside ``film`` (:func:`film_base`)."""
    base = film_base(film)
    return base.with_name(base.name + ".settings.json")


def load_settings(film: Path) -> dict[str, float]:
    """The settings saved beside ``film`` (``{"strength": 1.4, "smoothing": 0.8}``, either or both);
    {} when there is no file. A file that cannot be read, or holds anything else, is a
    :class:`BadInputError` naming it: a look silently dropped would render another film."""
    path = settings_path(film)
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInputError(f"{path.name}: not a readable settings file ({describe(e)})") from None
    if not isinstance(doc, dict):
        raise BadInputError(
            f'{path.name}: expected a JSON object such as {{"strength": 1.2}}, got {type(doc).__name__}'
        )
    unknown = sorted(set(doc) - set(SAVED_SETTINGS))
    if unknown:
        raise BadInputError(f"{path.name}: unknown setting {unknown[0]!r} (it may hold {', '.join(SAVED_SETTINGS)})")
    return {k: _number(v, f"{path.name}: {k}", *SAVED_SETTINGS[k]) for k, v in doc.items()}


def with_saved_settings(
    cfg: ColorizeConfig, film: Path, given: Collection[str] = ()
) -> tuple[ColorizeConfig, dict[str, float]]:
    """``cfg`` with the settings saved beside ``film`` (:func:`load_settings`), except those in
    ``given`` (options given on the command line win); and what was applied."""
    applied = {k: v for k, v in load_settings(film).items() if k not in given}
    return (dataclasses.replace(cfg, **applied) if applied else cfg), applied


def load_beside(film: Path, log: Log = lambda _m: None) -> Guidance:
    """The guidance found beside ``film`` (:func:`beside`), loaded; a bad file is said as found there,
    not as an option the user never gave (``guidance beside film.mp4: film.hints.json: ...``)."""
    try:
        return Guidance.load(*beside(film), log)
    except BadInputError as e:
        what = str(e).removeprefix("--hints ").removeprefix("--reference ")
        name = film_base(film).name if is_sequence(film) else film.name
        raise type(e)(f"guidance beside {name}: {what}") from None


def is_guidance_file(rel: Path) -> bool:
    """True for files the batch convention reads as guidance (never colorized as inputs): anything
    in a ``*.ref/`` folder, and ``*.ref.<ext>`` / ``*.hints.<ext>`` files. ``rel``: relative path."""
    if any(p.endswith(".ref") for p in rel.parts[:-1]):
        return True
    return Path(rel.stem).suffix in (".ref", ".hints", ".settings")


# ---------------------------------------------------------------- the per-frame stage


def _resize_rgb(rgb: np.ndarray, size: tuple[int, int], aspects: tuple[float, ...]) -> np.ndarray:
    """RGB (H,W,3) uint8 -> (h,w,3) at ``size`` = (w, h), the centre cropped to the film's aspect
    ``aspects[0]`` (width / height, as shown) when the picture has none of ``aspects`` (the others: a
    frame of non-square pixels exported at its stored size, taken whole), then scaled as the frames
    are (swscale, area filter). The film's aspect, not the render size's: a small film's render size
    is rounded to the model's multiple (160x120 renders at 128x128), and frames are squeezed to it, not cut."""
    w, h = size
    H, W = rgb.shape[:2]
    aspect = aspects[0]
    if all(abs(W / H - a) > 0.02 * a for a in aspects):
        if aspect < W / H:  # wider than the film: crop the sides
            cw = round(H * aspect)
            rgb = rgb[:, (W - cw) // 2 : (W - cw) // 2 + cw]
        else:
            ch = round(W / aspect)
            rgb = rgb[(H - ch) // 2 : (H - ch) // 2 + ch]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.to_ndarray(format="rgb24", width=w, height=h, interpolation=av.video.reformatter.Interpolation.AREA)


def _model_lab(rgb: np.ndarray, device: torch.device, matrix: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A colour picture -> (L as the film would show it, ab) at its size, normalised.

    The lightness to match against is that of the picture's black-and-white rendering (video luma
    Y' with the film's matrix, shown as gray), not its CIE L*: a B&W film is luma, and editors'
    "colour" layers keep luma, so this is what a hand-coloured frame's gray looks like. (L* and Y'
    differ by up to ~10 L* on saturated colours, more than a match tolerates.)"""
    t = torch.from_numpy(rgb).permute(2, 0, 1).to(device)
    kr, kb = MATRICES[matrix]
    y = kr * t[0].float() + (1 - kr - kb) * t[1].float() + kb * t[2].float()
    L = uint8_rgb_to_L(y.round().clamp(0, 255).to(torch.uint8).expand(3, -1, -1)[None])[0]
    _, ab = rgb_to_model(t.float() / 255.0)
    return L, ab


def strokes_guide(rgba: np.ndarray, size: tuple[int, int], device: torch.device) -> Guide:
    """Painted strokes (H,W,4) -> a guide at ``size`` (w, h); confidence is the (area-averaged) alpha."""
    w, h = size
    t = torch.from_numpy(rgba).permute(2, 0, 1).float().div(255.0).to(device)
    alpha = (t[3:] >= 0.5).float()
    _, ab = rgb_to_model(t[:3])
    small = F.interpolate(torch.cat([ab * alpha, alpha])[None], size=(h, w), mode="area")[0]
    c = small[2:]
    return Guide(small[:2] / c.clamp_min(1e-6), torch.where(c >= 0.5, c, torch.zeros_like(c)))


def stroke_points(guide: Guide) -> torch.Tensor:
    """A painted guide's pixels as hint points (n,6) (columns X..REACH of :mod:`vidcolor.propagate`):
    one at each pixel's centre with its colour and confidence, the default reach."""
    _, h, w = guide.c.shape
    ys, xs = torch.nonzero(guide.c[0] > 0, as_tuple=True)
    ab = guide.ab[:, ys, xs].T
    xy = torch.stack([(xs.float() + 0.5) / w, (ys.float() + 0.5) / h], 1)
    return torch.cat([xy, ab, guide.c[0, ys, xs][:, None], torch.zeros(len(xs), 1, device=xy.device)], 1)


@dataclass
class _Anchor:
    """One reference or hint set, placed on the film: at the guide size, with its shot or frame."""

    name: str
    shot: int | None  # reference: its pinned shot, or None (every shot it matches)
    frame: int | None  # hints: the frame they are drawn on
    L: torch.Tensor | None = None
    ab: torch.Tensor | None = None
    guide: Guide | None = None  # painted strokes
    points: torch.Tensor | None = None  # (n,6) hint points, columns X..REACH of vidcolor.propagate (placed: +ANCHOR)
    used: bool = False
    best: float = 0.0  # an unpinned reference: its best match coverage so far (said when it matches nothing)


class Guider:
    """Frame by frame (in order), the guide for each frame: references matched, hints carried.

    Within a shot the guide of the previous frame is carried along the motion and merged with
    fresh matches of the shot's references; at a cut it starts empty. An unpinned reference is
    tried at each shot's start and every ``retry`` frames until it matches (mean confidence >=
    ``gate``), on a one-shot film and a still too: a picture of something else would otherwise
    tint every frame through the spread of its few chance matches; a pinned one is matched on
    every frame of its shot.
    """

    def __init__(
        self,
        guidance: Guidance,
        shots: ShotMap,
        size: tuple[int, int],
        device: torch.device,
        aspects: tuple[float, ...],
        cfg: PropagationConfig | None = None,
        log: Log = lambda _m: None,
        retry: int = 12,
        matrix: str = "bt601",
        still: bool = False,
    ) -> None:
        self.cfg = cfg or PropagationConfig()
        self.shots, self.retry = shots, retry
        # guides work on frames shrunk by this; a still is one frame: no time to save, full size
        self.factor = 1 if still else guide_factor(size[1], size[0], self.cfg)
        size = (math.ceil(size[0] / self.factor), math.ceil(size[1] / self.factor))
        self.anchors: list[_Anchor] = []
        end = f"the end ({shots.duration:.2f} s)"
        for r in guidance.references:
            shot = None
            if r.t is not None:
                i = shots.frame_at(r.t)
                if i is None:
                    log(f"warning: --reference {r.path.name} at {r.t:g} s is past {end}; not used")
                    continue
                shot = shots.shot_of(i)
            L, ab = _model_lab(_resize_rgb(r.rgb, size, aspects), device, matrix)
            self.anchors.append(_Anchor(r.path.name, shot, None, L, ab))
        for s in guidance.hints:
            if s.rgba is not None:
                ratio = s.rgba.shape[1] / s.rgba.shape[0]
                if all(abs(ratio / a - 1) > 0.02 for a in aspects):
                    raise BadInputError(
                        f"--hints {s.path}: {s.rgba.shape[1]}x{s.rgba.shape[0]} does not have the video's aspect "
                        f"({aspects[0]:.3f}); export the frame and paint over it"
                    )
                strokes = strokes_guide(s.rgba, size, device)
                # on a film, each painted pixel is a point, carried as hint points are (they hold through a
                # shot; a dense guide would fade, decay, and erode at every warp); a still keeps the paint as it is
                kind = {"guide": strokes} if still else {"points": stroke_points(strokes)}
                groups: dict[float, dict] = {s.t: kind}
            else:
                by_t: dict[float, list] = {}
                for t, x, y, rgb, reach in s.points:
                    by_t.setdefault(t, []).append((x, y, rgb, reach))
                groups = {}
                for t, pts in by_t.items():
                    rgb = torch.tensor([p[2] for p in pts], dtype=torch.float32).T[:, :, None] / 255.0  # (3,n,1)
                    _, ab = rgb_to_model(rgb)
                    xy = torch.tensor([p[:2] for p in pts], dtype=torch.float32)
                    reach = torch.tensor([[p[3] or 0.0] for p in pts], dtype=torch.float32)  # 0: the default
                    points = torch.cat([xy, ab[:, :, 0].T, torch.ones(len(pts), 1), reach], 1)
                    groups[t] = {"points": points.to(device)}
            for t, kw in groups.items():
                i = shots.frame_at(t)
                if i is None:
                    log(f"warning: --hints {s.path.name} at {t:g} s is past {end}; not used")
                    continue
                self.anchors.append(_Anchor(s.path.name, None, i, **kw))
        self.state: Guide | None = None  # carried colour of references and strokes
        self.points = torch.zeros(0, 7, device=device)  # carried hint points, anchored: propagate.move_points
        self.prev_L: torch.Tensor | None = None
        self.shot = -1
        self.candidates: list[_Anchor] = []
        self.active: list[_Anchor] = []
        self.since_start = 0

    def __call__(self, index: int, L: torch.Tensor) -> Guide:
        """Guide for frame ``index`` (0-based, in decoding order) of lightness L (1,h,w) at render
        size; the guide is 1/``factor`` of that size (:func:`~vidcolor.propagate.fuse` scales it)."""
        shot = self.shots.shot_of(index)
        L = shrink(L, self.factor)
        h, w = L.shape[-2:]
        u8 = to_u8(L)  # every flow of this frame starts from it
        if shot != self.shot or self.state is None or self.prev_L is None:
            self.shot, self.since_start = shot, 0
            self.state = Guide.empty(h, w, device=L.device)
            self.points = self.points[:0]
            refs = [a for a in self.anchors if a.L is not None and a.shot in (None, shot)]
            self.active = [a for a in refs if a.shot == shot]
            self.candidates = [a for a in refs if a.shot is None]
        else:
            self.since_start += 1
            if len(self.points) or float(self.state.c.max()) >= self.cfg.min_conf:
                fw, bw, c = correspondence(L, self.prev_L, self.cfg, u8)
                self.state = carry(self.state, fw, c, self.cfg)
                self.points = move_points(self.points, bw, c, L, self.cfg)
        for a in self.active:
            self.state = self.state.merge(match(L, a.L, a.ab, self.cfg, u8))
            a.used = True
        if self.candidates and self.since_start % self.retry == 0:
            for a in list(self.candidates):
                m = match(L, a.L, a.ab, self.cfg, u8)
                a.best = max(a.best, m.coverage)
                if m.coverage >= self.cfg.gate:
                    self.state = self.state.merge(m)
                    self.candidates.remove(a)
                    self.active.append(a)
                    a.used = True
        for a in self.anchors:
            if a.frame == index:
                if a.guide is not None:
                    self.state = self.state.merge(a.guide)
                if a.points is not None:
                    self.points = torch.cat([self.points, place_points(a.points, L)])  # anchored on this frame
                a.used = True
        self.prev_L = L
        return self.state.merge(point_guide(self.points, h, w, self.cfg)) if len(self.points) else self.state

    def unused(self) -> list[str]:
        """One line per reference or hint file that guided no frame, saying why (warned about once
        the film is done)."""
        lines = {}
        for a in self.anchors:
            if a.used or a.name in lines:
                continue
            if a.L is not None and a.shot is None:
                lines[a.name] = (
                    f"--reference {a.name} matched nothing in the film (at best {a.best:.0%} of a frame lined "
                    f"up, {self.cfg.gate:.0%} needed) and guided no frame; to use it anyway, pin it to a shot "
                    f"with --reference T:{a.name}"
                )
            else:
                lines[a.name] = f"{a.name} guided no frame (its shot or frame was not reached)"
        return [lines[name] for name in sorted(lines)]


def reference_coverage(
    reference: np.ndarray, gray: np.ndarray, aspect: float, cfg: PropagationConfig | None = None
) -> float:
    """How much of a frame a colour reference lines up with, in [0, 1]: the mean confidence of its
    dense match (:func:`~vidcolor.propagate.match`) on ``gray`` (H, W) uint8, the frame as shown,
    at the size the film's guides work at. ``reference`` (h, w, 3) uint8 is fitted to ``aspect``
    (width / height as shown) as the film's loop fits it. ``cfg.gate`` is what an unpinned
    reference needs to guide a frame; a pinned one guides its shot whatever it scores."""
    cfg = cfg or PropagationConfig()
    H, W = gray.shape
    k = min(1.0, cfg.guide_short / min(H, W))
    size = (max(1, round(W * k)), max(1, round(H * k)))
    small = np.array(Image.fromarray(gray).resize(size, Image.Resampling.BOX))
    L = uint8_rgb_to_L(torch.from_numpy(small).expand(3, -1, -1)[None])[0]
    ref_L, ref_ab = _model_lab(_resize_rgb(reference, size, (aspect,)), torch.device("cpu"), "bt601")
    return match(L, ref_L, ref_ab, cfg).coverage
