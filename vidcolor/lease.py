"""Who works on what, across processes and machines: K/N slices of the work, exclusive leases
on an output folder, and the content fingerprint that tells a file from a changed one.

Used by :mod:`vidcolor.batch` (shards of an archive) and :mod:`vidcolor.segments` (parts of one film,
and its join); neither imports the other for these.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vidcolor.errors import BadInputError, BusyError, describe


@dataclass(frozen=True)
class Slice:
    """K of N: one worker's share of the work (``--shard K/N`` of an archive, ``--segments K/N`` of
    a film), the same on every machine given the same N."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str, option: str = "--shard") -> Slice:
        try:
            k, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise BadInputError(f"{option} must look like K/N (e.g. 0/4), got {text!r}") from None
        if not (n >= 1 and 0 <= k < n):
            raise BadInputError(f"{option} {text}: need 0 <= K < N")
        return cls(k, n)

    def owns(self, rel: str) -> bool:
        """Whether the item named ``rel`` is this slice's: sha256(name) mod N, so adding items never
        moves one to another slice."""
        return int(hashlib.sha256(rel.encode()).hexdigest(), 16) % self.count == self.index

    def span(self, n: int) -> range:
        """This slice's contiguous share of ``n`` ordered items (a film's segments: contiguous, so
        the smoother's state carries from one to the next); the N slices cover every item once
        (some may be empty)."""
        return range(self.index * n // self.count, (self.index + 1) * n // self.count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


class Lease:
    """One writer per shard of an output folder, across hosts sharing it (NFS, Slurm, Kubernetes).

    ``OUT/.vidcolor-lease[.shard-K-of-N].json`` is created exclusively and names the holder (host,
    pid); a thread refreshes its modification time every ``beat`` seconds. Another run of the same
    shard finds a fresh lease and stops with a clear error; a lease not refreshed for ``stale``
    seconds (its holder was killed, or its machine died), or held by a dead process of this host,
    is taken over. The lease file goes when the run ends.

    ``what`` names what is held in that error (a batch shard, a film's part, its join) and ``name``
    replaces the file name (segments keep a lease a part, and one for the join, in their folder)."""

    def __init__(
        self,
        out_dir: Path,
        shard: Slice,
        beat: float = 30.0,
        stale: float = 120.0,
        what: str = "shard",
        name: str | None = None,
    ) -> None:
        suffix = "" if shard.count == 1 else f".shard-{shard.index}-of-{shard.count}"
        self.path = out_dir / (name or f".vidcolor-lease{suffix}.json")
        self.beat, self.stale = beat, stale
        self.label = what if name and shard.count == 1 else f"{what} {shard.index}/{shard.count}"
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "token": os.urandom(8).hex()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        for _ in range(3):
            if self._create():
                self._thread = threading.Thread(target=self._heartbeat, name="vidcolor-lease", daemon=True)
                self._thread.start()
                return self
            holder = self._holder()
            if holder is not None:
                raise BusyError(
                    f"{self.path.parent}: {self.label} is being processed by {holder}; if that run is "
                    f"dead, its lease expires {self.stale:.0f} s after its last heartbeat (or delete {self.path.name})"
                )
            self.path.unlink(missing_ok=True)  # stale, or gone meanwhile: take it over and try again
        raise BusyError(f"{self.path}: cannot take the lease (another run keeps replacing it)")

    def _create(self) -> bool:
        """Create the lease file exclusively; False when it exists already."""
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except OSError as e:
            raise BadInputError(f"{self.path.parent}: cannot write in the output folder ({describe(e)})") from None
        with os.fdopen(fd, "w") as f:
            json.dump(self.me, f)
        return True

    def _holder(self) -> str | None:
        """Who holds a fresh lease ("host pid N, heartbeat S s ago"), or None when it is stale."""
        try:
            age = time.time() - self.path.stat().st_mtime
            rec = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or age > self.stale:
            return None
        if rec.get("host") == self.me["host"] and isinstance(rec.get("pid"), int) and not _alive(rec["pid"]):
            return None  # killed on this very machine: no need to wait for the heartbeat to age
        return f"{rec.get('host')} pid {rec.get('pid')} (heartbeat {age:.0f} s ago)"

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.beat):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self.path.read_text()).get("token") == self.me["token"]:
                self.path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fingerprint(path: Path) -> str:
    """Content fingerprint: SHA-256 of the size and the first and last MiB (fast on huge files)."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read(1 << 20))
    return h.hexdigest()[:32]
