"""``vidcolor studio FILM``: the local guidance page (:mod:`vidcolor.studio`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidcolor.cli.app import Debug, Quiet, app, handle_errors, logger
from vidcolor.cli.options import FILM_HELP, colorize_options, film_path, given_options
from vidcolor.config import ColorizeConfig
from vidcolor.errors import BadInputError

INSTALL = "vidcolor studio needs Flask: pip install 'vidcolor[studio]'"


@app.command("studio", help="A local web page to give each shot hints and a reference, and save them beside FILM.")
@handle_errors
@colorize_options("model", "model_format", "render_size", "strength", "smoothing", "engine", "precision", "device")
def studio_cmd(
    ctx: typer.Context,
    film: Annotated[
        Path,
        typer.Argument(help=FILM_HELP, show_default=False, callback=film_path),
    ],
    cfg: ColorizeConfig,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where the page's Render button writes the colorized film.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Let Render replace OUT if it exists.")] = False,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: a free one).", min=0, max=65535)] = 0,
    open_page: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    try:
        import flask  # noqa: F401  (an optional dependency: say how to get it, not a traceback)
    except ImportError:
        raise BadInputError(INSTALL) from None
    from vidcolor.cli.progress import progress_bar
    from vidcolor.colorizer import Colorizer
    from vidcolor.decode import is_image
    from vidcolor.sequence import is_sequence
    from vidcolor.studio.server import Server
    from vidcolor.studio.session import Studio

    if not (film.is_file() or is_sequence(film)):  # a folder or printf pattern of frames is a film too
        raise BadInputError(f"{film}: not found")
    if is_image(film):
        raise BadInputError(f"{film}: the studio is for videos; colour a still with --hints/--reference")
    if output is not None:
        from vidcolor.pipeline import check_output

        check_output(film, output, overwrite)  # before the shot pass; a second Render replaces its own output
    log = logger(quiet)
    if output is not None:
        from vidcolor.atomic import remove_dead_partials

        for p in remove_dead_partials(output):  # what a killed or hung-up studio's Render left behind
            log(f"note: removed {p.name}, left by a run that was stopped")
    colorizer = Colorizer(cfg, log)
    log(f"finding the shots of {film.name} (once: the list is cached for the next opening) ...")
    with progress_bar(film, cfg, enabled=not quiet, label="shots") as advance:
        given = given_options(ctx, "strength", "smoothing")  # over the sliders a Save kept beside the film
        studio = Studio(film, colorizer, log, render_to=output, progress=advance, given=given)
    try:
        server = Server(studio, port)
    except OSError as e:
        raise BadInputError(f"--port {port}: cannot listen on 127.0.0.1 ({e.strerror})") from None
    try:
        typer.echo(server.url)  # stdout, always: the one line a user (or a script) needs
        log(
            f"{len(studio.shots)} shot{'s' if len(studio.shots) != 1 else ''}; Ctrl-C or Quit on the page stops the studio"
        )
        if open_page:
            import webbrowser

            webbrowser.open(server.url)
        server.run()  # returns on Quit, and on Ctrl-C (Werkzeug's serve_forever catches it)
    except KeyboardInterrupt:  # Ctrl-C before the server loop started: the same stop
        pass
    finally:
        if studio.renderer.state["state"] == "running":
            log("cancelling the render ...")
        studio.close()  # a render still running is cancelled and its temporary file removed
        if studio.renderer.state["state"] == "cancelled":
            log(str(studio.renderer.state["message"]))
        if studio.unsaved:  # said, never silent: what the page held and no file has
            log(f"warning: the guidance changed on the page since the last Save was not saved beside {film.name}")
    log("stopped")
