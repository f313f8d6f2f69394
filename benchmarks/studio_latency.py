"""How fast `vidcolor studio` answers, on the bundled example and model, one process.

    .venv/bin/python benchmarks/studio_latency.py [--repeats 7] [--browser] [--screenshot docs/images/studio.jpg]
    .venv/bin/python benchmarks/studio_latency.py --film ../shared/data/videos/vtest.avi   # another film's shots

``--film``: opening it twice (the shot pass, then the cached shot list), then Preview the shot on
its first 3 shots.

Times (median of ``--repeats`` after one warm-up, ``time.perf_counter``) the keyframe preview of
shot 0 automatic, with 4 hints and with a reference (what each click, drag or slider move waits
for); a hint that starts at the automatic colour (the first on a shot colours it automatically
once, later ones read the cache); and "Preview the shot" (4 frames across each shot, with one hint,
through the film's loop); the same for the example scaled to 1080p (a keyframe held at 1280x720).
``--browser`` also opens the page in headless Chromium (Debian's package,
driven by playwright) and reads the page's own timer for a preview: request + colorize + PNG +
decode; ``--screenshot`` saves that page.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench_timing import machine
from vidcolor.colorizer import Colorizer
from vidcolor.config import ColorizeConfig
from vidcolor.engines.cache import set_cache_dir
from vidcolor.studio.session import Studio

FILM = Path(__file__).resolve().parents[1] / "examples" / "bikes_gray.mp4"


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def reference_picture(studio: Studio) -> bytes:
    """The keyframe in the model's own colour, a stand-in for a hand-coloured reference."""
    from vidcolor.studio.session import png_bytes

    return png_bytes(studio.automatic(0))


def hd_film(folder: Path, frames: int = 30) -> Path:
    """The example's first ``frames`` frames scaled to 1920x1080 (a film scanned in HD)."""
    import av

    out = folder / "bikes_1080p.mp4"
    with av.open(str(FILM)) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            if i == frames:
                break
            for packet in stream.encode(frame.reformat(width=1920, height=1080, format="yuv420p")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


def browser(studio: Studio, screenshot: Path | None) -> list[float]:
    import shutil

    from playwright.sync_api import sync_playwright

    from vidcolor.studio.server import Server

    server = Server(studio)
    threading.Thread(target=server.run, daemon=True).start()
    shown = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium") or shutil.which("chromium-browser"))
            page = b.new_page(viewport={"width": 1400, "height": 900})
            page.goto(server.url)
            page.wait_for_selector("#strip img")
            page.wait_for_function("document.getElementById('status').textContent.startsWith('picture')")
            page.fill("#last", "#d2d2cd")  # the pavement's light gray
            for x in (0.42, 0.47, 0.52, 0.45, 0.5):  # shift-click: a hint in the last colour, no picker
                before = page.evaluate("document.getElementById('colour').src")
                box = page.locator("#colour").bounding_box()
                page.keyboard.down("Shift")
                page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * (0.5 + x / 4))
                page.keyboard.up("Shift")
                page.wait_for_function(f"document.getElementById('colour').src !== {before!r}")
                page.wait_for_function("document.getElementById('status').textContent.startsWith('picture')")
                shown.append(float(page.inner_text("#status").split()[1]))
            if screenshot:
                page.click("#preview")
                page.wait_for_selector("#shot-preview:not([hidden])")
                jpeg = screenshot.suffix.lower() in (".jpg", ".jpeg")
                page.screenshot(path=str(screenshot), full_page=True, **({"quality": 85} if jpeg else {}))
            b.close()
    finally:
        server.stop()
    return shown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--browser", action="store_true")
    ap.add_argument("--screenshot", type=Path)
    ap.add_argument("--film", type=Path, help="time only Preview the shot (one hint) on this film's first 3 shots")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    if args.film:
        colorizer = Colorizer(ColorizeConfig(device="cpu"))
        with tempfile.TemporaryDirectory() as cache:  # an empty cache: the first opening finds the shots
            set_cache_dir(cache)
            t = time.perf_counter()
            studio = Studio(args.film, colorizer)
            first = time.perf_counter() - t
            t = time.perf_counter()
            Studio(args.film, colorizer)
            again = time.perf_counter() - t
            set_cache_dir(None)
        secs = float(studio.map.times[-1])
        print(
            f"{args.film.name} ({secs / 60:.1f} min, {len(studio.map.times)} frames, {len(studio.shots)} shots): "
            f"opening (the shot pass) {first:.1f} s; opening again (the cached shot list) {again:.2f} s"
        )
        for n in range(min(3, len(studio.shots))):
            studio.add_hint(n, 0.5, 0.5, [200, 40, 40])
            end = studio.end_of(n) or float(studio.map.times[-1])
            t = time.perf_counter()
            studio.shot_preview_png(n)
            frames = sum(1 for i in range(len(studio.map.times)) if studio.map.shot_of(i) == n)
            print(
                f"{args.film.name}: preview the shot {n} ({end - studio.shots[n].t:.1f} s, {frames} frames, "
                f"one hint, one run): {time.perf_counter() - t:.2f} s"
            )
        return
    t = time.perf_counter()
    studio = Studio(FILM, Colorizer(ColorizeConfig(device="cpu")))
    print(f"open {FILM.name} (model + shot pass): {time.perf_counter() - t:.2f} s, {len(studio.shots)} shots")
    r = args.repeats
    print(f"keyframe preview, automatic: {median_ms(lambda: studio.colour_png(0), r):.0f} ms")
    first = time.perf_counter()
    studio.add_hint(0, 0.2, 0.3)
    print(f"hint at the automatic colour, first on the shot: {1000 * (time.perf_counter() - first):.0f} ms")
    print(f"hint at the automatic colour, cached: {median_ms(lambda: studio.automatic_at(0, 0.5, 0.5), r):.1f} ms")
    for x, y, rgb in ((0.8, 0.3, [80, 88, 100]), (0.5, 0.15, [190, 40, 35]), (0.12, 0.7, [140, 75, 55])):
        studio.add_hint(0, x, y, rgb)
    print(f"keyframe preview, 4 hints: {median_ms(lambda: studio.colour_png(0), r):.0f} ms")
    studio.set_reference(0, reference_picture(studio))
    print(f"keyframe preview, 4 hints + reference: {median_ms(lambda: studio.colour_png(0), r):.0f} ms")
    studio.set_reference(0, None)
    for n in range(len(studio.shots)):
        ms = median_ms(lambda n=n: studio.shot_preview_png(n), max(1, r // 2))
        end = studio.end_of(n) or float(studio.map.times[-1])  # the last shot: to its last frame
        print(f"preview the shot {n} ({end - studio.shots[n].t:.1f} s of film): {ms:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        hd = Studio(hd_film(Path(tmp)), Colorizer(ColorizeConfig(device="cpu")))
        hd.add_hint(0, 0.3, 0.3, [200, 40, 40])
        hd.add_hint(0, 0.6, 0.6, [40, 40, 200])
        h, w = hd.shots[0].gray.shape
        print(f"1080p film, keyframe held at {w}x{h}, 2 hints: {median_ms(lambda: hd.colour_png(0), r):.0f} ms")
        t = time.perf_counter()
        hd.shot_preview_png(0)
        print(f"1080p film, preview the shot (30 frames): {time.perf_counter() - t:.2f} s")
    if args.browser or args.screenshot:
        shown = browser(studio, args.screenshot)
        print(
            f"in Chromium, the page's own timer for a hint's preview: {', '.join(f'{v:.0f}' for v in shown)} ms "
            f"(median {np.median(shown):.0f})"
        )


if __name__ == "__main__":
    main()
