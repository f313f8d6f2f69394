"""Command line: ``vidcolor INPUT -o OUTPUT`` plus subcommands, one module per command family.

:mod:`vidcolor.cli.app` holds the Typer app and turns domain errors into exit codes; importing
this package registers every command on it, in the order ``vidcolor --help`` lists them.
"""

import importlib

from vidcolor.cli.app import app, main

for _family in ("colorize", "batch", "tools", "studio", "model", "train"):
    importlib.import_module(f"vidcolor.cli.{_family}")

__all__ = ["app", "main"]
