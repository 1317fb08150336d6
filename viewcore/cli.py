"""The command line: ``viewcore DUMP [--exe EXE] [--json] COMMAND [ARGS...]``.

``main`` is the one error boundary: our errors become ``viewcore: error: ...`` and exit
1, usage errors exit 2, anything unexpected is reported as an internal error (with the
traceback only under ``--debug``).
"""

from __future__ import annotations

import argparse
import atexit
import io
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

import gocore
from core import CacheDirError, DecompressionLimit, set_max_decompressed
from gocore import DumpError

from .commands import ALIASES, COMMANDS
from .progress import activity

PROG = "viewcore"
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Return the bytes in a size such as ``64G``, ``500M``, ``1.5GiB`` or ``1048576``
    (units are binary: K is 1024); raises ArgumentTypeError for anything else or zero."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:i?B)?|B)?\s*", text, re.I)
    size = int(float(m[1]) * _SIZE_UNITS[(m[2] or "").upper()]) if m else 0
    if size <= 0:
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (a positive size such as 64G or 500M)")
    return size


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Add the options that may stand before or after COMMAND."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--exe", default=default, help="the executable the dump was made from")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="print one JSON document (the contract in docs/cli.md)")
    parser.add_argument("--json-envelope", action="store_true",
                        default=argparse.SUPPRESS if suppress else False,
                        help="--json inside {schema, command, partial, warnings, data} (docs/cli.md)")
    parser.add_argument("--no-cache", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="neither read nor write the cache")
    parser.add_argument("--max-decompressed", type=parse_size, default=default, metavar="SIZE",
                        help="refuse a compressed dump or executable that decompresses to more "
                             "than SIZE (e.g. 64G; default: the free disk space less 1 GiB)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="show tracebacks of internal errors")
    parser.add_argument("--any-version", action="store_true",
                        default=argparse.SUPPRESS if suppress else False,
                        help="read a dump of an unsupported Go release anyway")


class Parser(argparse.ArgumentParser):
    """viewcore's argument parser; ``commands`` maps each command name and alias to its
    sub-parser (for ``help CMD``, the shell's completion)."""

    commands: dict[str, argparse.ArgumentParser]


def _version() -> str:
    try:
        return version(PROG)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser() -> Parser:
    """Return the argument parser: DUMP, global options and one sub-parser per command."""
    parser = Parser(prog=PROG, description="Heap and goroutine analyzer for Go core dumps.",
                    epilog=f"`{PROG} help COMMAND` (or `{PROG} COMMAND --help`) describes a command "
                           "without a dump; without COMMAND, a shell runs commands on the dump.")
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    parser.add_argument("dump", metavar="DUMP", help="ELF core or Windows minidump (may be .zst/.gz)")
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.commands = {}
    for name, cmd in COMMANDS.items():
        aliases = [a for a, target in ALIASES.items() if target == name]
        p = sub.add_parser(name, aliases=aliases, help=cmd.HELP, description=cmd.HELP)
        _global_options(p, suppress=True)
        cmd.add_arguments(p)
        for n in (name, *aliases):
            parser.commands[n] = p
    return parser


def parse(parser: Parser, argv: list[str]) -> argparse.Namespace:
    """Return the parsed ``argv``, ``command`` the full name (not an alias) or None;
    bad usage exits 2 (argparse's SystemExit)."""
    args = parser.parse_args(argv)
    args.command = ALIASES.get(args.command, args.command)
    return args


def help_text(parser: Parser, name: str | None = None) -> str | None:
    """Return the help of command ``name`` (of viewcore itself when None), or None when
    there is no such command."""
    if name is None:
        return parser.format_help()
    p = parser.commands.get(name)
    return p.format_help() if p is not None else None


def _help_without_dump(parser: Parser, argv: list[str]) -> int | None:
    """Print the help that ``viewcore help [CMD]`` or ``viewcore CMD --help`` asks for and
    return the exit status; None when ``argv`` asks for no such help."""
    if not argv:
        return None
    if argv[0] == "help":
        if len(argv) > 2:
            print(f"{PROG}: error: `help` takes one COMMAND at most", file=sys.stderr)
            return 2
        text = help_text(parser, argv[1] if len(argv) == 2 else None)
        if text is None:
            print(f"{PROG}: error: no command {argv[1]!r}; `{PROG} help` lists them", file=sys.stderr)
            return 2
        sys.stdout.write(text)
        return 0
    if argv[0] in parser.commands and ("-h" in argv or "--help" in argv):
        sys.stdout.write(help_text(parser, argv[0]))
        return 0
    return None


class _Stderr:
    """Writes notes and warnings to stderr, each once."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def note(self, message: str) -> None:
        print(f"{PROG}: note: {message}", file=sys.stderr)

    def warn(self, message: str) -> None:
        if message not in self.seen:
            self.seen.add(message)
            print(f"{PROG}: warning: {message}", file=sys.stderr)


def run_command(gp: gocore.GoProcess, args: argparse.Namespace, out=None, pager: bool = False) -> int:
    """Run ``args.command`` on ``gp`` and print its result; return the exit status.

    A command that runs over a second shows a progress line on a terminal's stderr. Output
    for a terminal is made in full first (so the line never cuts into it); with ``pager``,
    output taller than the terminal goes through ``$PAGER`` (default ``less``).
    """
    cmd = COMMANDS[args.command]
    stream = out or sys.stdout
    with activity(args.command):
        if getattr(cmd, "NEEDS_MEMORY", True):
            gocore.require_full_memory(gp)
        result = cmd.run(gp, args)
        if getattr(args, "json_envelope", False):
            from .render import envelope
            envelope.render(result, args.command, list(gp.warnings), stream)
            stream.flush()
            return 0
        if not stream.isatty():
            # Piped output is not cut at 80 columns: people pipe to less and grep.
            _render(result, args.json, stream, width=200)
            return 0
        size = shutil.get_terminal_size()
        buf = io.StringIO()
        _render(result, args.json, buf, width=size.columns, terminal=True)
    shown = buf.getvalue()
    if pager and shown.count("\n") >= size.lines - 1:
        page(shown)
    else:
        stream.write(shown)
        stream.flush()
    return 0


def _render(result, as_json: bool, stream, width: int, terminal: bool = False) -> None:
    from rich.console import Console

    from .render import jsonout, text
    if as_json:
        jsonout.render(result, stream)
    else:
        text.render(result, Console(file=stream, highlight=False, width=width, force_terminal=terminal))


def page(shown: str) -> None:
    """Show ``shown`` through ``$PAGER`` (default ``less``, with ``LESS=FRX`` unless set:
    colours kept, the text left on the screen), or print it when there is no pager."""
    cmd = os.environ.get("PAGER") or ("less" if shutil.which("less") else "")
    if not cmd.strip():
        sys.stdout.write(shown)
        return
    env = {**os.environ, "LESS": os.environ.get("LESS", "FRX")}
    sys.stdout.flush()
    proc = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, env=env, text=True, errors="replace")
    try:
        with proc.stdin as pipe:
            pipe.write(shown)
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the pager was quit before the end: the rest is not wanted
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:
            pass  # Ctrl-C is the pager's (less ignores it): leaving it running would break the terminal


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run one command (or the shell) and return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "fleet":  # many dumps, no DUMP: its own arguments
        from .commands.fleet import main as fleet_main
        return fleet_main(argv[1:])
    parser = build_parser()
    helped = _help_without_dump(parser, argv)
    if helped is not None:
        return helped
    args = parse(parser, argv)
    err = _Stderr()
    set_max_decompressed(args.max_decompressed)
    try:
        gp = gocore.open(args.dump, exe=args.exe, use_cache=not args.no_cache, notify=err.note,
                         any_version=args.any_version)
        if args.command is None:
            from .shell import run_shell
            return run_shell(gp, parser, err)
        status = run_command(gp, args)
        for w in gp.warnings:
            err.warn(w)
        return status
    except gocore.UnsupportedGoVersion as e:
        print(f"{PROG}: error: {e} (--any-version tries anyway)", file=sys.stderr)
        return 1
    except DecompressionLimit as e:
        print(f"{PROG}: error: {e} (--max-decompressed SIZE sets the limit)", file=sys.stderr)
        return 1
    except CacheDirError as e:
        print(f"{PROG}: error: {e} (--no-cache does without the cache)", file=sys.stderr)
        return 1
    except (DumpError, gocore.GoCoreError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # the one boundary for bugs: an unexpected one becomes the one-line "internal error"
        if args.debug:
            raise
        print(f"{PROG}: error: internal error: {type(e).__name__}: {e} (run with --debug for details)",
              file=sys.stderr)
        return 1
    finally:
        set_max_decompressed(None)  # the limit is this command's, not the next caller's


def main_entry() -> None:
    """Console-script entry point: run ``main`` and end the process with its status.

    The process ends without the interpreter's teardown (after the exit handlers and a
    flush of the output): freeing a freshly built index's arrays and the compiler's state
    one object at a time took half a second at 20 M objects, after the answer was out."""
    try:
        status = main()
    except SystemExit as e:            # argparse's usage errors and --help
        status = e.code
    if isinstance(status, str):
        print(status, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:                    # the reader went away (a pipe into head)
        status = status or 1
    atexit._run_exitfuncs()
    os._exit(status or 0)
