"""Colorize one film in segments cut at keyframes: resumable inside a film, and shared by workers.

Why: a two-hour film killed at 90 % used to start again from zero, and one film could use only one
machine. Here the film is cut into segments of about ``segment_seconds`` at keyframes (found by
demuxing, no decoding), the same way by every worker (:func:`plan_segments` depends only on the
file's keyframe times and the length asked for). Each segment is encoded on its own into a work
folder beside the output, ``.OUT.vidcolor-segments/``:

* ``plan.json``: the plan and what it was made for (the input's fingerprint, the model, the
  settings); anything else there is stale and removed;
* per finished segment ``seg-NNNNN.<ext>`` (video only, the output's container and encoder
  settings), ``seg-NNNNN.state.npz`` (the temporal smoother's state after its last frame:
  ``prev_L``, ``prev_ab``; numpy, no pickle) and last ``seg-NNNNN.json`` (frames, cuts): the record
  that says it is done. Each is published atomically (:mod:`vidcolor.atomic`), so a kill -9
  leaves whole segments or none, and a segment whose files went missing is simply done again.

A re-run continues with the first unfinished segment, the smoother loaded from the state the
previous segment saved: exactly the colour an uninterrupted run gives. A worker given a slice of
the film (``--segments K/N``: a contiguous run of segments) cannot wait for the slice before it, so
its first segment starts with a *warm-up*: the model and smoother run over the last
:data:`WARMUP` frames of the previous segment (output discarded); with the default smoothing of
0.9 what is left of the unknown older state is at most 0.9**32 < 4 % (exact where a cut lies in
the window).

When every segment is done, the worker that sees it takes the join lease and writes OUT: the
segments' packets copied (no re-encoding, every frame at its source timestamp) with the audio,
subtitles, chapters and tags copied once from the source for the whole film, exactly as
:class:`vidcolor.encode.VideoWriter` does for an uninterrupted run; then the work folder goes.
Workers that finish earlier leave their part and exit 0. One slice has one writer at a time
(a :class:`vidcolor.lease.Lease`): a second worker given the same slice stops with exit 1 naming
the holder, or, once the slice is finished, finds it done.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from vidcolor.atomic import remove_stale_partials, write_atomic
from vidcolor.colorizer import Colorizer, output_metadata
from vidcolor.config import ColorizeConfig, SegmentSettings
from vidcolor.decode import VideoInfo, check_input, media_kind
from vidcolor.encode import JoinWriter, VideoWriter, container_format, warn_if_aspect_lost
from vidcolor.errors import BadInputError, BusyError, Log, ProcessingError, describe
from vidcolor.film import Film, NoOutput, Run, colour_frames, field_plan, film_smoother, warn_if_ended_early
from vidcolor.lease import Lease, Slice, fingerprint
from vidcolor.pipeline import PREVIEW_WARMUP, Report
from vidcolor.source import probe
from vidcolor.temporal import TemporalSmoother

Progress = Callable[[int], None]
WARMUP = PREVIEW_WARMUP  # frames of the previous segment a slice's first segment is warmed up on
EPS = 1e-7  # seconds added to a cut's time: the seek lands on its keyframe, far below a frame's length
PLAN_VERSION = 2  # 2: segment times count from the film's first frame (were: the file's clock)


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Segment:
    """Frames whose time t is in [start, end) (seconds from the film's first frame, as
    :func:`vidcolor.decode.frames` takes them; ``end`` None: to the film's end)."""

    index: int
    start: float
    end: float | None

    def window(self) -> tuple[float, float | None]:
        """(start, duration) for :func:`vidcolor.decode.frames`: the first segment from 0 (as an
        uninterrupted run reads), the others from their keyframe (plus :data:`EPS`)."""
        start = self.start + EPS if self.index else 0.0
        return start, (self.end + EPS - start if self.end is not None else None)


def keyframe_times(path: Path) -> list[float]:
    """Times (s) of the first video stream's keyframe packets, sorted; demuxed, never decoded."""
    from vidcolor.decode import video_stream

    times: set[float] = set()
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            stream = video_stream(c, path)
            try:
                for pkt in c.demux(stream):
                    if pkt.is_keyframe and pkt.pts is not None and pkt.time_base is not None:
                        times.add(float(pkt.pts * pkt.time_base))
            except av.error.FFmpegError:
                pass  # damaged data: the film ends there for the plan too (the last segment runs to the end)
    except av.error.FFmpegError as e:
        raise BadInputError(f"{path}: not a readable video ({describe(e)})") from None
    return sorted(times)


def plan_segments(keyframes: list[float], seconds: float) -> list[Segment]:
    """Cut at the first keyframe at least ``seconds`` after the previous cut (the film's start is
    the first); the last segment runs to the end. Depends only on its arguments: every worker
    computes the same plan."""
    if seconds <= 0:
        raise BadInputError(f"--segment-seconds must be > 0, got {seconds}")
    cuts: list[float] = []
    last = keyframes[0] if keyframes else 0.0
    for t in keyframes:
        if t >= last + seconds - 1e-9:
            cuts.append(t)
            last = t
    starts = [0.0, *cuts]
    return [Segment(i, s, starts[i + 1] if i + 1 < len(starts) else None) for i, s in enumerate(starts)]


# ---------------------------------------------------------------- the work folder


def work_dir(output: Path) -> Path:
    """Hidden folder beside ``output`` (same file system: segments are renamed into it atomically)."""
    return output.with_name(f".{output.name}.vidcolor-segments")


class WorkFolder:
    """The files of one film's segments (see the module docstring for the layout)."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.dir = work_dir(output)
        self.ext = output.suffix.lower()

    def media(self, k: int) -> Path:
        return self.dir / f"seg-{k:05d}{self.ext}"

    def state(self, k: int) -> Path:
        return self.dir / f"seg-{k:05d}.state.npz"

    def record(self, k: int) -> Path:
        return self.dir / f"seg-{k:05d}.json"

    def done(self, k: int) -> dict | None:
        """The record of a finished segment whose files are all there, else None (to be redone)."""
        try:
            rec = json.loads(self.record(k).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or not self.state(k).is_file():
            return None
        if rec.get("frames", 0) > 0 and not self.media(k).is_file():
            return None
        return rec

    def load_plan(self, ident: dict) -> list[Segment] | None:
        """The plan made for ``ident``; a plan for anything else (changed input, model, settings,
        segment length) makes every file here stale: they are removed."""
        try:
            rec = json.loads((self.dir / "plan.json").read_text())
            if rec["ident"] == ident:
                return [Segment(i, s, e) for i, (s, e) in enumerate(rec["segments"])]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if self.dir.is_dir():
            for p in self.dir.glob("seg-*"):
                p.unlink(missing_ok=True)
        return None

    def save_plan(self, ident: dict, plan: list[Segment]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        rec = {"ident": ident, "segments": [[s.start, s.end] for s in plan]}
        write_atomic(self.dir / "plan.json", lambda tmp: tmp.write_text(json.dumps(rec, indent=1)))


def save_state(path: Path, smoother: TemporalSmoother) -> None:
    """The smoother's state (render-size tensors) as .npz, atomically; empty arrays for none."""

    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:
            np.savez(f, **smoother.state())

    write_atomic(path, write)


def load_state(path: Path, smoother: TemporalSmoother, device: torch.device) -> bool:
    """Restore what :func:`save_state` wrote; False when the file is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            smoother.load(dict(z), device)
    except (OSError, ValueError, KeyError):
        smoother.reset()
        return False
    return True


# ---------------------------------------------------------------- encoding and joining


# ---------------------------------------------------------------- running


def colorize_in_segments(
    input: Path,
    output: Path,
    colorizer: Colorizer,
    part: Slice = Slice(0, 1),
    segment_seconds: float = SegmentSettings.segment_seconds,
    progress: Progress = lambda _n: None,
    log: Log = lambda _m: None,
    guidance: object | None = None,
) -> Report:
    """Colorize this part's unfinished segments of ``input``; join OUT when every segment is done.

    Returns the report of the whole film when this call joined it, else of this part (its
    ``output`` is then the work folder)."""
    cfg = colorizer.cfg
    check_input(input)
    container_format(output)  # a video container: segments are written in it
    why = obstacle(input, cfg, guidance)
    if why:
        raise BadInputError(f"{input}: {why}: not with --resume or --segments yet")
    info = probe(input)
    work = WorkFolder(output)
    ident = _ident(input, colorizer, segment_seconds)
    plan = work.load_plan(ident)
    if plan is None:
        log(f"planning segments of {input.name} (~{segment_seconds:g} s each, cut at keyframes) ...")
        keys = [t - info.start_time for t in keyframe_times(input)]  # from the first frame, as windows are
        plan = plan_segments(keys, segment_seconds)
        work.save_plan(ident, plan)
    mine = part.span(len(plan))
    t0 = time.perf_counter()
    with Lease(work.dir, part, beat=10.0, stale=60.0, what="part"):
        done = [k for k in mine if work.done(k)]
        if done:
            log(f"resuming: {len(done)} of the {len(mine)} segments of part {part} are done; doing the rest")
        film = Film.open(input, colorizer, log, info)  # deinterlaced, or the frames as they are
        frames_done, cuts = _run_part(film, work, plan, mine, colorizer, progress, log)
    if not all_done(work, plan):
        if not mine:  # more parts than segments: a short film, or a long --segment-seconds
            log(f"part {part} of {input.name} has no segment (the film has {len(plan)}); nothing to do")
        else:
            log(
                f"part {part} of {input.name} done (segments {mine.start}..{mine.stop - 1} of {len(plan)}, "
                f"{time.perf_counter() - t0:.1f} s); the last worker to finish joins {output.name}"
            )
        return Report(frames_done, 0.0, cuts, work.dir)
    return _join(input, output, info, work, plan, colorizer, log) or Report(frames_done, 0.0, cuts, work.dir)


def obstacle(input: Path, cfg: ColorizeConfig, guidance: object | None = None) -> str | None:
    """Why ``input`` cannot be colorized in segments with ``cfg`` (None: it can). What spans
    segments is not built: guidance (shots span them), a --start/--duration window, a preview
    sheet, fields kept (``--interlaced keep``) or inverse telecine (its cycles of 5 cross segments)."""
    if media_kind(input).kind != "video":
        return "not a video"
    if guidance:
        return "--reference/--hints"
    if cfg.start or cfg.duration is not None or cfg.preview:
        return "--start, --duration or --preview"
    fields = field_plan(input, cfg.interlaced, lambda _m: None)
    if fields.keep or fields.ivtc:
        return f"--interlaced {cfg.interlaced} (deinterlacing is taken; off uses the frames as they are)"
    return None


def all_done(work: WorkFolder, plan: list[Segment]) -> bool:
    return all(work.done(s.index) for s in plan)


def _ident(input: Path, colorizer: Colorizer, segment_seconds: float) -> dict:
    """What the segments depend on: a change to any of it makes the work folder stale."""
    settings = colorizer.cfg.public()
    settings.pop("device", None)
    return {
        "version": PLAN_VERSION,
        "input": {"size": input.stat().st_size, "fingerprint": fingerprint(input)},
        "model": colorizer.model_id,
        "settings": settings,
        "segment_seconds": segment_seconds,
    }


def _run_part(
    film: Film, work: WorkFolder, plan: list[Segment], mine: range, colorizer: Colorizer, progress: Progress, log: Log
) -> tuple[int, int]:
    """Colorize the unfinished segments of ``mine`` in order; (frames, cuts) of the whole part."""
    smoother = film_smoother(colorizer.cfg, film.info)
    live = -1  # the segment whose end state the smoother holds now
    total = cuts = 0
    for k in mine:
        rec = work.done(k)
        if rec is not None:
            total, cuts = total + rec.get("frames", 0), cuts + rec.get("cuts", 0)
            progress(rec.get("frames", 0))
            continue
        for p in (work.media(k), work.state(k), work.record(k)):
            remove_stale_partials(p)  # under this slice's lease: only a dead run's
        if live != k - 1 and k > 0:
            smoother = film_smoother(colorizer.cfg, film.info)
            if not (k - 1 in mine and load_state(work.state(k - 1), smoother, colorizer.device)):
                _warm_up(film, plan[k - 1], plan[k], colorizer, smoother, log)
        smoother.cuts = 0
        n, last = _colour_segment(film, work, plan[k], colorizer, smoother, progress, log)
        save_state(work.state(k), smoother)
        rec = {"frames": n, "cuts": smoother.cuts, "last": last}
        write_atomic(work.record(k), lambda tmp, r=rec: tmp.write_text(json.dumps(r)))
        total, cuts, live = total + n, cuts + smoother.cuts, k
    return total, cuts


def _colour_segment(
    film: Film,
    work: WorkFolder,
    seg: Segment,
    colorizer: Colorizer,
    smoother: TemporalSmoother,
    progress: Progress,
    log: Log,
) -> tuple[int, float | None]:
    """Colorize and encode one segment into its file through the film's frame loop; returns its
    frame count and its last frame's time (the file's clock)."""
    items = film.items(*seg.window(), log)
    first = next(items, None)
    if first is None:  # nothing decodes here (damaged data): an empty segment, recorded as such
        return 0, None
    cfg = colorizer.cfg
    with VideoWriter(work.media(seg.index), film.info, cfg.encode, film.info.spec, {}, log=log, video_only=True) as w:
        run = colour_frames(itertools.chain([first], items), film, colorizer, smoother, w, progress=progress)
    return run.frames, run.last_time


def _warm_up(
    film: Film, prev: Segment, seg: Segment, colorizer: Colorizer, smoother: TemporalSmoother, log: Log
) -> None:
    """Bring a fresh smoother near the state an uninterrupted run has at ``seg``'s start: run it
    over the last :data:`WARMUP` frames of ``prev`` (their colour is thrown away)."""
    rate = float(film.info.rate) if film.info.rate else 25.0
    start = max(prev.start, seg.start - (WARMUP + 0.5) / rate)
    window = list(film.items(start, seg.start + EPS - start, log, keep=lambda _i: False))[-WARMUP:]
    colour_frames(window, film, colorizer, smoother, NoOutput())


def _join(
    input: Path, output: Path, info: VideoInfo, work: WorkFolder, plan: list[Segment], colorizer: Colorizer, log: Log
) -> Report | None:
    """Join every segment into ``output`` under the join lease; None when another worker joins."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(
                Lease(work.dir, Slice(0, 1), beat=10.0, stale=60.0, what="the join", name=".vidcolor-join-lease.json")
            )
        except BusyError:
            log(f"every segment of {input.name} is done; another worker is joining {output.name}")
            return None
        if not all_done(work, plan):  # joined (and cleaned up) by another worker meanwhile
            log(f"{output.name}: already joined by another worker")
            return None
        meta = output_metadata(colorizer)
        records = [work.done(s.index) or {} for s in plan]
        with_frames = [s.index for s, r in zip(plan, records, strict=True) if r.get("frames", 0) > 0]
        if not with_frames:
            raise ProcessingError(f"{input}: no decodable video frames")
        remove_stale_partials(output)
        with JoinWriter(output, info, work.media(with_frames[0]), meta, log) as writer:
            for k in with_frames:
                writer.copy(work.media(k))
        frames_total = sum(r.get("frames", 0) for r in records)
        if writer.frames_written != frames_total:
            raise ProcessingError(f"{output}: joined {writer.frames_written} of {frames_total} frames")
    shutil.rmtree(work.dir, ignore_errors=True)
    lasts = [r["last"] for r in records if r.get("last") is not None]
    run = Run(frames_total, frames_total, max(lasts) if lasts else None)
    warn_if_ended_early(input, info, run, colorizer.cfg, log)  # no window: segments take none
    warn_if_aspect_lost(info, output, log)
    cuts = sum(r.get("cuts", 0) for r in records)
    return Report(frames_total, frames_total / float(info.rate) if info.rate else 0.0, cuts, output)
