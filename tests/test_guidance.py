"""Guided colorization: references and hints, their matching and propagation, and the workflow."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from make_media import gradient_frame, read_frames, write_image, write_video
from vidcolor.cli import app
from vidcolor.errors import BadInputError
from vidcolor.guidance import Guidance, is_guidance_file, load_hints, load_references, parse_timed
from vidcolor.propagate import Guide, PropagationConfig, fuse, match, point_guide, spread, warp

runner = CliRunner()
CFG = PropagationConfig()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def luma_gray(rgb: np.ndarray) -> np.ndarray:
    """What a B&W copy of a colour frame holds: its BT.601 luma on all three channels."""
    y = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).round().astype(np.uint8)
    return np.repeat(y[..., None], 3, -1)


def stripes(w: int, h: int, t: float) -> np.ndarray:
    """A second kind of content (diagonal stripes in other colours), for a second shot."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    s = 0.5 + 0.5 * np.sin((xx - 2 * yy) / 5.0 + t)
    rgb = np.stack([0.2 + 0.6 * s, 0.8 - 0.5 * s, 0.3 + 0.2 * s], -1)
    return (rgb * 255).round().astype(np.uint8)


def two_shots(n: int = 8, w: int = 96, h: int = 64) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Colour truth of a clip: shot A (a camera panning over a colour gradient) then shot B (stripes)."""
    scene = gradient_frame(w + 3 * n, h + 8, t=0.5)
    a = [np.ascontiguousarray(scene[4 : 4 + h, 3 * i : 3 * i + w]) for i in range(n)]
    b = [stripes(w, h, t=i / 10) for i in range(n)]
    return a, b


def chroma(path: Path) -> np.ndarray:
    return np.stack(read_frames(path, "yuv444p"))[:, 1:].astype(np.float64)


# ---------------------------------------------------------------- parsing and loading


def test_timed_specs(tmp_path):
    assert parse_timed("12.5:ref.png", "--reference") == (12.5, Path("ref.png"))
    assert parse_timed("ref.png", "--reference") == (None, Path("ref.png"))
    odd = tmp_path / "3:odd.png"  # a file whose name has a colon is taken as it is
    odd.write_bytes(b"x")
    assert parse_timed(str(odd), "--reference") == (None, odd)
    with pytest.raises(BadInputError, match="seconds"):
        parse_timed("-2:ref.png", "--reference")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("[{'x': 0.5}", "not valid JSON"),
        ('{"x": 0.5}', "JSON list"),
        ('[{"x": 1.5, "y": 0.5, "rgb": [1, 2, 3]}]', "x .fraction of the width"),
        ('[{"x": 0.5, "y": 0.5, "rgb": [1, 2, 300]}]', "rgb"),
        ('[{"x": 0.5, "y": 0.5}]', "needs x, y and rgb"),
        ('[{"x": 0.5, "y": 0.5, "rgb": [1, 2, 3], "t": -1}]', "t .seconds"),
        ("[]", "no points"),
    ],
)
def test_bad_hint_files_name_the_problem(tmp_path, doc, message):
    f = tmp_path / "hints.json"
    f.write_text(doc)
    with pytest.raises(BadInputError, match=message):
        load_hints(str(f))


def test_hint_times_and_images(tmp_path):
    f = tmp_path / "h.json"
    f.write_text('[{"x": 0.1, "y": 0.2, "rgb": [255, 0, 0]}, {"x": 0.9, "y": 0.9, "rgb": [0, 0, 255], "t": 4}]')
    h = load_hints(f"2.5:{f}")
    assert [p[0] for p in h.points] == [2.5, 4.0]  # the T: prefix is the default, a point's own t wins
    with pytest.raises(BadInputError, match="is a folder"):
        load_hints(str(tmp_path))
    no_alpha = write_image(tmp_path / "strokes.png", gradient_frame(32, 32))
    with pytest.raises(BadInputError, match="no alpha"):
        load_hints(str(no_alpha))
    clear = tmp_path / "clear.png"
    from PIL import Image

    Image.fromarray(np.zeros((32, 32, 4), np.uint8)).save(clear)
    with pytest.raises(BadInputError, match="no opaque"):
        load_hints(str(clear))


def test_references_refuse_gray_and_tiny_and_skip_gray_in_folders(tmp_path):
    gray = write_image(tmp_path / "gray.png", gradient_frame(64, 48, colour=False))
    with pytest.raises(BadInputError, match="no colour"):
        load_references([str(gray)])
    tiny = write_image(tmp_path / "tiny.png", gradient_frame(8, 8))
    with pytest.raises(BadInputError, match="too small"):
        load_references([str(tiny)])
    folder = tmp_path / "keys"
    folder.mkdir()
    write_image(folder / "shot0000_t0.000s.png", gradient_frame(64, 48, colour=False))
    write_image(folder / "shot0001_t1.250s.png", gradient_frame(64, 48))
    notes: list[str] = []
    refs = load_references([str(folder)], notes.append)
    assert [(r.path.name, r.t) for r in refs] == [("shot0001_t1.250s.png", 1.25)]  # pinned by its name
    assert "skipped 1 gray" in notes[0]
    (folder / "shot0001_t1.250s.png").unlink()
    with pytest.raises(BadInputError, match="no colour image"):
        load_references([str(folder)])


def test_guidance_digest_follows_content(tmp_path):
    f = tmp_path / "h.json"
    f.write_text('[{"x": 0.1, "y": 0.2, "rgb": [255, 0, 0]}]')
    d1 = Guidance.load([], [str(f)]).digest()
    f.write_text('[{"x": 0.1, "y": 0.2, "rgb": [0, 255, 0]}]')
    assert Guidance.load([], [str(f)]).digest() != d1
    assert Guidance().digest() == "" and not Guidance()


def test_batch_convention_files_are_not_inputs():
    assert is_guidance_file(Path("reel1/film.ref/shot0000_t0.000s.png"))
    assert is_guidance_file(Path("film.hints.json")) and is_guidance_file(Path("film.ref.png"))
    assert not is_guidance_file(Path("film.mp4")) and not is_guidance_file(Path("references/film.png"))


# ---------------------------------------------------------------- the maths


def gray_L(rgb: np.ndarray) -> torch.Tensor:
    from vidcolor.color import uint8_rgb_to_L

    return uint8_rgb_to_L(torch.from_numpy(luma_gray(rgb)).permute(2, 0, 1)[None])[0]


def test_match_finds_a_shifted_picture_and_rejects_another():
    ref = gradient_frame(96, 64, t=0.0)
    ref_L = gray_L(ref)
    ref_ab = torch.rand(2, 64, 96) - 0.5
    moved = np.roll(ref, 3, axis=1)  # the same content 3 px to the right
    g = match(gray_L(moved), ref_L, ref_ab, CFG)
    assert g.coverage > 0.7
    inner = (slice(8, 56), slice(12, 90))
    err = (g.ab[:, inner[0], inner[1]] - ref_ab[:, 8:56, 9:87]).abs()
    assert float(err[(g.c[:, inner[0], inner[1]] > 0.5).expand_as(err)].mean()) < 0.02
    other = match(gray_L(stripes(96, 64, 0.0)), ref_L, ref_ab, CFG)
    assert other.coverage < CFG.gate


def test_warp_with_zero_flow_is_identity():
    x = torch.rand(3, 20, 30)
    assert torch.allclose(warp(x, torch.zeros(2, 20, 30)), x, atol=1e-5)


def test_fuse_keeps_automatic_colour_without_guide_and_takes_a_sure_guide():
    L = torch.zeros(1, 32, 48)
    ab = torch.full((2, 32, 48), 0.1)
    assert fuse(L, ab, Guide.empty(32, 48), CFG) is ab
    sure = Guide(torch.full((2, 32, 48), -0.3), torch.ones(1, 32, 48))
    assert torch.allclose(fuse(L, ab, sure, CFG), sure.ab)


def test_spread_carries_a_point_within_its_region_not_across_an_edge():
    L = torch.full((1, 64, 64), -0.5)
    L[:, :, 32:] = 0.7  # a strong edge down the middle
    g = point_guide(torch.tensor([[0.25, 0.5, 0.4, 0.0, 1.0]]), 64, 64, CFG)
    out = spread(L, g.ab, g.c, CFG)
    near, same_side, across = out[0, 32, 16], out[0, 10, 4], out[0, 32, 48]
    assert float(near) > 0.3 and float(same_side) > 0.15
    assert float(across) < 0.3 * float(same_side)  # the edge stops the colour
    assert torch.equal(spread(L, g.ab, torch.zeros_like(g.c), CFG), torch.zeros_like(g.ab))


# ---------------------------------------------------------------- end to end


@pytest.fixture
def two_shot_clip(tmp_path):
    a, b = two_shots()
    src = write_video(tmp_path / "two shots [1].mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    ref = write_image(tmp_path / "ref A.png", a[0])
    return src, ref, a, b


def test_a_reference_guides_its_shot_and_never_leaks_across_the_cut(tmp_path, tiny_model, two_shot_clip):
    src, ref, a, _b = two_shot_clip
    common = ("--model", tiny_model, "--engine", "eager", "--crf", "0", "--quiet")
    auto, guided = tmp_path / "auto.mkv", tmp_path / "guided.mkv"
    assert run(src, "-o", auto, *common).exit_code == 0
    r = run(src, "-o", guided, "--reference", ref, *common)
    assert r.exit_code == 0, r.output
    ca, cg = chroma(auto), chroma(guided)
    truth = np.stack([f for f in a]).astype(np.uint8)
    import av

    t = np.stack(
        [av.VideoFrame.from_ndarray(f, format="rgb24").to_ndarray(format="yuv444p")[1:] for f in truth]
    ).astype(np.float64)
    err_auto, err_guided = np.abs(ca[:8] - t).mean(), np.abs(cg[:8] - t).mean()
    assert err_guided < 0.5 * err_auto, (err_auto, err_guided)  # shot A takes the reference's colour
    assert np.abs(cg[7] - t[7]).mean() < 0.5 * np.abs(ca[7] - t[7]).mean()  # still at the shot's end
    assert np.array_equal(cg[8:], ca[8:])  # shot B: exactly the automatic colour


def test_keyframes_then_reference_folder_pins_each_to_its_shot(tmp_path, tiny_model, two_shot_clip):
    src, _ref, _a, b = two_shot_clip
    keys = tmp_path / "keys"
    r = run("keyframes", src, "-o", keys, "--quiet")
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in keys.iterdir())
    assert names == ["shot0000_t0.000s.png", "shot0001_t0.667s.png"]
    write_image(keys / names[1], b[0])  # the user colours shot B's keyframe only
    coloured = (keys / names[1]).read_bytes()
    (keys / names[0]).unlink()  # as if a run had been killed before writing it
    r = run("keyframes", src, "-o", keys)  # a second run finishes the folder and keeps the user's work
    assert r.exit_code == 0 and "kept 1 keyframe" in r.output, r.output
    assert sorted(p.name for p in keys.iterdir()) == names and (keys / names[1]).read_bytes() == coloured
    common = ("--model", tiny_model, "--engine", "eager", "--crf", "0", "--quiet")
    auto, guided = tmp_path / "auto.mkv", tmp_path / "guided.mkv"
    assert run(src, "-o", auto, *common).exit_code == 0
    assert run(src, "-o", guided, "--reference", keys, *common).exit_code == 0
    ca, cg = chroma(auto), chroma(guided)
    assert np.array_equal(cg[:8], ca[:8])  # shot A had no coloured keyframe
    assert not np.array_equal(cg[8:], ca[8:])


def test_hints_on_a_photo_colour_their_region(tmp_path, tiny_model):
    photo = write_image(tmp_path / "p.png", luma_gray(gradient_frame(96, 64)))
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps([{"x": 0.5, "y": 0.5, "rgb": [40, 60, 230]}]))
    common = ("--model", tiny_model, "--engine", "eager", "--quiet")
    assert run(photo, "-o", tmp_path / "auto.png", *common).exit_code == 0
    r = run(photo, "-o", tmp_path / "guided.png", "--hints", hints, *common)
    assert r.exit_code == 0, r.output
    auto, guided = (read_frames(tmp_path / n)[0].astype(int) for n in ("auto.png", "guided.png"))
    blue = lambda im: (im[28:36, 44:52, 2] - im[28:36, 44:52, 0]).mean()  # noqa: E731
    assert blue(guided) > blue(auto) + 40


def test_hostile_guidance_is_one_line_and_loses_nothing(tmp_path, tiny_model, two_shot_clip):
    src, ref, _a, _b = two_shot_clip
    out = tmp_path / "out.mkv"
    common = ("--model", tiny_model, "--engine", "eager")
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    r = run(src, "-o", out, "--hints", bad, *common)
    assert r.exit_code == 2 and "not valid JSON" in r.output and "Traceback" not in r.output
    assert not out.exists()
    late = tmp_path / "late.json"
    late.write_text('[{"x": 0.5, "y": 0.5, "rgb": [200, 0, 0], "t": 99}]')
    r = run(src, "-o", out, "--hints", late, *common, "--quiet")
    assert r.exit_code == 0 and out.exists()  # a warning, not an error: the film is still colorized
    r = run(src, "-o", out, "--hints", late, *common, "--overwrite")
    assert "past the end" in r.output
    elsewhere = write_image(
        tmp_path / "noise.png", (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    )
    r = run(src, "-o", out, "--reference", elsewhere, *common, "--overwrite")
    assert r.exit_code == 0 and "guided no frame" in r.output
    r = run(src, "-o", out, "--reference", "5:" + str(ref), *common, "--overwrite")
    assert r.exit_code == 0 and "past the end" in r.output


def test_batch_picks_up_guidance_beside_each_file_and_redoes_when_it_changes(tmp_path, tiny_model, two_shot_clip):
    src, _ref, _a, _b = two_shot_clip
    archive = tmp_path / "archive"
    archive.mkdir()
    film = archive / "film.mkv"
    film.write_bytes(src.read_bytes())
    hints = archive / "film.hints.json"
    hints.write_text(json.dumps([{"x": 0.5, "y": 0.5, "rgb": [200, 30, 40]}]))
    out = tmp_path / "out"
    common = ("--model", tiny_model, "--engine", "eager", "--quiet")
    assert run("batch", archive, "-o", out, *common).exit_code == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("vidcolor-manifest")) == ["film.mkv"]
    hints.write_text(json.dumps([{"x": 0.5, "y": 0.5, "rgb": [30, 200, 40]}]))
    assert run("batch", archive, "-o", out, *common).exit_code == 0
    done = [json.loads(line) for line in (out / "vidcolor-manifest.jsonl").read_text().splitlines()]
    done = [d for d in done if d["status"] == "done"]
    assert len(done) == 2 and done[0]["settings"] != done[1]["settings"]  # new guidance: redone
    assert run("batch", archive, "-o", out, *common).exit_code == 0
    assert (out / "vidcolor-manifest.jsonl").read_text().count('"done"') == 2  # unchanged: skipped


def test_eval_reports_guided_beside_automatic_and_gray(tmp_path, tiny_model):
    a, _b = two_shots(n=10)
    clip = write_video(tmp_path / "truth.mkv", a, fps=12, codec="ffv1")
    photo = write_image(tmp_path / "truth.png", gradient_frame(96, 64, t=1))
    out = tmp_path / "e.json"
    r = run(
        "eval", clip, photo, "--reference", "first", "--hints", "8", "--json", out,
        "--model", tiny_model, "--engine", "eager", "--quiet",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    clip_scores = doc["items"][0]["scores"]
    assert set(clip_scores) == {"vidcolor", "guided", "gray baseline"}
    assert clip_scores["guided"]["psnr"] > clip_scores["vidcolor"]["psnr"] + 3
    assert clip_scores["guided"]["psnr_last"] > clip_scores["vidcolor"]["psnr_last"] + 3
    assert doc["items"][1]["scores"]["guided"]["psnr"] > doc["items"][1]["scores"]["vidcolor"]["psnr"]
    assert run("eval", clip, "--reference", "last", "--model", tiny_model).exit_code == 2


def test_batch_records_broken_guidance_as_that_files_failure_and_goes_on(tmp_path, tiny_model, two_shot_clip):
    src, _ref, _a, _b = two_shot_clip
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in ("a.mkv", "b.mkv"):
        (archive / name).write_bytes(src.read_bytes())
    (archive / "a.hints.json").write_text("{not json")
    out = tmp_path / "out"
    r = run("batch", archive, "-o", out, "--model", tiny_model, "--engine", "eager", "--quiet")
    assert r.exit_code == 1  # a failure happened, and is reported at the end
    records = [json.loads(line) for line in (out / "vidcolor-manifest.jsonl").read_text().splitlines()]
    last = {rec["rel"]: rec for rec in records}
    assert last["a.mkv"]["status"] == "failed" and "not valid JSON" in last["a.mkv"]["error"]
    assert last["b.mkv"]["status"] == "done" and (out / "b.mkv").exists() and not (out / "a.mkv").exists()


def test_eval_gray_copy_of_a_full_range_clip_keeps_its_contrast(tmp_path):
    from vidcolor.evaluate import write_gray_video

    frames = [gradient_frame(64, 48, t=i / 4) for i in range(4)]
    truth = write_video(tmp_path / "phone.mkv", frames, codec="mjpeg", pix_fmt="yuvj420p")
    n = write_gray_video(truth, tmp_path / "gray.mkv", 10)
    assert n == 4
    got = np.stack(read_frames(tmp_path / "gray.mkv"))[..., 0].astype(float)
    want = np.stack([luma_gray(f) for f in read_frames(truth)])[..., 0].astype(float)
    assert np.abs(got - want).mean() < 2.0  # a full-range copy read as limited range is ~15 % off


def test_guided_previews_show_gray_automatic_and_guided(tmp_path, tiny_model, two_shot_clip):
    from PIL import Image

    src, ref, _a, _b = two_shot_clip
    common = ("--model", tiny_model, "--engine", "eager", "--quiet", "--reference", ref, "--preview", "2")
    assert run(src, "-o", tmp_path / "sheet.png", *common).exit_code == 0  # preview only
    assert run(src, "-o", tmp_path / "v.mkv", *common).exit_code == 0  # preview beside the video
    for sheet in (tmp_path / "sheet.png", tmp_path / "v.preview.png"):
        with Image.open(sheet) as im:
            assert im.size == (3 * 96 + 2 * 4, 2 * 64 + 4), sheet  # 2 rows of gray | automatic | guided
        rgb = np.asarray(Image.open(sheet).convert("RGB")).astype(int)
        auto, guided = rgb[:64, 100:196], rgb[:64, 200:296]
        assert np.abs(auto - guided).mean() > 3  # the first row is in the guided shot: they differ


def test_point_guide_overlaps_average_and_many_points_stay_cheap():
    import time

    two = torch.tensor([[0.5, 0.5, 0.4, 0.0, 1.0], [0.5, 0.5, 0.0, 0.4, 0.5]])  # the same place
    g = point_guide(two, 32, 32, CFG)
    at = g.c[0] > 0
    assert torch.allclose(g.c[0][at], torch.tensor(1.0)) and torch.allclose(g.ab[0][at], torch.tensor(0.4 / 1.5))
    many = torch.rand(10000, 5)  # a dense mask exported as points: must not cost seconds per frame
    t = time.perf_counter()
    point_guide(many, 96, 224, CFG)
    assert time.perf_counter() - t < 1.0


# ---------------------------------------------------------------- the match gate (issue 22, items 6 and 7)


def blobs(w: int, h: int, seed: int = 1) -> np.ndarray:
    """A picture of something else: smooth coloured blobs of another layout and other colours."""
    rng = np.random.default_rng(seed)
    small = rng.random((4, 6, 3)).astype(np.float32)
    frame = av.VideoFrame.from_ndarray((small * 255).astype(np.uint8), format="rgb24")
    return frame.to_ndarray(format="rgb24", width=w, height=h, interpolation=av.video.reformatter.Interpolation.BICUBIC)


def test_an_unrelated_reference_on_a_one_shot_film_changes_nothing_and_says_so(tmp_path, tiny_model):
    a, _b = two_shots()
    src = write_video(tmp_path / "one shot.mkv", [luma_gray(f) for f in a], fps=12, codec="ffv1")
    other = write_image(tmp_path / "elsewhere.png", blobs(96, 64))
    related = write_image(tmp_path / "ref A.png", a[0])
    common = ("--model", tiny_model, "--engine", "eager", "--crf", "0")
    outs = {n: tmp_path / f"{n}.mkv" for n in ("auto", "other", "related")}
    assert run(src, "-o", outs["auto"], *common, "--quiet").exit_code == 0
    r = run(src, "-o", outs["other"], "--reference", other, *common)
    assert r.exit_code == 0, r.output
    warned = [line for line in r.output.splitlines() if "elsewhere.png" in line]
    assert len(warned) == 1 and warned[0].startswith("warning:") and "matched nothing" in warned[0], r.output
    assert np.array_equal(chroma(outs["other"]), chroma(outs["auto"]))  # the gate holds on one shot too
    r = run(src, "-o", outs["related"], "--reference", related, *common)
    assert r.exit_code == 0 and "matched nothing" not in r.output, r.output
    t = np.stack([av.VideoFrame.from_ndarray(f, format="rgb24").to_ndarray(format="yuv444p")[1:] for f in a])
    err_auto, err_guided = (np.abs(chroma(outs[n]) - t).mean() for n in ("auto", "related"))
    assert err_guided < 0.5 * err_auto, (err_auto, err_guided)


def test_a_reference_lines_up_when_the_render_size_has_another_aspect():
    """A small film renders at its size rounded to the model's multiple (160x120 at 128x128): the
    frames are squeezed to it, so the reference must be too, not cut to the render size's aspect."""
    from vidcolor.guidance import Guider, Reference
    from vidcolor.shots import ShotMap

    frame = gradient_frame(96, 64, t=0.3)
    squeezed = av.VideoFrame.from_ndarray(luma_gray(frame), format="rgb24").to_ndarray(
        format="rgb24", width=64, height=64, interpolation=av.video.reformatter.Interpolation.AREA
    )
    guidance = Guidance((Reference(Path("ref.png"), None, frame),))
    shots = ShotMap(np.zeros(1), [0])
    guider = Guider(guidance, shots, (64, 64), torch.device("cpu"), aspects=(96 / 64,), still=True)
    assert guider(0, gray_L(squeezed)).coverage > 0.8


def test_a_faint_colour_reference_is_colour_only_a_gray_one_is_refused(tmp_path):
    colour = gradient_frame(96, 64)
    gray = luma_gray(colour)
    faint = (gray + 0.02 * (colour.astype(np.float32) - gray)).round().astype(np.uint8)  # at most 6 levels off gray
    (ref,) = load_references([str(write_image(tmp_path / "overcast.png", faint))])
    assert ref.rgb.shape == (64, 96, 3)
    for name in ("gray.png", "gray.jpg"):  # a gray picture stays exactly gray through JPEG
        with pytest.raises(BadInputError, match="no colour"):
            load_references([str(write_image(tmp_path / name, gray))])
    folder = tmp_path / "film.ref"
    folder.mkdir()
    write_image(folder / "shot0000_t0.000s.png", gray)  # not coloured yet: skipped, as before
    write_image(folder / "shot0001_t1.000s.png", faint)
    notes: list[str] = []
    assert [r.path.name for r in load_references([str(folder)], notes.append)] == ["shot0001_t1.000s.png"]
    assert "skipped 1 gray" in notes[0]


def test_a_video_given_as_a_reference_says_it_is_a_video_and_what_is_wanted(tmp_path):
    # Was: `cannot identify image file <_io.BytesIO object at 0x...>` (an upload in the studio).
    from vidcolor.guidance import reference_rgb

    clip = write_video(tmp_path / "shot.mp4", [gradient_frame(64, 48, t=i) for i in range(3)])
    for error in (lambda: reference_rgb(clip.read_bytes(), "shot.mp4"), lambda: load_references([str(clip)])):
        with pytest.raises(BadInputError) as e:
            error()
        assert "it is an MP4/MOV video; a reference or hints file is a still picture" in str(e.value)
        assert "BytesIO" not in str(e.value)


def test_a_huge_reference_is_kept_at_a_bounded_size(tmp_path):
    from PIL import Image

    from vidcolor.guidance import MAX_REFERENCE_SIDE, reference_rgb

    big = tmp_path / "scan.png"
    Image.fromarray(gradient_frame(5000, 2500)).save(big)
    (ref,) = load_references([str(big)])
    assert ref.rgb.shape[:2] == (MAX_REFERENCE_SIDE // 2, MAX_REFERENCE_SIDE)  # aspect kept
    assert reference_rgb(big.read_bytes(), "scan.png").shape == ref.rgb.shape


def test_a_bad_guidance_file_found_beside_the_film_is_said_as_found_there(tmp_path):
    # Was `--hints film.hints.json: ...`, naming an option the user never gave.
    film = write_video(tmp_path / "film.mp4", [gradient_frame(64, 48, t=i) for i in range(3)])
    (tmp_path / "film.hints.json").write_text("{bad")
    r = runner.invoke(app, [str(film), "-o", str(tmp_path / "o.mp4")])
    assert r.exit_code == 2
    assert "error: guidance beside film.mp4: " in r.output and "--hints" not in r.output
