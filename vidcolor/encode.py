"""Encoding: write colorized frames with PyAV, copy the audio, keep timing, never half-write.

The output is written to a hidden temporary file beside the final name and renamed only when the
encoder has been flushed and the container closed. Any error or interrupt removes the temporary
file, so the final name holds a complete file or nothing.

* container from the output extension; H.264 / yuv420p (CRF 18) by default, VP9 for .webm;
* every frame keeps its timestamp (variable frame rate survives); a segment (``--start``) is
  shifted to start at 0; a frame whose timestamp is not after the previous one's (out of order,
  repeated, missing) is given the previous one plus a frame at the stream's rate, with one
  warning: an encoder refuses time that stands still or goes back, and the frame's place in the
  film is where the decoder gave it;
* rotation (display matrix) is copied; mp4/mov get ``faststart`` (index first, streamable);
* audio streams are copied packet for packet where the container takes their codec, else
  transcoded (AAC, or Opus for WebM) and reported; they are interleaved with the video by time.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidcolor.atomic import publish, temp_path, write_atomic  # their home; still importable from here
from vidcolor.config import EncodeSettings
from vidcolor.decode import VideoInfo, probe, to_8bit
from vidcolor.errors import BadInputError, Log, ProcessingError, describe
from vidcolor.formats import (
    ALPHA_IMAGE_FORMATS,
    CONTAINERS,
    COPYABLE_AUDIO,
    COPYABLE_SUBTITLES,
    DEEP_IMAGE_FORMATS,
    DEFAULT_CODEC,
    FALLBACK_AUDIO,
    ICC_IMAGE_FORMATS,
    IMAGE_OUTPUTS,
)
from vidcolor.planes import ColourSpec, pad_even


def container_format(path: Path) -> str:
    fmt = CONTAINERS.get(path.suffix.lower())
    if fmt is None:
        raise BadInputError(f"{path}: unsupported output extension {path.suffix!r}; use one of {', '.join(CONTAINERS)}")
    return fmt


def save_image(
    rgb: np.ndarray, final: Path, fmt: str = "PNG", alpha: np.ndarray | None = None, icc: bytes | None = None
) -> list[str]:
    """HxWx3 (or HxW) uint8, or uint16 for a format in :data:`DEEP_IMAGE_FORMATS` -> an image file
    written atomically (PIL format name ``fmt``). 16 bits go through OpenCV: Pillow cannot write
    16-bit RGB. ``alpha`` (HxW, 8 or 16 bits: brought to the pixels' depth) and ``icc`` (a profile)
    are written where the format holds them; returns what was left out, and why, for the caller
    to say ("its alpha channel (JPEG has none; ...)")."""
    deep = rgb.dtype == np.uint16 and fmt in DEEP_IMAGE_FORMATS
    left = []
    if alpha is not None and (rgb.ndim != 3 or fmt not in ALPHA_IMAGE_FORMATS):
        left.append(f"its alpha channel ({fmt} has none; .png, .tif and .webp keep it)")
        alpha = None
    # an RGB picture takes an RGB profile only (a scan's GRAY or a print's CMYK profile would misdescribe it)
    space = icc[16:20].decode("ascii", "replace").strip() if icc is not None else ""
    if icc is not None and rgb.ndim == 3 and space != "RGB":
        left.append(f"its ICC profile (a {space} profile; the colorized picture is RGB)")
        icc = None
    elif icc is not None and (fmt not in ICC_IMAGE_FORMATS or (deep and fmt != "PNG")):
        left.append(f"its ICC profile ({'16-bit ' * deep}{fmt} is written without one here; .png keeps it)")
        icc = None
    keep_alpha, keep_icc = alpha is not None, icc is not None
    if keep_alpha:
        rgb = np.dstack([rgb, _same_depth(alpha, rgb.dtype)])
    if deep:
        import cv2

        bgr = rgb[..., [2, 1, 0, 3][: rgb.shape[2]]] if rgb.ndim == 3 else rgb  # OpenCV's channel order
        ok, data = cv2.imencode(DEEP_IMAGE_FORMATS[fmt], bgr)
        if not ok:
            raise OSError(f"OpenCV could not encode a 16-bit {fmt}")
        out = _png_with_icc(data.tobytes(), icc) if icc is not None else data.tobytes()
        write_atomic(final, lambda tmp: tmp.write_bytes(out))
        return left
    if rgb.dtype != np.uint8:
        raise ValueError(f"save_image: {rgb.dtype} pixels cannot be written as {fmt}")
    from PIL import Image

    extra: dict[str, object] = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    if keep_icc:
        extra["icc_profile"] = icc
    if keep_alpha and fmt == "WEBP":
        extra["exact"] = True  # keep the colour under transparent pixels, as PNG and TIFF do
    write_atomic(final, lambda tmp: Image.fromarray(rgb).save(tmp, format=fmt, **extra))
    return left


def write_picture(
    rgb: np.ndarray, path: Path, alpha: np.ndarray | None = None, icc: bytes | None = None
) -> tuple[list[str], bool]:
    """A colorized picture (HxWx3 uint8 or uint16) as the image file ``path`` names, written
    atomically: at 16 bits where its format holds them (PNG, TIFF), else at 8. Returns what was
    left out (see :func:`save_image`) and whether it was brought to 8 bits, for the caller to say."""
    fmt = IMAGE_OUTPUTS[path.suffix.lower()]
    reduced = rgb.dtype != np.uint8 and fmt not in DEEP_IMAGE_FORMATS
    try:
        left = save_image(to_8bit(rgb) if reduced else rgb, path, fmt, alpha, icc)
    except OSError as e:
        raise ProcessingError(f"{path}: cannot write image ({describe(e)})") from None
    return left, reduced


def _same_depth(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """8-bit samples as 16-bit (x 257: 255 -> 65535 exactly), 16-bit as 8-bit, or as they are."""
    if a.dtype == dtype:
        return a
    return a.astype(np.uint16) * 257 if dtype == np.uint16 else to_8bit(a)


def _png_with_icc(png: bytes, icc: bytes) -> bytes:
    """A PNG file with an iCCP chunk (the profile, zlib-compressed) put right after its IHDR chunk."""
    import zlib

    body = b"iCCP" + b"ICC profile\x00\x00" + zlib.compress(icc)
    chunk = (len(body) - 4).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 bytes of data, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _encoder_options(codec: str, s: EncodeSettings) -> dict[str, str]:
    if codec in ("libx264", "libx265"):
        # One encoder thread per core: x264's default (1.5x cores) oversubscribes small machines
        # while the model runs beside it (measured: 8.4 -> 9.0 fps end to end at 1080p on 2 cores).
        opts = {"crf": str(s.crf), "preset": s.preset, "threads": str(os.cpu_count() or 0)}
        if codec == "libx265":  # x265 prints its banner and stats to stderr itself, past FFmpeg's log level
            opts["x265-params"] = "log-level=error"
        if s.crf == 0:  # CRF 0 is lossless only for 8-bit x264: ask for the lossless mode itself
            del opts["crf"]
            opts.update({"qp": "0"} if codec == "libx264" else {"x265-params": "log-level=error:lossless=1"})
        return opts
    if codec == "libvpx-vp9":
        opts = {"crf": str(s.crf), "b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}
        return {**opts, "lossless": "1"} if s.crf == 0 else opts
    if codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr itself unless told (1: errors)
        return {"crf": str(s.crf), "preset": "8"}
    return {}


EVEN_ONLY = {"libx264", "libx265"}  # encoders that refuse 4:2:0 at odd sizes


def output_format(
    codec: str, spec: ColourSpec, width: int, height: int, exact_size: bool, pix_fmt: str | None = None
) -> tuple[str, bool, str]:
    """(pixel format, pad to even size?, note) for encoding working frames of ``spec`` with ``codec``.

    The source's depth is kept where the codec takes it (10-bit H.264/H.265/FFV1), else the nearest
    it takes, with a note. Odd sizes, which H.264/H.265 refuse in 4:2:0: padded by one repeated
    line (every player, browsers too), or with ``exact_size`` kept with 4:4:4 chroma."""
    formats = [f.name for f in av.codec.Codec(codec, "w").video_formats or []]
    odd = bool(width % 2 or height % 2) and codec in EVEN_ONLY
    want = spec.work_format.replace("420", "444") if odd and exact_size else spec.work_format
    if pix_fmt is not None:  # asked for: exactly that, or one clear line
        if formats and pix_fmt not in formats:
            raise BadInputError(f"--pix-fmt {pix_fmt}: {codec} takes {', '.join(formats)}")
        if odd and "420" in pix_fmt and exact_size:
            raise BadInputError(f"--pix-fmt {pix_fmt}: 4:2:0 needs an even size; drop --exact-size or ask for 4:4:4")
        return pix_fmt, odd and "420" in pix_fmt, ""
    notes = []
    if odd:
        notes.append(
            f"odd frame size {width}x{height}: "
            + (
                f"encoding {codec} with 4:4:4 chroma (exact size; many browsers do not play it)"
                if exact_size
                else f"padded to {width + width % 2}x{height + height % 2} with one repeated edge line, so every "
                "player takes it (--exact-size keeps the size with 4:4:4 chroma)"
            )
        )
    if formats and want not in formats:
        # the deepest format it takes up to the source's depth, 4:2:0 first (luma kept at that depth)
        depths = [""] + [f"{d}le" for d in (9, 10, 12, 14, 16) if d <= spec.bits]
        ranked = [f"yuv{c}p{d}" for d in reversed(depths) for c in ("420", "422", "444")]
        chosen = next(f for f in (*ranked, *formats) if f in formats)
        notes.append(f"{codec} does not take {want}: encoding {chosen}")
        want = chosen
    return want, odd and not exact_size, "; ".join(notes)


class VideoWriter:
    """Context manager: ``with VideoWriter(...) as w: w.write(frame)``; commits on clean exit."""

    def __init__(
        self,
        final: Path,
        info: VideoInfo,
        settings: EncodeSettings,
        spec: ColourSpec,
        metadata: dict,
        start: float = 0.0,
        duration: float | None = None,
        log: Log = lambda _m: None,
        fields: str | None = None,
        video_only: bool = False,
    ) -> None:
        self.final, self.info, self.settings, self.spec = final, info, settings, spec
        self.fields = fields  # "tff" | "bff": the frames hold two fields each, to be coded as such
        # a segment of a film: the video alone, no tags, no faststart; the join adds the rest once
        self.video_only = video_only
        self.fmt = container_format(final)
        self.tmp = temp_path(final)
        # The user's film is replaced only if it was there when the run began (check_output wanted --overwrite
        # then); one that appears meanwhile, another run's with the same -o, is never replaced (a segment is ours).
        self.replaces = video_only or final.exists()
        self.metadata, self.start, self.log = metadata, start, log
        # the audio's segment on the source's clock: user times count from the film's first frame
        self.source_start = info.start_time + start if start > 0 else 0.0
        self.end = info.start_time + start + duration if duration is not None else math.inf
        self.frames_written = 0
        self._offset: int | None = None  # pts shift (input time base) for segments
        self._last_pts: int | None = None  # the last pts given to the encoder
        self._retimed = 0
        self._audio: _SideStreams | None = None

    # -- lifecycle
    def __enter__(self) -> VideoWriter:
        faststart = self.fmt in ("mp4", "mov") and not self.video_only
        try:
            self.out = av.open(
                str(self.tmp), "w", format=self.fmt, options={"movflags": "+faststart"} if faststart else {}
            )
        except (av.error.FFmpegError, OSError) as e:
            what = "a segment" if self.video_only else "output"
            raise ProcessingError(f"{self.final}: cannot create {what} ({describe(e)})") from None
        try:
            self._setup_video()
            if not self.video_only:
                self._setup_side_streams()
        except BaseException:
            self._discard()
            raise
        return self

    def _setup_side_streams(self) -> None:
        self._audio = _SideStreams(self.info.path, self.out, self.fmt, self.source_start, self.end, self.log)
        self.out.metadata.update(self._audio.tags)  # title, date, ... of the source
        tags, disposition = self._audio.video_tags
        self.stream.metadata.update(tags)  # language, title of the picture
        if disposition is not None:
            self.stream.disposition = disposition
        ours = "colorized by vidcolor " + json.dumps(self.metadata, sort_keys=True)
        key = next((k for k in self.out.metadata if k.lower() == "comment"), None)  # Matroska: COMMENT
        theirs = self.out.metadata.pop(key) if key else ""
        self.out.metadata["comment"] = f"{theirs}\n{ours}" if theirs else ours  # theirs kept, ours last

    failed = "encoding failed"  # what an error while finishing the file is called

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            self._flush_video()
            if self._audio:
                self._audio.drain(math.inf)
            self.out.close()
        except (av.error.FFmpegError, OSError) as e:
            self._discard()
            raise ProcessingError(f"{self.final}: {self.failed} ({describe(e)})") from None
        except BaseException:
            self._discard()
            raise
        try:
            publish(self.tmp, self.final, replace=self.replaces)
        except FileExistsError:
            kept = self.final.with_name(f"{self.final.stem}.vidcolor-{os.getpid()}{self.final.suffix}")
            os.replace(self.tmp, kept)
            raise ProcessingError(
                f"{self.final}: appeared while this run was colorizing (another run with the same -o?) and was "
                f"not replaced; this run's result is {kept}"
            ) from None
        except OSError as e:
            self._discard()
            raise ProcessingError(f"{self.final}: cannot write the output ({describe(e)})") from None

    def _flush_video(self) -> None:
        for packet in self.stream.encode():  # the frames the encoder still holds
            self.out.mux(packet)

    def _discard(self) -> None:
        with contextlib.suppress(Exception):
            self.out.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    # -- video
    def _setup_video(self) -> None:
        info = self.info
        codec = self.settings.codec or DEFAULT_CODEC[self.fmt]
        if codec not in av.codecs_available:
            raise BadInputError(f"--codec {codec}: not available in this FFmpeg build")
        pix_fmt, self.pad, note = output_format(
            codec, self.spec, info.width, info.height, self.settings.exact_size, self.settings.pix_fmt
        )
        if note:
            self.log(f"note: {note}")
        try:
            stream = self.out.add_stream(codec, rate=info.rate or 25)
        except (av.error.FFmpegError, ValueError) as e:
            raise BadInputError(f"--codec {codec}: cannot encode into {self.final.suffix} ({describe(e)})") from None
        pad = (info.width % 2, info.height % 2) if self.pad else (0, 0)
        stream.width, stream.height, stream.pix_fmt = info.width + pad[0], info.height + pad[1], pix_fmt
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        cc = stream.codec_context
        cc.colorspace = int(self.spec.av_colorspace)
        cc.color_range = int(self.spec.av_range)  # the source's: limited ("tv") or full ("pc")
        # the source's primaries and transfer where it says them, else what its matrix implies
        implied = 1 if self.spec.matrix == "bt709" else 6
        cc.color_primaries = info.primaries if info.primaries not in (0, 2) else implied
        cc.color_trc = info.transfer if info.transfer not in (0, 2) else implied
        cc.thread_count = 0
        stream.options = _encoder_options(codec, self.settings)
        if self.fields and codec == "libx264":  # interlaced coding, field order kept
            stream.options = {**stream.options, "flags": "+ildct+ilme", "x264-params": f"{self.fields}=1"}
        elif self.fields:
            self.log(f"note: {codec} is given the fields woven as frames (interlaced coding only with libx264)")
        if info.rotation:
            stream.set_display_rotation(info.rotation)
        if info.sar:  # anamorphic (a 16:9 DVD): shown stretched, as the source is
            cc.sample_aspect_ratio = info.sar
        self.stream, self.pix_fmt = stream, pix_fmt

    def write(self, frame: av.VideoFrame) -> None:
        """Encode one frame; its pts (input time base) is kept, shifted for a segment, and never
        left at or before the previous frame's (:meth:`_pts`)."""
        if self._offset is None:  # a segment starts at its first frame; audio follows that frame
            self._offset = frame.pts if self.start > 0 and frame.pts is not None else 0
            if self._audio:
                self._audio.begin(float(self._offset * self.info.time_base))
        pts = self._pts(frame)
        t = float(pts * self.info.time_base)
        out = pad_even(frame) if self.pad else frame
        if out.format.name != self.pix_fmt:  # luma kept where the depth is; chroma resampled
            out = out.reformat(
                format=self.pix_fmt, src_color_range=self.spec.av_range, dst_color_range=self.spec.av_range
            )
        out.pts, out.time_base = pts, self.info.time_base
        out.pict_type = av.video.frame.PictureType.NONE
        try:  # audio too: the first mux writes the header, where a container can still refuse a stream
            if self._audio:
                self._audio.drain(t + self._audio.origin)
            for packet in self.stream.encode(out):
                self.out.mux(packet)
        except (av.error.FFmpegError, OSError) as e:
            raise ProcessingError(
                f"{self.final}: encoding failed at frame {self.frames_written} (t = {t:.3f} s): {describe(e)}; "
                "try an .mkv output (it takes the most codecs and timings), or --start/--duration to leave "
                "that part out"
            ) from None
        self._last_pts = pts
        self.frames_written += 1

    def _pts(self, frame: av.VideoFrame) -> int:
        """The frame's output pts: its own, shifted; or, when that is not after the previous frame's
        (timestamps out of order, repeated or missing), the previous one plus a frame at the
        stream's rate (one warning): encoders and muxers refuse time that goes back or stands
        still ("Invalid argument", "non monotonically increasing dts"), and the decoder gives
        the frames in the order they are shown."""
        pts = frame.pts - self._offset if frame.pts is not None else None
        if self._last_pts is None and pts is not None:
            return pts
        if self._last_pts is None:
            return 0
        if pts is not None and pts > self._last_pts:
            return pts
        step = max(1, round(1 / (float(self.info.rate or 25) * self.info.time_base)))
        if not self._retimed:
            said = f"{float(pts * self.info.time_base):.3f} s" if pts is not None else "no timestamp"
            self.log(
                f"warning: {self.info.path}: frame {self.frames_written} ({said}) is not after the one before it: "
                f"given {float((self._last_pts + step) * self.info.time_base):.3f} s, one frame later "
                "(so is any later frame like it)"
            )
        self._retimed += 1
        return self._last_pts + step


class JoinWriter(VideoWriter):
    """A :class:`VideoWriter` whose video is a film's segments' packets, copied (no re-encoding): the audio, subtitles,
    chapters and tags come from the source through the writer's own copier, as in a normal run."""

    def __init__(self, final: Path, info: VideoInfo, first_segment: Path, metadata: dict, log: Log) -> None:
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

    failed = "joining the segments failed"

    def _flush_video(self) -> None:
        return None  # packets copied: no encoder holds any

    def __exit__(self, exc_type, exc, tb) -> None:
        self.template.close()
        super().__exit__(exc_type, exc, tb)


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


STATISTICS = ("duration", "bps", "number_of_frames", "number_of_bytes", "_statistics", "encoder")


def _tags(metadata: dict[str, str]) -> dict[str, str]:
    """A stream's or container's tags worth keeping: language, title, dates, ...; not the ones that
    describe the old encoding (Matroska statistics, encoder), which would be wrong in the output."""
    return {k: v for k, v in metadata.items() if not k.lower().startswith(STATISTICS)}


# Subtitle codecs each container holds as a stream copy (text subtitles are not converted).


def _can_copy_subtitle(codec: str, fmt: str, out: av.container.OutputContainer) -> bool:
    return codec in COPYABLE_SUBTITLES.get(fmt, set()) and codec in out.supported_codecs


def _can_copy(codec: str, fmt: str, out: av.container.OutputContainer) -> bool:
    known = COPYABLE_AUDIO.get(fmt)
    return codec in out.supported_codecs and (known is None or codec in known)


def _transcoder(
    out: av.container.OutputContainer, codec: str, src: av.audio.codeccontext.AudioCodecContext
) -> tuple[av.audio.stream.AudioStream, av.AudioResampler]:
    """An output audio stream of ``codec`` for the source ``src``, and the resampler that feeds it:
    the sample format, rate and channel layout the encoder takes (Opus: 48/24/16/12/8 kHz, no
    44.1; AAC: planar float), as close to the source's as it allows."""
    spec = av.codec.Codec(codec, "w")
    rate = src.sample_rate or 48000
    rates = sorted(spec.audio_rates or [])
    if rates and rate not in rates:
        rate = next((r for r in rates if r >= rate), rates[-1])
    sample_fmt = spec.audio_formats[0].name if spec.audio_formats else "fltp"
    # by channel count: a source's "1 channels" (order unspecified, e.g. PCM in AVI) is refused by
    # encoders that take "mono"; more than 6 channels are folded down to 5.1
    channels = src.layout.nb_channels if src.layout else 1
    layout = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1"}.get(channels, "5.1")
    stream = out.add_stream(codec, rate=rate)
    stream.layout, stream.format = layout, sample_fmt
    n = av.AudioLayout(layout).nb_channels
    # 64 kb/s a channel, but never above what the rate allows (AAC refuses more than 6 bits a sample:
    # 128 kb/s at 11 kHz mono failed to open)
    stream.codec_context.bit_rate = min(64000 * n, 6 * rate * n)
    return stream, av.AudioResampler(format=sample_fmt, layout=layout, rate=rate)


class _SideStreams:
    """Copies what the source has besides its picture: audio streams (copied, or transcoded),
    subtitle streams the output container takes, chapters, and the tags (language, title,
    disposition) of every stream and of the container; interleaved with the video by time."""

    def __init__(self, src: Path, out: av.container.OutputContainer, fmt: str, start: float, end: float, log: Log):
        self.start, self.end, self.out = start, end, out
        self.origin = 0.0  # source time that becomes 0: the first video frame's, for a segment
        self.pairs: list[tuple] = []
        self.pending: av.Packet | None = None
        self.done = False
        self.packets: Iterator[av.Packet] = iter(())
        self.log, self.damaged = log, 0
        self.clock: dict[int, tuple[int, int]] = {}  # output stream index -> (shift, last dts), see _put
        self.src_name = src.name
        self.input = av.open(str(src), metadata_errors="ignore")
        self.tags = _tags(self.input.metadata)
        self.chapters = self.input.chapters()
        self.video_tags = next(
            ((_tags(v.metadata), v.disposition) for v in self.input.streams.video if v.codec_context is not None),
            ({}, None),
        )
        streams = []
        for s in self.input.streams.audio:
            if s.codec_context is None:  # a damaged header can leave a stream with no known codec
                log(f"warning: audio stream {s.index} of {src.name} has an unknown codec (damaged?): left out")
            else:
                streams.append(s)
        subtitles = []
        for s in self.input.streams.subtitles:
            codec = s.codec_context.name if s.codec_context is not None else "unknown"
            if _can_copy_subtitle(codec, fmt, out):
                subtitles.append(s)
            else:
                log(f"warning: subtitle stream {s.index} ({codec}) cannot go into {fmt}: left out (.mkv takes most)")
        for s in self.input.streams:  # nothing is dropped unsaid: timecode/data tracks, attached fonts
            if s.type in ("data", "attachment"):
                ctx = getattr(s, "codec_context", None)
                what = getattr(s, "name", None) or (ctx.name if ctx is not None else "unknown")  # a file's name
                log(f"warning: {s.type} stream {s.index} ({what}) of {src.name} is not copied: left out")
        if not streams and not subtitles:
            self.input.close()
            self.done = True
            return
        for s in subtitles:
            self.pairs.append((s, out.add_stream_from_template(s), None))
        for s in streams:
            if _can_copy(s.codec_context.name, fmt, out):
                self.pairs.append((s, out.add_stream_from_template(s), None))
            else:
                codec = FALLBACK_AUDIO.get(fmt, "aac")
                o, resampler = _transcoder(out, codec, s.codec_context)
                self.pairs.append((s, o, resampler))
                log(
                    f"note: audio stream {s.index} ({s.codec_context.name}, {s.codec_context.sample_rate} Hz) "
                    f"cannot be copied into {fmt}: transcoding to {codec}, {o.codec_context.sample_rate} Hz"
                )
        for s, o, _ in self.pairs:
            o.metadata.update(_tags(s.metadata))
            o.disposition = s.disposition
        self.map = {s.index: (o, dec) for s, o, dec in self.pairs}
        if start > 0:
            self.input.seek(int(start * av.time_base), backward=True)
        self.packets = self.input.demux(*[s for s, _, _ in self.pairs])

    def begin(self, origin: float) -> None:
        """Called with the first video frame, before anything is written: ``origin`` (source
        seconds) becomes 0; chapters are copied, shifted and cut to the segment."""
        self.origin = origin
        chapters = []
        for c in self.chapters:
            tb = c["time_base"]
            start, end = float(c["start"] * tb) - origin, float(c["end"] * tb) - origin
            if end <= 0 or start >= self.end - origin:
                continue
            chapters.append({**c, "start": max(0, round(start / tb)), "end": round(min(end, self.end - origin) / tb)})
        if chapters:
            self.out.set_chapters(chapters)

    def drain(self, until: float) -> None:
        """Mux audio packets whose time is at most ``until`` seconds (source clock)."""
        if self.done:
            return
        while True:
            try:
                pkt = self.pending or next(self.packets, None)
            except av.error.FFmpegError as e:  # damaged data the demuxer cannot read past
                self.log(f"warning: the audio stops at {until:.2f} s: damaged input ({describe(e)})")
                pkt = None
            self.pending = None
            if pkt is None:
                self._finish()
                return
            if pkt.dts is None and pkt.pts is None:
                continue
            t = float((pkt.pts if pkt.pts is not None else pkt.dts) * pkt.time_base)
            if t > until:
                self.pending = pkt
                return
            if t >= self.end:
                self._finish()
                return
            if self.origin > 0 and t < self.origin - 1e-6:
                end = t + float((pkt.duration or 0) * pkt.time_base)
                if self.map[pkt.stream.index][1] is None or end <= self.origin + 1e-6:
                    continue  # before the segment (a full run keeps priming packets with pts < 0)
            self._mux(pkt)

    def _mux(self, pkt: av.Packet) -> None:
        out_stream, transcode = self.map[pkt.stream.index]
        shift = round(self.origin / pkt.time_base)
        if transcode is None:  # whole packets: each at its own time, so in sync to the sample
            if pkt.pts is not None:
                pkt.pts -= shift
            if pkt.dts is not None:
                pkt.dts -= shift
            pkt.stream = out_stream
            self._put(pkt)
            return
        try:
            decoded = pkt.decode()
        except av.error.FFmpegError as e:  # one damaged packet is left out (a short gap), not the film
            self.damaged += 1
            if self.damaged == 1:
                self.log(f"warning: damaged audio packets are left out ({describe(e)})")
            return
        for frame in decoded:
            frame = self._from_origin(frame)
            if frame is None:
                continue
            for converted in transcode.resample(frame):
                for p in out_stream.encode(converted):
                    self._put(p)

    def _put(self, pkt: av.Packet) -> None:
        """Mux ``pkt`` on a clock that never goes back. Files joined end to end (``cat a.mpg b.mpg``)
        restart their clock part-way; muxers refuse time that goes back (the video is re-timed by
        :class:`VideoWriter`), so from there on the stream's packets are shifted to follow on
        (one warning)."""
        if pkt.dts is None:
            self.out.mux(pkt)
            return
        index = pkt.stream.index
        shift, last = self.clock.get(index, (0, None))
        dts = pkt.dts + shift
        if last is not None and (dts < last or (dts == last and pkt.stream.type == "audio")):
            if not any(s for s, _l in self.clock.values()):
                t = float((pkt.dts + shift) * pkt.time_base) + self.origin
                self.log(
                    f"note: the audio clock of {self.src_name} goes back at about {t:.2f} s "
                    "(files joined end to end?): it continues from there on"
                )
            shift += last + max(pkt.duration or 1, 1) - dts
            dts = pkt.dts + shift
        pkt.dts = dts
        if pkt.pts is not None:
            pkt.pts += shift
        self.clock[index] = (shift, dts)
        self.out.mux(pkt)

    def _from_origin(self, frame: av.AudioFrame) -> av.AudioFrame | None:
        """A decoded frame shifted so that ``origin`` is 0, its samples before ``origin`` and from
        ``end`` on cut off: transcoded audio starts exactly at the segment's first video frame and
        stops at the segment's end (a source packet that straddles it is not kept whole)."""
        if frame.pts is None or frame.time_base is None:
            return frame
        t = float(frame.pts * frame.time_base)
        skip = max(0, round((self.origin - t) * frame.sample_rate))
        keep = frame.samples - skip
        if math.isfinite(self.end):
            keep = min(keep, round((self.end - t) * frame.sample_rate) - skip)
        if keep <= 0:
            return None
        if skip > 0 or keep < frame.samples:
            a = frame.to_ndarray()
            n = 1 if frame.format.is_planar else frame.layout.nb_channels  # interleaved: channels per sample
            a = a[:, skip * n : (skip + keep) * n]
            cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(a), format=frame.format.name, layout=frame.layout)
            cut.sample_rate, cut.time_base = frame.sample_rate, frame.time_base
            cut.pts = frame.pts + round(skip / frame.sample_rate / frame.time_base)
            frame = cut
        frame.pts -= round(self.origin / frame.time_base)
        return frame

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        for _s, o, transcode in self.pairs:
            if transcode is not None:
                for converted in transcode.resample(None):
                    for p in o.encode(converted):
                        self._put(p)
                for p in o.encode():
                    self._put(p)
        self.input.close()


def warn_if_aspect_lost(info: VideoInfo, output: Path | None, log: Log) -> None:
    """Say so when the source's pixels are not square (a 16:9 DVD stores 720x480 pixels 32:27 wide)
    and the written ``output`` (None: a folder of frames, which keep the stored pixels) does not keep
    that: players would show the film squeezed. MP4 and MOV record it for any codec; Matroska and
    WebM only through the codec's own stream (H.264, H.265, MPEG-2 carry it; VP9, AV1, FFV1 and
    ProRes do not), and FFmpeg offers no other way to set it."""
    if info.sar is None:
        return
    sar = info.sar
    if output is None:
        log(
            f"warning: {info.path.name}: its pixels are {sar.numerator}:{sar.denominator}, not square; the frames "
            f"are written at its stored {info.width}x{info.height} (resize to {info.display_width}"
            f"x{info.height} to see them as the film is shown)"
        )
        return
    try:
        kept = probe(output).sar
    except BadInputError:
        return
    if kept != info.sar:
        shown = Fraction(info.width * info.sar, info.height)
        log(
            f"warning: {output.name}: the source's pixels are {info.sar.numerator}:{info.sar.denominator} "
            f"(shown {shown.numerator}:{shown.denominator}); this output does not keep that, so players show "
            f"it {info.width}x{info.height} squeezed (.mp4 and .mov keep it with any codec; .mkv with H.264, H.265 "
            "or MPEG-2)"
        )
