"""The command line: ``viewcore DUMP [--exe EXE] [--json] COMMAND [ARGS...]``.

``main`` is the one error boundary: our errors become ``viewcore: error: ...`` and exit
1, usage errors exit 2, anything unexpected is reported as an internal error (with the
traceback only under ``--debug``).
"""

from __future__ import annotations

import argparse
import re
import sys

from rich.console import Console

import gocore
from core import CacheDirError, DecompressionLimit, set_max_decompressed
from gocore import DumpError

from .commands import COMMANDS
from .render import jsonout, text

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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser: DUMP, global options and one sub-parser per command."""
    parser = argparse.ArgumentParser(prog=PROG, description="Heap and goroutine analyzer for Go core dumps.")
    parser.add_argument("dump", metavar="DUMP", help="ELF core or Windows minidump (may be .zst/.gz)")
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.HELP, description=cmd.HELP)
        _global_options(p, suppress=True)
        cmd.add_arguments(p)
    return parser


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


def run_command(gp: gocore.GoProcess, args: argparse.Namespace, out=None) -> int:
    """Run ``args.command`` on ``gp`` and print its result; return the exit status."""
    cmd = COMMANDS[args.command]
    if getattr(cmd, "NEEDS_MEMORY", True):
        gocore.require_full_memory(gp)
    result = cmd.run(gp, args)
    stream = out or sys.stdout
    if args.json:
        jsonout.render(result, stream)
    else:
        # Piped output is not cut at 80 columns: people pipe to less and grep.
        width = None if stream.isatty() else 200
        text.render(result, Console(file=stream, highlight=False, width=width))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run one command (or the shell) and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
    """Console-script entry point."""
    sys.exit(main())
