"""Values typed or slid in a page, checked against the parameter declarations.

A page must never crash on what a user types, and must say what is allowed in the same words as
a scenario file's error. So text from a field is converted to the declared kind and passed through
:meth:`sim.params.Param.validate`; whatever is wrong comes back as one
:class:`~sim.errors.InputError` that the page shows beside the field.
"""

from __future__ import annotations

import math
from typing import Any

from sim.errors import InputError
from sim.params import MODEL, STRUCTURE, Param

#: The behaviour parameters the explorer shows first (the rest are under "more parameters").
MAIN_PARAMETERS: tuple[str, ...] = (
    "p_awareness", "p_word_of_mouth", "p_innovation", "q_imitation", "contagion",
    "p_routinise", "p_abandon", "fidelity_gain", "turnover_annual",
)

#: Structure parameters the explorer lets the user set (the size of the generated catchment).
STRUCTURE_PARAMETERS: tuple[str, ...] = (
    "hospital_trusts", "wards_per_trust", "mental_health_units_per_trust",
    "municipalities_per_trust",
)

#: The small catchment the explorer starts with, so that stepping and drawing stay quick.
SMALL_STRUCTURE: dict[str, int] = {
    "hospital_trusts": 1,
    "wards_per_trust": 6,
    "mental_health_units_per_trust": 2,
    "municipalities_per_trust": 3,
}

#: Slider positions between a parameter's bounds (finer steps are typed in the field).
SLIDER_STEPS = 200


def label(param: Param) -> str:
    """The field label: name and unit, e.g. ``q_imitation (1/week)``."""
    return f"{param.name} ({param.unit})" if param.unit and param.unit != param.name \
        else param.name


def show(value: Any) -> str:
    """A value as the page writes it in a field (shortest exact form for floats)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def parse(param: Param, text: str | None, where: str | None = None) -> Any:
    """Convert the text of a field to the declared kind and validate it.

    Raises :class:`InputError` naming the parameter and what is allowed, e.g.
    ``q_imitation: must be a number in [0, 1] (1/week), got '1.5'``.
    """
    where = where or param.name
    raw = "" if text is None else str(text).strip()
    bad = InputError(where, f"must be {param.allowed()}, got {raw!r}")
    if param.kind in ("float", "int"):
        if not raw:
            raise bad
        try:
            number = float(raw.replace("_", ""))
        except ValueError:
            raise bad from None
        if not math.isfinite(number):
            raise bad
        if param.kind == "int" and not number.is_integer():
            raise bad
        try:  # the declaration decides; the message quotes what was typed
            return param.validate(int(number) if param.kind == "int" else number, where)
        except InputError:
            raise bad from None
    if param.kind == "bool":
        lowered = raw.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise bad
    if param.kind == "list[str]":
        return param.validate([v.strip() for v in raw.split(",") if v.strip()], where)
    return param.validate(raw, where)


def slider_range(param: Param) -> tuple[float, float, float]:
    """Bounds and step of a numeric parameter's slider (from the declaration)."""
    if param.kind not in ("float", "int"):
        raise ValueError(f"{param.name} is not numeric")
    low = 0.0 if param.low is None else float(param.low)
    high = max(float(param.default) * 10.0, low + 1.0) if param.high is None \
        else float(param.high)
    if param.kind == "int":
        return low, high, 1.0
    return low, high, (high - low) / SLIDER_STEPS


def model_params(names: tuple[str, ...] | None = None) -> list[Param]:
    """Declared behaviour parameters, in declaration order (all, or only ``names``)."""
    if names is None:
        return list(MODEL.params)
    return [MODEL[n] for n in names]


def structure_params() -> list[Param]:
    """Declared structure parameters the explorer exposes."""
    return [STRUCTURE[n] for n in STRUCTURE_PARAMETERS]
