"""Every input audio reaches every output container (copied, or transcoded and resampled)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from make_media import gradient_frame
from vidcolor.cli import app

runner = CliRunner()
SECONDS = 1.2


def _mux_picture(out: av.container.OutputContainer, n: int, codec: str = "libx264") -> None:
    """``n`` gray 64x48 frames at 25 fps, encoded and flushed into ``out``."""
    v = out.add_stream(codec, rate=25)
    v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
    for i in range(n):
        f = av.VideoFrame.from_ndarray(gradient_frame(64, 48, t=i / 6, colour=False), format="rgb24")
        f.pts = i
        out.mux(v.encode(f))
    out.mux(v.encode())


def _mux_sound(stream: av.audio.stream.AudioStream, signal: np.ndarray, rate: int, sample_fmt: str = "fltp") -> None:
    """(channels, samples) float signal, 1024 samples a frame, into ``stream``'s format; flushed."""
    layout = stream.layout.name
    for i in range(0, signal.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(signal[:, i : i + 1024], np.float32), "fltp", layout)
        frame.sample_rate, frame.pts = rate, i
        for conv in av.AudioResampler(format=sample_fmt, layout=layout, rate=rate).resample(frame):
            stream.container.mux(stream.encode(conv))
    stream.container.mux(stream.encode())


def clip_with_audio(path: Path, codec: str, rate: int, layout: str, sample_fmt: str) -> Path:
    """A gray 64x48 clip of SECONDS at 25 fps with a tone in the given audio codec/rate/layout."""
    with av.open(str(path), "w") as out:
        a = out.add_stream(codec, rate=rate)
        a.layout, a.format = layout, sample_fmt
        _mux_picture(out, int(SECONDS * 25), "mpeg4" if path.suffix == ".avi" else "libx264")
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(SECONDS * rate)) / rate)
        _mux_sound(a, np.repeat(tone[None], av.AudioLayout(layout).nb_channels, 0), rate, sample_fmt)
    return path


def audio_seconds(path: Path) -> tuple[str, int, float]:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        n = sum(f.samples for f in c.decode(a))
        return a.codec_context.name, a.codec_context.sample_rate, n / a.codec_context.sample_rate


INPUTS = [  # (file, codec, rate, layout, sample format): the cases seen to fail, and their class
    ("aac44k.mp4", "aac", 44100, "stereo", "fltp"),  # Opus (WebM) has no 44.1 kHz
    ("pcm_u8_11k.avi", "pcm_u8", 11025, "mono", "u8"),  # AVI PCM reads back as "1 channels", AAC refused it
    ("flac96k_51.mkv", "flac", 96000, "5.1", "s16"),
]


@pytest.mark.parametrize("src", INPUTS, ids=[i[0] for i in INPUTS])
@pytest.mark.parametrize("ext", [".mp4", ".webm", ".mkv", ".mov"])
def test_input_audio_reaches_every_container(tmp_path, tiny_model, src, ext):
    name, codec, rate, layout, fmt = src
    inp = clip_with_audio(tmp_path / name, codec, rate, layout, fmt)
    out = tmp_path / f"out{ext}"
    r = runner.invoke(app, [str(inp), "-o", str(out), "--model", str(tiny_model), "--engine", "eager", "--quiet"])
    assert r.exit_code == 0, r.output
    _, _, want = audio_seconds(inp)
    got_codec, got_rate, got = audio_seconds(out)
    assert abs(got - want) < 0.1, (got_codec, got_rate, got, want)  # resampled, not sped up or cut


def _clicks_clip(path: Path, rate: int = 44100) -> Path:
    """2 s at 25 fps with a click every 0.1 s (an AAC track): a timing ruler for the audio."""
    with av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=rate, layout="mono")
        _mux_picture(out, 50)
        sig = np.zeros((1, 2 * rate), np.float32)
        sig[0, (np.arange(20) * 0.1 * rate).astype(int)] = 0.9
        _mux_sound(a, sig, rate)
    return path


def _audio_after_first_frame(path: Path, seconds: float, length: float = 0.8) -> np.ndarray:
    """Mono 48 kHz audio from ``seconds`` after the first video frame, for ``length`` seconds."""
    with av.open(str(path)) as c:
        first = next(c.decode(video=0)).time
    with av.open(str(path)) as c:
        res, chunks, t0 = av.AudioResampler(format="flt", layout="mono", rate=48000), [], None
        for f in c.decode(audio=0):
            for g in res.resample(f):
                t0 = g.time if t0 is None else t0
                chunks.append(g.to_ndarray()[0])
    a = np.concatenate(chunks)
    i = round((first + seconds - t0) * 48000)
    return a[i : i + round(length * 48000)]


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".webm"])  # AAC copied; transcoded to Opus for WebM
def test_audio_stays_in_sync_with_a_segment(tmp_path, tiny_model, ext):
    """--start 0.53 on a 25 fps film: the segment starts at the frame at 0.56, and the audio must
    start with it. Was: the audio was shifted by 0.53 instead, 30 ms late (1440 samples)."""
    src = _clicks_clip(tmp_path / "clicks.mp4")
    out = tmp_path / f"out{ext}"
    r = runner.invoke(app, [str(src), "-o", str(out), "--model", str(tiny_model), "--start", "0.53", "--quiet"])
    assert r.exit_code == 0, r.output
    want, got = _audio_after_first_frame(src, 0.56 + 0.1), _audio_after_first_frame(out, 0.1)
    n = len(want) - 400
    lags = np.arange(-1600, 1601)
    got = np.pad(got, (1600, 1600 + len(want)))
    lag = lags[np.argmax([np.dot(want[200 : 200 + n], got[1800 + k : 1800 + k + n]) for k in lags])]
    assert abs(lag) <= 48, lag  # within 1 ms: MP4 edit lists and Matroska time stamps count milliseconds


def _film_with_everything(folder: Path) -> Path:
    """An MKV with a title and comment, a French commentary track (default), English SubRip
    subtitles and two chapters: what an archive's masters carry besides the picture."""
    from fractions import Fraction

    srt = folder / "s.srt"
    srt.write_text("1\n00:00:00,200 --> 00:00:00,800\nHello\n\n2\n00:00:01,000 --> 00:00:01,500\nWorld\n")
    path = folder / "film.mkv"
    with av.open(str(srt)) as subs, av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=48000, layout="mono")
        a.metadata.update(language="fra", title="commentary")
        a.disposition = av.stream.Disposition.default
        s = out.add_stream_from_template(subs.streams.subtitles[0])
        s.metadata["language"] = "eng"
        out.metadata.update(title="Reel 3", comment="scanned 2019")
        ms = Fraction(1, 1000)
        out.set_chapters(
            [
                {"id": 1, "start": 0, "end": 800, "time_base": ms, "metadata": {"title": "Opening"}},
                {"id": 2, "start": 800, "end": 2000, "time_base": ms, "metadata": {"title": "Street"}},
            ]
        )
        _mux_picture(out, 50)  # adds the last stream, then writes the header
        _mux_sound(a, 0.3 * np.sin(np.arange(96000) / 10)[None], 48000)
        for p in subs.demux(subs.streams.subtitles[0]):
            if p.size:
                p.stream = s
                out.mux(p)
    return path


def test_subtitles_chapters_and_tags_are_kept(tmp_path, tiny_model):
    """Was: only video and audio were written; subtitles, chapters, the title, the source's comment
    and the audio's language, title and disposition were lost."""
    src = _film_with_everything(tmp_path)
    for name, extra in (("out.mkv", []), ("seg.mkv", ["--start", "0.5"]), ("out.mp4", [])):
        out = tmp_path / name
        r = runner.invoke(app, [str(src), "-o", str(out), "--model", str(tiny_model), "--quiet", *extra])
        assert r.exit_code == 0, r.output
        with av.open(str(out)) as c:
            tags = {k.lower(): v for k, v in c.metadata.items()}
            assert tags["title"] == "Reel 3" and tags["comment"].startswith("scanned 2019\ncolorized by vidcolor")
            audio = c.streams.audio[0]
            assert audio.metadata["language"] == "fra" and "commentary" in audio.metadata.values()
            assert audio.disposition & av.stream.Disposition.default
            chapters = [
                (round(float(ch["start"] * ch["time_base"]), 3), ch["metadata"]["title"]) for ch in c.chapters()
            ]
            shift = 0.52 if extra else 0.0  # the segment starts at the frame at 0.52
            assert chapters == [(0.0, "Opening"), (round(0.8 - shift, 3), "Street")]
            if name.endswith(".mkv"):  # MP4 holds only mov_text subtitles: left out with a note
                subs = c.streams.subtitles[0]
                assert subs.metadata["language"] == "eng"
                cues = [(round(float(p.pts * p.time_base), 3), bytes(p)) for p in c.demux(subs) if p.size]
                assert cues == ([(0.48, b"World")] if extra else [(0.2, b"Hello"), (1.0, b"World")])


@pytest.mark.parametrize("ext", [".webm", ".mp4"])  # PCM cannot be copied into either: Opus / AAC
def test_transcoded_audio_of_a_segment_ends_with_the_segment(tmp_path, tiny_model, ext):
    """Was: the last source packet (PCM packs ~1500 samples) was kept whole, 15-96 ms past the end."""
    src = clip_with_audio(tmp_path / "pcm.mov", "pcm_s16le", 48000, "stereo", "s16")
    out = tmp_path / f"out{ext}"
    r = runner.invoke(
        app, [str(src), "-o", str(out), "--model", str(tiny_model), "--start", "0.2", "--duration", "0.8"]
    )
    assert r.exit_code == 0, r.output
    _codec, rate, got = audio_seconds(out)
    frame = 1024 / rate if ext == ".mp4" else 0.0  # AAC fills its last 1024-sample frame
    assert 0.8 - 1e-3 <= got <= 0.8 + frame + 1e-3, got


def test_every_stream_left_out_is_a_warning_even_under_quiet(tmp_path, tiny_model):
    """A subtitle the container cannot take, an attached font: left out with a warning that ``-q``
    keeps (was: a note that ``-q`` hid, and nothing at all for attachments)."""
    src = _film_with_everything(tmp_path)
    with_font = tmp_path / "font.mkv"
    with av.open(str(src)) as i, av.open(str(with_font), "w") as o:
        pairs = {s.index: o.add_stream_from_template(s) for s in i.streams}
        o.add_attachment("font.ttf", "application/x-truetype-font", b"\0" * 64)
        for p in i.demux():
            if p.dts is not None:
                p.stream = pairs[p.stream.index]
                o.mux(p)
    out = tmp_path / "out.mp4"
    r = runner.invoke(app, [str(with_font), "-o", str(out), "--model", str(tiny_model), "-q"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert any(x.startswith("warning: subtitle stream") and "left out" in x for x in lines), r.output
    assert any(x.startswith("warning: attachment stream") and "left out" in x for x in lines), r.output
