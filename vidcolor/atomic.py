"""Write a file under a temporary name, then rename it: the one way vidcolor writes files.

Videos, images, model files, engine caches, training checkpoints and split files all go through
:func:`write_atomic` (or :func:`temp_path` + :func:`publish` when the writer streams), so a crash
or a kill never leaves a half-written file under a final name, and the temporaries a killed run
leaves behind have one recognisable name (:func:`remove_stale_partials`). Standard library only:
whatever writes files can use it without pulling in PyAV or torch.
"""

from __future__ import annotations

import glob
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path


def temp_path(final: Path) -> Path:
    """Hidden sibling of ``final`` (same folder, so the final rename is atomic), named by this process
    and thread (two saves of one file at once, e.g. the studio's Save and Render, never share one).
    Every file vidcolor writes goes through this name, which is how ``vidcolor batch`` recognises stale ones."""
    return final.with_name(f".{final.stem}.vidcolor-{os.getpid()}-{threading.get_native_id()}.partial{final.suffix}")


PARTIAL = re.compile(r"\.vidcolor-(\d+)(?:-\d+)?\.partial")  # the writer's process in a temporary's name


def publish(tmp: Path, final: Path, replace: bool = True) -> None:
    """Rename a complete temporary file to its final name, durably: the file's data reaches the disk
    before the rename, and the rename before we return (so a ``done`` record written next can never
    point at an empty file after a power cut).

    ``replace=False``: FileExistsError (``tmp`` left as it is) if ``final`` exists, checked atomically
    where the file system has hard links (a link to a name that exists fails), else just before."""
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    if replace:
        os.replace(tmp, final)
    else:
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (FAT, some network file systems): the nearest check
            if final.exists():
                raise FileExistsError(final) from None
            os.replace(tmp, final)
        else:
            tmp.unlink()
    try:
        fd = os.open(final.parent, os.O_RDONLY)
    except OSError:  # a folder that cannot be opened for fsync (some network file systems)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(final: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` to the temporary name, then :func:`publish` it as ``final``: a reader (or a
    crash) never sees a half-written file under the final name; the temporary is removed on any failure."""
    tmp = temp_path(final)
    try:
        write(tmp)
        publish(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _partials(final: Path) -> list[Path]:
    if not final.parent.is_dir():
        return []
    return list(final.parent.glob(f".{glob.escape(final.stem)}.vidcolor-*.partial{glob.escape(final.suffix)}"))


def _pid(partial: Path) -> int | None:
    m = PARTIAL.search(partial.name)
    return int(m.group(1)) if m else None


def remove_stale_partials(final: Path) -> None:
    """Temporary files a killed run left for ``final``. Call it only where no other live process
    writes ``final`` (batch: under the shard's lease; training: in its own run folder): every
    temporary but this process's own is then stale, whichever host wrote it."""
    for p in _partials(final):
        if _pid(p) != os.getpid():
            p.unlink(missing_ok=True)


def remove_dead_partials(final: Path) -> list[Path]:
    """The temporaries of ``final`` whose writer has died on this machine (a kill -9, a closed terminal):
    removed, and returned. A live writer's, or one this machine cannot tell (another host's, another
    user's), is left alone: safe to call where another run may be writing ``final`` right now."""
    gone = []
    for p in _partials(final):
        pid = _pid(p)
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            p.unlink(missing_ok=True)
            gone.append(p)
        except OSError:  # alive under another user, or unknowable
            continue
    return gone
