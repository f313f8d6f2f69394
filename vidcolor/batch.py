"""``vidcolor batch``: colorize whole archives, resumable, exactly once, failure-isolated, sharded.

* **Discovery**: folders are searched recursively; a file counts when it probes as an image or a
  video (extension alone decides nothing). Files with a media extension that do not probe are
  failures ("damaged"); other non-media files are ignored.
* **Layout**: outputs mirror each input folder's relative layout under OUT_DIR, named
  ``stem + suffix + extension``.
* **Manifest**: one JSON line per event in ``OUT_DIR/vidcolor-manifest[.shard-K-of-N].jsonl``
  (per shard, so machines sharing OUT_DIR never write the same file). The state of a file is its
  latest record across all manifests there. Merging manifests is concatenation.
* **Exactly once**: outputs are written under a temporary name and renamed when complete, then a
  ``done`` record is appended. A re-run skips files that are done and unchanged (same size, mtime
  or content fingerprint, model and settings) and leaves their outputs untouched. A crash between
  rename and record is recognised (``running`` record + complete output) and recorded as done.
* **Redo policy** (``--redo``): ``changed`` (default) redoes files whose input, model or settings
  changed or whose output went missing; ``failed`` also retries earlier failures; ``all`` redoes
  everything.
* **Sharding** (``--shard K/N``): a file belongs to shard ``sha256(relative path) mod N``, so adding
  files never moves finished ones to another shard.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import av
from PIL import Image, UnidentifiedImageError

from vidcolor.decode import IMAGE_EXTS
from vidcolor.encode import CONTAINERS
from vidcolor.errors import BadInputError, VidcolorError, describe
from vidcolor.guidance import Guidance, beside, is_guidance_file
from vidcolor.pipeline import IMAGE_OUTPUTS, ColorizeConfig, Colorizer, colorize

VIDEO_EXTS = {
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".mpg",
    ".mpeg",
    ".ts",
    ".m2ts",
    ".mts",
    ".wmv",
    ".flv",
    ".ogv",
    ".3gp",
    ".dv",
    ".mxf",
}
MANIFEST_GLOB = "vidcolor-manifest*.jsonl"
Log = Callable[[str], None]


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            k, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise BadInputError(f"--shard must look like K/N (e.g. 0/4), got {text!r}") from None
        if not (n >= 1 and 0 <= k < n):
            raise BadInputError(f"--shard {text}: need 0 <= K < N")
        return cls(k, n)

    def owns(self, rel: str) -> bool:
        return int(hashlib.sha256(rel.encode()).hexdigest(), 16) % self.count == self.index

    @property
    def manifest_name(self) -> str:
        return (
            "vidcolor-manifest.jsonl"
            if self.count == 1
            else f"vidcolor-manifest.shard-{self.index}-of-{self.count}.jsonl"
        )


@dataclass
class Job:
    input: Path
    rel: str  # relative path that names the output and decides the shard
    kind: str  # video | image | damaged
    why: str = ""  # for damaged files


@dataclass
class Outcome:
    job: Job
    action: str  # done | skipped | failed
    detail: str = ""
    frames: int = 0
    seconds: float = 0.0


@dataclass
class BatchReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    @property
    def failed(self) -> bool:
        return any(o.action == "failed" or o.detail.startswith("failed earlier") for o in self.outcomes)


# ---------------------------------------------------------------- discovery


def probe_kind(path: Path) -> tuple[str, str]:
    """("image" | "video" | "damaged" | "other", reason) by opening the file, not by its name."""
    ext = path.suffix.lower()
    try:
        with Image.open(path) as im:
            im.verify()
        return "image", ""
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        pass
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            if c.streams.video and c.streams.video[0].codec_context.width:
                return "video", ""
            why = "no video stream"
    except av.error.FFmpegError as e:
        why = f"not a readable video ({describe(e)})"
    except OSError as e:
        why = describe(e)
    if ext in VIDEO_EXTS or ext in IMAGE_EXTS:
        return "damaged", why
    return "other", why


def discover(inputs: Iterable[Path], list_file: Path | None = None, exclude: Path | None = None) -> list[Job]:
    """Expand folders and files (and a list file) into jobs with relative output names.

    Nothing under ``exclude`` (the output folder) is an input, so ``vidcolor batch . -o colorized``
    never colorizes its own outputs on the next run."""
    out = exclude.resolve() if exclude is not None else None
    pairs: list[tuple[Path, str]] = []
    for p in inputs:
        if p.is_dir():
            pairs += [
                (f, f.relative_to(p).as_posix())
                for f in sorted(p.rglob("*"))
                if f.is_file() and not _hidden(f, p) and not (out and f.resolve().is_relative_to(out))
            ]
        elif p.is_file():
            pairs.append((p, p.name))
        else:
            raise BadInputError(f"{p}: input not found")
    if list_file is not None:
        try:
            listed = [
                Path(line.strip())
                for line in list_file.read_text().splitlines()
                if line.strip() and not line.startswith("#")
            ]
        except OSError as e:
            raise BadInputError(f"{list_file}: cannot read the list ({describe(e)})") from None
        missing = [str(p) for p in listed if not p.is_file()]
        if missing:
            raise BadInputError(f"{list_file}: listed files not found: {', '.join(missing[:5])}")
        if listed:
            root = Path(os.path.commonpath([p.resolve().parent for p in listed]))
            pairs += [(p, p.resolve().relative_to(root).as_posix()) for p in listed]
    pairs = [(path, rel) for path, rel in pairs if not is_guidance_file(Path(rel))]
    jobs, seen = [], set()
    for path, rel in pairs:
        if rel in seen:
            raise BadInputError(f"{path}: two inputs map to the same output name {rel!r}")
        seen.add(rel)
        kind, why = probe_kind(path)
        if kind != "other":
            jobs.append(Job(path, rel, kind, why))
    return jobs


def _hidden(f: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in f.relative_to(root).parts)


def output_for(job: Job, out_dir: Path, suffix: str, container: str | None) -> Path:
    rel = Path(job.rel)
    ext = rel.suffix.lower()
    if job.kind == "image":
        new_ext = ext if ext in IMAGE_OUTPUTS else ".png"
    else:
        new_ext = f".{container.lstrip('.')}" if container else (ext if ext in CONTAINERS else ".mp4")
    return out_dir / rel.with_name(rel.stem + suffix + new_ext)


# ---------------------------------------------------------------- manifest


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


def read_manifests(out_dir: Path) -> dict[str, dict]:
    """Latest record per relative path, across every manifest in ``out_dir`` (torn lines ignored)."""
    state: dict[str, dict] = {}
    for m in sorted(out_dir.glob(MANIFEST_GLOB)):
        for line in m.read_text().splitlines():
            try:
                rec = json.loads(line)
                state[rec["rel"]] = (
                    rec if rec["time"] >= state.get(rec["rel"], {}).get("time", 0) else state[rec["rel"]]
                )
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a kill
    return state


def settings_hash(cfg: ColorizeConfig, guidance: Guidance | None = None) -> str:
    """What decides an output besides the input and the model: settings and the file's guidance."""
    d = cfg.to_dict()
    d.pop("device", None)  # where it ran does not change what it makes (beyond float rounding)
    if guidance:
        d["guidance"] = guidance.digest()
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Manifest:
    def __init__(self, out_dir: Path, shard: Shard) -> None:
        self.path = out_dir / shard.manifest_name
        self.shard = shard
        self.host = socket.gethostname()

    def append(self, **record: object) -> None:
        record = {"time": time.time(), "host": self.host, "shard": f"{self.shard.index}/{self.shard.count}", **record}
        with self.path.open("a") as f:  # one short line per write: appends do not interleave
            f.write(json.dumps(record, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())


# ---------------------------------------------------------------- the batch


def decide(job: Job, out: Path, prev: dict | None, ident: dict, redo: str) -> tuple[str, str]:
    """(action, reason): "run" or "skip" for one job, from its last record and the redo policy."""
    if redo == "all":
        return "run", "--redo all"
    if prev is None:
        return (
            ("skip", "output exists and is not in the manifest (not ours: left untouched)")
            if out.exists()
            else ("run", "new")
        )
    same_input = prev.get("size") == ident["size"] and (
        prev.get("mtime") == ident["mtime"] or prev.get("fingerprint") == ident["fingerprint"]()
    )
    same_recipe = prev.get("model") == ident["model"] and prev.get("settings") == ident["settings"]
    if not (same_input and same_recipe):
        return "run", "input changed" if not same_input else "model, settings or guidance changed"
    if prev["status"] == "failed":
        return (
            ("run", "retrying an earlier failure")
            if redo == "failed"
            else ("skip", f"failed earlier: {prev.get('error', '')}")
        )
    if not out.exists():
        return "run", "output missing"
    if prev["status"] == "running" and out.stat().st_mtime < prev["time"] - 1:
        return "run", "interrupted (the output predates this attempt)"
    return "skip", "done" if prev["status"] == "done" else "completed before an interruption"


def remove_stale_partials(out: Path) -> None:
    """Temporary files a killed run left for this output (their process is gone)."""
    if not out.parent.is_dir():
        return
    for p in out.parent.glob(f".{glob.escape(out.stem)}.vidcolor-*.partial{glob.escape(out.suffix)}"):
        pid = p.name.split("vidcolor-", 1)[1].split(".", 1)[0]
        if not pid.isdigit() or not _alive(int(pid)) or int(pid) == os.getpid():
            p.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_batch(
    jobs: list[Job],
    out_dir: Path,
    cfg: ColorizeConfig,
    shard: Shard = Shard(0, 1),
    suffix: str = "",
    container: str | None = None,
    redo: str = "changed",
    dry_run: bool = False,
    log: Log = lambda _m: None,
    on_file: Callable[[Job, bool], Callable[[int], None]] | None = None,
) -> BatchReport:
    """Process this shard's jobs; returns what happened to each. Loads the model once.

    ``on_file(job, runs)`` is told about every job of the shard, in order (``runs`` False when it
    is skipped or failed without running) and returns the frame-progress callback for it.
    """
    if redo not in ("changed", "failed", "all"):
        raise BadInputError(f"--redo must be changed, failed or all, got {redo!r}")
    mine = [j for j in jobs if shard.owns(j.rel)]
    report = BatchReport()
    if not dry_run:
        out_dir.mkdir(parents=True, exist_ok=True)
    state = read_manifests(out_dir) if out_dir.is_dir() else {}
    manifest = Manifest(out_dir, shard)
    colorizer: Colorizer | None = None
    for job in mine:
        out = output_for(job, out_dir, suffix, container)
        if job.kind == "damaged":
            report.outcomes.append(Outcome(job, "failed", job.why))
            if on_file:
                on_file(job, False)
            prev = state.get(job.rel)
            already = (
                prev is not None
                and prev["status"] == "failed"
                and prev.get("size") == _quick_ident(job.input).get("size")
            )
            if not dry_run and not already:
                manifest.append(
                    rel=job.rel,
                    input=str(job.input),
                    output=str(out),
                    status="failed",
                    error=job.why,
                    **_quick_ident(job.input),
                )
            continue
        if colorizer is None and not dry_run:
            colorizer = Colorizer(cfg, log)
        try:  # per-file guidance by convention: film.ref/, film.ref.png, film.hints.json beside film.mp4
            guidance, guidance_error = Guidance.load(*beside(job.input), log), ""
        except VidcolorError as e:
            guidance, guidance_error = None, str(e)
        st = job.input.stat()
        ident = {
            "size": st.st_size,
            "mtime": st.st_mtime,
            "fingerprint": _lazy(lambda p=job.input: fingerprint(p)),
            "model": colorizer.model_id if colorizer else "(dry run)",
            "settings": settings_hash(cfg, guidance),
        }
        prev = state.get(job.rel)
        if dry_run and prev is not None:
            ident["model"] = prev.get("model")  # a dry run loads no model: judge by input and settings
        action, why = decide(job, out, prev, ident, redo)
        if action == "skip" and prev is not None and prev["status"] == "running" and not dry_run:
            manifest.append(
                **{**prev, "status": "done", "note": "completed before an interruption", "time": time.time()}
            )
        if action == "skip" or dry_run:
            report.outcomes.append(Outcome(job, "skipped" if action == "skip" else "would run", why))
            if on_file:
                on_file(job, False)
            continue
        remove_stale_partials(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "rel": job.rel, "input": str(job.input), "output": str(out), "size": ident["size"], "mtime": ident["mtime"],
            "fingerprint": ident["fingerprint"](), "model": ident["model"], "settings": ident["settings"],
        }  # fmt: skip
        manifest.append(**record, status="running")
        t0 = time.perf_counter()
        try:  # an own output being redone is replaced only by the atomic rename of a complete new one
            if guidance_error:
                raise BadInputError(guidance_error)
            progress = on_file(job, True) if on_file else (lambda _n: None)
            result = colorize(job.input, out, colorizer, progress=progress, log=log, guidance=guidance or None)
        except VidcolorError as e:
            manifest.append(**record, status="failed", error=str(e), seconds=time.perf_counter() - t0)
            report.outcomes.append(Outcome(job, "failed", str(e), seconds=time.perf_counter() - t0))
            log(f"failed: {job.input}: {e}")
            continue
        seconds = time.perf_counter() - t0
        manifest.append(**record, status="done", frames=result.frames, seconds=round(seconds, 3))
        report.outcomes.append(Outcome(job, "done", why, result.frames, seconds))
    return report


def _quick_ident(path: Path) -> dict:
    try:
        st = path.stat()
        return {"size": st.st_size, "mtime": st.st_mtime, "fingerprint": fingerprint(path)}
    except OSError:
        return {}


class _lazy:
    """A value computed on first call (content fingerprints are only read when size/mtime disagree)."""

    def __init__(self, fn: Callable[[], str]) -> None:
        self.fn, self.value = fn, None

    def __call__(self) -> str:
        if self.value is None:
            self.value = self.fn()
        return self.value
