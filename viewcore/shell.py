"""The interactive shell: ``viewcore DUMP`` with no command.

The dump is opened once; each line is a command with the same syntax and options as on
the command line (``goroutines --group``, ``overview --json``). Errors print one line
and the shell goes on. Without a terminal, commands are read from standard input, one a
line, so the shell can be scripted.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from gocore import DumpError

from .commands import COMMANDS

PROMPT = "(viewcore) "


def _lines(interactive: bool):
    """Yield command lines from the prompt (with history and completion) or stdin."""
    if not interactive:
        yield from (line.rstrip("\n") for line in sys.stdin)
        return
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    session = PromptSession(completer=WordCompleter(sorted(COMMANDS) + ["help", "quit"]))
    while True:
        try:
            yield session.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return


def run_shell(gp, parser: argparse.ArgumentParser, err) -> int:
    """Read and run commands on ``gp`` until ``quit`` or end of input; return 0."""
    from . import cli  # the command runner and error rules are the CLI's own
    import gocore

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    for w in gp.warnings:
        err.warn(w)
    for line in _lines(interactive):
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] in ("quit", "exit"):
            break
        if words[0] in ("help", "?"):
            for name, cmd in COMMANDS.items():
                print(f"  {name:<12} {cmd.HELP}")
            continue
        if words[0] not in COMMANDS:
            near = [c for c in COMMANDS if c.startswith(words[0])]
            hint = f"; did you mean {' or '.join(near)}?" if near else "; `help` lists them"
            print(f"{cli.PROG}: error: no command {words[0]!r}{hint}", file=sys.stderr)
            continue
        try:
            args = parser.parse_args(["-", *words])
        except SystemExit:
            continue  # argparse printed the usage error
        if args.command is None:
            continue
        try:
            cli.run_command(gp, args)
        except (DumpError, gocore.GoCoreError) as e:
            print(f"{cli.PROG}: error: {e}", file=sys.stderr)
        except Exception as e:  # a bug: one "internal error" line, and the shell goes on
            print(f"{cli.PROG}: error: internal error: {type(e).__name__}: {e}", file=sys.stderr)
    return 0
