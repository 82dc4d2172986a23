"""Form widgets made from config fields (``fer_core.options``): the Train & Tune page's fields are
the ``TrainConfig`` and ``TuneConfig`` options that have a label, laid out by their group, with
the help, bounds, step and choices of their description. A field added to a config with a label
and a group appears in the form with no edit to the page.

``option_widget`` draws one field and returns its value as the config takes it; ``option_form``
draws a group's fields in rows of columns and returns their values by field name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

from fer_core.errors import FerError
from fer_core.options import OptionField, option_fields, parse_int_list


def form_fields(cls: type, groups: Iterable[str] | None = None, skip: Iterable[str] = ()) -> list[OptionField]:
    """The fields of ``cls`` that the form shows (those with a label), in ``groups`` if given."""
    wanted = None if groups is None else set(groups)
    return [f for f in option_fields(cls) if f.option.label and f.name not in skip
            and (wanted is None or f.option.group in wanted)]


def option_widget(container: Any, field: OptionField, value: Any, key: str) -> Any:
    """One widget for ``field``, starting at ``value``; returns what the user set, as the config's type."""
    spec, label = field.option, field.option.label
    help_text = spec.help[:1].upper() + spec.help[1:]
    if field.kind == "bool":
        return container.checkbox(label, bool(value), help=help_text, key=key)
    if spec.choices is not None and field.kind in ("str", "int", "float"):
        options = list(spec.choices)
        return container.selectbox(label, options, index=options.index(value) if value in options else 0,
                                   help=help_text, key=key)
    if field.kind == "int_list" and spec.offered is not None:
        options = sorted(set(spec.offered) | set(value or []))
        return container.multiselect(label, options, default=list(value or []), help=help_text, key=key)
    if field.kind == "int_list":
        text = container.text_input(label, ", ".join(map(str, value or [])), help=help_text, key=key,
                                    placeholder="the architecture's default" if field.optional else "")
        return parse_int_list(text) or (None if field.optional else [])
    if spec.offered is not None and field.kind in ("str", "int", "float"):
        options = list(spec.offered) + ([value] if value is not None and value not in spec.offered else [])
        return container.selectbox(label, options, index=options.index(value) if value in options else 0,
                                   help=help_text, key=key)
    if field.kind in ("str", "str_list", "key_values"):
        return container.text_input(label, "" if value is None else str(value), help=help_text, key=key) or value
    number = int if field.kind == "int" else float
    low = None if spec.min is None else number(spec.min)
    high = None if spec.max is None else number(spec.max)
    if spec.slider and low is not None and high is not None:
        if spec.min_exclusive:  # a slider's smallest stop above the bound (a number box's 0 is refused on Launch)
            low = low + number(spec.step or 1)
        return container.slider(label, low, high, number(value), number(spec.step or 1), help=help_text, key=key)
    step = number(spec.step) if spec.step else (1 if number is int else None)
    return container.number_input(label, min_value=low, max_value=high, value=None if value is None else number(value),
                                  step=step, format=spec.fmt, help=help_text, key=key,
                                  placeholder="the architecture's default" if field.optional else None)


def option_form(cls: type, groups: Iterable[str], start: dict[str, Any], key_prefix: str, columns: int = 3,
                skip: Iterable[str] = (), errors: list[str] | None = None) -> dict[str, Any]:
    """Every labelled field of ``cls`` in ``groups``, in rows of ``columns``, starting at ``start``'s
    values; the values set, by field name. A value that cannot be read (letters where numbers go)
    is left out and its message added to ``errors``, for the page to show on Launch."""
    fields = form_fields(cls, groups, skip)
    values: dict[str, Any] = {}
    for row in range(0, len(fields), columns):
        for column, field in zip(st.columns(columns), fields[row:row + columns]):
            try:
                values[field.name] = option_widget(column, field, start.get(field.name, field.default),
                                                   f"{key_prefix}-{field.name}")
            except FerError as exc:
                if errors is not None:
                    errors.append(f"{field.option.label}: {exc}")
    return values
