"""``vidcolor batch``: colorize whole archives, resumable, exactly once, failure-isolated, sharded.

* **Discovery**: folders are searched recursively; a file counts when it opens as an image or a
  video (:func:`vidcolor.decode.media_kind`, which every command asks; the extension alone decides
  nothing). Files named like media that do not open are failures ("damaged"); other files are ignored.
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
* **Sliceing** (``--shard K/N``): a file belongs to shard ``sha256(relative path) mod N``, so adding
  files never moves finished ones to another shard.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vidcolor.atomic import remove_stale_partials
from vidcolor.colorizer import Colorizer, models_id
from vidcolor.config import ColorizeConfig, SegmentSettings
from vidcolor.decode import media_kind
from vidcolor.errors import BadInputError, Log, VidcolorError, describe
from vidcolor.formats import CONTAINERS, IMAGE_OUTPUTS, frame_series
from vidcolor.guidance import Guidance, is_guidance_file, load_beside, with_saved_settings
from vidcolor.lease import Lease, Slice, fingerprint
from vidcolor.pipeline import colorize

MANIFEST_GLOB = "vidcolor-manifest*.jsonl"


@dataclass
class Job:
    input: Path
    rel: str  # relative path that names the output and decides the shard
    kind: str  # video | image | damaged
    why: str = ""  # for damaged files


@dataclass
class Outcome:
    job: Job
    action: str  # done | salvaged (done, with data left out: see detail) | skipped | failed
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

    @property
    def salvaged(self) -> bool:
        """Some output lacks data of its input (damaged packets, a stream left out), now or earlier."""
        return any(o.action == "salvaged" or o.detail.startswith("salvaged earlier") for o in self.outcomes)


# ---------------------------------------------------------------- discovery


def frame_folders(jobs: Iterable[Job]) -> dict[Path, tuple[str, int]]:
    """Folders among the image ``jobs`` that look like image sequences (scanner output): folder ->
    (printf pattern of its largest numbered series, frame count), for those of at least
    :data:`~vidcolor.formats.SEQUENCE_FRAMES` frames. Batch colours images one by one; the note says so."""
    found = frame_series(job.input for job in jobs if job.kind == "image")
    return {folder: (pattern, len(files)) for folder, (pattern, files) in found.items()}


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
        base = list_file.resolve().parent
        missing = [str(p) for p in listed if not (base / p).is_file()]
        if missing:
            raise BadInputError(
                f"{list_file}: listed files not found (relative lines are read from the list's folder, {base}): "
                + ", ".join(missing[:5])
            )
        listed = [base / p for p in listed]
        pairs += [(p, listed_name(p, base)) for p in listed]
    pairs = [(path, rel) for path, rel in pairs if not is_guidance_file(Path(rel))]
    jobs, seen = [], set()
    for path, rel in pairs:
        if rel in seen:
            raise BadInputError(f"{path}: two inputs map to the same output name {rel!r}")
        seen.add(rel)
        kind, why = media_kind(path)
        if kind != "other":
            jobs.append(Job(path, rel, kind, why))
    return jobs


def listed_name(path: Path, base: Path) -> str:
    """The output name of a file from a ``--from-list``: its path relative to the list's folder,
    or for a file outside it, its absolute path without the root (``/archive/a.mp4`` ->
    ``archive/a.mp4``). It depends on nothing else in the list, so adding files never renames
    (and never redoes) the ones already done."""
    path = Path(os.path.normpath(path.absolute()))
    if path.is_relative_to(base):
        return path.relative_to(base).as_posix()
    return path.relative_to(path.anchor).as_posix()


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


def manifest_name(shard: Slice) -> str:
    """The manifest a shard appends to (one file a shard: writers never share one)."""
    return (
        "vidcolor-manifest.jsonl"
        if shard.count == 1
        else f"vidcolor-manifest.shard-{shard.index}-of-{shard.count}.jsonl"
    )


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


# Settings that came after the first manifests were written, with the default that reproduces the
# older behaviour for most inputs ("encode.exact_size": a dotted path into ColorizeConfig.to_dict()).
ADDED_LATER = {
    "encode.exact_size": False,
    "encode.pix_fmt": None,
    "interlaced": "auto",
    "fps": 24.0,
    "confidence": "off",
    "confidence_tau": 8.0,
    "blend": (),
    "model_format": None,
}


def settings_hash(cfg: ColorizeConfig, guidance: Guidance | None = None) -> str:
    """What decides an output besides the input and the model: settings and the file's guidance."""
    d = cfg.to_dict()
    d.pop("device", None)  # where it ran does not change what it makes (beyond float rounding)
    for key, default in ADDED_LATER.items():  # at its default a setting added later is left out,
        *outer, name = key.split(".")  # so manifests written before it stay valid (no archive redone)
        where = d
        for part in outer:
            where = where[part]
        if where.get(name, default) == default:
            where.pop(name, None)
    if guidance:
        d["guidance"] = guidance.digest()
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Manifest:
    def __init__(self, out_dir: Path, shard: Slice) -> None:
        self.path = out_dir / manifest_name(shard)
        self.shard = shard
        self.host = socket.gethostname()

    def append(self, **record: object) -> None:
        record = {"time": time.time(), "host": self.host, "shard": f"{self.shard.index}/{self.shard.count}", **record}
        with self.path.open("a") as f:  # one short line per write: appends do not interleave
            f.write(json.dumps(record, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())


# ---------------------------------------------------------------- the batch: classify, then execute


@dataclass
class Step:
    """What this run does with one job, decided before anything runs."""

    job: Job
    out: Path
    action: str  # run | skip | fail
    why: str
    record: dict = field(default_factory=dict)  # identity of this attempt, for the manifest
    guidance: Guidance | None = None
    completed: dict | None = None  # a ``running`` record whose output turned out complete: record it done
    cfg: ColorizeConfig | None = None  # the settings saved beside the file applied (film.settings.json), or None


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
    if prev["status"] == "salvaged":  # as complete as the input allows: redoing gives the same
        return "skip", f"salvaged earlier: {'; '.join(prev.get('warnings', []))}"
    return "skip", "done" if prev["status"] == "done" else "completed before an interruption"


def classify(
    job: Job,
    out: Path,
    prev: dict | None,
    cfg: ColorizeConfig,
    model: str,
    redo: str,
    log: Log,
    given: Collection[str] = (),
) -> Step:
    """One job's :class:`Step`. Reads the file's size, time and (only when they disagree with the
    manifest) its content; never raises for a problem of this one file: that becomes a ``fail``.
    Settings saved beside the file (:func:`~vidcolor.guidance.with_saved_settings`) apply to it,
    except those in ``given`` (options given to the batch)."""
    try:
        if job.kind == "damaged":
            return Step(job, out, "fail", job.why, {"rel": job.rel, "input": str(job.input), "output": str(out)})
        saved: dict[str, float] = {}
        try:  # per-file guidance by convention: film.ref/, film.ref.png, film.hints.json beside film.mp4
            guidance, guidance_error = load_beside(job.input, log), ""
            cfg, saved = with_saved_settings(cfg, job.input, given)  # and film.settings.json (the studio's sliders)
        except VidcolorError as e:
            guidance, guidance_error = None, str(e)
        st = job.input.stat()
        ident = {
            "size": st.st_size,
            "mtime": st.st_mtime,
            "fingerprint": _lazy(lambda p=job.input: fingerprint(p)),
            "model": model,
            "settings": settings_hash(cfg, guidance),
        }
        action, why = decide(job, out, prev, ident, redo)
        record = {
            "rel": job.rel, "input": str(job.input), "output": str(out), "size": ident["size"], "mtime": ident["mtime"],
            "fingerprint": ident["fingerprint"](), "model": model, "settings": ident["settings"],
        }  # fmt: skip
        if action == "run" and guidance_error:
            return Step(job, out, "fail", guidance_error, record)
        completed = prev if action == "skip" and prev is not None and prev["status"] == "running" else None
        return Step(job, out, action, why, record, guidance or None, completed, cfg if saved else None)
    except Exception as e:  # the file vanished or cannot be read between discovery and now
        return Step(job, out, "fail", _reason(e), {"rel": job.rel, "input": str(job.input), "output": str(out)})


def run_batch(
    jobs: list[Job],
    out_dir: Path,
    cfg: ColorizeConfig,
    shard: Slice = Slice(0, 1),
    suffix: str = "",
    container: str | None = None,
    redo: str = "changed",
    dry_run: bool = False,
    log: Log = lambda _m: None,
    on_file: Callable[[Job, bool], Callable[[int], None]] | None = None,
    on_plan: Callable[[list[Job]], None] | None = None,
    given: Collection[str] = (),
) -> BatchReport:
    """Process this shard's jobs; returns what happened to each. Loads the model once.

    Every job is classified first (run, skip or fail, see :func:`classify`), then the runs are
    executed. A failure of one file, whatever its cause, is recorded as ``failed`` with a one-line
    reason and the batch goes on; only an interrupt, or a problem of the whole batch (the model,
    the output folder), stops it.

    ``on_file(job, runs)`` is told about every job of the shard, in order (``runs`` False when it
    is skipped or failed without running) and returns the frame-progress callback for it;
    ``on_plan(jobs)`` is told, before any runs, which jobs will run (for an overall ETA).
    """
    if redo not in ("changed", "failed", "all"):
        raise BadInputError(f"--redo must be changed, failed or all, got {redo!r}")
    state = read_manifests(out_dir) if out_dir.is_dir() else {}
    model = models_id(cfg)
    steps = [
        classify(j, output_for(j, out_dir, suffix, container), state.get(j.rel), cfg, model, redo, log, given)
        for j in jobs
        if shard.owns(j.rel)
    ]
    for folder, (pattern, n) in frame_folders(step.job for step in steps).items():
        log(
            f"note: {folder} holds {n} numbered frames ({pattern}): batch colours them as separate photos; "
            f"`vidcolor {folder} -o OUT/` colours them as one film (temporal smoothing, shots)"
        )
    report = BatchReport()
    if on_plan and not dry_run:
        on_plan([step.job for step in steps if step.action == "run"])
    if dry_run:
        for step in steps:
            action = {"run": "would run", "skip": "skipped", "fail": "failed"}[step.action]
            report.outcomes.append(Outcome(step.job, action, step.why))
            if on_file:
                on_file(step.job, False)
        return report
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInputError(f"{out_dir}: cannot create the output folder ({describe(e)})") from None
    with Lease(out_dir, shard):
        return _execute_all(steps, state, out_dir, cfg, shard, log, on_file)


def _execute_all(
    steps: list[Step],
    state: dict[str, dict],
    out_dir: Path,
    cfg: ColorizeConfig,
    shard: Slice,
    log: Log,
    on_file: Callable[[Job, bool], Callable[[int], None]] | None,
) -> BatchReport:
    report = BatchReport()
    manifest = Manifest(out_dir, shard)
    colorizer: Colorizer | None = None
    for step in steps:
        if step.action == "run" and colorizer is None:
            colorizer = Colorizer(cfg, log)
        if step.action == "run":
            report.outcomes.append(_execute(step, colorizer, manifest, log, on_file))
            continue
        if on_file:
            on_file(step.job, False)
        if step.action == "skip":
            if step.completed is not None:
                manifest.append(
                    **{
                        **step.completed,
                        "status": "done",
                        "note": "completed before an interruption",
                        "time": time.time(),
                    }
                )
            report.outcomes.append(Outcome(step.job, "skipped", step.why))
            continue
        prev = state.get(step.job.rel)
        recorded = prev is not None and prev["status"] == "failed" and prev.get("error") == step.why
        if not recorded:  # a file that keeps failing the same way is recorded once
            manifest.append(**{**step.record, **_quick_ident(step.job.input)}, status="failed", error=step.why)
        report.outcomes.append(Outcome(step.job, "failed", step.why))
    return report


def _execute(
    step: Step,
    colorizer: Colorizer,
    manifest: Manifest,
    log: Log,
    on_file: Callable[[Job, bool], Callable[[int], None]] | None,
) -> Outcome:
    """Colorize one file; any exception but an interrupt becomes a ``failed`` record, and a file
    written with warnings (frames, audio or streams left out) a ``salvaged`` one that lists them."""
    job, out = step.job, step.out
    warnings: list[str] = []

    def file_log(message: str) -> None:
        if message.startswith("warning:"):
            warnings.append(message.removeprefix("warning:").strip())
        log(message)

    manifest.append(**step.record, status="running")
    t0 = time.perf_counter()
    try:  # an own output being redone is replaced only by the atomic rename of a complete new one
        remove_stale_partials(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        progress = on_file(job, True) if on_file else (lambda _n: None)
        own = colorizer.with_config(step.cfg) if step.cfg is not None else colorizer
        result = _colorize_file(job, out, own, progress, file_log, step.guidance)
    except Exception as e:  # KeyboardInterrupt and SystemExit (Terminated) stop the batch instead
        seconds = time.perf_counter() - t0
        manifest.append(**step.record, status="failed", error=_reason(e), seconds=round(seconds, 3))
        log(outcome_line("failed", job.input, _reason(e)))
        return Outcome(job, "failed", _reason(e), seconds=seconds)
    seconds = time.perf_counter() - t0
    status = "salvaged" if warnings else "done"
    manifest.append(
        **step.record,
        status=status,
        frames=result.frames,
        seconds=round(seconds, 3),
        **({"warnings": warnings} if warnings else {}),
    )
    return Outcome(job, status, "; ".join(warnings) if warnings else step.why, result.frames, seconds)


SEGMENTS = SegmentSettings()


def _colorize_file(
    job: Job, out: Path, colorizer: Colorizer, progress: Callable[[int], None], log: Log, guidance: Guidance | None
):
    """A film of at least ``SEGMENTS.batch_min_seconds`` is colorized in segments
    (:mod:`vidcolor.segments`), so a killed batch continues inside it instead of from its start;
    anything else (or what segments do not take yet, e.g. guidance) in one go."""
    if job.kind == "video" and out.suffix.lower() in CONTAINERS:
        from vidcolor.segments import colorize_in_segments, obstacle
        from vidcolor.source import probe

        if probe(job.input).duration >= SEGMENTS.batch_min_seconds:
            why = obstacle(job.input, colorizer.cfg, guidance)
            if why is None:
                return colorize_in_segments(
                    job.input, out, colorizer, segment_seconds=SEGMENTS.segment_seconds, progress=progress, log=log
                )
            log(f"note: {job.rel} is colorized in one go, not in segments ({why}): a stop starts it again")
    return colorize(job.input, out, colorizer, progress=progress, log=log, guidance=guidance)


def outcome_line(action: str, path: Path, detail: str) -> str:
    """``failed: PATH: why`` for a log or summary; the path once, though most reasons start with it."""
    return f"{action}: {detail}" if detail.startswith(str(path)) else f"{action}: {path}: {detail}"


def _reason(e: Exception) -> str:
    """One line for a manifest and the summary: our own errors as they are, anything else with its type."""
    return str(e) if isinstance(e, VidcolorError) else f"unexpected {type(e).__name__}: {describe(e)}"


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
