"""The studio's HTTP side (Flask): a JSON API over a :class:`~vidcolor.studio.session.Studio`, the
page from the package, and a token every request must carry.

Safety: the server binds 127.0.0.1 only; a request without the token (``?token=`` or the
``X-Studio-Token`` header) gets 403 before any route runs; routes take only integers (shot and hint
numbers), so no request names a file; the page's files are a fixed set read from the package.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from importlib import resources

from flask import Flask, Response, abort, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from vidcolor.errors import BadInputError, describe
from vidcolor.studio.session import MAX_PREVIEW_FRAMES, MAX_UPLOAD, SHOT_PREVIEW_FRAMES, Stale, Studio

STATIC = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}


def _static(name: str) -> Response:
    text = resources.files("vidcolor.studio").joinpath("static", name).read_bytes()
    return Response(text, mimetype=STATIC[name])


def _png(data: bytes) -> Response:
    return Response(data, mimetype="image/png", headers={"Cache-Control": "no-store"})


def create_app(studio: Studio, token: str, quit: Callable[[], None] = lambda: None) -> Flask:
    """The WSGI app. ``quit`` is called (from a request thread) when the page asks to stop."""
    app = Flask("vidcolor.studio", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD + 64 * 1024  # the picture and its multipart envelope

    @app.before_request
    def check_token() -> None:
        given = request.args.get("token") or request.headers.get("X-Studio-Token") or ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            abort(403)

    @app.errorhandler(BadInputError)
    def bad_input(e: BadInputError) -> tuple[Response, int]:
        return jsonify(error=str(e)), 409 if isinstance(e, Stale) else 400

    @app.errorhandler(KeyError)
    def unknown(e: KeyError) -> tuple[Response, int]:
        what = e.args[0]  # a shot's number, or "hint H of shot N" (deleted or undone meanwhile, maybe in another tab)
        return jsonify(error=f"no such shot or hint: {what if isinstance(what, str) else repr(what)}"), 404

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_e: HTTPException) -> tuple[Response, int]:
        return jsonify(error=f"the upload is over the {MAX_UPLOAD // 2**20} MB limit"), 413

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response, int]:
        return jsonify(error=e.description or e.name), e.code or 500

    @app.errorhandler(Exception)
    def crash(e: Exception) -> tuple[Response, int]:  # a bug: one message for the page, the server lives on
        return jsonify(error=f"unexpected {type(e).__name__}: {describe(e)}"), 500

    @app.get("/")
    def index() -> Response:
        # the page's own requests (stylesheet, script) carry the token too; url-safe, so safe in HTML
        page = _static("index.html")
        page.set_data(page.get_data().replace(b"__TOKEN__", token.encode()))
        return page

    @app.get("/app.js")
    def script() -> Response:
        return _static("app.js")

    @app.get("/style.css")
    def style() -> Response:
        return _static("style.css")

    @app.get("/api/shots")
    def shots() -> Response:
        return jsonify(studio.describe())

    @app.get("/api/shots/<int:n>/gray.png")
    def gray(n: int) -> Response:
        return _png(studio.gray_png(n))

    @app.get("/api/shots/<int:n>/thumb.png")
    def thumb(n: int) -> Response:
        return _png(studio.thumb_png(n))

    @app.get("/api/shots/<int:n>/colour.png")
    def colour(n: int) -> Response:
        return _png(studio.colour_png(n))

    @app.get("/api/shots/<int:n>/palette")
    def palette(n: int) -> Response:
        try:
            x, y = float(request.args.get("x", "")), float(request.args.get("y", ""))
        except ValueError:
            raise BadInputError("palette: x and y must be numbers in [0, 1]") from None
        return jsonify(rgb=[list(c) for c in studio.palette(n, x, y)])

    @app.get("/api/shots/<int:n>/reference.png")
    def reference(n: int) -> Response:
        return _png(studio.reference_png(n))

    @app.get("/api/shots/<int:n>/preview.png")
    def shot_preview(n: int) -> Response:
        frames = request.args.get("frames", str(SHOT_PREVIEW_FRAMES))
        if not frames.isdigit() or not 1 <= int(frames) <= MAX_PREVIEW_FRAMES:
            raise BadInputError(f"frames must be a whole number in 1..{MAX_PREVIEW_FRAMES}, got {frames!r}")
        return _png(studio.shot_preview_png(n, int(frames)))

    def version() -> int | str | None:
        """The version of the studio the page saw (``X-Studio-Version``): an edit from a page that has
        not seen the latest change is refused (409). Absent: the edit applies (scripts, the tests)."""
        given = request.headers.get("X-Studio-Version")
        return None if given is None else int(given) if given.isdigit() else given

    def body() -> dict:
        doc = request.get_json(silent=True)
        if not isinstance(doc, dict):
            raise BadInputError("expected a JSON object")
        return doc

    @app.post("/api/shots/<int:n>/hints")
    def add_hint(n: int) -> Response:
        doc = body()
        # no rgb: the hint starts at the automatic colour there (the page then opens its picker)
        h = studio.add_hint(n, doc.get("x"), doc.get("y"), doc.get("rgb"), version(), doc.get("reach"))
        return jsonify(id=h.id, rgb=list(h.rgb), version=studio.version)

    @app.put("/api/shots/<int:n>/hints/<int:hint_id>")
    def set_hint(n: int, hint_id: int) -> Response:
        doc = body()
        studio.set_hint(n, hint_id, doc.get("x"), doc.get("y"), doc.get("rgb"), version(), doc.get("reach"))
        return jsonify(ok=True, version=studio.version)

    @app.delete("/api/shots/<int:n>/hints/<int:hint_id>")
    def delete_hint(n: int, hint_id: int) -> Response:
        studio.delete_hint(n, hint_id, version())
        return jsonify(ok=True, version=studio.version)

    @app.post("/api/shots/<int:n>/reference")
    def set_reference(n: int) -> Response:
        upload = request.files.get("file")
        # the file's bytes only: its client-side name is never used
        data = upload.read() if upload is not None else request.get_data()
        if not data:
            raise BadInputError("reference: no file was sent")
        studio.set_reference(n, data, version())
        return jsonify(ok=True, version=studio.version)

    @app.delete("/api/shots/<int:n>/reference")
    def delete_reference(n: int) -> Response:
        studio.set_reference(n, None, version())
        return jsonify(ok=True, version=studio.version)

    @app.post("/api/undo")
    def undo() -> Response:
        return jsonify(shot=studio.undo(version()), version=studio.version)

    @app.put("/api/strength")
    def strength() -> Response:
        studio.set_strength(body().get("strength"), version())
        return jsonify(ok=True, version=studio.version)

    @app.put("/api/smoothing")
    def smoothing() -> Response:
        studio.set_smoothing(body().get("smoothing"), version())
        return jsonify(ok=True, version=studio.version)

    @app.post("/api/save")
    def save() -> Response:
        written = studio.save()
        where = studio.hints_path.parent  # beside the film: its folder's (a pattern's frames are one deeper)
        return jsonify(written=[str(p.relative_to(where)) for p in written])

    @app.post("/api/render")
    def render() -> Response:
        studio.start_render()
        return jsonify(studio.renderer.state)

    @app.post("/api/render/cancel")
    def cancel_render() -> Response:
        studio.renderer.cancel()
        return jsonify(ok=True)

    @app.get("/api/render")
    def render_state() -> Response:
        return jsonify(studio.renderer.state)

    @app.post("/api/quit")
    def stop() -> Response:
        quit()
        return jsonify(ok=True)

    return app


class _QuietHandler(WSGIRequestHandler):
    """No line per request: each would print the token (in the query) to the terminal and its logs."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class Server:
    """The app on 127.0.0.1: ``port`` 0 takes a free one. :meth:`run` serves until :meth:`stop`
    (the page's Quit) or Ctrl-C."""

    def __init__(self, studio: Studio, port: int = 0) -> None:
        self.token = secrets.token_urlsafe(24)
        self.app = create_app(studio, self.token, self.stop)
        self.http: BaseWSGIServer = make_server(
            "127.0.0.1", port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self.http.server_port}/?token={self.token}"

    def run(self) -> None:
        self.http.serve_forever()

    def stop(self) -> None:
        # shutdown() waits for serve_forever to return: from a request thread it must not be waited on
        threading.Thread(target=self.http.shutdown, daemon=True).start()
