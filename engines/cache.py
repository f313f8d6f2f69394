"""A cache of compiled engine artefacts (ONNX graphs, serialized TensorRT engines).

Entries are keyed by everything that makes an artefact valid: the weights' digest, the shape
profile, the library versions and the GPU. They are written atomically; a reader that finds an
entry unreadable or wrong (:func:`load_checked`: outputs checked against the eager model) deletes
and rebuilds it, so a stale or corrupt entry is never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from vidcolor.atomic import write_atomic
from vidcolor.errors import ProcessingError
from vidcolor.model import ColorNet

_CACHE_DIR: Path | None = None


def default_cache_dir() -> Path:
    """``$VIDCOLOR_CACHE`` or ``$XDG_CACHE_HOME/vidcolor`` or ``~/.cache/vidcolor``."""
    if os.environ.get("VIDCOLOR_CACHE"):
        return Path(os.environ["VIDCOLOR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vidcolor"


def set_cache_dir(path: str | Path | None) -> None:
    """Use ``path`` for engine artefacts (``--cache-dir``); None restores the default."""
    global _CACHE_DIR
    _CACHE_DIR = Path(path) if path is not None else None


def cache_dir() -> Path:
    return _CACHE_DIR or default_cache_dir()


def weights_digest(generator: ColorNet) -> str:
    """SHA-256 of the generator's architecture and every tensor's bytes (stable across runs)."""
    h = hashlib.sha256(json.dumps(generator.config.to_dict(), sort_keys=True).encode())
    for name, t in sorted(generator.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def entry(kind: str, suffix: str, **key: object) -> Path:
    """Path of the cache entry for ``kind`` (e.g. "onnx") and a key of plain values."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return cache_dir() / kind / f"{digest}{suffix}"


def build_once(path: Path, build: Callable[[Path], object]) -> Path:
    """Return ``path``, building it with ``build(tmp)`` + atomic rename when it is missing."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, build)
    return path


def discard(path: Path) -> None:
    path.unlink(missing_ok=True)


def load_checked(get: Callable[[], Path], load: Callable[[Path], bool], what: str) -> Path:
    """The retry-and-check rule of every cached engine artefact: ``get()`` the entry (built when
    missing), ``load(path)`` it, which says whether the loaded engine agrees with the eager model.
    An entry that fails to load or disagrees is deleted and built again, once: never trusted."""
    for _attempt in range(2):
        path = get()
        try:
            if load(path):
                return path
        except Exception:  # each back-end raises its own types for a bad artefact (ORT, TensorRT)
            pass
        discard(path)  # stale or corrupt
    raise ProcessingError(f"{what} does not match the model ({path})")
