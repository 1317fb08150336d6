#!/usr/bin/env bash
# Quick start 1: set up .venv and run viewcore on a dump shipped in fixtures/.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
DUMP=fixtures/dumps/go1.25.5/crash.core.zst
EXE=fixtures/dumps/go1.25.5/exe.zst
for cmd in overview threads "goroutines --group --no-system" "histogram --top 15" "top --n 5" breakdown mappings; do
  echo "\$ viewcore $DUMP --exe $EXE $cmd"
  .venv/bin/viewcore "$DUMP" --exe "$EXE" $cmd
  echo
done
