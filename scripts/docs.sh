#!/usr/bin/env bash
# Build the HTML docs (the API reference from gocore's docstrings) into site/:
# installs mkdocs and mkdocstrings[python] into .venv on first use.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if ! .venv/bin/python -c "import mkdocs, mkdocstrings_handlers.python" 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check "mkdocs>=1.5" "mkdocstrings[python]>=0.24" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
fi
.venv/bin/python -m mkdocs build --strict "$@"
