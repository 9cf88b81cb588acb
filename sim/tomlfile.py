"""Reading TOML input files, with the project's one-line errors.

Scenario, bundle, experiment, sensitivity and calibration files all fail the same ways (missing,
a directory, not TOML); reading them in one place keeps the messages alike.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sim.errors import InputError


def read_toml(path: str | Path, what: str, label: str | None = None) -> dict[str, Any]:
    """Parse the TOML file at ``path``; ``what`` names the kind of file in errors.

    ``label`` is how errors name the file (default: the path as given).
    """
    label = str(path) if label is None else label
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(label, f"{what} file not found") from None
    except IsADirectoryError:
        raise InputError(label, f"is a directory; give a {what} .toml file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(label, f"not valid TOML: {exc}") from None


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
