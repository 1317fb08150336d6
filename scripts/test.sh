#!/usr/bin/env bash
# Quick start 2: set up .venv, install what the tests need, run the test suite.
# VIEWCORE_REGEN_VERSIONS (default 1.22.10,1.27.3) are rebuilt from real Go end to end;
# set it to "all" for every version, or to "" to skip regeneration.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export VIEWCORE_REGEN_VERSIONS="${VIEWCORE_REGEN_VERSIONS-1.22.10,1.27.3}"
# gdb makes gcore cores when fixtures are regenerated (and for tests/corpus); graphviz
# renders objgraph's DOT.
missing=""
command -v gdb >/dev/null 2>&1 || missing="$missing gdb"
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
# qemu-user runs the arm64 fixture builds and writes their guest cores (tests/test_arm64_regen.py).
command -v qemu-aarch64-static >/dev/null 2>&1 || missing="$missing qemu-user-static"
# tmux runs the shell at a real terminal (tests/viewcore/test_shell_tty.py).
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
# tests/web drive the html command's pages in Debian's headless Chromium (through Playwright).
[ -x /usr/bin/chromium ] || missing="$missing chromium"
# tests/corpus dumps Debian's own (cgo, externally linked) fzf and age; cgo builds need gcc.
for pkg in fzf age gcc; do command -v $pkg >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y -q $missing || (apt-get update -q && apt-get install -y -q $missing)) >/dev/null 2>&1 \
      || echo "test.sh: could not install$missing; the tests that need them will skip" >&2
  else
    echo "test.sh: not root, so$missing not installed; the tests that need them will skip" >&2
  fi
fi
exec .venv/bin/python -m pytest -q "$@"
