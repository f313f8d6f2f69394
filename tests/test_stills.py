"""Still images: every format Pillow opens is a photo (one function decides what an input is), and
16-bit scans are read, colorized and written at full depth."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps
from typer.testing import CliRunner

from make_media import gradient_frame, write_video
from vidcolor.cli import app

FAST = ["--render-size", "64", "--quiet"]
W, H = 41, 29  # odd on purpose: the size must come back exactly

# extension -> how to write a gray picture in it (Pillow picks the format by the extension)
STILLS = {
    "gif": lambda a: Image.fromarray(a).convert("P"),
    "pgm": lambda a: Image.fromarray(a),
    "ppm": lambda a: Image.fromarray(np.repeat(a[..., None], 3, -1)),
    "tga": lambda a: Image.fromarray(a),
    "jp2": lambda a: Image.fromarray(a),
    "tif": lambda a: Image.fromarray(a),
    "webp": lambda a: Image.fromarray(np.repeat(a[..., None], 3, -1)),
}


def cli(*args) -> object:
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    return r


def gray8(w: int = W, h: int = H) -> np.ndarray:
    return gradient_frame(w, h, colour=False)[..., 0]


def write_still(path: Path, w: int = W, h: int = H) -> Path:
    STILLS[path.suffix[1:]](gray8(w, h)).save(path)
    return path


def ramp16(w: int = 96, h: int = 64) -> np.ndarray:
    """16-bit gray with values spread over 0..65535 (every pixel a different level)."""
    v = np.linspace(0, 1, w)[None] * 0.85 + np.linspace(0, 1, h)[:, None] * 0.15
    return np.round(v * 65535).astype(np.uint16)


def chroma(rgb: np.ndarray) -> float:
    """Mean Lab chroma of an 8-bit RGB picture (~0 for gray)."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (D65) of sRGB values in [0, 1], in float64: precise enough to see 16-bit steps."""
    lin = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    y = lin @ np.array([0.212671, 0.715160, 0.072169])
    return np.where(y > (6 / 29) ** 3, 116 * np.cbrt(y) - 16, y * 24389 / 27)


def read16(path: Path) -> np.ndarray:
    out = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert out is not None, path
    return out[..., ::-1] if out.ndim == 3 else out  # BGR -> RGB


# ---------------------------------------------------------------- every still format is a photo


@pytest.mark.parametrize("ext", list(STILLS))
def test_every_still_format_becomes_a_coloured_photo_of_the_same_size(tmp_path, tiny_model, ext):
    src = write_still(tmp_path / f"in.{ext}")
    r = cli(src, "-o", tmp_path / "o.png", "--model", tiny_model, *FAST)
    assert r.exit_code == 0, r.output
    out = np.array(Image.open(tmp_path / "o.png").convert("RGB"))
    assert out.shape == (H, W, 3)  # a photo, not a gray | colour preview sheet
    assert chroma(out) > 5.0


def test_media_kind_decides_by_content_not_by_name(tmp_path):
    from vidcolor.decode import media_kind

    for ext in STILLS:
        assert media_kind(write_still(tmp_path / f"a.{ext}")).kind == "image", ext
    # a picture under a video's name, a video under a picture's name
    assert media_kind(write_still(tmp_path / "a.tga").rename(tmp_path / "pic.mp4")).kind == "image"
    clip = write_video(tmp_path / "clip.mp4", [gradient_frame(32, 24, t=i / 3) for i in range(4)])
    assert media_kind(clip.rename(tmp_path / "clip.png")).kind == "video"
    (tmp_path / "notes.mp4").write_text("text, not a video\n")
    (tmp_path / "notes.txt").write_text("Some notes about this reel.\n" * 50)  # FFmpeg reads this as ANSI art
    (tmp_path / "cut.png").write_bytes((tmp_path / "a.tif").read_bytes()[:40])
    assert media_kind(tmp_path / "notes.mp4").kind == "damaged"  # a media name that does not open
    assert media_kind(tmp_path / "notes.txt").kind == "other"
    damaged = media_kind(tmp_path / "cut.png")
    assert damaged.kind == "damaged" and damaged.why
    # animated GIF / APNG: FFmpeg reads them as a video; a multi-page TIFF is a photo (its first page)
    pages = [Image.fromarray(gradient_frame(32, 24, t=i, colour=False)) for i in range(3)]
    for name in ("anim.gif", "anim.png"):
        pages[0].save(tmp_path / name, save_all=True, append_images=pages[1:], duration=100)
        assert media_kind(tmp_path / name).kind == "video", name
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    assert media_kind(tmp_path / "pages.tif").kind == "image"


def test_animated_gif_is_colorized_as_a_video(tmp_path, tiny_model):
    pages = [Image.fromarray(gradient_frame(32, 24, t=i / 3, colour=False)) for i in range(5)]
    pages[0].save(tmp_path / "anim.gif", save_all=True, append_images=pages[1:], duration=100)
    r = cli(tmp_path / "anim.gif", "-o", tmp_path / "o.mp4", "--model", tiny_model, *FAST)
    assert r.exit_code == 0, r.output
    import av

    with av.open(str(tmp_path / "o.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 5


# ---------------------------------------------------------------- 16-bit scans


def _write16(path: Path, arr: np.ndarray, exif: Image.Exif | None = None) -> Path:
    if arr.ndim == 3:
        assert cv2.imwrite(str(path), arr[..., ::-1])  # 16-bit RGB: Pillow cannot write it
    else:
        Image.fromarray(arr).save(path, **({"exif": exif} if exif is not None else {}))
    return path


@pytest.mark.parametrize(
    "name, colour",
    [("scan.png", False), ("scan.tif", False), ("scan.png", True), ("scan.tiff", True)],
    ids=["png-gray", "tif-gray", "png-rgb", "tif-rgb"],
)
def test_16bit_scan_comes_back_16bit_with_its_lightness(tmp_path, tiny_model, name, colour):
    g = ramp16()
    src = _write16(tmp_path / name, np.repeat(g[..., None], 3, -1) if colour else g)
    out_path = tmp_path / f"o{Path(name).suffix}"
    r = cli(src, "-o", out_path, "--model", tiny_model, *FAST)
    assert r.exit_code == 0, r.output
    out = read16(out_path)
    assert out.dtype == np.uint16 and out.shape == (*g.shape, 3)
    got, want = lightness(out / 65535.0), lightness(np.repeat(g[..., None], 3, -1) / 65535.0)
    assert abs(got.mean() - want.mean()) < 1.5  # not white: the scan's lightness
    inside = ((out > 0) & (out < 65535)).all(-1)  # colours the gamut did not clip keep L* exactly
    assert inside.mean() > 0.3
    assert np.abs(got - want)[inside].max() < 0.02  # an 8-bit step is ~0.4 L*: this is 16-bit precision
    assert len(np.unique(out[..., 1])) > 1024  # far more levels than 8 bits hold
    assert chroma((out >> 8).astype(np.uint8)) > 5.0


def test_8bit_input_still_comes_back_8bit(tmp_path, tiny_model):
    for ext in ("png", "tif"):
        src = write_still(tmp_path / f"in.{ext}") if ext == "tif" else tmp_path / "in.png"
        if ext == "png":
            Image.fromarray(gray8()).save(src)
        r = cli(src, "-o", tmp_path / f"o.{ext}", "--model", tiny_model, *FAST)
        assert r.exit_code == 0, r.output
        out = read16(tmp_path / f"o.{ext}")
        assert out.dtype == np.uint8 and out.shape == (H, W, 3)


def test_16bit_scan_into_an_8bit_format_says_so(tmp_path, tiny_model):
    src = _write16(tmp_path / "scan.png", ramp16())
    r = cli(src, "-o", tmp_path / "o.jpg", "--model", tiny_model, "--render-size", "64")
    assert r.exit_code == 0, r.output
    assert "16-bit" in r.output and "8-bit" in r.output
    out = np.array(Image.open(tmp_path / "o.jpg"))
    assert out.dtype == np.uint8 and out.shape == (64, 96, 3)
    assert abs(lightness(out / 255.0).mean() - lightness(np.repeat(ramp16()[..., None], 3, -1) / 65535.0).mean()) < 1.5


def test_16bit_scan_keeps_its_exif_orientation(tmp_path, tiny_model):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    src = _write16(tmp_path / "scan.png", ramp16(), exif)
    r = cli(src, "-o", tmp_path / "o.png", "--model", tiny_model, *FAST)
    assert r.exit_code == 0, r.output
    out = read16(tmp_path / "o.png")
    assert out.dtype == np.uint16 and out.shape == (96, 64, 3)
    shown = np.array(ImageOps.exif_transpose(Image.open(src)))
    assert np.abs(lightness(out / 65535.0) - lightness(np.repeat(shown[..., None], 3, -1) / 65535.0)).mean() < 1.0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_of_deep_colour_matches_pillow(orientation):
    from vidcolor.decode import orient

    a = gradient_frame(7, 5, t=1)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.info["exif"] = exif.tobytes()
    assert np.array_equal(orient(a, orientation), np.array(ImageOps.exif_transpose(im)))


# ---------------------------------------------------------------- batch


def test_batch_colorizes_every_still_format_as_a_photo(tmp_path, tiny_model):
    root = tmp_path / "scans"
    root.mkdir()
    for ext in STILLS:
        write_still(root / f"s_{ext}.{ext}")
    _write16(root / "deep.png", ramp16())
    (root / "README.txt").write_text("Scans of reel 3, 1952.\n" * 60)  # not media, though FFmpeg opens it
    out = tmp_path / "out"
    r = cli("batch", root, "-o", out, "--model", tiny_model, *FAST)
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for m in out.glob("vidcolor-manifest*.jsonl") for line in m.read_text().splitlines()]
    done = {Path(rec["input"]).name: Path(rec["output"]) for rec in records if rec["status"] == "done"}
    assert set(done) == {f"s_{ext}.{ext}" for ext in STILLS} | {"deep.png"}
    for name, o in done.items():
        arr = read16(o)
        if name == "deep.png":
            assert arr.dtype == np.uint16 and arr.shape == (64, 96, 3)
        else:
            assert arr.shape == (H, W, 3), name
            assert chroma(np.ascontiguousarray(arr)) > 5.0, name


# ---------------------------------------------------------------- issue 22: wide samples, alpha, ICC


def _wide_scans(tmp_path: Path) -> dict[str, Path]:
    """One 16-bit ramp as 16-bit integers and in the wider sample types TIFFs hold (0-1 for floats)."""
    g = ramp16()
    f = g.astype(np.float32) / 65535
    files = {k: tmp_path / f"{k}.tif" for k in ("u16", "f32", "f32rgb", "i32")}
    _write16(files["u16"], g)
    Image.fromarray(f, mode="F").save(files["f32"])
    assert cv2.imwrite(str(files["f32rgb"]), np.repeat(f[..., None], 3, -1))  # Pillow cannot open float RGB
    Image.fromarray(np.round(g / 65535 * (2**31 - 1)).astype(np.int32), mode="I").save(files["i32"])
    return files


def test_float_and_32bit_tiffs_read_as_the_same_16bit_picture(tmp_path):
    from vidcolor.decode import load_photo, media_kind

    files = _wide_scans(tmp_path)
    want = load_photo(files.pop("u16"), full_depth=True)
    for kind, path in files.items():
        assert media_kind(path).kind == "image", kind
        assert np.array_equal(load_photo(path, full_depth=True), want), kind
    tifffile = pytest.importorskip("tifffile")  # writes what neither Pillow nor OpenCV writes
    f = ramp16().astype(np.float64) / 65535
    tifffile.imwrite(tmp_path / "u32.tif", np.round(f * (2**32 - 1)).astype(np.uint32))
    assert np.array_equal(load_photo(tmp_path / "u32.tif", full_depth=True), want)
    tifffile.imwrite(tmp_path / "f16.tif", np.repeat(f[..., None], 3, -1).astype(np.float16), photometric="rgb")
    half = load_photo(tmp_path / "f16.tif", full_depth=True).astype(int)
    assert np.abs(half - want).max() <= 33  # half floats: 11 significant bits


def test_a_float_tiff_is_colorized_like_its_16bit_twin_and_bad_floats_are_refused(tmp_path, tiny_model):
    files = _wide_scans(tmp_path)
    for kind in ("u16", "f32"):
        r = cli(files[kind], "-o", tmp_path / f"o_{kind}.png", "--model", tiny_model, *FAST)
        assert r.exit_code == 0, r.output
    assert np.array_equal(read16(tmp_path / "o_f32.png"), read16(tmp_path / "o_u16.png"))  # not black
    bad = {"nan": np.full((16, 16), np.nan, np.float32), "255": np.full((16, 16), 200.0, np.float32)}
    for name, a in bad.items():
        Image.fromarray(a, mode="F").save(tmp_path / f"{name}.tif")
        r = cli(tmp_path / f"{name}.tif", "-o", tmp_path / f"{name}.png", "--model", tiny_model, *FAST)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
        assert ("NaN" if name == "nan" else "from 200 to 200") in r.output
        assert not (tmp_path / f"{name}.png").exists()


def test_alpha_and_icc_profile_are_kept_where_the_output_holds_them(tmp_path, tiny_model):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    alpha = np.tile(np.linspace(0, 255, W).round().astype(np.uint8), (H, 1))
    rgba, la = tmp_path / "cutout.png", tmp_path / "la.png"
    Image.fromarray(np.dstack([np.repeat(gray8()[..., None], 3, -1), alpha])).save(rgba, icc_profile=icc)
    Image.fromarray(np.dstack([gray8(), alpha]), mode="LA").save(la)
    for src, ext in ((rgba, "png"), (rgba, "tif"), (rgba, "webp"), (la, "png")):
        out = tmp_path / f"o_{src.stem}.{ext}"
        r = cli(src, "-o", out, "--model", tiny_model, *FAST)
        assert r.exit_code == 0 and "without" not in r.output, r.output
        with Image.open(out) as im:
            assert im.mode == "RGBA" and np.array_equal(np.array(im)[..., 3], alpha), out
            assert chroma(np.array(im.convert("RGB"))) > 5.0
            assert src == la or im.info.get("icc_profile") == icc, out
    r = cli(rgba, "-o", tmp_path / "o.jpg", "--model", tiny_model, "--render-size", "64")
    assert r.exit_code == 0 and "cutout.png: o.jpg is written without its alpha channel (JPEG" in r.output, r.output
    with Image.open(tmp_path / "o.jpg") as im:
        assert im.info.get("icc_profile") == icc  # JPEG holds the profile
    r = cli(rgba, "-o", tmp_path / "o.bmp", "--model", tiny_model, "--render-size", "64")
    assert "without its alpha channel" in r.output and "without its ICC profile (BMP" in r.output, r.output
    other = tmp_path / "scan.png"  # a profile of another colour space (a scan's GRAY, Lab) does not fit RGB pixels
    Image.fromarray(gray8()).save(other, icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes())
    r = cli(other, "-o", tmp_path / "o_scan.png", "--model", tiny_model, "--render-size", "64")
    assert r.exit_code == 0 and "a Lab profile; the colorized picture is RGB" in r.output, r.output
    with Image.open(tmp_path / "o_scan.png") as im:
        assert "icc_profile" not in im.info
    deep = tmp_path / "deep.png"  # 16 bits: alpha through OpenCV, the profile as a PNG chunk
    alpha16 = np.tile(np.linspace(0, 65535, 96).round().astype(np.uint16), (64, 1))
    assert cv2.imwrite(str(deep), np.dstack([np.repeat(ramp16()[..., None], 3, -1), alpha16]))
    r = cli(deep, "-o", tmp_path / "o16.png", "--model", tiny_model, *FAST)
    assert r.exit_code == 0, r.output
    out = cv2.imread(str(tmp_path / "o16.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (64, 96, 4) and np.array_equal(out[..., 3], alpha16)
    Image.fromarray(ramp16()).save(deep, icc_profile=icc)
    assert cli(deep, "-o", tmp_path / "o16.png", "--model", tiny_model, *FAST, "--overwrite").exit_code == 0
    with Image.open(tmp_path / "o16.png") as im:
        assert im.info.get("icc_profile") == icc and read16(tmp_path / "o16.png").dtype == np.uint16
