"""The calibrated scenario: the calibrated scenario file with the fitted values written in.

``implsim run calibrated.toml`` then runs the model at the posterior medians. The file is the
original scenario's TOML with the fixed values and the medians set, paths made absolute (so it
runs from the output directory), and comments giving each parameter's 90% interval and where
it came from. A small TOML writer is enough for scenario files (tables, arrays of tables,
inline tables, strings, numbers, booleans); it is checked by reading its output back.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from sim.factors import intervention_name

__all__ = ["calibrated_scenario", "dumps"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _key(k: str) -> str:
    return k if _BARE.fullmatch(k) else _string(k)


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(v: Any) -> str:
    """A TOML value on one line (inline tables for nested tables)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }" \
            if v else "{}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _table(lines: list[str], table: dict[str, Any], path: list[str]) -> None:
    for k, v in table.items():  # plain values first: they belong to this table's header
        if not isinstance(v, dict) and not _is_table_array(v):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in table.items():
        if isinstance(v, dict):
            lines += ["", "[" + ".".join(_key(p) for p in [*path, k]) + "]"]
            _table(lines, v, [*path, k])
    for k, v in table.items():
        if _is_table_array(v):
            for item in v:
                lines += ["", "[[" + ".".join(_key(p) for p in [*path, k]) + "]]"]
                _table(lines, item, [*path, k])


def dumps(data: dict[str, Any]) -> str:
    """TOML text for ``data`` (``tomllib.loads(dumps(d)) == d`` for scenario-like data)."""
    lines: list[str] = []
    _table(lines, data, [])
    return "\n".join(lines).lstrip("\n") + "\n"


def _set(raw: dict[str, Any], key: str, value: Any) -> None:
    """Write one design-point value (``section.name`` or ``interventions.NAME.x``) into ``raw``."""
    section, _, name = key.partition(".")
    if section != "interventions":
        raw.setdefault(section, {})[name] = value
        return
    iv_name, _, param = name.rpartition(".")
    for strategy in raw.get("strategies", []):
        for spec in strategy.get("interventions", []):
            if intervention_name(spec) == iv_name:
                spec[param] = value


def calibrated_scenario(scenario_path: Path, values: dict[str, Any],
                        header: list[str]) -> str:
    """The text of ``scenario_path`` with ``values`` (design-point keys) set.

    ``header`` lines become comments at the top. Relative network and bundle file paths are made
    absolute, since the calibrated file lives in another directory.
    """
    with Path(scenario_path).open("rb") as fh:
        raw = copy.deepcopy(tomllib.load(fh))
    base = Path(scenario_path).resolve().parent
    for key, value in values.items():
        _set(raw, key, value)
    net = raw.get("network", {})
    for k in ("file", "nodes"):
        if isinstance(net.get(k), str) and net[k] and not Path(net[k]).is_absolute():
            net[k] = str((base / net[k]).resolve())
    bundles = raw.get("bundles")
    if isinstance(bundles, list):
        raw["bundles"] = [str((base / b).resolve()) if isinstance(b, str) and b.endswith(".toml")
                          and not Path(b).is_absolute() else b for b in bundles]
    raw["name"] = f"{raw.get('name', 'scenario')}_calibrated"
    text = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header)
    return text + "\n" + dumps(raw)
