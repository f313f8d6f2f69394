"""The Typer app: routing to the default command, one-line errors and their exit codes, and the
options every command has (``--quiet``, ``--debug``).

The only place where domain errors become exit codes: 2 for bad input or usage, 1 for a
processing failure, 130 for Ctrl-C. Errors are one line on stderr; ``--debug`` shows a traceback.
"""

from __future__ import annotations

import functools
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from vidcolor.errors import VidcolorError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_COMMAND = "colorize"


class DefaultCommandGroup(TyperGroup):
    """Routes ``vidcolor INPUT ...`` to the ``colorize`` command; subcommand names win."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """As click's, but a usage error (an option out of range, unknown or missing) is one line
        like every other error, not a usage block and a boxed message; the exit code stays 2."""
        given = kwargs.get("args", args[0] if args else None)
        if not standalone_mode or not (sys.argv[1:] if given is None else given):  # bare `vidcolor`: the help
            return super().main(*args, standalone_mode=standalone_mode, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            err("aborted")
            sys.exit(1)
        except Exception as e:  # click's usage errors (typer vendors click: matched by what they carry)
            if not (hasattr(e, "format_message") and isinstance(getattr(e, "exit_code", None), int)):
                raise
            ctx = getattr(e, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            err(" ".join(e.format_message().split()) + where)
            sys.exit(e.exit_code)
        sys.exit(rv if isinstance(rv, int) else 0)  # an exit code from typer.Exit, else success


app = typer.Typer(
    cls=DefaultCommandGroup,
    help="Colorize black-and-white video with a pix2pix GAN.\n\nvidcolor INPUT -o OUTPUT colorizes a video or image; the commands below do the rest.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from vidcolor import __version__

        typer.echo(f"vidcolor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """Colorize black-and-white video with a pix2pix GAN."""


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM or SIGHUP (the terminal closed, an SSH session dropped), so
    cleanup (temporary files) runs as for Ctrl-C."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def err(message: str) -> None:
    typer.echo(f"vidcolor: error: {message}", err=True)


def logger(quiet: bool) -> Callable[[str], None]:
    """Messages to stderr; ``--quiet`` drops notes and progress, never a warning: a warning says
    that frames, audio or streams were left out, and silent data loss is worse than a noisy log."""

    def log(message: str) -> None:
        if not quiet or message.startswith(("warning:", "failed:")):
            typer.echo(message, err=True)

    return log


def signal_behind(e: BaseException) -> BaseException | None:
    """The Ctrl-C or SIGTERM/SIGHUP that ``e`` was raised while handling, if any. A job cancelled on a
    cluster signals all its processes at once: a data-loader worker dies of it, and the error that
    says so (raised from SIGCHLD while the main process is already stopping on its own SIGTERM)
    would hide the signal, the one thing that happened."""
    seen = 0
    cause = e.__context__
    while cause is not None and seen < 16:  # a chain, not a loop; short in practice
        if isinstance(cause, KeyboardInterrupt | Terminated):
            return cause
        cause, seen = cause.__context__, seen + 1
    return None


def _quiet_children() -> None:
    """Stopping on a signal: the children that died of it too (data-loader workers) are not errors,
    so PyTorch's SIGCHLD check is not to report them, with a traceback, while the loader shuts down."""
    if hasattr(signal, "SIGCHLD"):
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def handle_errors(func: F) -> F:
    """Turn domain errors and interrupts into one line + exit code (traceback only with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        try:
            try:
                return func(*args, **kwargs)
            except Exception as e:
                stop = signal_behind(e)
                if stop is not None:  # an error raised while unwinding from a signal: the signal is what happened
                    raise stop from None
                raise
        except VidcolorError as e:
            if debug:
                traceback.print_exc()
            err(str(e))
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            _quiet_children()
            err("interrupted")
            raise typer.Exit(130) from None
        except Terminated as e:
            _quiet_children()
            err("terminated" if e.signum == signal.SIGTERM else "hung up (the terminal closed)")
            raise typer.Exit(128 + e.signum) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as e:  # a bug: still one line unless --debug
            if debug:
                traceback.print_exc()
            err(f"unexpected {type(e).__name__}: {e} (rerun with --debug for a traceback)")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


Debug = Annotated[bool, typer.Option("--debug", help="Show a traceback on errors.")]
Quiet = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress bar or notes (warnings that data was left out are still printed)."),
]


def main() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    hup = getattr(signal, "SIGHUP", None)
    if hup is not None and signal.getsignal(hup) is not signal.SIG_IGN:  # under nohup a hangup stays ignored
        signal.signal(hup, _on_signal)
    app()
