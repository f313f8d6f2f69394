"""The state of one studio: a film, its shots and keyframes, the guidance given to each shot, and
saving it beside the film in the batch convention (:func:`vidcolor.guidance.beside`).

Only three paths are ever touched: the film (read), ``film.hints.json`` and ``film.ref/`` beside it
(read when opened, written on save). Nothing a request sends becomes a path: shots are numbers,
uploaded pictures are bytes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from vidcolor.atomic import write_atomic
from vidcolor.colorizer import Colorizer
from vidcolor.errors import BadInputError, Log, describe
from vidcolor.guidance import Guidance, Hints, Reference, beside, load_hints, load_references, reference_rgb
from vidcolor.pipeline import colorize, colorize_array
from vidcolor.planes import render_size
from vidcolor.shots import ShotMap, keyframe_name, shot_frames
from vidcolor.source import probe

MAX_UPLOAD = 20 * 1024 * 1024  # bytes: a colour reference is a still, not a scan archive
# what save writes into film.ref/ (and so may replace or remove there): keyframe_name()'s pattern
OWN_REF = re.compile(r"^shot\d{4}_t\d+\.\d{3}s\.png$")

Rgb = tuple[int, int, int]


@dataclass
class Shot:
    """One shot: where it starts, its gray keyframe, and what the user gave it."""

    start: int  # index of its first frame
    t: float  # seconds from the file's start
    gray: np.ndarray = field(repr=False)  # (H, W) uint8, the first frame at full size
    hints: list[tuple[float, float, Rgb]] = field(default_factory=list)  # (x, y in [0,1], rgb 0..255)
    reference: np.ndarray | None = field(default=None, repr=False)  # (h, w, 3) uint8


def png_bytes(rgb: np.ndarray) -> bytes:
    """(H, W, 3) or (H, W) uint8 -> PNG file bytes (fast compression: previews are rewritten often)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


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
        self, film: Path, colorizer: Colorizer, log: Log = lambda _m: None, render_to: Path | None = None
    ) -> None:
        self.film = film.resolve()
        self.colorizer = colorizer
        self.render_to = render_to  # the output "Render" writes (given on the command line), or None
        self.render: dict[str, object] = {"state": "idle", "done": 0, "total": 0, "message": ""}
        self.lock = threading.Lock()
        self.hints_path = self.film.with_name(self.film.stem + ".hints.json")
        self.ref_dir = self.film.with_name(self.film.stem + ".ref")
        info = probe(self.film)
        size = render_size(info.width, info.height, colorizer.cfg.render_size, 1)
        self.shots: list[Shot] = []
        times: list[float] = []
        for _i, t, new, frame in shot_frames(self.film, size):
            times.append(t)
            if new:
                self.shots.append(Shot(len(times) - 1, t, frame.to_ndarray(format="gray")))
        if not self.shots:
            raise BadInputError(f"{film}: no decodable video frames")
        self.map = ShotMap(np.asarray(times, np.float64), [s.start for s in self.shots])
        self._load(log)

    # ------------------------------------------------------------ state

    def shot(self, n: int) -> Shot:
        if not 0 <= n < len(self.shots):
            raise KeyError(n)
        return self.shots[n]

    def describe(self) -> dict[str, object]:
        """For the page: every shot's time, hints and whether it has a reference; the strength."""
        with self.lock:
            return {
                "film": self.film.name,
                "strength": self.colorizer.cfg.strength,
                "shots": [
                    {
                        "shot": i,
                        "t": s.t,
                        "hints": [{"x": x, "y": y, "rgb": list(rgb)} for x, y, rgb in s.hints],
                        "reference": s.reference is not None,
                    }
                    for i, s in enumerate(self.shots)
                ],
            }

    def add_hint(self, n: int, x: object, y: object, rgb: object) -> int:
        """Add a hint to shot ``n``; returns its index."""
        h = _hint(x, y, rgb)
        with self.lock:
            self.shot(n).hints.append(h)
            return len(self.shot(n).hints) - 1

    def set_hint(self, n: int, i: int, x: object, y: object, rgb: object) -> None:
        h = _hint(x, y, rgb)
        with self.lock:
            hints = self.shot(n).hints
            if not 0 <= i < len(hints):
                raise KeyError(i)
            hints[i] = h

    def delete_hint(self, n: int, i: int) -> None:
        with self.lock:
            hints = self.shot(n).hints
            if not 0 <= i < len(hints):
                raise KeyError(i)
            del hints[i]

    def set_reference(self, n: int, data: bytes | None) -> None:
        """Give shot ``n`` a colour reference (an image file's bytes), or remove it (None)."""
        self.shot(n)  # an unknown shot is a 404 before any decoding
        rgb = None
        if data is not None:
            if len(data) > MAX_UPLOAD:
                raise BadInputError(f"reference: {len(data) / 2**20:.1f} MB is over the {MAX_UPLOAD // 2**20} MB limit")
            rgb = reference_rgb(data, "reference")
        with self.lock:
            self.shot(n).reference = rgb

    def set_strength(self, value: object) -> None:
        """Colour strength 0..4 (as ``--strength``); held in the colorizer's config, which previews read."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 4.0:
            raise BadInputError(f"strength must be a number in [0, 4], got {value!r}")
        with self.lock:
            self.colorizer.cfg = dataclasses.replace(self.colorizer.cfg, strength=float(value))

    # ------------------------------------------------------------ pictures

    def gray_png(self, n: int) -> bytes:
        return png_bytes(self.shot(n).gray)

    def colour(self, n: int) -> np.ndarray:
        """Shot ``n``'s keyframe colorized with its hints and reference: (H, W, 3) uint8, full size.
        The still-image path (:func:`vidcolor.pipeline.colorize_array`), as a photo with guidance."""
        with self.lock:
            s = self.shot(n)
            refs = () if s.reference is None else (Reference(Path("reference"), None, s.reference),)
            points = tuple((0.0, x, y, rgb) for x, y, rgb in s.hints)
            hints = (Hints(Path("hints"), 0.0, points),) if points else ()
            gray3 = np.repeat(s.gray[..., None], 3, -1)
            return colorize_array(gray3, self.colorizer, Guidance(refs, hints))

    def colour_png(self, n: int) -> bytes:
        return png_bytes(self.colour(n))

    # ------------------------------------------------------------ the batch convention

    def save(self) -> list[Path]:
        """:meth:`_save`; a folder that cannot be written is one message for the page, not a crash."""
        try:
            return self._save()
        except OSError as e:
            raise BadInputError(f"cannot save beside {self.film.name}: {e.strerror or e}") from None

    def _save(self) -> list[Path]:
        """Write ``film.hints.json`` (points with their shot's time) and ``film.ref/shotNNNN_tT.png``
        (references pinned by time), each atomically; files of the studio's naming that no longer
        hold a reference are removed, other files in ``film.ref/`` are left alone. Returns what was written."""
        with self.lock:
            points = [{"x": x, "y": y, "rgb": list(rgb), "t": s.t} for s in self.shots for x, y, rgb in s.hints]
            refs = {keyframe_name(i, s.t): s.reference for i, s in enumerate(self.shots) if s.reference is not None}
        written = []
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
                if OWN_REF.match(f.name) and f.name not in refs:
                    f.unlink()
        for name, rgb in refs.items():
            data = png_bytes(rgb)
            write_atomic(self.ref_dir / name, lambda tmp, data=data: tmp.write_bytes(data))
            written.append(self.ref_dir / name)
        return written

    def start_render(self) -> None:
        """Save, then colorize the whole film into ``render_to`` in a background thread, as
        ``vidcolor FILM -o OUT`` would with the saved guidance; :attr:`render` says how far it is."""
        if self.render_to is None:
            raise BadInputError("no output to render to: start the studio with -o OUT")
        if self.render["state"] == "running":
            raise BadInputError("a render is already running")
        self.save()
        # its own colorizer: the page may change the strength (the shared config) while it runs
        colorizer = Colorizer(self.colorizer.cfg)
        guidance = Guidance.load(*beside(self.film))
        self.render = {"state": "running", "done": 0, "total": len(self.map.times), "message": ""}
        out = self.render_to

        def advance(n: int) -> None:
            self.render["done"] = int(self.render["done"]) + n

        def run() -> None:
            try:
                colorize(self.film, out, colorizer, progress=advance, guidance=guidance or None)
                self.render.update(state="done", message=f"wrote {out.name}")
            except Exception as e:  # shown on the page; the studio goes on
                self.render.update(state="failed", message=describe(e))

        threading.Thread(target=run, daemon=True).start()

    def _load(self, log: Log) -> None:
        """Read what a previous save (or the user) left beside the film back onto the shots.
        References not pinned to a time are left in the folder (the command line still uses them)."""
        if self.hints_path.is_file():
            for t, x, y, rgb in load_hints(str(self.hints_path)).points:
                i = self.map.frame_at(t)
                if i is None:
                    log(f"warning: {self.hints_path.name}: a hint at {t:g} s is past the end; not shown")
                    continue
                self.shots[self.map.shot_of(i)].hints.append((x, y, rgb))
        if self.ref_dir.is_dir():
            try:
                refs = load_references([str(self.ref_dir)], log)
            except BadInputError as e:  # an empty or all-gray folder: nothing to show yet
                log(f"note: {e}")
                refs = []
            for r in refs:
                i = None if r.t is None else self.map.frame_at(r.t)
                if i is not None:
                    self.shots[self.map.shot_of(i)].reference = r.rgb
