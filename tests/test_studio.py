"""``vidcolor studio``: the HTTP API (token, no traversal, hints change the preview, uploads
refused clearly, save in the batch convention that ``vidcolor FILM -o OUT`` then reads)."""

from __future__ import annotations

import io
import json
import threading
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from make_media import gradient_frame, read_frames, write_video

pytest.importorskip("flask", reason="vidcolor studio needs Flask (pip install 'vidcolor[studio]')")

from typer.testing import CliRunner

from vidcolor.cli import app
from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig, EncodeSettings
from vidcolor.studio.server import create_app
from vidcolor.studio.session import Studio

TOKEN = "test-token"
BLUE = [20, 60, 230]


def gray_film(path: Path) -> Path:
    """64x48, 6 frames, one shot, no colour."""
    write_video(path, [gradient_frame(64, 48, t=i / 6, colour=False) for i in range(6)], fps=12)
    return path


@pytest.fixture
def film(tmp_path: Path) -> Path:
    return gray_film(tmp_path / "film.mp4")


def open_studio(film: Path, model: Path):
    studio = Studio(film, Colorizer(ColorizeConfig(model=str(model), device="cpu")))
    return studio, create_app(studio, TOKEN).test_client()


def png(resp) -> np.ndarray:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "image/png"
    return np.asarray(Image.open(io.BytesIO(resp.data)).convert("RGB")).astype(np.float64)


def near(rgb: np.ndarray, x: float, y: float, r: int = 2) -> np.ndarray:
    """Mean colour of the (2r+1)^2 pixels around (x, y) fractions: (3,)."""
    h, w = rgb.shape[:2]
    cx, cy = round(x * (w - 1)), round(y * (h - 1))
    return rgb[cy - r : cy + r + 1, cx - r : cx + r + 1].reshape(-1, 3).mean(0)


def dist(a: np.ndarray, b: list[int]) -> float:
    return float(np.linalg.norm(a - np.asarray(b, np.float64)))


def test_token_required(film: Path, tiny_model: Path) -> None:
    _studio, client = open_studio(film, tiny_model)
    for url in ("/", "/api/shots", "/api/shots/0/gray.png", "/app.js"):
        assert client.get(url).status_code == 403
        assert client.get(url + "?token=wrong").status_code == 403
    assert client.post("/api/save").status_code == 403
    assert client.get("/api/shots", headers={"X-Studio-Token": TOKEN}).status_code == 200
    page = client.get(f"/?token={TOKEN}")
    assert page.status_code == 200 and b"<script" in page.data
    for name in ("app.js", "style.css"):
        assert client.get(f"/{name}?token={TOKEN}").status_code == 200


def test_traversal_refused(film: Path, tiny_model: Path) -> None:
    _studio, client = open_studio(film, tiny_model)
    for url in (
        "/../../etc/passwd",
        "/static/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/shots/..%2F..%2Fetc%2Fpasswd/gray.png",
        "/api/shots/-1/gray.png",
        "/api/shots/7/gray.png",
        "/studio/session.py",
    ):
        r = client.get(url, query_string={"token": TOKEN})
        assert r.status_code == 404, url
        assert b"root:" not in r.data


def test_hint_colours_the_preview_then_save_and_the_cli_uses_it(film: Path, tiny_model: Path, tmp_path: Path) -> None:
    _studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    doc = client.get("/api/shots", query_string=q).get_json()
    assert [s["shot"] for s in doc["shots"]] == [0] and doc["shots"][0]["t"] == 0.0
    gray = png(client.get("/api/shots/0/gray.png", query_string=q))
    assert gray.shape == (48, 64, 3)
    auto = png(client.get("/api/shots/0/colour.png", query_string=q))
    x, y = 0.5, 0.5
    r = client.post("/api/shots/0/hints", query_string=q, json={"x": x, "y": y, "rgb": BLUE})
    assert r.status_code == 200 and r.get_json() == {"id": 0, "rgb": BLUE, "version": 1}
    guided = png(client.get("/api/shots/0/colour.png", query_string=q))
    assert dist(near(guided, x, y), BLUE) < dist(near(auto, x, y), BLUE) - 20
    # luma kept: the hint changes colour, not the picture
    assert abs(guided.mean() - auto.mean()) < 30

    saved = client.post("/api/save", query_string=q).get_json()
    assert saved == {"written": ["film.hints.json"]}
    points = json.loads((film.with_name("film.hints.json")).read_text())
    assert points == [{"x": x, "y": y, "rgb": BLUE, "t": 0.0}]
    assert not list(tmp_path.glob(".*partial*"))

    # the command line reads it beside the film (the batch convention) ...
    runner = CliRunner()
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    plain = gray_film(plain_dir / "film.mp4")
    for src, out in ((plain, tmp_path / "plain_out.mp4"), (film, tmp_path / "guided_out.mp4")):
        res = runner.invoke(app, [str(src), "-o", str(out), "--model", str(tiny_model), "--device", "cpu", "-q"])
        assert res.exit_code == 0, res.output
    plain_px = near(read_frames(tmp_path / "plain_out.mp4")[0].astype(np.float64), x, y)
    guided_px = near(read_frames(tmp_path / "guided_out.mp4")[0].astype(np.float64), x, y)
    assert dist(guided_px, BLUE) < dist(plain_px, BLUE) - 20

    # ... and a new studio loads them back
    _again, client2 = open_studio(film, tiny_model)
    hints = client2.get("/api/shots", query_string=q).get_json()["shots"][0]["hints"]
    assert hints == [{"id": 0, "x": x, "y": y, "rgb": BLUE, "reach": None}]


def test_edit_and_delete_hints(film: Path, tiny_model: Path) -> None:
    _studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    client.post("/api/shots/0/hints", query_string=q, json={"x": 0.1, "y": 0.2, "rgb": BLUE})
    assert (
        client.put("/api/shots/0/hints/0", query_string=q, json={"x": 0.3, "y": 0.4, "rgb": [1, 2, 3]}).status_code
        == 200
    )
    assert client.get("/api/shots", query_string=q).get_json()["shots"][0]["hints"] == [
        {"id": 0, "x": 0.3, "y": 0.4, "rgb": [1, 2, 3], "reach": None}
    ]
    bad = client.post("/api/shots/0/hints", query_string=q, json={"x": 2, "y": 0.4, "rgb": [1, 2, 3]})
    assert bad.status_code == 400 and "x" in bad.get_json()["error"]
    assert client.get("/api/shots", query_string=q).get_json()["unsaved"] is True
    assert client.delete("/api/shots/0/hints/0", query_string=q).status_code == 200
    assert client.delete("/api/shots/0/hints/0", query_string=q).status_code == 404
    assert client.post("/api/save", query_string=q).get_json() == {"written": []}
    assert client.get("/api/shots", query_string=q).get_json()["unsaved"] is False


def test_reference_upload(film: Path, tiny_model: Path, tmp_path: Path) -> None:
    studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}

    def upload(data: bytes):
        return client.post(
            "/api/shots/0/reference", query_string=q, data={"file": (io.BytesIO(data), "../../x.png")},
            content_type="multipart/form-data",
        )  # fmt: skip

    def image(arr: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")
        return buf.getvalue()

    for data, words in (
        (b"not an image at all", "not a picture format Pillow reads"),
        (image(gradient_frame(64, 48, colour=False)), "no colour"),
        (b"\0" * (21 * 2**20), "20 MB"),
    ):
        r = upload(data)
        assert r.status_code in (400, 413), r.status_code
        assert words in r.get_json()["error"]
    assert studio.shots[0].reference is None

    assert upload(image(gradient_frame(64, 48, t=0.0))).status_code == 200
    assert client.get("/api/shots", query_string=q).get_json()["shots"][0]["reference"] is True
    assert client.post("/api/save", query_string=q).get_json() == {"written": ["film.ref/shot0000_t0.000s.png"]}
    assert not (tmp_path / "x.png").exists()
    again, _client = open_studio(film, tiny_model)
    assert again.shots[0].reference is not None
    # removing it and saving removes the studio's file, nothing else
    (film.with_name("film.ref") / "mine.txt").write_text("the user's\n")
    assert client.delete("/api/shots/0/reference", query_string=q).status_code == 200
    client.post("/api/save", query_string=q)
    assert [f.name for f in film.with_name("film.ref").iterdir()] == ["mine.txt"]


def test_strength(film: Path, tiny_model: Path) -> None:
    _studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    assert client.put("/api/strength", query_string=q, json={"strength": 0}).status_code == 200
    flat = png(client.get("/api/shots/0/colour.png", query_string=q))
    assert np.ptp(flat, axis=-1).max() <= 2  # no colour at strength 0
    assert client.put("/api/strength", query_string=q, json={"strength": 9}).status_code == 400


def test_real_server_on_a_free_port_stops_on_quit(film: Path, tiny_model: Path) -> None:
    import threading
    import urllib.error
    import urllib.request

    from vidcolor.studio.server import Server

    studio = Studio(film, Colorizer(ColorizeConfig(model=str(tiny_model), device="cpu")))
    server = Server(studio)
    assert server.url.startswith("http://127.0.0.1:") and "token=" in server.url
    assert server.http.server_address[0] == "127.0.0.1"
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    base = server.url.split("?")[0]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(base + "api/shots", timeout=10)
    assert e.value.code == 403
    with urllib.request.urlopen(server.url, timeout=10) as r:
        assert server.token.encode() in r.read()  # the page's own requests carry it
    quit = urllib.request.Request(base + "api/quit?token=" + server.token, method="POST")
    with urllib.request.urlopen(quit, timeout=10) as r:
        assert json.loads(r.read()) == {"ok": True}
    runner.join(10)
    assert not runner.is_alive()


def test_cli_refuses_an_image_and_a_missing_film(tmp_path: Path) -> None:
    from make_media import write_image

    still = write_image(tmp_path / "still.png", gradient_frame(64, 48, colour=False))
    for arg in (still, tmp_path / "nothing.mp4"):
        res = CliRunner().invoke(app, ["studio", str(arg)])
        assert res.exit_code == 2, res.output


def test_render_in_the_background(film: Path, tiny_model: Path, tmp_path: Path) -> None:
    import time

    out = tmp_path / "out.mp4"
    studio = Studio(film, Colorizer(ColorizeConfig(model=str(tiny_model), device="cpu")), render_to=out)
    client = create_app(studio, TOKEN).test_client()
    q = {"token": TOKEN}
    client.post("/api/shots/0/hints", query_string=q, json={"x": 0.5, "y": 0.5, "rgb": BLUE})
    assert client.post("/api/render", query_string=q).status_code == 200
    deadline = time.monotonic() + 60
    while (state := client.get("/api/render", query_string=q).get_json())["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state == {"state": "done", "done": 6, "total": 6, "message": "wrote out.mp4"}
    assert len(read_frames(out)) == 6
    assert film.with_name("film.hints.json").is_file()  # saved first: closing the page loses nothing


def test_render_needs_an_output(film: Path, tiny_model: Path) -> None:
    _studio, client = open_studio(film, tiny_model)
    r = client.post("/api/render", query_string={"token": TOKEN})
    assert r.status_code == 400 and "-o OUT" in r.get_json()["error"]


def test_without_flask_the_command_says_how_to_install_it(film: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "flask", None)  # import flask -> ImportError
    res = CliRunner().invoke(app, ["studio", str(film)])
    assert res.exit_code == 2
    assert "pip install 'vidcolor[studio]'" in res.output


def _chromium() -> str | None:
    import shutil

    return next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)


@pytest.mark.skipif(_chromium() is None, reason="no Chromium installed (Debian: apt-get install chromium)")
def test_browser_click_adds_a_hint_and_the_preview_changes(film: Path, tiny_model: Path) -> None:
    """In a real browser: a click adds a hint at the automatic colour; picking its colour changes the
    preview; dragging its dot moves it; a dropped picture becomes the reference; the shot preview shows."""
    import base64

    playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
    from vidcolor.studio.server import Server

    studio = Studio(film, Colorizer(ColorizeConfig(model=str(tiny_model), device="cpu")))
    server = Server(studio)
    threading.Thread(target=server.run, daemon=True).start()
    src = "document.getElementById('colour').src"
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium())
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(server.url)
            page.wait_for_selector("#strip img")
            page.wait_for_function("document.getElementById('colour').complete")
            before = page.evaluate(src)
            box = page.locator("#colour").bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
            page.wait_for_selector("#hints li")
            page.wait_for_function(f"{src} !== {before!r}")
            ((_id, x, y, rgb, _t, _reach),) = map(astuple, studio.shots[0].hints)
            assert abs(x - 0.25) < 0.02 and abs(y - 0.5) < 0.02

            before = page.evaluate(src)
            page.locator("#hints input[type=color]").fill("#1e3ce6")  # the picker, as a user sets it
            page.wait_for_function(f"{src} !== {before!r}")
            page.wait_for_function("document.getElementById('colour').complete")
            assert studio.shots[0].hints[0].rgb == (0x1E, 0x3C, 0xE6)

            dot = page.locator(".dot").bounding_box()
            page.mouse.move(dot["x"] + dot["width"] / 2, dot["y"] + dot["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25, steps=5)
            page.mouse.up()
            page.wait_for_function("document.querySelector('#hints li').textContent.includes('(0.75, 0.25)')")
            ((_id, x, y, rgb, _t, _reach),) = map(astuple, studio.shots[0].hints)
            assert abs(x - 0.75) < 0.02 and abs(y - 0.25) < 0.02 and rgb == (0x1E, 0x3C, 0xE6)

            buf = io.BytesIO()
            Image.fromarray(gradient_frame(64, 48)).save(buf, format="PNG")
            drop = page.evaluate_handle(
                """(b64) => { const dt = new DataTransfer();
                  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                  dt.items.add(new File([bytes], "ref.png", { type: "image/png" })); return dt; }""",
                base64.b64encode(buf.getvalue()).decode(),
            )
            page.dispatch_event("#main", "drop", {"dataTransfer": drop})
            page.wait_for_selector("#ref-img:not([hidden])")
            assert studio.shots[0].reference is not None

            page.click("#preview")
            page.wait_for_selector("#shot-preview:not([hidden])")
            assert page.evaluate("document.getElementById('shot-preview').naturalWidth") == 3 * 64 + 2 * 4

            page.keyboard.press("Control+z")  # takes back the last change: the dropped reference
            page.wait_for_selector("#ref-img", state="hidden")
            assert studio.shots[0].reference is None and len(studio.shots[0].hints) == 1
            assert page.inner_text("#error") == ""
            browser.close()
    finally:
        server.stop()


def hints_on_two_shots_then_the_cli(film: Path, spots: dict, tiny_model: Path, *options: str) -> None:
    """Give shots 0 and 1 of ``film`` a hint each in the studio, Save, and check that `vidcolor FILM
    -o OUT` colours each shot's first frame towards its hint, against the same film without them."""
    tmp = film.parent
    plain = tmp / "plain" / film.name
    plain.parent.mkdir()
    plain.write_bytes(film.read_bytes())
    studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    shots = client.get("/api/shots", query_string=q).get_json()["shots"]
    assert len(shots) >= 2 and shots[1]["t"] > 0
    for n, (x, y, rgb) in spots.items():
        assert (
            client.post(f"/api/shots/{n}/hints", query_string=q, json={"x": x, "y": y, "rgb": rgb}).status_code == 200
        )
    hints = film.with_name(film.stem + ".hints.json")
    assert client.post("/api/save", query_string=q).get_json() == {"written": [hints.name]}
    assert [p["t"] for p in json.loads(hints.read_text())] == [0.0, shots[1]["t"]]
    common = ["--model", str(tiny_model), "--device", "cpu", "-q", *options]
    outs = {}
    for kind, src in (("plain", plain), ("guided", film)):
        outs[kind] = tmp / f"{kind}_out{film.suffix}"
        res = CliRunner().invoke(app, [str(src), "-o", str(outs[kind]), *common])
        assert res.exit_code == 0, res.output
    auto, guided = (read_frames(outs[k]) for k in ("plain", "guided"))
    for n, (x, y, rgb) in spots.items():
        frame = studio.shots[n].start
        a, g = (near(v[frame].astype(np.float64), x, y) for v in (auto, guided))
        assert dist(g, rgb) < dist(a, rgb) - 20, (n, a, g)


def test_two_shots_each_get_hints_and_the_cli_uses_each_on_its_own_shot(tmp_path: Path, tiny_model: Path) -> None:
    from test_guidance import luma_gray, two_shots  # the two-shot clip guided runs are tested on

    a, b = two_shots()
    film = write_video(tmp_path / "reel.mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    spots = {0: (0.25, 0.5, BLUE), 1: (0.75, 0.5, [30, 200, 40])}
    hints_on_two_shots_then_the_cli(film, spots, tiny_model, "--engine", "eager")


def test_a_hint_without_a_colour_starts_at_the_automatic_colour_there(film: Path, tiny_model: Path) -> None:
    studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    auto = png(client.get("/api/shots/0/colour.png", query_string=q))
    r = client.post("/api/shots/0/hints", query_string=q, json={"x": 0.25, "y": 0.75})
    assert r.status_code == 200
    rgb = r.get_json()["rgb"]
    assert dist(near(auto, 0.25, 0.75), rgb) < 3  # what the page showed there: its picker starts at it
    assert [(h.x, h.y, h.rgb) for h in studio.shots[0].hints] == [(0.25, 0.75, tuple(rgb))]
    bad = client.post("/api/shots/0/hints", query_string=q, json={"x": "left", "y": 0.5})
    assert bad.status_code == 400 and "x" in bad.get_json()["error"]


def test_shot_preview_carries_the_guidance_across_the_shot(tmp_path: Path, tiny_model: Path) -> None:
    from test_guidance import luma_gray, two_shots

    a, b = two_shots()
    film = write_video(tmp_path / "reel.mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    green = [30, 200, 40]
    client.post("/api/shots/1/hints", query_string=q, json={"x": 0.5, "y": 0.5, "rgb": green})
    sheet = png(client.get("/api/shots/1/preview.png", query_string=q))
    # 4 frames of shot 1 (96x64 each), gray | automatic | guided, 4 px apart
    assert sheet.shape == (4 * 64 + 3 * 4, 3 * 96 + 2 * 4, 3)
    for row in range(4):
        gray, auto, guided = (sheet[row * 68 : row * 68 + 64, col * 100 : col * 100 + 96] for col in range(3))
        assert np.ptp(gray, axis=-1).max() <= 2  # the film, gray
        assert dist(near(guided, 0.5, 0.5), green) < dist(near(auto, 0.5, 0.5), green) - 20, row
        # the frames are the shot's own (the stripes), not shot 0's gradient
        assert abs(gray.mean() - luma_gray(b[0]).mean()) < 20
    # shot 0 has no guidance: gray | colour
    assert png(client.get("/api/shots/0/preview.png", query_string=q)).shape[1] == 2 * 96 + 4
    assert client.get("/api/shots/2/preview.png", query_string=q).status_code == 404
    assert studio.describe()["shots"][0]["end"] == studio.shots[1].t


def test_smoothing_and_the_command_line_the_page_shows(film: Path, tiny_model: Path) -> None:
    studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    assert client.get("/api/shots", query_string=q).get_json()["command"] == "vidcolor film.mp4 -o OUT"
    assert client.put("/api/smoothing", query_string=q, json={"smoothing": 0.5}).status_code == 200
    client.put("/api/strength", query_string=q, json={"strength": 1.25})
    doc = client.get("/api/shots", query_string=q).get_json()
    assert doc["smoothing"] == 0.5 and studio.colorizer.cfg.smoothing == 0.5
    assert doc["command"] == "vidcolor film.mp4 -o OUT --strength 1.25 --smoothing 0.5"
    for bad in (1.5, -0.1, "0.5", True):
        assert client.put("/api/smoothing", query_string=q, json={"smoothing": bad}).status_code == 400


def _gated(studio: Studio) -> threading.Event:
    """Make the studio's model wait at its first frame until the returned event is set."""
    gate = threading.Event()
    predict = studio.colorizer.predict

    def slow(rgb):
        gate.wait(30)
        return predict(rgb)

    studio.colorizer.predict = slow  # the render's copy of the colorizer shares it
    return gate


@pytest.mark.parametrize("how", ["cancel", "close"])
def test_a_cancelled_render_leaves_nothing(film: Path, tiny_model: Path, tmp_path: Path, how: str) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the user's older render")
    studio = Studio(film, Colorizer(ColorizeConfig(model=str(tiny_model), device="cpu")), render_to=out)
    gate = _gated(studio)
    studio.start_render()
    assert studio.renderer.state["state"] == "running"
    if how == "cancel":  # the page's button
        create_app(studio, TOKEN).test_client().post("/api/render/cancel", query_string={"token": TOKEN})
        gate.set()
        studio.renderer.wait(30)
    else:  # Quit or Ctrl-C while it runs: close() waits for the render to remove its temporary file
        threading.Timer(0.3, gate.set).start()
        studio.close()
    assert studio.renderer.state["state"] == "cancelled", studio.renderer.state
    assert "cancelled" in str(studio.renderer.state["message"])
    assert out.read_bytes() == b"the user's older render"
    assert sorted(f.name for f in tmp_path.iterdir() if f.name.startswith(".")) == []


def test_keyframes_are_held_at_most_1280_wide_and_the_strip_smaller(tmp_path: Path, tiny_model: Path) -> None:
    film = write_video(tmp_path / "big.mp4", [gradient_frame(1600, 900, t=i / 2, colour=False) for i in range(2)])
    _studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    assert png(client.get("/api/shots/0/gray.png", query_string=q)).shape == (720, 1280, 3)
    assert png(client.get("/api/shots/0/colour.png", query_string=q)).shape == (720, 1280, 3)
    assert png(client.get("/api/shots/0/thumb.png", query_string=q)).shape == (120, 213, 3)  # the strip's


def test_an_anamorphic_films_keyframes_are_shown_as_the_film_is(tmp_path: Path, tiny_model: Path) -> None:
    from fractions import Fraction

    film = write_video(
        tmp_path / "dvd.vob", [gradient_frame(96, 64, t=i / 3, colour=False) for i in range(3)],
        codec="mpeg2video", sar=Fraction(32, 27),
    )  # fmt: skip
    _studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    assert png(client.get("/api/shots/0/gray.png", query_string=q)).shape == (64, 114, 3)  # 96 * 32/27
    assert png(client.get("/api/shots/0/colour.png", query_string=q)).shape == (64, 114, 3)


def test_other_guidance_files_are_listed_and_kept(film: Path, tiny_model: Path) -> None:
    """Files the page does not edit are listed (the command line uses them) and never removed:
    painted hints, a reference without a time, one named by the user, gray keyframes not coloured yet;
    hints past the film's end are saved back."""
    from make_media import write_image

    write_image(film.with_name("film.hints.png"), np.zeros((48, 64, 3), np.uint8))
    ref_dir = film.with_name("film.ref")
    ref_dir.mkdir()
    write_image(ref_dir / "sky.png", gradient_frame(64, 48))  # not pinned to a time: every shot may use it
    write_image(ref_dir / "mine_t0.0s.png", gradient_frame(64, 48))  # pinned, the user's naming
    write_image(ref_dir / "shot0000_t0.000s.png", gradient_frame(64, 48, colour=False))  # exported, still gray
    late = {"x": 0.5, "y": 0.5, "rgb": [1, 2, 3], "t": 99.0}
    film.with_name("film.hints.json").write_text(json.dumps([late]))
    studio, client = open_studio(film, tiny_model)
    doc = client.get("/api/shots", query_string={"token": TOKEN}).get_json()
    assert doc["others"] == [
        "film.hints.png", "film.ref/mine_t0.0s.png", "film.ref/shot0000_t0.000s.png", "film.ref/sky.png"
    ]  # fmt: skip
    assert doc["shots"][0]["reference"] is False and doc["shots"][0]["hints"] == []
    client.post("/api/shots/0/hints", query_string={"token": TOKEN}, json={"x": 0.5, "y": 0.5, "rgb": BLUE})
    studio.save()
    assert sorted(f.name for f in ref_dir.iterdir()) == ["mine_t0.0s.png", "shot0000_t0.000s.png", "sky.png"]
    assert film.with_name("film.hints.png").is_file()
    saved = json.loads(film.with_name("film.hints.json").read_text())
    assert saved == [{"x": 0.5, "y": 0.5, "rgb": BLUE, "t": 0.0}, late]


def test_a_broken_hints_file_is_one_line_and_left_as_it_was(film: Path, tiny_model: Path) -> None:
    broken = film.with_name("film.hints.json")
    broken.write_text('[{"x": 0.5, "y": ')
    res = CliRunner().invoke(app, ["studio", str(film), "--model", str(tiny_model), "--device", "cpu"])
    assert res.exit_code == 2, res.output
    assert "film.hints.json" in res.output and "Traceback" not in res.output
    assert broken.read_text() == '[{"x": 0.5, "y": '  # never replaced by an empty save


def test_the_readme_walkthrough_on_the_bundled_example(tmp_path: Path, tiny_model: Path) -> None:
    """The issue's "done when": the example film, hints on two shots, Save, and `vidcolor FILM -o OUT`
    uses each shot's hints (the first 2.5 s: both shots)."""
    film = tmp_path / "bikes_gray.mp4"
    film.write_bytes((Path(__file__).resolve().parents[1] / "examples" / "bikes_gray.mp4").read_bytes())
    spots = {0: (0.5, 0.6, BLUE), 1: (0.1, 0.25, [220, 40, 30])}  # mid-grays: a hint cannot colour black
    hints_on_two_shots_then_the_cli(film, spots, tiny_model, "--duration", "2.5")


def test_ctrl_c_stops_the_studio_command(film: Path, tiny_model: Path) -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    cmd = [sys.executable, "-m", "vidcolor", "studio", str(film), "--model", str(tiny_model), "--device", "cpu"]
    # a suite started in the background (`make test &`, nohup) passes SIGINT on ignored: Ctrl-C could not be tested
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    try:
        url = p.stdout.readline().strip()  # the one line on stdout: the server is listening
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        base, token = url.split("?")
        hint = json.dumps({"x": 0.5, "y": 0.5, "rgb": BLUE}).encode()
        add = urllib.request.Request(
            f"{base}api/shots/0/hints?{token}", hint, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(add, timeout=30) as r:
            assert json.loads(r.read())["id"] == 0
        p.send_signal(signal.SIGINT)
        _out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    assert err.strip().splitlines()[-1] == "stopped" and "Traceback" not in err
    # the hint was never saved: said, not silent
    assert "warning: the guidance changed on the page since the last Save was not saved beside film.mp4" in err
    assert not film.with_name("film.hints.json").exists()


def test_a_folder_of_frames_is_a_film_too(tmp_path: Path, tiny_model: Path) -> None:
    """Scans as numbered frames: the studio opens the folder, saves beside it (``scans.hints.json``),
    and `vidcolor scans/ -o OUT` uses it (was: 'not found', and the CLI ignored guidance beside a folder)."""
    from make_media import write_image

    scans = tmp_path / "scans [1950]"
    scans.mkdir()
    for i in range(6):
        write_image(scans / f"f_{i:04d}.png", gradient_frame(64, 48, t=i / 6, colour=False))
    res = CliRunner().invoke(app, ["studio", str(tmp_path / "nothing"), "--model", str(tiny_model)])
    assert res.exit_code == 2 and "not found" in res.output
    _studio, client = open_studio(scans, tiny_model)
    q = {"token": TOKEN}
    client.post("/api/shots/0/hints", query_string=q, json={"x": 0.5, "y": 0.5, "rgb": BLUE})
    assert client.post("/api/save", query_string=q).get_json() == {"written": ["scans [1950].hints.json"]}
    out = tmp_path / "out.mkv"
    res = CliRunner().invoke(app, [str(scans), "-o", str(out), "--model", str(tiny_model), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "using the guidance beside scans [1950]: scans [1950].hints.json" in res.output
    # the same film given as a pattern: the same file, not `f_%04d.hints.json` inside the folder
    pattern = scans / "f_%04d.png"
    studio, client = open_studio(pattern, tiny_model)
    assert studio.hints_path == tmp_path / "scans [1950].hints.json" and studio.shots[0].hints
    client.post("/api/shots/0/hints", query_string=q, json={"x": 0.2, "y": 0.2, "rgb": BLUE})
    assert client.post("/api/save", query_string=q).get_json() == {"written": ["scans [1950].hints.json"]}
    assert not list(scans.glob("*.hints.json"))
    res = CliRunner().invoke(app, [str(pattern), "-o", str(out), "--model", str(tiny_model), "--overwrite"])
    assert res.exit_code == 0 and "using the guidance beside" in res.output, res.output


def test_undo_takes_back_each_change_in_turn(tmp_path: Path, tiny_model: Path) -> None:
    from test_guidance import luma_gray, two_shots

    a, b = two_shots()
    film = write_video(tmp_path / "reel.mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}

    def hints(n: int) -> list:
        return [
            {k: h[k] for k in ("x", "y", "rgb")}
            for h in client.get("/api/shots", query_string=q).get_json()["shots"][n]["hints"]
        ]

    client.post("/api/shots/0/hints", query_string=q, json={"x": 0.2, "y": 0.2, "rgb": BLUE})
    client.put("/api/shots/0/hints/0", query_string=q, json={"x": 0.7, "y": 0.6, "rgb": BLUE})  # dragged
    client.post("/api/shots/1/hints", query_string=q, json={"x": 0.5, "y": 0.5, "rgb": [1, 2, 3]})  # id 1
    buf = io.BytesIO()
    Image.fromarray(gradient_frame(64, 48)).save(buf, format="PNG")
    client.post("/api/shots/1/reference", query_string=q, data=buf.getvalue())
    client.delete("/api/shots/0/hints/0", query_string=q)
    client.post("/api/save", query_string=q)
    undo = lambda: client.post("/api/undo", query_string=q).get_json()["shot"]  # noqa: E731
    client.post("/api/shots/0/hints", query_string=q, json={"x": 0.9, "y": 0.9, "rgb": BLUE})
    assert studio.unsaved
    assert undo() == 0 and not studio.unsaved  # undone back to what the files hold: nothing to save
    assert client.delete("/api/shots/0/reference", query_string=q).status_code == 200  # it has none
    assert not studio.unsaved  # no change (and none to undo: the next undo below is the delete's)
    assert undo() == 0 and hints(0) == [{"x": 0.7, "y": 0.6, "rgb": BLUE}]  # the delete
    assert studio.unsaved
    assert undo() == 1 and studio.shots[1].reference is None  # the reference
    assert undo() == 1 and hints(1) == []
    assert undo() == 0 and hints(0) == [{"x": 0.2, "y": 0.2, "rgb": BLUE}]  # the drag
    assert undo() == 0 and hints(0) == []
    assert undo() is None
    # a refused change is no change: nothing to take back
    assert client.put("/api/shots/0/hints/5", query_string=q, json={"x": 0, "y": 0, "rgb": BLUE}).status_code == 404
    assert undo() is None


def test_a_film_that_cannot_be_saved_beside_still_renders_what_the_page_holds(
    film: Path, tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    """A read-only archive master: Save says why it cannot, and Render colours the film with the
    page's guidance all the same, saying it was not saved."""
    import vidcolor.studio.session as session

    def read_only(final: Path, _write) -> None:
        raise PermissionError(13, "Permission denied", str(final))

    (tmp_path / "out").mkdir()
    out, plain = tmp_path / "out" / "guided.mp4", tmp_path / "out" / "plain.mp4"
    runner_args = ["--model", str(tiny_model), "--device", "cpu", "-q"]
    assert CliRunner().invoke(app, [str(film), "-o", str(plain), *runner_args]).exit_code == 0
    studio = Studio(film, Colorizer(ColorizeConfig(model=str(tiny_model), device="cpu")), render_to=out)
    client = create_app(studio, TOKEN).test_client()
    q = {"token": TOKEN}
    client.post("/api/shots/0/hints", query_string=q, json={"x": 0.5, "y": 0.5, "rgb": BLUE})
    monkeypatch.setattr(session, "write_atomic", read_only)
    r = client.post("/api/save", query_string=q)
    assert r.status_code == 400 and r.get_json()["error"] == "cannot save beside film.mp4: Permission denied"
    assert client.post("/api/render", query_string=q).status_code == 200
    studio.renderer.wait(60)
    state = studio.renderer.state
    assert state["state"] == "done", state
    assert state["message"] == "wrote guided.mp4 (not saved: cannot save beside film.mp4: Permission denied)"
    assert not film.with_name("film.hints.json").exists() and studio.unsaved
    guided_px, plain_px = (near(read_frames(p)[0].astype(np.float64), 0.5, 0.5) for p in (out, plain))
    assert dist(guided_px, BLUE) < dist(plain_px, BLUE) - 20


def test_the_pages_guidance_is_what_its_save_says(tmp_path: Path, tiny_model: Path) -> None:
    """page_guidance() (what Render uses when the folder cannot be written) and the saved files read
    back (what the command line uses) hold the same hints and the same references on the same shots."""
    from test_guidance import luma_gray, two_shots

    from vidcolor.guidance import Guidance, beside

    a, b = two_shots()
    film = write_video(tmp_path / "reel.mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    client.post("/api/shots/0/hints", query_string=q, json={"x": 0.2, "y": 0.3, "rgb": BLUE})
    client.post("/api/shots/1/hints", query_string=q, json={"x": 0.6, "y": 0.4, "rgb": [30, 200, 40]})
    buf = io.BytesIO()
    Image.fromarray(gradient_frame(64, 48)).save(buf, format="PNG")
    client.post("/api/shots/1/reference", query_string=q, data=buf.getvalue())
    studio.save()
    saved, page = Guidance.load(*beside(film)), studio.page_guidance()

    def points(g: Guidance) -> list:
        return sorted((round(t, 6), x, y, tuple(rgb)) for h in g.hints for t, x, y, rgb, _reach in h.points)

    def refs(g: Guidance) -> list:
        return [(studio.map.shot_of(studio.map.frame_at(r.t)), r.rgb.tobytes()) for r in g.references]

    assert points(page) == points(saved) and len(points(page)) == 2
    assert refs(page) == refs(saved) and [shot for shot, _ in refs(page)] == [1]


def test_saves_at_once_all_succeed_and_agree(film: Path, tiny_model: Path) -> None:
    """A double-clicked Save, or Save then Render: was `cannot save beside film.mp4: No such file or
    directory` in 7 of 10 pairs (the temporary name was per process, so one save renamed the other's)."""

    studio, client = open_studio(film, tiny_model)
    client.post("/api/shots/0/hints", query_string={"token": TOKEN}, json={"x": 0.5, "y": 0.5, "rgb": BLUE})
    errors, start = [], threading.Barrier(4)

    def save() -> None:
        start.wait()
        try:
            studio.save()
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.loads(studio.hints_path.read_text())[0]["rgb"] == BLUE
    assert not list(film.parent.glob(".*partial*"))


def test_save_keeps_what_the_page_did_not_edit(tmp_path: Path, tiny_model: Path) -> None:
    """Two coloured pictures of one shot in film.ref/ (vidcolor keyframes at two render sizes) and a
    hand-written hint time: a Save after an edit elsewhere was removing one picture and moving the
    hint to its shot's start. Nothing the page did not show or edit may change."""
    from test_guidance import luma_gray, two_shots

    from vidcolor.shots import keyframe_name

    a, b = two_shots(n=12)
    film = write_video(tmp_path / "reel.mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    studio, _ = open_studio(film, tiny_model)
    t1 = studio.shots[1].t
    studio.close()
    refs = tmp_path / "reel.ref"
    refs.mkdir()
    first, second = refs / keyframe_name(1, t1), refs / keyframe_name(1, t1 + 0.5)
    Image.fromarray(b[0]).save(first)
    Image.fromarray(b[6]).save(second)
    before = {p.name: p.read_bytes() for p in (first, second)}
    hand = {"x": 0.3, "y": 0.4, "rgb": [200, 40, 40], "t": round(t1 + 0.4, 3)}
    (tmp_path / "reel.hints.json").write_text(json.dumps([hand]))
    studio, client = open_studio(film, tiny_model)
    assert f"reel.ref/{second.name}" in studio.other_guidance()  # the second picture is listed, not hidden
    client.post("/api/shots/0/hints", query_string={"token": TOKEN}, json={"x": 0.5, "y": 0.5, "rgb": BLUE})
    studio.save()
    assert {p.name: p.read_bytes() for p in refs.iterdir()} == before
    saved = json.loads((tmp_path / "reel.hints.json").read_text())
    assert hand in saved and {"x": 0.5, "y": 0.5, "rgb": BLUE, "t": studio.shots[0].t} in saved


def test_an_edit_from_a_stale_tab_is_refused_never_applied_to_another_hint(film: Path, tiny_model: Path) -> None:
    """Two pages on one film: tab B deletes a hint; tab A, which has not seen that, deletes "its"
    hint: refused (409, a message saying why), and no hint is touched. Hints are addressed by id,
    so even an edit that names no version lands on the hint it means."""
    studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    for x in (0.2, 0.5, 0.8):
        client.post("/api/shots/0/hints", query_string=q, json={"x": x, "y": 0.5, "rgb": BLUE})
    seen = client.get("/api/shots", query_string=q).get_json()  # both tabs load the page
    v, ids = seen["version"], [h["id"] for h in seen["shots"][0]["hints"]]
    ok = client.delete(f"/api/shots/0/hints/{ids[0]}", query_string=q, headers={"X-Studio-Version": str(v)})
    assert ok.status_code == 200 and ok.get_json()["version"] == v + 1  # tab B
    stale = client.delete(f"/api/shots/0/hints/{ids[1]}", query_string=q, headers={"X-Studio-Version": str(v)})
    assert stale.status_code == 409 and "another tab" in stale.get_json()["error"]  # tab A
    assert [h.x for h in studio.shots[0].hints] == [0.5, 0.8]
    for stale_edit in (
        lambda h: client.put(
            f"/api/shots/0/hints/{ids[2]}", query_string=q, headers=h, json={"x": 0, "y": 0, "rgb": BLUE}
        ),
        lambda h: client.post("/api/undo", query_string=q, headers=h),
        lambda h: client.put("/api/strength", query_string=q, headers=h, json={"strength": 2}),
    ):
        assert stale_edit({"X-Studio-Version": str(v)}).status_code == 409
    assert [h.x for h in studio.shots[0].hints] == [0.5, 0.8] and studio.colorizer.cfg.strength == 1.0
    # tab A reloads: its next edit applies, to the hint it names (by id, not by place in the list)
    v = client.get("/api/shots", query_string=q).get_json()["version"]
    ok = client.delete(f"/api/shots/0/hints/{ids[2]}", query_string=q, headers={"X-Studio-Version": str(v)})
    assert ok.status_code == 200 and [h.x for h in studio.shots[0].hints] == [0.5]
    gone = client.delete(f"/api/shots/0/hints/{ids[0]}", query_string=q)  # already deleted: 404, not another
    assert gone.status_code == 404 and "hint 0 of shot 0" in gone.get_json()["error"]
    assert [h.x for h in studio.shots[0].hints] == [0.5]


def test_the_page_shows_the_frame_render_writes_and_how_well_a_reference_matches(
    tmp_path: Path, tiny_model: Path
) -> None:
    """What you see is what renders: shot 2's picture on the page (a hint and a reference that
    matches the shot poorly, pinned to it) against the same frame of the rendered film (lossless,
    so only the code path can differ): within 2 levels. The poor match is reported with its score;
    a reference that is the shot's own colour frame scores above the gate."""
    from test_guidance import luma_gray, two_shots

    a, b = two_shots()
    film = write_video(tmp_path / "reel.mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    out = tmp_path / "out.mkv"
    cfg = ColorizeConfig(model=str(tiny_model), device="cpu", encode=EncodeSettings(codec="ffv1"))
    studio = Studio(film, Colorizer(cfg), render_to=out)
    client = create_app(studio, TOKEN).test_client()
    q = {"token": TOKEN}
    assert [s.start for s in studio.shots] == [0, 8]

    def reference(n: int, rgb: np.ndarray) -> float:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="PNG")
        assert client.post(f"/api/shots/{n}/reference", query_string=q, data=buf.getvalue()).status_code == 200
        return client.get("/api/shots", query_string=q).get_json()["shots"][n]["match"]

    doc = client.get("/api/shots", query_string=q).get_json()
    assert doc["shots"][1]["match"] is None
    auto = png(client.get("/api/shots/1/colour.png", query_string=q))
    assert reference(0, a[0]) >= doc["match_gate"]  # the shot's own colour: it lines up
    poor = reference(1, np.ascontiguousarray(np.rot90(gradient_frame(64, 96, t=2.0))))  # something else
    assert poor < doc["match_gate"]
    client.post("/api/shots/1/hints", query_string=q, json={"x": 0.3, "y": 0.6, "rgb": [220, 40, 40]})
    page = png(client.get("/api/shots/1/colour.png", query_string=q))
    assert client.post("/api/render", query_string=q).status_code == 200
    studio.renderer.wait(120)
    assert studio.renderer.state["state"] == "done", studio.renderer.state
    rendered = read_frames(out)[8].astype(np.float64)
    assert page.shape == rendered.shape
    diff = np.abs(page - rendered)
    assert diff.max() <= 2, (diff.max(), diff.mean())
    # and what both show is guided, not the automatic colour the page showed before
    assert np.abs(page - auto).max() > 20


def test_the_shot_list_is_cached_by_the_file(tmp_path: Path, tiny_model: Path, monkeypatch) -> None:
    """A film opened a second time does not decode it again (the shot pass of a feature film takes
    minutes); a film changed since, or a damaged cache entry, is scanned again."""
    import os

    from test_guidance import luma_gray, two_shots

    import vidcolor.studio.session as session

    a, b = two_shots()
    film = write_video(tmp_path / "reel [1950].mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    first = Studio(film, Colorizer(ColorizeConfig(model=str(tiny_model), device="cpu")))
    real = session.shot_frames
    scans = []
    monkeypatch.setattr(session, "shot_frames", lambda *a, **k: scans.append(1) or real(*a, **k))
    frames: list[int] = []
    again = Studio(film, first.colorizer, progress=frames.append)
    assert scans == [] and sum(frames) == 16
    assert [(s.start, s.t, s.gray_png, s.thumb_png) for s in again.shots] == [
        (s.start, s.t, s.gray_png, s.thumb_png) for s in first.shots
    ]
    assert np.array_equal(again.map.times, first.map.times) and again.map.starts == first.map.starts == [0, 8]
    st = film.stat()
    os.utime(film, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # edited (or replaced) since
    Studio(film, first.colorizer)
    assert scans == [1]
    for entry in (Path(os.environ["VIDCOLOR_CACHE"]) / "studio-shots").glob("*.npz"):
        entry.write_bytes(b"not a cache entry")
    notes: list[str] = []
    third = Studio(film, first.colorizer, notes.append)
    assert scans == [1, 1] and [s.start for s in third.shots] == [0, 8]
    assert any("could not be read" in n and "finding the shots again" in n for n in notes), notes


def shift_click(page, box: dict, x: float, y: float) -> None:
    """Shift-click at (x, y) fractions of ``box``: a hint in the last colour picked."""
    page.keyboard.down("Shift")
    page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
    page.keyboard.up("Shift")


@pytest.mark.skipif(_chromium() is None, reason="no Chromium installed (Debian: apt-get install chromium)")
def test_browser_what_you_see_is_what_renders_and_a_stale_tab_is_refused(tmp_path: Path, tiny_model: Path) -> None:
    """In a real browser, as a user: the arrow key goes to shot 2, a reference (its match score
    said) and a hint are given, Render; the rendered frame is within 2 levels of the picture the
    page shows. A second tab, opened before another hint was added, deletes a hint: refused with a
    message, nothing deleted; a reload comes back to the same shot."""
    playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
    from test_guidance import luma_gray, two_shots

    from vidcolor.studio.server import Server

    a, b = two_shots()
    film = write_video(tmp_path / "reel.mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    out = tmp_path / "out.mkv"
    cfg = ColorizeConfig(model=str(tiny_model), device="cpu", encode=EncodeSettings(codec="ffv1"))
    studio = Studio(film, Colorizer(cfg), render_to=out)
    server = Server(studio)
    threading.Thread(target=server.run, daemon=True).start()
    ref = tmp_path / "maple.png"
    Image.fromarray(np.ascontiguousarray(np.rot90(gradient_frame(64, 96, t=2.0)))).save(ref)
    src = "document.getElementById('colour').src"
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium())
            page = browser.new_page(viewport={"width": 800, "height": 700})  # the narrowest layout meant
            page.goto(server.url)
            page.wait_for_selector("#strip .cell")
            assert page.inner_text("#strip .cell.sel") == "1 · 0:00.0"
            page.keyboard.press("ArrowRight")
            page.wait_for_function("location.hash === '#shot=1'")
            page.set_input_files("#ref", str(ref))
            page.wait_for_selector("#ref-img:not([hidden])")
            assert "matches this shot poorly" in page.inner_text("#ref-match")
            page.wait_for_function("document.getElementById('colour').complete")
            before = page.evaluate(src)
            box = page.locator("#colour").bounding_box()
            shift_click(page, box, 0.3, 0.6)
            page.wait_for_selector("#hints li")
            page.wait_for_function(f"{src} !== {before!r}")
            page.wait_for_function("document.getElementById('colour').complete")
            assert "H1 R" in page.inner_text("#strip .cell.sel")
            page.click("#hints li button:text('palette')")  # colours at the hint's lightness
            page.wait_for_selector("#hints li.swatches button")
            swatch = page.locator("#hints li.swatches button").nth(1)
            picked = swatch.get_attribute("title")
            before = page.evaluate(src)
            swatch.click()
            page.wait_for_function(f"{src} !== {before!r}")
            assert "#{:02x}{:02x}{:02x}".format(*studio.shots[1].hints[0].rgb) == picked
            before = page.evaluate(src)
            page.fill("#hints input.reach", "0.05")  # a small reach: the colour stays near the hint
            page.wait_for_function(f"{src} !== {before!r}")
            page.wait_for_function("document.getElementById('colour').complete")
            assert studio.shots[1].hints[0].reach == 0.05
            shown = page.request.get(page.evaluate(src))
            assert shown.ok
            picture = np.asarray(Image.open(io.BytesIO(shown.body())).convert("RGB")).astype(np.float64)

            page.click("#render")
            page.wait_for_function("document.getElementById('status').textContent.startsWith('wrote out.mkv')")
            rendered = read_frames(out)[8].astype(np.float64)
            assert picture.shape == rendered.shape and np.abs(picture - rendered).max() <= 2

            page.select_option("#preview-frames", "16")  # more than the shot's 8 frames: one row each
            page.click("#preview")
            page.wait_for_selector("#player:not([hidden])")
            assert page.evaluate("[$('frame').width, $('frame').height, $('scrub').max]") == [3 * 96 + 8, 64, "7"]
            page.click("#play")  # the rows play in a loop
            page.wait_for_function("document.getElementById('scrub').value !== '0'")
            page.click("#play")
            page.fill("#wipe", "40")  # before | after: the gray film over the left 40 %
            assert page.evaluate("$('wipe-gray').style.clipPath") == "inset(0px 60% 0px 0px)"

            other = browser.new_page(viewport={"width": 1280, "height": 800})
            other.goto(server.url + "#shot=1")  # a second tab, on the same shot
            other.wait_for_selector("#hints li")
            page.locator("#colour").scroll_into_view_if_needed()  # the player scrolled the page down
            shift_click(page, page.locator("#colour").bounding_box(), 0.7, 0.3)
            page.wait_for_function("document.querySelectorAll('#hints li').length === 2")
            other.click("#hints li button:text('delete')")  # "delete", from a page that has not seen the second hint
            other.wait_for_function("document.getElementById('error').textContent.includes('another tab')")
            assert len(studio.shots[1].hints) == 2
            other.wait_for_function("document.querySelectorAll('#hints li').length === 2")  # it reloaded
            other.reload()
            other.wait_for_selector("#strip .cell.sel")
            assert other.inner_text("#strip .cell.sel").startswith("2 · ")
            browser.close()
    finally:
        server.stop()


def test_save_keeps_the_sliders_and_the_cli_and_batch_use_them(tmp_path: Path, tiny_model: Path) -> None:
    """Save writes the sliders beside the film (film.settings.json): reopening the studio shows
    them, `vidcolor FILM -o OUT` and `vidcolor batch` render with them (the same frames as the
    flags would), a flag given on the command line wins, and sliders back at the defaults leave no file."""
    film = gray_film(tmp_path / "film.mp4")
    _studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    client.put("/api/strength", query_string=q, json={"strength": 2.5})
    client.put("/api/smoothing", query_string=q, json={"smoothing": 0.5})
    doc = client.get("/api/shots", query_string=q).get_json()
    assert doc["unsaved"] and doc["command"].endswith("--strength 2.5 --smoothing 0.5")
    assert client.post("/api/save", query_string=q).get_json() == {"written": ["film.settings.json"]}
    assert json.loads(film.with_name("film.settings.json").read_text()) == {"strength": 2.5, "smoothing": 0.5}
    doc = client.get("/api/shots", query_string=q).get_json()
    assert not doc["unsaved"] and doc["command"] == "vidcolor film.mp4 -o OUT"
    _again, client2 = open_studio(film, tiny_model)
    doc = client2.get("/api/shots", query_string=q).get_json()
    assert (doc["strength"], doc["smoothing"], doc["unsaved"]) == (2.5, 0.5, False)

    run = lambda *a: CliRunner().invoke(app, [*map(str, a), "--model", str(tiny_model), "--device", "cpu"])  # noqa: E731
    res = run(film, "-o", tmp_path / "saved.mp4")
    assert (
        res.exit_code == 0
        and "settings saved beside film.mp4 (film.settings.json): --strength 2.5 --smoothing 0.5" in res.output
    )
    plain = tmp_path / "plain"
    plain.mkdir()
    bare = gray_film(plain / "film.mp4")  # the same film with nothing beside it
    assert run(bare, "-o", tmp_path / "flags.mp4", "--strength", "2.5", "--smoothing", "0.5", "-q").exit_code == 0
    assert run(bare, "-o", tmp_path / "default.mp4", "-q").exit_code == 0
    assert run(film, "-o", tmp_path / "given.mp4", "--strength", "1", "--smoothing", "0.9", "-q").exit_code == 0
    frames = {n: np.stack(read_frames(tmp_path / f"{n}.mp4")) for n in ("saved", "flags", "default", "given")}
    assert np.array_equal(frames["saved"], frames["flags"]) and not np.array_equal(frames["saved"], frames["default"])
    assert np.array_equal(frames["given"], frames["default"])  # the flags given win

    out = tmp_path / "batch"
    assert run("batch", tmp_path / "film.mp4", "-o", out, "-q").exit_code == 0
    assert np.array_equal(np.stack(read_frames(out / "film.mp4")), frames["flags"])
    client2.put("/api/strength", query_string=q, json={"strength": 1.0})
    client2.put("/api/smoothing", query_string=q, json={"smoothing": 0.9})
    assert client2.post("/api/save", query_string=q).get_json() == {"written": []}
    assert not film.with_name("film.settings.json").exists()
    res = run("batch", tmp_path / "film.mp4", "-o", out, "--dry-run")
    assert "would run" in res.output  # the look changed: the film is redone

    film.with_name("film.settings.json").write_text('{"strength": 9}')
    res = run(film, "-o", tmp_path / "bad.mp4")
    assert res.exit_code == 2 and "film.settings.json: strength must be a number in [0, 4], got 9" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "bad.mp4").exists()
