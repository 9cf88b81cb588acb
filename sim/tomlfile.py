"""Reading TOML input files, with the project's one-line errors.

Scenario, bundle, experiment, sensitivity and calibration files all fail the same ways (missing,
a directory or device, too large, not TOML, nested too deep); reading them in one place keeps
the messages alike.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sim.errors import InputError
from sim.inputfile import MAX_DEPTH, check_depth, read_text


def read_toml(path: str | Path, what: str, label: str | None = None) -> dict[str, Any]:
    """Parse the TOML file at ``path``; ``what`` names the kind of file in errors.

    ``label`` is how errors name the file (default: the path as given). The file passes
    :mod:`sim.inputfile`'s checks (regular file, size limit) and its nesting depth is bounded.
    """
    label = str(path) if label is None else label
    text = read_text(path, what, label, kind="toml")
    return _parse(text, label)


def _parse(text: str, label: str) -> dict[str, Any]:
    """Parse TOML text read from the file ``label`` (nesting bounded, one-line errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(label, f"not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise InputError(label, "arrays or inline tables are nested too deep to read "
                         f"(implsim accepts at most {MAX_DEPTH} levels)") from None
    check_depth(data, label)
    return data


def check_keys(table: dict[str, Any], known: set[str] | frozenset[str], where: str,
               sep: str = ".") -> None:
    """Refuse the first unknown key of ``table`` in one line that lists the known ones.

    The one wording for every TOML table read key by key (bundles, evidence files), so a typo
    never passes silently; ``sep`` joins ``where`` and the key (``.`` in a table, ``: `` at a
    file's top level).
    """
    unknown = set(table) - set(known)
    if unknown:
        raise InputError(f"{where}{sep}{sorted(unknown)[0]}", "unknown key; known keys are: "
                         f"{', '.join(sorted(known))}")
