"""Rewrite the pinned regression baseline (tests/baseline.json) and print what changed.

    .venv/bin/python scripts/update_baseline.py            # every case, national included
    .venv/bin/python scripts/update_baseline.py default    # only the named cases

Run it only for a deliberate behaviour change, and paste the printed old -> new figures into the
commit message.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import baseline


def changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Lines 'key: old -> new' for every figure that differs."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += changes(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a} -> {b}")
    return out


def main(names: list[str]) -> None:
    """Recompute the named cases (all if none) and write the baseline."""
    data = baseline.load() if baseline.BASELINE.exists() else {}
    for name in names or [*baseline.CASES, *baseline.SLOW_CASES]:
        print(f"computing {name} ...", flush=True)
        new = baseline.case_figures(name)
        lines = changes(data.get(name, {}), new)
        print("\n".join(f"  {line}" for line in lines) if lines else "  unchanged")
        data[name] = new
    baseline.write(data)
    print(f"wrote {baseline.BASELINE}")


if __name__ == "__main__":
    main(sys.argv[1:])
