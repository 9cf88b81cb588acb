"""Provenance: the manifest every result directory carries (command, time, versions, code)."""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import sim

PACKAGES = ("implsim", "mesa", "numpy", "scipy", "pandas", "networkx", "pyarrow", "matplotlib",
            "SALib")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def code_version() -> str:
    """Git commit of the source tree (``+dirty`` if modified), else the package version."""
    root = Path(sim.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=5,
                               check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return f"implsim {sim.__version__} (no git checkout)"


def manifest(fields: dict[str, Any], *, command: str | None = None,
             files: list[str] | None = None) -> dict[str, Any]:
    """A result's manifest: ``fields`` between the common head and tail.

    Every writer (``implsim run``, the experiment store, sensitivity, calibration) records the
    same provenance the same way: the command (when there is one), the creation time, package
    versions, the code version and the files written.
    """
    head: dict[str, Any] = {} if command is None else {"command": command}
    head["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    tail: dict[str, Any] = {"versions": package_versions(), "code_version": code_version()}
    if files is not None:
        tail["files"] = files
    return {**head, **fields, **tail}


def manifest_text(data: dict[str, Any]) -> str:
    """A manifest as JSON text (values JSON does not know, such as paths, as strings)."""
    return json.dumps(data, indent=2, default=str) + "\n"
