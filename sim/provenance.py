"""Provenance: package versions and code version attached to every result."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

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
