#!/usr/bin/env bash
# Quick start 2: set up .venv, install what the tests need, run the test suite.
# VIEWCORE_REGEN_VERSIONS (default 1.22.10,1.27.3) are rebuilt from real Go end to end;
# set it to "all" for every version, or to "" to skip regeneration.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export VIEWCORE_REGEN_VERSIONS="${VIEWCORE_REGEN_VERSIONS-1.22.10,1.27.3}"
if [ -n "$VIEWCORE_REGEN_VERSIONS" ] && ! command -v gdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -q && apt-get install -y -q gdb) >/dev/null
  else
    echo "test.sh: gdb (for gcore) is missing; gcore regeneration will be skipped" >&2
  fi
fi
exec .venv/bin/python -m pytest -q "$@"
