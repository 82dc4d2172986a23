"""Options described once: a config dataclass field carries its help, bounds and choices, and the
command line's flags, the dashboard's form widgets and the config's own checks are all made from
that one description.

Why: before this module, each training setting was written three times (the dataclass, about 55
argparse flags with their own help and choice lists, and the Train & Tune form field by field),
and the copies drifted. Now adding a training option is one edit: a field with ``option(...)``.

    lr: float = option(1e-3, "peak learning rate", label="Learning rate", group="recipe", min=0,
                       min_exclusive=True, fmt="%.0e")

A field without ``option`` metadata is not a user option (it is neither a flag nor a widget).
Imports only the standard library and ``fer_core.errors``: the command line builds its parser
from these descriptions without loading Keras.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from dataclasses import MISSING, Field, dataclass
from typing import Any

from fer_core.errors import ConfigError

METADATA_KEY = "fer_option"


@dataclass(frozen=True)
class Option:
    """How one config field is offered to a user.

    ``label``/``group``: the form widget's label and the section it sits in (no label: not in the
    form, only a flag). ``choices``: the only values allowed (a select box; argparse ``choices``); ``offered``: the values
    the form offers where any value is allowed (a select box or a multiselect for a list).
    ``min``/``max``: inclusive bounds unless ``min_exclusive``; ``step`` and ``fmt``: the widget's
    step and number format; ``slider``: a slider rather than a number box. ``flag``: the command-line
    flag where it is not ``--field-name``; ``cli=False``: no flag."""

    help: str
    label: str | None = None
    group: str | None = None
    choices: tuple[Any, ...] | None = None
    offered: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    step: float | None = None
    fmt: str | None = None
    slider: bool = False
    flag: str | None = None
    cli: bool = True
    metavar: str | None = None


def option(default: Any = MISSING, help: str = "", *, default_factory: Any = MISSING, **spec: Any) -> Any:
    """A dataclass field with its ``Option`` description (see the module docstring)."""
    for key in ("choices", "offered"):
        if spec.get(key) is not None:
            spec[key] = tuple(spec[key])
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={METADATA_KEY: Option(help=help, **spec)})


@dataclass(frozen=True)
class OptionField:
    """A config field with its description and its resolved type."""

    name: str
    option: Option
    kind: str  # 'bool', 'int', 'float', 'str', 'int_list', 'str_list', 'key_values'
    optional: bool  # None allowed (e.g. 'the architecture's default')
    default: Any

    @property
    def flag(self) -> str:
        return self.option.flag or "--" + self.name.replace("_", "-")


def _kind(annotation: Any) -> tuple[str, bool]:
    args = typing.get_args(annotation)
    optional = type(None) in args
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in args if a is not type(None))
    origin = typing.get_origin(annotation)
    if origin is list:
        return ("int_list" if typing.get_args(annotation) == (int,) else "str_list"), optional
    if origin is dict or annotation is dict:
        return "key_values", optional
    for simple in (bool, int, float, str):
        if annotation is simple:
            return simple.__name__, optional
    raise TypeError(f"no option kind for {annotation!r}")


def _default(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def option_fields(cls: type) -> list[OptionField]:
    """The fields of a config dataclass that are user options, in declaration order."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(METADATA_KEY)
        if spec is None:
            continue
        kind, optional = _kind(hints[f.name])
        found.append(OptionField(f.name, spec, kind, optional, _default(f)))
    return found


def defaults(cls: type) -> dict[str, Any]:
    """Every field's default value (fresh lists and dicts), including fields without ``option``."""
    return {f.name: value for f in dataclasses.fields(cls) if (value := _default(f)) is not MISSING}


# --------------------------------------------------------------------------- checks


def _words(name: str) -> str:
    return name.replace("_", " ")


def check_options(config: Any) -> None:
    """Each option's bounds and choices on a config instance; ``ConfigError`` names the first one
    broken. Cross-field rules stay in the config's own ``__post_init__``."""
    for f in option_fields(type(config)):
        value = getattr(config, f.name)
        spec = f.option
        if value is None:
            if not f.optional:
                raise ConfigError(f"{_words(f.name)} must be given")
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if spec.choices is not None and item not in spec.choices:
                raise ConfigError(f"{_words(f.name)} must be one of {', '.join(map(str, spec.choices))}, "
                                  f"got '{item}'")
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            low_broken = spec.min is not None and (item <= spec.min if spec.min_exclusive else item < spec.min)
            if low_broken or (spec.max is not None and item > spec.max):
                raise ConfigError(f"{_words(f.name)} must be {_range_words(spec)}, got {item:g}")


def _range_words(spec: Option) -> str:
    low = None if spec.min is None else f"{'above' if spec.min_exclusive else 'at least'} {spec.min:g}"
    high = None if spec.max is None else f"at most {spec.max:g}"
    return " and ".join(part for part in (low, high) if part)


# --------------------------------------------------------------------------- the command line


def parse_int_list(text: str) -> list[int]:
    """``"32,64 128"`` -> ``[32, 64, 128]``."""
    try:
        return [int(part) for part in text.replace(",", " ").split()]
    except ValueError:  # a ConfigError is a ValueError, which argparse also reports as a bad value
        raise ConfigError(f"expected whole numbers separated by commas, got '{text}'") from None


def parse_key_values(items: list[str]) -> dict[str, Any]:
    """``["a=1", "b=0.5", "c=x"]`` -> ``{"a": 1, "b": 0.5, "c": "x"}`` (JSON values where they parse)."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected KEY=VALUE, got '{item}'")
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    return values


def add_option_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One flag per option of ``cls``, help and choices from its description. Flags not given are
    left out of the parsed namespace (``argparse.SUPPRESS``), so a preset's values hold unless a flag
    overrides them; the help shows the dataclass default."""
    for f in option_fields(cls):
        if not f.option.cli or f.name in skip:
            continue
        shown = "" if f.default is MISSING or f.default in (None, [], {}) else f" (default: {_shown(f.default)})"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS,
                                  "help": (f.option.help + shown).replace("%", "%%")}
        if f.option.metavar:
            kwargs["metavar"] = f.option.metavar
        if f.kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif f.kind == "int_list":
            kwargs["type"] = parse_int_list
        elif f.kind in ("str_list", "key_values"):
            kwargs["action"] = "append"
        else:
            kwargs["type"] = {"int": int, "float": float, "str": str}[f.kind]
            if f.option.choices is not None:
                kwargs["choices"] = list(f.option.choices)
        parser.add_argument(f.flag, **kwargs)


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def given_options(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The options of ``cls`` that were given on the command line, as config values."""
    given = vars(args)
    values: dict[str, Any] = {}
    for f in option_fields(cls):
        if f.name in given and given[f.name] is not None:
            value = given[f.name]
            values[f.name] = parse_key_values(value) if f.kind == "key_values" else value
    return values
