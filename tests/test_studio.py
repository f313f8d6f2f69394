"""``vidcolor studio``: the HTTP API (token, no traversal, hints change the preview, uploads
refused clearly, save in the batch convention that ``vidcolor FILM -o OUT`` then reads)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from make_media import gradient_frame, read_frames, write_video

pytest.importorskip("flask", reason="vidcolor studio needs Flask (pip install 'vidcolor[studio]')")

from typer.testing import CliRunner

from vidcolor.cli import app
from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
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
    assert r.status_code == 200 and r.get_json() == {"index": 0}
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
    assert hints == [{"x": x, "y": y, "rgb": BLUE}]


def test_edit_and_delete_hints(film: Path, tiny_model: Path) -> None:
    _studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    client.post("/api/shots/0/hints", query_string=q, json={"x": 0.1, "y": 0.2, "rgb": BLUE})
    assert (
        client.put("/api/shots/0/hints/0", query_string=q, json={"x": 0.3, "y": 0.4, "rgb": [1, 2, 3]}).status_code
        == 200
    )
    assert client.get("/api/shots", query_string=q).get_json()["shots"][0]["hints"] == [
        {"x": 0.3, "y": 0.4, "rgb": [1, 2, 3]}
    ]
    bad = client.post("/api/shots/0/hints", query_string=q, json={"x": 2, "y": 0.4, "rgb": [1, 2, 3]})
    assert bad.status_code == 400 and "x" in bad.get_json()["error"]
    assert client.delete("/api/shots/0/hints/0", query_string=q).status_code == 200
    assert client.delete("/api/shots/0/hints/0", query_string=q).status_code == 404
    assert client.post("/api/save", query_string=q).get_json() == {"written": []}


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
        (b"not an image at all", "not a readable image"),
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
    import threading

    playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
    from vidcolor.studio.server import Server

    studio = Studio(film, Colorizer(ColorizeConfig(model=str(tiny_model), device="cpu")))
    server = Server(studio)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium())
            page = browser.new_page()
            page.goto(server.url)
            page.wait_for_selector("#strip img")
            page.wait_for_function("document.getElementById('colour').complete")
            before = page.eval_on_selector("#colour", "img => img.src")
            page.click("#colour", position={"x": 5, "y": 5})
            page.wait_for_function(f"document.getElementById('colour').src !== {before!r}")
            page.wait_for_selector("#hints li")
            browser.close()
        assert len(studio.shots[0].hints) == 1
    finally:
        server.stop()


def test_two_shots_each_get_hints_and_the_cli_uses_each_on_its_own_shot(tmp_path: Path, tiny_model: Path) -> None:
    from test_guidance import luma_gray, two_shots  # the two-shot clip guided runs are tested on

    a, b = two_shots()
    film = write_video(tmp_path / "reel.mkv", [luma_gray(f) for f in a + b], fps=12, codec="ffv1")
    plain = tmp_path / "plain" / "reel.mkv"
    plain.parent.mkdir()
    plain.write_bytes(film.read_bytes())
    _studio, client = open_studio(film, tiny_model)
    q = {"token": TOKEN}
    shots = client.get("/api/shots", query_string=q).get_json()["shots"]
    assert len(shots) == 2 and shots[1]["t"] > 0
    spots = {0: (0.25, 0.5, BLUE), 1: (0.75, 0.5, [30, 200, 40])}
    for n, (x, y, rgb) in spots.items():
        assert (
            client.post(f"/api/shots/{n}/hints", query_string=q, json={"x": x, "y": y, "rgb": rgb}).status_code == 200
        )
    client.post("/api/save", query_string=q)
    saved = json.loads(film.with_name("reel.hints.json").read_text())
    assert [p["t"] for p in saved] == [0.0, shots[1]["t"]]
    common = ["--model", str(tiny_model), "--device", "cpu", "--engine", "eager", "-q"]
    for src, out in ((plain, tmp_path / "plain.mkv"), (film, tmp_path / "guided.mkv")):
        assert CliRunner().invoke(app, [str(src), "-o", str(out), *common]).exit_code == 0
    auto, guided = (read_frames(tmp_path / f"{k}.mkv") for k in ("plain", "guided"))
    for n, frame in ((0, 0), (1, len(a))):  # each shot's first frame
        x, y, rgb = spots[n]
        assert (
            dist(near(guided[frame].astype(np.float64), x, y), rgb)
            < dist(near(auto[frame].astype(np.float64), x, y), rgb) - 20
        ), n
