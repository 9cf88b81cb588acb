#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 and install implsim into it (editable).
#   bash scripts/install.sh        # the package and its command `implsim`
#   bash scripts/install.sh dev    # plus the test and lint tools
# The interpreter is, in order: $IMPLSIM_PYTHON; python3.13/python3.12/python3 on PATH if they
# run and are >= 3.12; the newest 3.12+ under pyenv. Set IMPLSIM_PYTHON to choose another.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
  local c
  if [ -n "${IMPLSIM_PYTHON:-}" ]; then
    ok "$IMPLSIM_PYTHON" && { echo "$IMPLSIM_PYTHON"; return; }
    echo "install.sh: IMPLSIM_PYTHON=$IMPLSIM_PYTHON is not a Python >= 3.12" >&2; exit 1
  fi
  for c in python3.13 python3.12 python3; do
    command -v "$c" >/dev/null 2>&1 && ok "$c" && { command -v "$c"; return; }
  done
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  for c in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -V -r); do
    ok "$c/bin/python" && { echo "$c/bin/python"; return; }
  done
  echo "install.sh: no Python >= 3.12 found; install one (e.g. 'pyenv install 3.12') or set" \
       "IMPLSIM_PYTHON=/path/to/python3.12" >&2
  exit 1
}

if [ ! -x .venv/bin/python ] || ! ok .venv/bin/python; then
  py="$(find_python)"
  echo "install.sh: creating .venv with $py ($("$py" --version 2>&1))"
  rm -rf .venv
  "$py" -m venv .venv
fi
spec="."
[ -n "$extra" ] && spec=".[$extra]"
set +e
log="$(.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" 2>&1)"
rc=$?
set -e
# This machine's pip configuration names local mirrors that may be absent: drop those warnings.
printf '%s\n' "$log" | grep -v -E "^WARNING: Location .* is ignored" | grep -v '^$' || true
[ "$rc" -eq 0 ] || { echo "install.sh: pip install failed (exit $rc)" >&2; exit "$rc"; }
.venv/bin/python -c 'import sim, mesa; print(f"install.sh: implsim {sim.__version__} ready (mesa {mesa.__version__}) in .venv")'
