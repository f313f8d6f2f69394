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
import json
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from vidcolor import __version__, pipeline
from vidcolor.atomic import publish, remove_stale_partials, write_atomic
from vidcolor.config import ColorizeConfig, SegmentSettings
from vidcolor.decode import VideoInfo, check_input, media_kind
from vidcolor.encode import VideoWriter, container_format
from vidcolor.errors import BadInputError, BusyError, Log, ProcessingError, describe
from vidcolor.interlace import Plan
from vidcolor.lease import Lease, Slice, fingerprint
from vidcolor.pipeline import (
    PREVIEW_WARMUP,
    Colorizer,
    Item,
    Report,
    batched,
    colour_batch,
    ended_early,
    film_smoother,
    prefetch,
    queue_depth,
)
from vidcolor.planes import render_size, small_rgb, to_work_frame, write_chroma
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


class SegmentWriter(VideoWriter):
    """A :class:`VideoWriter` for one segment: the same encoder and settings, video only, source
    timestamps kept (no shift), no tags: the join adds the rest once for the whole film."""

    def __enter__(self) -> SegmentWriter:
        try:
            self.out = av.open(str(self.tmp), "w", format=self.fmt)
        except (av.error.FFmpegError, OSError) as e:
            raise ProcessingError(f"{self.final}: cannot create a segment ({describe(e)})") from None
        try:
            self._setup_video()
        except BaseException:
            self._discard()
            raise
        return self


class JoinWriter(VideoWriter):
    """A :class:`VideoWriter` whose video is the segments' packets, copied: the audio, subtitles,
    chapters and tags come from the source through the writer's own copier, as in a normal run."""

    def __init__(self, final: Path, info: VideoInfo, first_segment: Path, metadata: dict, log: Log) -> None:
        from vidcolor.config import EncodeSettings

        super().__init__(final, info, EncodeSettings(), info.spec, metadata, 0.0, None, log)
        self.template = av.open(str(first_segment))

    _last_dts: int | None = None

    def _setup_video(self) -> None:
        src = self.template.streams.video[0]
        self.stream = self.out.add_stream_from_template(src)
        self.stream.time_base = src.time_base
        if self.info.rotation:
            self.stream.set_display_rotation(self.info.rotation)
        self.pad, self.pix_fmt = False, src.codec_context.format.name if src.codec_context.format else ""
        self.extradata = bytes(src.codec_context.extradata or b"")

    def copy(self, segment: Path) -> int:
        """Mux every video packet of ``segment`` (timestamps as they are); returns the count."""
        n = 0
        with av.open(str(segment)) as c:
            src = c.streams.video[0]
            if bytes(src.codec_context.extradata or b"") != self.extradata:
                raise ProcessingError(f"{segment.name}: encoded with other codec parameters than the first segment")
            for pkt in _with_dts(p for p in c.demux(src) if p.size and (p.dts is not None or p.pts is not None)):
                if self._last_dts is not None and pkt.dts <= self._last_dts:  # never behind the last segment
                    pkt.dts = min(pkt.pts if pkt.pts is not None else math.inf, self._last_dts + 1)
                self._last_dts = pkt.dts
                if self._offset is None:
                    self._offset = 0
                    if self._audio:
                        self._audio.begin(0.0)
                t = float((pkt.dts if pkt.dts is not None else pkt.pts) * pkt.time_base)
                if self._audio:
                    self._audio.drain(t)
                pkt.stream = self.stream
                self.out.mux(pkt)
                n += 1
        self.frames_written += n
        return n

    def __exit__(self, exc_type, exc, tb) -> None:
        self.template.close()
        if exc_type is not None:
            self._discard()
            return
        try:
            if self._audio:
                self._audio.drain(math.inf)
            self.out.close()
            publish(self.tmp, self.final)
        except (av.error.FFmpegError, OSError) as e:
            self._discard()
            raise ProcessingError(f"{self.final}: joining the segments failed ({describe(e)})") from None
        except BaseException:
            self._discard()
            raise


def _with_dts(packets: Iterator[av.Packet]) -> Iterator[av.Packet]:
    """``packets`` (each with a pts or a dts) with a decoding time on each: Matroska and WebM store
    none for the first packets of a stream with B-frames (their dts would come before the first
    pts), and a muxer given packets without one guesses, wrongly at a joint. Those get the dts
    before the first known one, a frame duration apart (what the encoder gave them)."""
    head: list[av.Packet] = []  # leading packets without a dts
    last: int | None = None  # the last dts given out
    for pkt in packets:
        if pkt.dts is None and last is None:
            head.append(pkt)
            continue
        if pkt.dts is None:  # a gap later on: right after the previous one
            pkt.dts = min(pkt.pts, last + 1)
        step = pkt.duration or 1
        for i, h in enumerate(reversed(head), 1):
            h.dts = min(h.pts, pkt.dts - i * step)
        yield from head
        head, last = [], pkt.dts
        yield pkt
    base = min((h.pts for h in head), default=0)  # no known dts at all (a segment of a frame or two)
    for i, h in enumerate(head):
        h.dts = base - len(head) + 1 + i
        yield h


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
        fields = pipeline.field_plan(input, cfg.interlaced, log, info)  # deinterlace, or nothing
        frames_done, cuts = _run_part(input, info, fields, work, plan, mine, colorizer, progress, log)
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
    fields = pipeline.field_plan(input, cfg.interlaced, lambda _m: None)
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
    input: Path,
    info: VideoInfo,
    fields: Plan,
    work: WorkFolder,
    plan: list[Segment],
    mine: range,
    colorizer: Colorizer,
    progress: Progress,
    log: Log,
) -> tuple[int, int]:
    """Colorize the unfinished segments of ``mine`` in order; (frames, cuts) of the whole part."""
    cfg = colorizer.cfg
    rsize = render_size(info.width, info.height, cfg.render_size, colorizer.multiple)
    smoother = film_smoother(cfg, info)
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
            smoother = film_smoother(cfg, info)
            if not (k - 1 in mine and load_state(work.state(k - 1), smoother, colorizer.device)):
                _warm_up(input, info, fields, plan[k - 1], plan[k], colorizer, smoother, rsize, log)
        smoother.cuts = 0
        n, last = _colour_segment(input, info, fields, work, plan[k], colorizer, smoother, rsize, progress, log)
        save_state(work.state(k), smoother)
        rec = {"frames": n, "cuts": smoother.cuts, "last": last}
        write_atomic(work.record(k), lambda tmp, r=rec: tmp.write_text(json.dumps(r)))
        total, cuts, live = total + n, cuts + smoother.cuts, k
    return total, cuts


def _items(
    input: Path, seg: Segment, info: VideoInfo, fields: Plan, rsize: tuple[int, int], log: Log
) -> Iterator[Item]:
    start, duration = seg.window()
    for frame in pipeline.source_frames(input, fields, start, duration, log, info):
        yield Item(to_work_frame(frame, info.spec), small_rgb(frame, rsize))


def _colour_segment(
    input: Path,
    info: VideoInfo,
    fields: Plan,
    work: WorkFolder,
    seg: Segment,
    colorizer: Colorizer,
    smoother: TemporalSmoother,
    rsize: tuple[int, int],
    progress: Progress,
    log: Log,
) -> tuple[int, float | None]:
    """Colorize and encode one segment into its file, as :func:`vidcolor.pipeline.colorize_video`
    does the film (the same stages and batches); returns its frame count and its last frame's time
    (the file's clock)."""
    cfg = colorizer.cfg
    decoded, last = 0, None
    writer = SegmentWriter(work.media(seg.index), info, cfg.encode, info.spec, {}, 0.0, None, log)
    items = prefetch(_items(input, seg, info, fields, rsize, log), depth=queue_depth(cfg, info))
    first = next(items, None)
    if first is None:  # nothing decodes here (damaged data): an empty segment, recorded as such
        return 0, None
    with writer:
        for batch in batched(_chain(first, items), cfg.batch_size):
            last = batch[-1].frame.time  # before the writer re-times it
            uv, _ = colour_batch(colorizer, smoother, [it.small for it in batch], info.spec, info.width, info.height)
            for item, planes in zip(batch, uv, strict=True):
                write_chroma(item.frame, planes)
                writer.write(item.frame)
            decoded += len(batch)
            progress(len(batch))
    if writer.frames_written != decoded:
        raise ProcessingError(f"{input}: segment {seg.index}: wrote {writer.frames_written} of {decoded} frames")
    return decoded, last


def _chain(first: Item, rest: Iterator[Item]) -> Iterator[Item]:
    yield first
    yield from rest


def _warm_up(
    input: Path,
    info: VideoInfo,
    fields: Plan,
    prev: Segment,
    seg: Segment,
    colorizer: Colorizer,
    smoother: TemporalSmoother,
    rsize: tuple[int, int],
    log: Log,
) -> None:
    """Bring a fresh smoother near the state an uninterrupted run has at ``seg``'s start: run it
    over the last :data:`WARMUP` frames of ``prev`` (their colour is thrown away)."""
    rate = float(info.rate) if info.rate else 25.0
    start = max(prev.start, seg.start - (WARMUP + 0.5) / rate)
    window = pipeline.source_frames(input, fields, start, seg.start + EPS - start, log, info)
    smalls = [small_rgb(f, rsize) for f in window]
    for batch in batched(smalls[-WARMUP:], colorizer.cfg.batch_size):
        rgb = torch.from_numpy(np.stack(batch)).to(colorizer.device).permute(0, 3, 1, 2)
        smoother(*colorizer.predict(rgb))


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
        meta = {
            "version": __version__,
            "model": colorizer.model_id,
            "engine": colorizer.engine.name,
            "settings": colorizer.cfg.public(),
        }
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
    why = ended_early(info, frames_total, max(lasts) if lasts else None)
    if why:
        log(f"warning: {input} ended early: {why} (truncated?)")
    cuts = sum(r.get("cuts", 0) for r in records)
    return Report(frames_total, frames_total / float(info.rate) if info.rate else 0.0, cuts, output)
