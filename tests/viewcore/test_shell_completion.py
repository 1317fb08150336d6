"""The shell's completer, word by word (the terminal test types a few of these too)."""

from __future__ import annotations

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from tests.conftest import fixture_index, go_case
from viewcore.cli import build_parser
from viewcore.completion import ShellCompleter
from viewcore.shell import HELP, QUIT


@pytest.fixture(scope="module")
def complete():
    entry = next(e for e in fixture_index() if e["kind"] == "crash" and not e["stripped"])
    case, gp = go_case(entry)
    completer = ShellCompleter(gp, build_parser().commands, (*HELP, *QUIT))

    def words(line: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(line), CompleteEvent(completion_requested=True))]
    words.case = case
    return words


def test_commands_aliases_and_shell_words(complete):
    assert complete("hi") == ["hist ", "histogram "]
    assert complete("q") == ["quit "]
    assert complete("help to") == ["top "]


def test_flags_and_choices(complete):
    assert complete("histogram --s") == ["--sort "]
    assert complete("histogram --sort ") == ["bytes ", "count "]
    assert "--nested " in complete("top -")
    assert complete("top --by s") == ["size "]


def test_global_names(complete):
    """`objgraph --root` completes to the program's globals (its manifest names them)."""
    got = complete("objgraph -o g.dot --root main.")
    assert {f"{name} " for name in complete.case.manifest["globals"]} <= set(got)
    assert {f"{name} " for name in complete.case.manifest["globals"]} <= set(complete("top --under main."))


def test_goroutine_ids(complete):
    got = {int(w) for w in complete("goroutine ")}
    assert {g["goid"] for g in complete.case.manifest["goroutines"].values()} <= got
    after = complete("goroutine 18 ")  # one id only: then the command's flags
    assert after and all(w.startswith("--") for w in after)


def test_nothing_for_unknown_commands_or_open_quotes(complete):
    assert complete("bogus --") == []
    assert complete("objects --type 'main.") == []
