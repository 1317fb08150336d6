"""Tab completion in the shell: commands, their flags and the values the dump holds.

The first word completes to a command (or alias, or a shell word such as ``help``); then
``-`` completes to the command's flags, a flag with choices to its choices, and
arguments that name something in the dump to those names: ``--type`` to the live heap's
type names, ``--root`` and ``top --under`` to global variables, ``goroutine ID`` to goroutine ids. Type names
need the heap index: the first such completion builds it (with the progress line) unless
a command built it already; then the names are offered on the next Tab.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator

from prompt_toolkit.application import get_app, run_in_terminal
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from gocore import DumpError, GoCoreError

from .progress import activity, report


class ShellCompleter(Completer):
    """Completes shell lines for the commands of ``parser`` on the dump ``gp``."""

    def __init__(self, gp, commands: dict[str, argparse.ArgumentParser], shell_words: Iterable[str]):
        self.gp = gp
        self.commands = commands
        self.shell_words = sorted(shell_words)
        self._types: list[str] | None = None
        self._globals: list[str] | None = None
        # what each argument (by its dest) names in the dump
        self._values: dict[str, Callable[[], list[str]]] = {
            "type_name": self.type_names, "root": self.global_names, "id": self.goroutine_ids,
            "under": self.global_names}   # top --under also takes frame roots and addresses: not offered

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        """Yield the completions of the word before the cursor."""
        before = document.text_before_cursor
        try:
            words = shlex.split(before)
        except ValueError:  # inside an open quote
            return
        current, typed = "", 0  # the word being completed, unquoted, and its length as typed
        if before and not before[-1].isspace() and words:
            current, typed = words.pop(), len(before.split()[-1])
        for word in sorted(set(self._candidates(words, current))):
            if word.startswith(current):
                # a space after, as readline does: the next word can be typed at once
                yield Completion(shlex.quote(word) + " ", start_position=-typed, display=word)

    def _candidates(self, words: list[str], current: str) -> list[str]:
        if not words:
            return [*self.commands, *self.shell_words]
        if words[0] in ("help", "?"):
            return list(self.commands) if len(words) == 1 else []
        sub = self.commands.get(words[0])
        if sub is None:
            return []
        actions = sub._actions  # argparse keeps them only there (argcomplete reads them too)
        by_flag = {s: a for a in actions for s in a.option_strings}
        prev = by_flag.get(words[-1]) if len(words) > 1 else None
        if prev is not None and prev.nargs != 0:
            return self._values_of(prev)
        flags = [s for a in actions for s in a.option_strings if s.startswith("--") or len(a.option_strings) == 1]
        if current.startswith("-"):
            return flags
        positional = [a for a in actions if not a.option_strings]
        given = self._positionals_given(words[1:], by_flag)
        if given < len(positional):
            return self._values_of(positional[given])
        return flags

    @staticmethod
    def _positionals_given(words: list[str], by_flag: dict[str, argparse.Action]) -> int:
        n, skip = 0, False
        for w in words:
            if skip:
                skip = False
            elif w in by_flag:
                skip = by_flag[w].nargs != 0
            elif not w.startswith("-"):
                n += 1
        return n

    def _values_of(self, action: argparse.Action) -> list[str]:
        if action.choices:
            return [str(c) for c in action.choices]
        names = self._values.get(action.dest)
        if names is None:
            return []
        try:
            return names()
        except (DumpError, GoCoreError):  # a dump that cannot say: nothing to offer, the command will say why
            return []

    def type_names(self) -> list[str]:
        """Return the live heap's type names; the first call schedules building the heap
        index above the prompt and returns none."""
        if self._types is None:
            run_in_terminal(self._load_types)
            return []
        return self._types

    def _load_types(self) -> None:
        try:
            with activity("indexing the heap for type names"):
                names = self.gp.histogram(report)[0]
        except (DumpError, GoCoreError) as e:  # said once; the heap commands will say it again
            print(f"viewcore: error: {e}", file=sys.stderr)
            names = []
        self._types = sorted(set(names))
        get_app().current_buffer.start_completion(insert_common_part=True)  # now, not on the next Tab

    def global_names(self) -> list[str]:
        """Return the names of the global variables (DWARF's; none without DWARF)."""
        if self._globals is None:
            self._globals = [name for name, _ in self.gp.globals()]
        return self._globals

    def goroutine_ids(self) -> list[str]:
        """Return the ids of the goroutines."""
        return [str(g.id) for g in self.gp.goroutines()]
