"""Generate small test media with PyAV and Pillow (tests make their own inputs)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def gradient_frame(w: int, h: int, t: float = 0.0, colour: bool = True) -> np.ndarray:
    """A colourful HxWx3 uint8 test picture whose content shifts with ``t``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 0.5 + 0.5 * np.sin(xx / max(w, 1) * 6.28 + t)
    g = 0.5 + 0.5 * np.cos(yy / max(h, 1) * 6.28 - t)
    b = 0.5 + 0.5 * np.sin((xx + yy) / max(w + h, 1) * 9.0 + 2 * t)
    rgb = np.stack([r, g, b], -1)
    if not colour:
        rgb = np.repeat(rgb.mean(-1, keepdims=True), 3, -1)
    return (rgb * 255).round().astype(np.uint8)


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    audio: bool = False,
    rotation: int = 0,
    options: dict[str, str] | None = None,
    audio_codec: str = "aac",
    audio_rate: int = 48000,
    sar: Fraction | None = None,
) -> Path:
    """Encode RGB uint8 frames into ``path``, streaming (a long clip is never held whole).

    ``pts`` (in ``time_base``) gives variable timing; ``audio`` adds a 440 Hz tone as long as
    the video (``audio_codec`` at ``audio_rate``: AAC 48 kHz, or MP2/AC-3 for MPEG-PS);
    ``rotation`` writes a display matrix; ``sar`` non-square pixels (32/27: a 16:9 NTSC DVD).
    """
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    count = 0
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        if options:
            stream.options = options  # encoder options, e.g. x264-params for a fixed keyframe interval
        if time_base is not None:
            stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(rotation)
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
        astream = out.add_stream(audio_codec, rate=audio_rate, layout="mono") if audio else None
        for i, arr in enumerate(itertools.chain([first], frames)):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for packet in stream.encode(frame):
                out.mux(packet)
            count += 1
        for packet in stream.encode():
            out.mux(packet)
        if astream is not None:
            n = int(count / fps * audio_rate)
            for i in range(0, n, 1024):
                t = np.arange(i, min(n, i + 1024)) / audio_rate
                chunk = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                af = av.AudioFrame.from_ndarray(chunk[None], format="fltp", layout="mono")
                af.sample_rate, af.pts = audio_rate, i  # PyAV converts to the encoder's format and frame size
                for packet in astream.encode(af):
                    out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
    return path


def read_frames(path: Path, fmt: str = "rgb24") -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format=fmt) for f in c.decode(video=0)]


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [bytes(p) for p in c.demux(audio=0) if p.size]


def write_image(path: Path, arr: np.ndarray) -> Path:
    Image.fromarray(arr).save(path)
    return path


def luma_planes(path: Path) -> tuple[list[np.ndarray], str, int]:
    """The Y planes of every frame at their own depth (uint8 or uint16), the pixel format and the
    colour range (1 limited, 2 full) of the first frame."""
    planes, fmt, rng = [], "", 0
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            p = f.planes[0]
            dtype = np.uint16 if f.format.components[0].bits > 8 else np.uint8
            rows = np.frombuffer(memoryview(p), dtype).reshape(-1, p.line_size // np.dtype(dtype).itemsize)
            planes.append(rows[: p.height, : p.width].copy())
            fmt, rng = fmt or f.format.name, rng or int(f.color_range or 0)
    return planes, fmt, rng


VOP = b"\x00\x00\x01\xb6"  # MPEG-4 Part 2: a picture (VOP) starts here


def _vop_type(data: bytes) -> int:
    """0 I, 1 P, 2 B, 3 S: the first VOP's coding type."""
    return data[data.index(VOP) + 4] >> 6


def _n_vop() -> bytes:
    """A "not coded" P-VOP (for 1/25 s timing: a 5-bit time increment): a packed stream's placeholder."""
    bits = "01" + "0" + "1" + "00000" + "1" + "0"  # type P, modulo time base, marker, increment, marker, not coded
    bits += "0" + "1" * ((8 - (len(bits) + 1) % 8) % 8)  # stuffing to the byte
    return VOP + int(bits, 2).to_bytes(len(bits) // 8, "big")


def write_packed_avi(path: Path, frames: list[np.ndarray], fps: int = 25, bframes: int = 1, tag: str = "DX50") -> Path:
    """An AVI of MPEG-4 Part 2 with *packed* B-frames, as DivX 5 and Xvid wrote them: each
    reference picture shares its chunk with the first B-picture after it, a B-picture takes the
    next chunk, then an N-VOP keeps one chunk a frame; the user data says "packed" (DivX503b1393p).
    FFmpeg's encoder cannot write this form: its packets are packed here. AVI stores no display
    times, so the demuxer guesses them, out of order."""
    h, w = frames[0].shape[:2]
    enc = av.CodecContext.create("mpeg4", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base, enc.framerate, enc.max_b_frames, enc.gop_size = Fraction(1, fps), fps, bframes, 50
    enc.open()
    packets: list[bytes] = []
    for i, arr in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(arr, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += [bytes(p) for p in enc.encode(frame)]
    packets += [bytes(p) for p in enc.encode(None)]
    first = packets[0].index(VOP)
    packets[0] = packets[0][:first] + b"\x00\x00\x01\xb2DivX503b1393p" + packets[0][first:]
    chunks: list[tuple[bytes, bool]] = []
    i = 0
    while i < len(packets):
        ref, j = packets[i], i + 1
        while j < len(packets) and _vop_type(packets[j]) == 2:
            j += 1
        bs = packets[i + 1 : j]
        key = _vop_type(ref) == 0
        chunks += [(ref + bs[0], key), *((b, False) for b in bs[1:]), (_n_vop(), False)] if bs else [(ref, key)]
        i = j
    with av.open(str(path), "w", format="avi") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt, stream.codec_tag = w, h, "yuv420p", tag
        stream.time_base = Fraction(1, fps)
        for k, (data, key) in enumerate(chunks):
            packet = av.Packet(data)
            packet.pts = packet.dts = k
            packet.time_base, packet.is_keyframe, packet.stream = Fraction(1, fps), key, stream
            out.mux(packet)
    return path


def truncated_clip(path: Path, frames: int = 100, keep: float = 0.3) -> Path:
    """An H.264 MP4 of noise (every frame costs bytes, so a cut falls mid-film) with its index
    first (``+faststart``: the cut keeps it), cut to ``keep`` of its bytes: it decodes part-way."""
    rng = np.random.default_rng(0)
    whole = path.with_name(path.name + ".whole.mp4")
    with av.open(str(whole), "w", options={"movflags": "+faststart"}) as o:
        s = o.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), np.uint8), format="rgb24")
            f.pts = i
            o.mux(s.encode(f))
        o.mux(s.encode())
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
