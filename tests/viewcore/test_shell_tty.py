"""The shell at a real terminal: tmux runs it, send-keys types, capture-pane reads the screen.

Expected values are the fixture program's own (its manifest: type counts, goroutine ids,
Go version; its traceback: the goroutines); the dump is the small go1.22.10 crash core.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import ROOT, Case, fixture_index
from tests.gotraceback import parse

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

PROMPT = r"\(viewcore\)\s*$"  # the prompt on the last line (capture-pane drops trailing blanks)


class Tmux:
    """One shell command in a detached tmux session of its own (a private server)."""

    def __init__(self, command: str, env: dict[str, str]):
        self.tmux = ["tmux", "-L", f"viewcore-test-{uuid.uuid4().hex[:12]}", "-f", "/dev/null"]
        setenv = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # the pane stays after the command ends, so its exit status can be read
        script = f"cd {shlex.quote(str(ROOT))} && env {setenv} {command}; echo EXIT=$?; sleep 60"
        subprocess.run([*self.tmux, "new-session", "-d", "-x", "120", "-y", "40", script], check=True)

    def screen(self) -> str:
        """Return the pane's text, its scrollback too, wrapped lines joined."""
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-J", "-S", "-2000"],
                              capture_output=True, text=True, check=True).stdout

    def wait(self, pattern: str, timeout: float = 30) -> str:
        """Return the screen once ``pattern`` (a multiline regex) is on it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.screen()
            if re.search(pattern, text, re.M):
                return text
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not on the screen after {timeout} s:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        """Type ``keys``: tmux key names (Tab, Enter, Up, C-c) or literal text."""
        for k in keys:
            literal = [] if re.fullmatch(r"Tab|Enter|Up|C-[a-z]", k) else ["-l", "--"]
            subprocess.run([*self.tmux, "send-keys", *literal, k], check=True)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


@pytest.fixture
def case() -> Case:
    entry = next((e for e in fixture_index() if e["go_version"] == "go1.22.10" and e["kind"] == "crash"
                  and not e["stripped"]), None)
    if entry is None:
        pytest.skip("no go1.22.10 crash fixture")
    return Case(entry)


def _shell(case: Case, state) -> Tmux:
    env = {"XDG_STATE_HOME": str(state), "TERM": "xterm-256color",
           # a pager whose work shows: every line it shows starts with "paged:"
           "PAGER": "sed s/^/paged:/"}
    command = " ".join(shlex.quote(str(a)) for a in (sys.executable, "-m", "viewcore", case.core, "--exe", case.exe))
    return Tmux(command, env)


def _last_line_after(screen: str, marker: str) -> str:
    return screen[screen.rindex(marker):].splitlines()[0]


def test_shell_at_a_terminal(case, tmp_path):
    """Completion (command, flag, type name, goroutine id), help, an error, the pager,
    Ctrl-C during a long command then another on the same index, history after a restart,
    exit by ``quit`` and by Ctrl-D."""
    m = case.manifest
    state = tmp_path / "state"
    t = _shell(case, state)
    try:
        t.wait(PROMPT)
        t.keys("help top", "Enter")
        t.wait(r"usage: viewcore DUMP top .*\n(.*\n)*.*--nested")
        t.wait(PROMPT)

        # a flag, then a type name: the first type completion indexes the heap
        t.keys("objects --ty", "Tab")
        t.wait(r"objects --type\s*$")
        t.keys("main.Ite", "Tab")
        t.wait(r"objects --type main\.Item\s*$")
        t.keys("--limit 2", "Enter")
        t.wait(rf"^2 of {m['counts']['main.Item']} objects")
        t.wait(PROMPT)

        # a command name, and its output
        t.keys("overv", "Tab")
        t.wait(r"\(viewcore\) overview\s*$")
        t.keys("--json", "Enter")
        screen = t.wait(r'"go_version"(.*\n)*.*\(viewcore\)\s*$')
        doc = json.loads(screen[screen.rindex("(viewcore) overview --json"):].split("\n", 1)[1]
                         .rsplit("(viewcore)", 1)[0].replace("\n", ""))
        assert doc["go_version"] == m["go_version"] and doc["goroutines"] == len(parse(case.traceback))

        # goroutine ids: `goroutine 2<Tab>` offers the ids starting with 2 (a menu of the
        # first few): those of the program's goroutines, as its traceback lists them
        t.keys("goroutine 2", "Tab")
        menu = t.wait(r"^\s+21\s*$").rsplit("(viewcore) goroutine 2", 1)[1]
        shown = {int(w) for w in re.findall(r"^\s+(\d+)\s*$", menu, re.M)}
        truth = {g for g in parse(case.traceback) if str(g).startswith("2")}
        assert {20, 21} <= shown <= truth, (shown, truth)
        t.keys("C-u")

        # an error: one line, and the shell goes on
        t.keys("goroutine 999999", "Enter")
        t.wait(r"^viewcore: error: no goroutine 999999 in the dump$")
        t.wait(PROMPT)

        # output taller than the terminal goes through $PAGER
        t.keys("objects --type main.Item --limit 60", "Enter")
        t.wait(rf"^paged:60 of {m['counts']['main.Item']} objects")
        t.wait(PROMPT)

        # Ctrl-C during a long command (a 1 MiB hex dump of the heap's first arena: seconds
        # of rendering), once its progress line shows; then the same index answers at once
        t.keys("read 0xc000000000 1048576", "Enter")
        t.wait(r"^\S read .*0:00:0\d")
        t.keys("C-c")
        t.wait(r"^viewcore: interrupted$")
        t.wait(PROMPT)
        started = time.monotonic()
        t.keys("hist --json --top 1", "Enter")
        screen = t.wait(r'^\[\{"type"')
        row = json.loads(_last_line_after(screen, '[{"type"'))[0]
        assert time.monotonic() - started < 5
        assert (row["type"], row["count"]) == ("main.Item", m["counts"]["main.Item"])
        t.wait(PROMPT)
        t.keys("quit", "Enter")
        t.wait(r"^EXIT=0$")
    finally:
        t.close()

    history = state / "viewcore" / "history"
    assert stat.S_IMODE(os.stat(history.parent).st_mode) == 0o700
    t = _shell(case, state)
    try:
        t.wait(PROMPT)
        t.keys("Up", "Up")  # quit, then the histogram before it
        t.wait(r"\(viewcore\) hist --json --top 1\s*$")
        t.keys("C-u", "C-d")
        t.wait(r"^EXIT=0$")
    finally:
        t.close()
