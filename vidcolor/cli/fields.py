"""Options generated from the config dataclasses (:mod:`vidcolor.config`).

A field's option takes its help, range and default from the field (its :func:`vidcolor.config.doc`
metadata), and a command that takes a group of them gets the config they make
(:func:`config_options`), so an option and its field can neither say different things nor drift
apart. Typer reads a command's parameters from ``inspect.signature``: the generated options go
into the command's ``__signature__``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def _described(cls: type) -> tuple[dict[str, dataclasses.Field], dict[str, Any], Any]:
    """A dataclass's fields by name, their types (annotations evaluated) and its default instance."""
    return {f.name: f for f in dataclasses.fields(cls)}, typing.get_type_hints(cls), cls()


def field_of(cls: type, path: str) -> tuple[dataclasses.Field, Any, Any]:
    """(the field, its type, its default) of ``path`` in dataclass ``cls``: a field name, or
    ``outer.inner`` for a field of a nested dataclass (``generator.base``)."""
    head, _, rest = path.partition(".")
    fields, types, default = _described(cls)
    if head not in fields:
        raise AttributeError(f"{cls.__name__} has no field {head!r}")
    if rest:
        return field_of(types[head], rest)
    return fields[head], types[head], getattr(default, head)


def shown_default(f: dataclasses.Field, value: Any) -> str | None:
    """What ``--help`` says a field's default is: its ``shown`` metadata, else the value (None for
    an empty one: there is nothing to show)."""
    if "shown" in f.metadata:
        return f.metadata["shown"]
    if value is None or (isinstance(value, str | tuple) and not value):
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def field_help(cls: type, path: str) -> str:
    """The field's documentation, with rich markup's ``[`` escaped (``vidcolor[train]`` stays)."""
    text = field_of(cls, path)[0].metadata.get("help", "")
    if not text:
        raise ValueError(f"{cls.__name__}.{path} has no help (vidcolor.config.doc)")
    return text.replace("[", "\\[")


def field_option(
    cls: type,
    path: str,
    *decls: str,
    kind: Any = None,
    unset: bool = False,
    name: str | None = None,
) -> inspect.Parameter:
    """The option for field ``path`` of ``cls``, as a keyword parameter named ``name`` (default:
    the field's name) for a command's signature.

    ``decls``: the option's names (default ``--field-name``; ``--x/--no-x`` for a flag that may be
    unset); ``kind``: the option's type (default: the field's, None removed); ``unset``: the option
    defaults to None, "not given" (so a config file can set the field) and its help says the
    field's default, else the option defaults to the field's default, which typer shows."""
    f, field_type, value = field_of(cls, path)
    name = name or path.rpartition(".")[2]
    if kind is None:
        args = [a for a in typing.get_args(field_type) if a is not type(None)]
        kind = args[0] if len(args) == 1 and typing.get_origin(field_type) is not tuple else field_type
    if not decls:
        flag = "--" + name.replace("_", "-")
        decls = (f"{flag}/--no-{flag[2:]}",) if kind is bool and unset else (flag,)
    help_text = field_help(cls, path)
    extra: dict[str, Any] = {k: f.metadata[k] for k in ("min", "max") if k in f.metadata}
    shown = shown_default(f, value)
    if kind is bool:
        extra["show_default"] = shown if unset else True  # a flag's "[default: (no)]" is typer's to print
    elif (unset or value is None) and shown is not None:
        help_text += f" \\[default: {shown}]"
    if unset or value is None:
        default = None
    else:  # the field's default, as the option's type (out: "runs/train" -> Path)
        default = value if not isinstance(kind, type) or isinstance(value, kind) else kind(value)
    annotation = Annotated[kind | None if default is None else kind, typer.Option(*decls, help=help_text, **extra)]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def config_options(into: str, params: Sequence[inspect.Parameter], build: Callable[..., Any]) -> Callable[[F], F]:
    """Decorate a command: the options ``params`` take the place of its parameter ``into`` (in
    ``--help`` too), and the command is called with ``into=build(**the options' values)``."""

    def decorate(func: F) -> F:
        sig = inspect.signature(func, eval_str=True)
        if into not in sig.parameters:
            raise TypeError(f"{func.__name__} has no parameter {into!r} for its options")
        names = [p.name for p in params]
        clash = set(names) & (set(sig.parameters) - {into})
        if clash or len(set(names)) != len(names):
            raise TypeError(f"{func.__name__}: options named twice: {sorted(clash) or names}")
        new: list[inspect.Parameter] = []
        for p in sig.parameters.values():
            new.extend(params if p.name == into else [p])

        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> Any:
            options = {n: kwargs.pop(n) for n in names}
            return func(**kwargs, **{into: build(**options)})

        wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in new]
        )
        wrapper.__annotations__ = {p.name: p.annotation for p in new}
        return wrapper  # type: ignore[return-value]

    return decorate
