# Sourced by demo.sh and test.sh: create .venv at the repository root and install viewcore.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.viewcore-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # (this machine's pip config names local indexes that may be absent: drop that noise)
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
  touch "$stamp"
fi
