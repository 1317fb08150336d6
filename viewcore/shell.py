"""The interactive shell: ``viewcore DUMP`` with no command.

The dump is opened once and its heap indexed once; each line is a command with the same
syntax and options as on the command line (``goroutines --group``, ``overview --json``).
Errors print one line and the shell goes on; Ctrl-C stops the command running (what it
had finished, such as a built heap index, is kept) and Ctrl-D or ``quit`` ends the shell.

At a terminal there are completion (``viewcore.completion``), a history kept across
sessions in ``$XDG_STATE_HOME/viewcore/history``, a pager for output taller than the
screen and a progress line for commands that run over a second. Without a terminal,
commands are read from standard input, one a line, and the exit status says whether
they all succeeded.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import gocore
from core import CacheDirError, private_dir
from gocore import DumpError

from .commands import ALIASES, COMMANDS

PROMPT = "(viewcore) "
QUIT = ("quit", "exit")
HELP = ("help", "?")


def history_path() -> Path:
    """Return the history file: ``$XDG_STATE_HOME/viewcore/history`` (default
    ``~/.local/state/viewcore/history``), its directory created mode 0700 and checked as
    the caches are (raises CacheDirError when another user could write there)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return private_dir(Path(state) / "viewcore") / "history"


def _session(gp, parser, err):
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    from .completion import ShellCompleter
    try:
        history = FileHistory(str(history_path()))
    except CacheDirError as e:
        err.warn(f"history is not kept: {e}")
        history = InMemoryHistory()
    return PromptSession(history=history, completer=ShellCompleter(gp, parser.commands, (*HELP, *QUIT)),
                         complete_while_typing=False)


def _lines(session):
    """Yield command lines from the prompt, or from stdin without one."""
    if session is None:
        yield from (line.rstrip("\n") for line in sys.stdin)
        return
    while True:
        try:
            yield session.prompt(PROMPT)
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt drops the line
        except EOFError:
            return


def _help(parser, words: list[str]) -> int:
    from . import cli
    if len(words) == 1:
        aliases = {name: [a for a, n in ALIASES.items() if n == name] for name in COMMANDS}
        for name, cmd in COMMANDS.items():
            shown = f"{name} ({', '.join(aliases[name])})" if aliases[name] else name
            print(f"  {shown:<18} {cmd.HELP}")
        print("`help COMMAND` describes one; Tab completes; `quit` or Ctrl-D ends the shell.")
        return 0
    text = cli.help_text(parser, words[1])
    if text is None:
        print(f"{cli.PROG}: error: no command {words[1]!r}; `help` lists them", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _run_line(gp, parser, err, words: list[str], pager: bool) -> int:
    """Run one shell line (split into ``words``); return its exit status."""
    from . import cli
    if words[0] in HELP:
        return _help(parser, words)
    if words[0] not in parser.commands:
        near = [c for c in COMMANDS if c.startswith(words[0])]
        hint = f"; did you mean {' or '.join(near)}?" if near else "; `help` lists them"
        print(f"{cli.PROG}: error: no command {words[0]!r}{hint}", file=sys.stderr)
        return 2
    try:
        args = cli.parse(parser, ["-", *words])
    except SystemExit as e:  # argparse printed the help or the usage error
        return 0 if e.code in (0, None) else 2
    try:
        return cli.run_command(gp, args, pager=pager)
    except (DumpError, gocore.GoCoreError) as e:
        print(f"{cli.PROG}: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: one "internal error" line, and the shell goes on
        print(f"{cli.PROG}: error: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        for w in gp.warnings:
            err.warn(w)


def run_shell(gp, parser: argparse.ArgumentParser, err) -> int:
    """Read and run commands on ``gp`` until ``quit`` or end of input; return 0, or, when
    the commands came from a script (stdin not a terminal), the highest status of a
    command that failed (1 an error, 2 bad usage)."""
    from . import cli
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    for w in gp.warnings:
        err.warn(w)
    session = _session(gp, parser, err) if interactive else None
    worst = 0
    for line in _lines(session):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:  # an open quote
            print(f"{cli.PROG}: error: {e}", file=sys.stderr)
            worst = max(worst, 2)
            continue
        if not words:
            continue
        if words[0] in QUIT:
            break
        try:
            status = _run_line(gp, parser, err, words, pager=interactive)
        except KeyboardInterrupt:
            if not interactive:
                raise  # a script stops at Ctrl-C (the CLI says so and exits 130)
            print(f"{cli.PROG}: interrupted", file=sys.stderr)
            continue
        worst = max(worst, status)
    return 0 if interactive else worst
