"""The state of one studio: a film, its shots and keyframes, the guidance given to each shot, and
saving it beside the film in the batch convention (:func:`vidcolor.guidance.beside`).

Only three paths are ever touched: the film (read), ``film.hints.json`` and ``film.ref/`` beside it
(read when opened, written on save). Nothing a request sends becomes a path: shots are numbers,
uploaded pictures are bytes.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import math
import re
import shlex
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from av.video.reformatter import Interpolation
from PIL import Image

from vidcolor import __version__
from vidcolor.atomic import write_atomic
from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
from vidcolor.decode import media_kind
from vidcolor.engines.cache import entry
from vidcolor.errors import BadInputError, Log, ProcessingError, describe
from vidcolor.guidance import (
    REACH,
    SAVED_SETTINGS,
    Guidance,
    Hints,
    Reference,
    beside,
    film_base,
    load_hints,
    load_references,
    load_settings,
    reference_coverage,
    reference_rgb,
    settings_path,
    with_saved_settings,
)
from vidcolor.pipeline import colorize, colorize_array, preview_sheet
from vidcolor.planes import render_size
from vidcolor.preview import stack_rows
from vidcolor.propagate import PropagationConfig
from vidcolor.shots import ShotMap, keyframe_name, shot_frames
from vidcolor.source import probe

MAX_UPLOAD = 20 * 1024 * 1024  # bytes: a colour reference is a still, not a scan archive
KEYFRAME_SIDE = 1280  # longest side a keyframe is held and shown at: enough to place a hint on a face
THUMB_HEIGHT = 120  # the shot strip's pictures (shown 60 px high: sharp on a high-DPI screen)
SHOT_PREVIEW_FRAMES = 4  # "preview the shot": this many frames spread over it (the page offers up to the max)
PALETTE_HUES = 8  # a hint's suggested colours: this many hues (at two chromas) at the pixel's lightness
MAX_PREVIEW_FRAMES = 24  # what a preview may ask for: each costs its frame and the warm-up before it
UNDO_DEPTH = 200  # edits Undo can take back
# the references the page edits: keyframe_name()'s pattern (what save writes, what `vidcolor keyframes` exports)
OWN_REF = re.compile(r"^shot\d{4}_t\d+\.\d{3}s\.png$")

Rgb = tuple[int, int, int]


@dataclass(frozen=True)
class Hint:
    """One hint on a shot. ``id`` is stable for the studio's life (two tabs, an undo, a delete
    elsewhere never make an edit land on another hint); ``t`` is the time it was read with from
    ``film.hints.json`` (its frame in the shot), kept while the hint is unchanged so a hand-written
    ``"t": 4.0`` is not moved to the shot's start; None for a hint made or edited here."""

    id: int
    x: float  # fraction of the width, [0, 1]
    y: float  # fraction of the height, [0, 1]
    rgb: Rgb  # 0..255
    t: float | None = None
    reach: float | None = None  # how far its colour spreads, fraction of the diagonal; None: the default


class CannotSave(BadInputError):
    """The film's folder cannot be written (a read-only archive, a full disk)."""


class Stale(BadInputError):
    """An edit sent by a page that has not seen the latest change (another tab, another window)."""

    def __init__(self, sent: object, current: int) -> None:
        super().__init__(
            f"the studio changed since this page last loaded (version {sent!r}, now {current}): "
            "another tab or window edited it; the page reloads to show it, then make your edit again"
        )


class Cancelled(ProcessingError):
    """The page cancelled a render (or the studio stopped during one)."""


class Renderer:
    """One film colorized in a background thread at a time, with progress and cancelling."""

    def __init__(self) -> None:
        # for the page: idle|running|done|failed|cancelled, frames done of total, a message
        self.state: dict[str, object] = {"state": "idle", "done": 0, "total": 0, "message": ""}
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.state["state"] == "running"

    def start(
        self, film: Path, out: Path, colorizer: Colorizer, guidance: Guidance, total: int, note: str = ""
    ) -> None:
        """Colorize ``film`` into ``out`` (:func:`vidcolor.pipeline.colorize`); ``total`` frames
        expected; ``note`` is added to the message when it ends."""
        with self._lock:  # two clicks on Render: one render
            if self.running:
                raise BadInputError("a render is already running")
            self.state = {"state": "running", "done": 0, "total": total, "message": ""}
        self._cancel.clear()

        def advance(n: int) -> None:
            if self._cancel.is_set():  # raised inside the loop: the writer removes its temporary file
                raise Cancelled(f"{out.name}: render cancelled; nothing was written")
            self.state["done"] = int(self.state["done"]) + n

        def run() -> None:
            try:
                colorize(film, out, colorizer, progress=advance, guidance=guidance or None)
                self.state.update(state="done", message=f"wrote {out.name}{note}")
            except Cancelled as e:
                self.state.update(state="cancelled", message=str(e))
            except Exception as e:  # shown on the page; the studio goes on
                self.state.update(state="failed", message=describe(e))

        # not a daemon: the interpreter waits for it, so quitting never leaves a half-written file
        self._thread = threading.Thread(target=run, name="vidcolor-render")
        self._thread.start()

    def cancel(self) -> None:
        """Stop a running render at its next frame; the output is left as it was."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        """Until the render (if any) has ended: done, failed or cancelled, its temporary file gone."""
        if self._thread is not None:
            self._thread.join(timeout)


@dataclass
class Shot:
    """One shot: where it starts, its gray keyframe, and what the user gave it."""

    start: int  # index of its first frame
    t: float  # seconds from the file's start
    gray_png: bytes = field(repr=False)  # the first frame, gray, at most KEYFRAME_SIDE: PNG (small in memory)
    thumb_png: bytes = field(repr=False)  # ... THUMB_HEIGHT high, for the strip
    hints: list[Hint] = field(default_factory=list)
    reference: np.ndarray | None = field(default=None, repr=False)  # (h, w, 3) uint8
    automatic: tuple[float, np.ndarray] | None = field(default=None, repr=False)  # (strength, colour) cache
    match: tuple[np.ndarray, float] | None = field(default=None, repr=False)  # (reference, its match) cache

    @property
    def gray(self) -> np.ndarray:
        """(H, W) uint8."""
        return np.asarray(Image.open(io.BytesIO(self.gray_png)))

    @property
    def gray_rgb(self) -> np.ndarray:
        """(H, W, 3) uint8: the keyframe as the still-image path takes it."""
        return np.repeat(self.gray[..., None], 3, -1)


def png_bytes(rgb: np.ndarray) -> bytes:
    """(H, W, 3) or (H, W) uint8 -> PNG file bytes (fast compression: previews are rewritten often)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def keyframe_size(width: int, height: int) -> tuple[int, int]:
    """(w, h) a keyframe is held at: the frame's size, scaled down to KEYFRAME_SIDE on its longest side."""
    k = min(1.0, KEYFRAME_SIDE / max(width, height))
    return max(1, round(width * k)), max(1, round(height * k))


SHOTS_CACHE_FORMAT = 2  # bump when what find_shots stores, or the cut test, changes (2: raw streams timed)


def _shots_entry(film: Path, size: tuple[int, int], keyframe: tuple[int, int]) -> Path:
    """The cache entry of a film's shot pass: keyed by the file as it is now (path, bytes, mtime),
    the size cuts are tested at and the keyframes' size, so an edited or replaced film is scanned again.
    A folder of frames goes by the folder's mtime: frames added or removed count, one redrawn in place not."""
    st = (film if film.exists() else film.parent).stat()  # a pattern of frames ('f_%04d.png'): their folder
    return entry(
        "studio-shots", ".npz", film=str(film), bytes=st.st_size, mtime=st.st_mtime_ns, size=size,
        keyframe=keyframe, format=SHOTS_CACHE_FORMAT, vidcolor=__version__,
    )  # fmt: skip


def _packed(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    return np.frombuffer(b"".join(blobs), np.uint8), np.cumsum([0] + [len(b) for b in blobs])


def _unpacked(data: np.ndarray, ends: np.ndarray) -> list[bytes]:
    return [data[a:b].tobytes() for a, b in itertools.pairwise(ends)]


def find_shots(
    film: Path,
    size: tuple[int, int],
    keyframe: tuple[int, int],
    progress: Callable[[int], None] = lambda _n: None,
    log: Log = lambda _m: None,
) -> tuple[list[Shot], ShotMap]:
    """The shots of ``film`` (cuts tested at ``size``) with their gray keyframes at ``keyframe`` (w, h)
    and strip thumbnails. The pass decodes the whole film (14 s for 5 minutes at 640x360 on 2 cores,
    minutes for a feature film), so its result is cached (:func:`vidcolor.engines.cache.entry`,
    ``studio-shots/``): a film opened again opens at once. ``progress(n)``: n more frames scanned."""
    path = _shots_entry(film, size, keyframe)
    try:
        with np.load(path, allow_pickle=False) as z:
            times, starts = z["times"], [int(i) for i in z["starts"]]
            grays, thumbs = _unpacked(z["gray"], z["gray_ends"]), _unpacked(z["thumb"], z["thumb_ends"])
        shots = [Shot(i, float(times[i]), g, th) for i, g, th in zip(starts, grays, thumbs, strict=True)]
        progress(len(times))
        return shots, ShotMap(times, starts)
    except FileNotFoundError:
        pass
    except Exception as e:  # a damaged or foreign entry: scanned again and replaced, said
        log(f"note: the cached shot list of {film.name} could not be read ({describe(e)}); finding the shots again")
    kw, kh = keyframe
    shots: list[Shot] = []
    times: list[float] = []
    for _i, t, new, frame in shot_frames(film, size):
        times.append(t)
        if new:
            gray = frame.to_ndarray(format="gray", width=kw, height=kh, interpolation=Interpolation.AREA)
            tw, th = max(1, round(kw * min(1.0, THUMB_HEIGHT / kh))), min(kh, THUMB_HEIGHT)
            thumb = frame.to_ndarray(format="gray", width=tw, height=th, interpolation=Interpolation.AREA)
            shots.append(Shot(len(times) - 1, t, png_bytes(gray), png_bytes(thumb)))
        progress(1)
    if not shots:
        raise BadInputError(f"{film}: no decodable video frames")
    gray, gray_ends = _packed([s.gray_png for s in shots])
    thumb, thumb_ends = _packed([s.thumb_png for s in shots])
    arrays = {
        "times": np.asarray(times, np.float64), "starts": np.asarray([s.start for s in shots], np.int64),
        "gray": gray, "gray_ends": gray_ends, "thumb": thumb, "thumb_ends": thumb_ends,
    }  # fmt: skip

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, write)
    except OSError as e:  # a read-only or full cache: the studio works, the next opening scans again
        log(f"note: could not cache the shot list in {path.parent} ({e.strerror or e})")
    return shots, ShotMap(arrays["times"], [s.start for s in shots])


def _reach(v: object) -> float | None:
    """Validate a hint's reach from a request: None (the default) or a fraction of the diagonal in REACH."""
    lo, hi = REACH
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise BadInputError(f"hint reach must be a number in [{lo:g}, {hi:g}] (fraction of the diagonal), got {v!r}")
    return float(v)


def _hint(x: object, y: object, rgb: object) -> tuple[float, float, Rgb]:
    """Validate one hint from a request: x, y fractions in [0, 1], rgb three ints 0..255."""
    for name, v in (("x", x), ("y", y)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise BadInputError(f"hint {name} must be a number in [0, 1], got {v!r}")
    if not (
        isinstance(rgb, list) and len(rgb) == 3 and all(isinstance(c, int) and not isinstance(c, bool) for c in rgb)
    ) or not all(0 <= c <= 255 for c in rgb):
        raise BadInputError(f"hint rgb must be [r, g, b] integers in 0..255, got {rgb!r}")
    return float(x), float(y), (rgb[0], rgb[1], rgb[2])


class Studio:
    """A film opened for guidance: the shot pass runs once here; every method is thread-safe
    (the web server answers requests on several threads; the model and the state are shared)."""

    def __init__(
        self,
        film: Path,
        colorizer: Colorizer,
        log: Log = lambda _m: None,
        render_to: Path | None = None,
        progress: Callable[[int], None] = lambda _n: None,
        given: Collection[str] = (),
    ) -> None:
        """``given``: the sliders set on the command line, which win over those a Save kept beside the film."""
        self.film = film.resolve()
        self.colorizer = colorizer
        self.render_to = render_to  # the output "Render" writes (given on the command line), or None
        self.renderer = Renderer()
        self.own_refs: set[str] = set()  # film.ref/ files the studio loaded or wrote: the only ones it may remove
        self.unplaced: list[dict] = []  # hints of film.hints.json past the film's end: saved back as they were
        self.next_id = 0  # the next hint's id
        self.ref_files: dict[int, tuple[str, np.ndarray]] = {}  # shot -> the file its reference was read from
        self._others: tuple[tuple[int, ...], list[str]] | None = None  # (folders' mtimes, other_guidance())
        self.lock = threading.Lock()
        self.saving = threading.Lock()  # one save at a time (a double-clicked Save, Save then Render)
        # every change (hints, references, sliders, undo) moves the version on: a page's edit names the
        # version it saw, and one made from an out-of-date page (another tab) is refused, not misapplied
        self.version = 0
        self.history: list[
            tuple[int, list[Hint], np.ndarray | None]
        ] = []  # (shot, its hints, its reference) before each edit
        base = film_base(self.film)  # one name per film: scans.hints.json for scans/ and for 'scans/f_%04d.png'
        self.hints_path = base.with_name(base.name + ".hints.json")
        self.ref_dir = base.with_name(base.name + ".ref")
        info = probe(self.film)
        size = render_size(info.width, info.height, colorizer.cfg.render_size, 1)
        kw, kh = keyframe_size(info.display_width, info.height)  # as shown: a 16:9 DVD at 16:9
        self.kw, self.aspect = kw, info.display_width / info.height
        # a window of one frame from a shot's start (its frames' times are exact): half a frame's span
        self.frame_span = 0.5 / float(info.rate or 25)
        self.shots, self.map = find_shots(self.film, size, (kw, kh), progress, log)
        self._load(log)
        self.settings_path = settings_path(self.film)
        colorizer.cfg, _ = with_saved_settings(colorizer.cfg, self.film, given)
        default = ColorizeConfig()
        kept = {k: v for k, v in load_settings(self.film).items() if v != getattr(default, k)}
        self.saved = (self._state()[0], kept)  # what the files beside the film hold

    # ------------------------------------------------------------ state

    def shot(self, n: int) -> Shot:
        if not 0 <= n < len(self.shots):
            raise KeyError(n)
        return self.shots[n]

    def describe(self) -> dict[str, object]:
        """For the page: every shot's time, hints and whether it has a reference; the sliders; the
        guidance files beside the film that the studio does not edit (the command line uses them too);
        the command line that renders what the page shows."""
        with self.lock:
            cfg = self.colorizer.cfg
            return {
                "film": self.film.name,
                "version": self.version,
                "match_gate": PropagationConfig().gate,  # what an unpinned reference needs to guide a frame
                "reach_default": PropagationConfig().spread_sigma,  # a hint's reach when it has none of its own
                "strength": cfg.strength,
                "smoothing": cfg.smoothing,
                "command": self.command(),
                "unsaved": self.unsaved,
                "others": self.other_guidance(),
                "shots": [
                    {
                        "shot": i,
                        "t": s.t,
                        "end": self.end_of(i),
                        "frames": self.frames_of(i),
                        "hints": [
                            {"id": h.id, "x": h.x, "y": h.y, "rgb": list(h.rgb), "reach": h.reach} for h in s.hints
                        ],
                        "reference": s.reference is not None,
                        "match": self._match(s),
                    }
                    for i, s in enumerate(self.shots)
                ],
            }

    def _match(self, s: Shot) -> float | None:
        """(The lock held.) How much of the shot's keyframe its reference lines up with, in [0, 1]
        (:func:`vidcolor.guidance.reference_coverage`), None without one; kept until it changes."""
        if s.reference is None:
            return None
        if s.match is None or s.match[0] is not s.reference:
            s.match = (s.reference, reference_coverage(s.reference, s.gray, self.aspect))
        return s.match[1]

    def sliders(self) -> dict[str, float]:
        """The sliders a save keeps (``film.settings.json``): those that differ from the defaults."""
        cfg, default = self.colorizer.cfg, ColorizeConfig()
        return {k: getattr(cfg, k) for k in SAVED_SETTINGS if getattr(cfg, k) != getattr(default, k)}

    def _state(self) -> tuple[list[tuple[list[Hint], np.ndarray | None]], dict[str, float]]:
        """What a save writes, to compare: each shot's hints and its reference; the sliders."""
        return [(list(s.hints), s.reference) for s in self.shots], self.sliders()

    @property
    def unsaved(self) -> bool:
        """Whether hints, references or sliders differ from the last save (or the opening): an undo
        back to the saved state is saved. References compare by identity: an edit makes a new array."""
        shots, sliders = self.saved
        return sliders != self.sliders() or any(
            hints != s.hints or ref is not s.reference for (hints, ref), s in zip(shots, self.shots, strict=True)
        )

    def frames_of(self, n: int) -> int:
        """How many frames shot ``n`` has."""
        last = self.shots[n + 1].start if n + 1 < len(self.shots) else len(self.map.times)
        return last - self.shots[n].start

    def end_of(self, n: int) -> float | None:
        """Where shot ``n`` ends (the next one's start), None for the last."""
        return self.shots[n + 1].t if n + 1 < len(self.shots) else None

    def command(self) -> str:
        """``vidcolor FILM -o OUT`` that renders what the page shows: with a flag for each slider that
        differs from what the files beside the film hold (after a Save: none)."""
        cfg, (_, saved) = self.colorizer.cfg, self.saved
        words = [
            "vidcolor",
            shlex.quote(self.film.name),
            "-o",
            shlex.quote(self.render_to.name if self.render_to else "OUT"),
        ]
        for name in SAVED_SETTINGS:
            if getattr(cfg, name) != saved.get(name, getattr(ColorizeConfig(), name)):
                words += [f"--{name}", f"{getattr(cfg, name):g}"]
        return " ".join(words)

    def other_guidance(self) -> list[str]:
        """Guidance files beside the film that the page does not edit but the command line reads
        (:func:`vidcolor.guidance.beside`): unpinned or hand-named references, painted hints.
        Each file is opened to tell pictures from the rest, so the list is kept until a folder changes."""
        key = tuple(p.stat().st_mtime_ns if p.is_dir() else 0 for p in (self.hints_path.parent, self.ref_dir))
        if self._others is None or self._others[0] != key:
            refs, hints = beside(self.film)
            names = [Path(h).name for h in hints if Path(h) != self.hints_path]
            for r in map(Path, refs):
                if r == self.ref_dir:
                    names += [
                        f"{r.name}/{f.name}"
                        for f in sorted(r.iterdir())
                        if not f.name.startswith(".") and media_kind(f).kind == "image"
                    ]
                else:
                    names.append(r.name)
            self._others = (key, names)
        own = {f"{self.ref_dir.name}/{name}" for name in self.own_refs}  # they change with every save
        return [name for name in self._others[1] if name not in own]

    def _check(self, version: object) -> None:
        """(The lock held.) Refuse an edit made from a page that has not seen the latest change;
        ``version`` None: the caller does not say (a script, the tests), the edit applies."""
        if version is not None and version != self.version:
            raise Stale(version, self.version)

    def _find(self, n: int, hint_id: int) -> int:
        """(The lock held.) Where hint ``hint_id`` is in shot ``n``'s list; KeyError when it is not there
        (deleted in another tab, or undone)."""
        for i, h in enumerate(self.shot(n).hints):
            if h.id == hint_id:
                return i
        raise KeyError(f"hint {hint_id} of shot {n}")

    def add_hint(
        self, n: int, x: object, y: object, rgb: object = None, version: object = None, reach: object = None
    ) -> Hint:
        """Add a hint to shot ``n``; without ``rgb`` it takes the automatic colour there (the page
        then opens a picker that starts at it). Returns it (its id addresses it from then on)."""
        reach_ = _reach(reach)
        if rgb is None:
            _hint(x, y, [0, 0, 0])  # x and y checked before the model runs
            rgb = list(self.automatic_at(n, float(x), float(y)))  # type: ignore[arg-type]
        x_, y_, rgb_ = _hint(x, y, rgb)
        with self.lock:
            self._check(version)
            self._edit(n)
            h = Hint(self.next_id, x_, y_, rgb_, reach=reach_)
            self.next_id += 1
            self.shot(n).hints.append(h)
            return h

    def set_hint(
        self, n: int, hint_id: int, x: object, y: object, rgb: object, version: object = None, reach: object = None
    ) -> None:
        """Move, recolour or change the reach of hint ``hint_id`` of shot ``n`` (it then sits at the shot's start)."""
        x_, y_, rgb_ = _hint(x, y, rgb)
        reach_ = _reach(reach)
        with self.lock:
            self._check(version)
            i = self._find(n, hint_id)
            self._edit(n)
            self.shot(n).hints[i] = Hint(hint_id, x_, y_, rgb_, reach=reach_)

    def delete_hint(self, n: int, hint_id: int, version: object = None) -> None:
        with self.lock:
            self._check(version)
            i = self._find(n, hint_id)
            self._edit(n)
            del self.shot(n).hints[i]

    def set_reference(self, n: int, data: bytes | None, version: object = None) -> None:
        """Give shot ``n`` a colour reference (an image file's bytes), or remove it (None; removing
        none is no change)."""
        self.shot(n)  # an unknown shot is a 404 before any decoding
        rgb = None
        if data is not None:
            if len(data) > MAX_UPLOAD:
                raise BadInputError(f"reference: {len(data) / 2**20:.1f} MB is over the {MAX_UPLOAD // 2**20} MB limit")
            rgb = reference_rgb(data, "reference")
        with self.lock:
            self._check(version)
            if rgb is None and self.shot(n).reference is None:
                return
            self._edit(n)
            self.shot(n).reference = rgb

    def _edit(self, n: int) -> None:
        """Before shot ``n`` changes (the lock held): keep what it was, for :meth:`undo`."""
        s = self.shot(n)
        self.history.append((n, list(s.hints), s.reference))
        del self.history[:-UNDO_DEPTH]
        self.version += 1

    def undo(self, version: object = None) -> int | None:
        """Take back the last change of hints or a reference; returns its shot, None when there is none."""
        with self.lock:
            self._check(version)
            if not self.history:
                return None
            n, hints, reference = self.history.pop()
            self.shots[n].hints, self.shots[n].reference = hints, reference
            self.version += 1
            return n

    def set_strength(self, value: object, version: object = None) -> None:
        """Colour strength 0..4 (as ``--strength``); held in the colorizer's config, which previews read."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 4.0:
            raise BadInputError(f"strength must be a number in [0, 4], got {value!r}")
        with self.lock:
            self._check(version)
            self.colorizer.cfg = dataclasses.replace(self.colorizer.cfg, strength=float(value))
            self.version += 1

    def set_smoothing(self, value: object, version: object = None) -> None:
        """Temporal smoothing 0..1 (as ``--smoothing``): what "preview the shot" and Render use."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise BadInputError(f"smoothing must be a number in [0, 1], got {value!r}")
        with self.lock:
            self._check(version)
            self.colorizer.cfg = dataclasses.replace(self.colorizer.cfg, smoothing=float(value))
            self.version += 1

    # ------------------------------------------------------------ pictures

    def gray_png(self, n: int) -> bytes:
        return self.shot(n).gray_png

    def thumb_png(self, n: int) -> bytes:
        return self.shot(n).thumb_png

    def colour(self, n: int) -> np.ndarray:
        """Shot ``n``'s first frame as Render colours it, at keyframe size: (H, W, 3) uint8.

        The film's own loop (:func:`vidcolor.pipeline.preview_sheet` on a window of that one frame)
        with the shot's hints and reference as a save pins them: the same decoding, colour matrix,
        guide (a pinned reference is used however poorly it matches, as Render uses it) and
        smoothing (which starts afresh at a cut), so the page shows what the film will show."""
        guidance = self.shot_guidance(n)
        s = self.shot(n)
        with self.lock:  # the sliders are read once
            cfg = dataclasses.replace(self.colorizer.cfg, start=s.t, duration=self.frame_span)
        sheet = preview_sheet(self.film, self.colorizer.with_config(cfg), 1, guidance or None, tile_width=self.kw)
        return np.ascontiguousarray(sheet.rows[0][:, -sheet.size[0] :])

    def colour_png(self, n: int) -> bytes:
        return png_bytes(self.colour(n))

    def automatic(self, n: int) -> np.ndarray:
        """Shot ``n``'s keyframe in the model's own colour, no guidance: (H, W, 3) uint8, cached
        until the strength changes."""
        with self.lock:
            s = self.shot(n)
            strength = self.colorizer.cfg.strength
            if s.automatic is None or s.automatic[0] != strength:
                s.automatic = (strength, colorize_array(s.gray_rgb, self.colorizer))
            return s.automatic[1]

    def automatic_at(self, n: int, x: float, y: float, r: int = 2) -> Rgb:
        """The automatic colour at (x, y) in [0, 1]: the mean of the (2r+1)^2 pixels around it."""
        rgb = self.automatic(n)
        h, w = rgb.shape[:2]
        cx, cy = round(x * (w - 1)), round(y * (h - 1))
        patch = rgb[max(0, cy - r) : cy + r + 1, max(0, cx - r) : cx + r + 1].reshape(-1, 3).mean(0)
        r_, g_, b_ = (int(v) for v in np.rint(patch))
        return r_, g_, b_

    def palette(self, n: int, x: float, y: float) -> list[Rgb]:
        """Colours to start a hint at (x, y) in [0, 1] from, all at the keyframe's lightness there (a
        hint changes colour, never the film's luma, so a colour of another lightness could not show as
        picked): the automatic colour first, then PALETTE_HUES hues at two chromas, those sRGB can show.
        (The model predicts one colour, not a distribution, so the rest is not ranked by it.)"""
        _hint(x, y, [0, 0, 0])
        gray = self.shot(n).gray
        h, w = gray.shape
        lum = float(gray[round(float(y) * (h - 1)), round(float(x) * (w - 1))]) / 255.0
        L = float(rgb_to_lab(torch.full((1, 3, 1, 1), lum))[0, 0])  # the L* of that gray
        angles = torch.arange(PALETTE_HUES) * (2 * math.pi / PALETTE_HUES)
        lab = [[L, c * math.cos(a), c * math.sin(a)] for c in (20.0, 45.0) for a in angles.tolist()]
        rgb = lab_to_rgb(torch.tensor(lab).T[None, :, :, None], clip=False)[0, :, :, 0].T  # (k, 3)
        seen = [self.automatic_at(n, float(x), float(y))]
        for c in rgb:
            if bool(((c >= -0.01) & (c <= 1.01)).all()):  # in gamut: shows at this lightness
                r, g, b = (int(v) for v in (c.clamp(0, 1) * 255).round().tolist())
                if (r, g, b) not in seen:
                    seen.append((r, g, b))
        return seen

    def reference_png(self, n: int) -> bytes:
        s = self.shot(n)
        if s.reference is None:
            raise KeyError("reference")
        return png_bytes(s.reference)

    def shot_guidance(self, n: int) -> Guidance:
        """Shot ``n``'s hints and reference as the film's guidance: pinned to its start, as saved."""
        with self.lock:
            s = self.shot(n)
            ref = Reference(self.ref_dir / keyframe_name(n, s.t), s.t, s.reference) if s.reference is not None else None
            points = tuple((s.t, h.x, h.y, h.rgb, h.reach) for h in s.hints)
            return Guidance((ref,) if ref else (), (Hints(self.hints_path, s.t, points),) if points else ())

    def shot_preview(self, n: int, frames: int = SHOT_PREVIEW_FRAMES) -> np.ndarray:
        """``frames`` frames spread over shot ``n`` (gray | automatic | guided, or gray | colour),
        through the film's own loop: the guidance carried along the shot by the motion and the
        temporal smoothing as Render would do them. (H, W, 3) uint8."""
        guidance = self.shot_guidance(n)
        end = self.end_of(n)
        frames = min(frames, self.frames_of(n))  # a row per frame asked for: the page plays them
        with self.lock:
            cfg = dataclasses.replace(
                self.colorizer.cfg, start=self.shots[n].t, duration=None if end is None else end - self.shots[n].t
            )
        colorizer = self.colorizer.with_config(cfg)
        return stack_rows(preview_sheet(self.film, colorizer, frames, guidance or None).rows)

    def shot_preview_png(self, n: int, frames: int = SHOT_PREVIEW_FRAMES) -> bytes:
        return png_bytes(self.shot_preview(n, frames))

    # ------------------------------------------------------------ the batch convention

    def save(self) -> list[Path]:
        """:meth:`_save`, one at a time; a folder that cannot be written is one message for the page, not a crash."""
        try:
            with self.saving:
                return self._save()
        except OSError as e:
            raise CannotSave(f"cannot save beside {self.film.name}: {e.strerror or e}") from None

    def _save(self) -> list[Path]:
        """Write ``film.hints.json`` (points with their shot's time) and ``film.ref/shotNNNN_tT.png``
        (references pinned by time), each atomically; files of the studio's naming that no longer
        hold a reference are removed, other files in ``film.ref/`` are left alone. Returns what was written."""
        with self.lock:
            points = [
                {"x": h.x, "y": h.y, "rgb": list(h.rgb), "t": s.t if h.t is None else h.t}
                | ({"reach": h.reach} if h.reach is not None else {})
                for s in self.shots
                for h in s.hints
            ]
            points += self.unplaced
            state = self._state()  # what this save holds: an edit made while it writes is still unsaved
            refs, kept = {}, set()
            for i, s in enumerate(self.shots):
                if s.reference is None:
                    continue
                name, loaded = self.ref_files.get(i, ("", None))
                if s.reference is loaded:
                    kept.add(name)  # the file it came from, unchanged: left as it is, name and bytes
                else:
                    refs[keyframe_name(i, s.t)] = s.reference
        written = []
        sliders = state[1]
        if sliders:  # the sliders: the command line and batch apply them to this film (their flags win)
            text = json.dumps(sliders) + "\n"
            write_atomic(self.settings_path, lambda tmp: tmp.write_text(text))
            written.append(self.settings_path)
        else:  # at the defaults: no file (one left by an earlier save would keep an old look)
            self.settings_path.unlink(missing_ok=True)
        if points:
            text = json.dumps(points, indent=1) + "\n"
            write_atomic(self.hints_path, lambda tmp: tmp.write_text(text))
            written.append(self.hints_path)
        else:  # load_hints refuses an empty list: no hints is no file
            self.hints_path.unlink(missing_ok=True)
        if refs:
            self.ref_dir.mkdir(exist_ok=True)
        if self.ref_dir.is_dir():
            for f in self.ref_dir.iterdir():
                if f.name in self.own_refs and f.name not in refs and f.name not in kept:
                    f.unlink()
                    self.own_refs.discard(f.name)
                    self.ref_files = {n: v for n, v in self.ref_files.items() if v[0] != f.name}
        for name, rgb in refs.items():
            data = png_bytes(rgb)
            write_atomic(self.ref_dir / name, lambda tmp, data=data: tmp.write_bytes(data))
            self.own_refs.add(name)
            written.append(self.ref_dir / name)
        self.saved = state
        return written

    def start_render(self) -> None:
        """Save, then colorize the whole film into ``render_to`` in the background, as ``vidcolor
        FILM -o OUT`` would with the saved guidance; ``renderer.state`` says how far it is."""
        if self.render_to is None:
            raise BadInputError("no output to render to: start the studio with -o OUT")
        try:
            self.save()
            guidance, note = Guidance.load(*beside(self.film)), ""
        except CannotSave as e:  # a read-only archive master: render what the page holds all the same
            guidance, note = self.page_guidance(), f" (not saved: {e})"
        # its own config: the page may move the sliders (the shared config) while it runs
        colorizer = self.colorizer.with_config(self.colorizer.cfg)
        self.renderer.start(self.film, self.render_to, colorizer, guidance, len(self.map.times), note)

    def page_guidance(self) -> Guidance:
        """What a save would leave beside the film, read from the page instead of the files: the
        shots' references pinned to their starts and every hint at its shot's time, with the
        guidance files beside the film the page does not edit."""
        refs_specs, hint_specs = beside(self.film)
        refs: list[Reference] = []
        for spec in refs_specs:  # refused as the command line refuses them (a folder of gray pictures only)
            own = self.own_refs if spec == str(self.ref_dir) else set()
            refs += [r for r in load_references([spec]) if r.path.name not in own]
        hints = [load_hints(h) for h in hint_specs if Path(h) != self.hints_path]
        for n in range(len(self.shots)):
            shot = self.shot_guidance(n)
            refs += shot.references
            hints += shot.hints
        if self.unplaced:
            points = tuple((p["t"], p["x"], p["y"], tuple(p["rgb"]), p.get("reach")) for p in self.unplaced)
            hints.append(Hints(self.hints_path, 0.0, points))
        return Guidance(tuple(refs), tuple(hints))

    def close(self) -> None:
        """Cancel a running render and wait until its temporary file is gone."""
        self.renderer.cancel()
        self.renderer.wait()

    def _load(self, log: Log) -> None:
        """Read what a previous save (or the user) left beside the film back onto the shots: the
        hints, and the references of the studio's own naming (``shotNNNN_tT.png``, also what
        ``vidcolor keyframes`` names them). Other references stay files the page lists and the
        command line uses; hints past the film's end are kept for the next save, not shown."""
        if self.hints_path.is_file():
            for t, x, y, rgb, reach in load_hints(str(self.hints_path)).points:
                i = self.map.frame_at(t)
                if i is None:
                    log(f"warning: {self.hints_path.name}: a hint at {t:g} s is past the film's end: kept, not shown")
                    self.unplaced.append(
                        {"x": x, "y": y, "rgb": list(rgb), "t": t} | ({"reach": reach} if reach else {})
                    )
                    continue
                self.shots[self.map.shot_of(i)].hints.append(Hint(self.next_id, x, y, rgb, t, reach))
                self.next_id += 1
        if self.ref_dir.is_dir():
            try:
                refs = load_references([str(self.ref_dir)], log)
            except BadInputError as e:  # an empty or all-gray folder: nothing to show yet
                log(f"note: {e}")
                refs = []
            for r in sorted(refs, key=lambda r: r.path.name):
                i = None if r.t is None else self.map.frame_at(r.t)
                if i is None or not OWN_REF.match(r.path.name):
                    continue
                n = self.map.shot_of(i)
                if self.shots[n].reference is not None:
                    continue  # a second picture in one shot: a file the page lists and never removes
                self.shots[n].reference = r.rgb
                self.ref_files[n] = (r.path.name, r.rgb)
                self.own_refs.add(r.path.name)
