"""A fuzz campaign: recipes made from a fixed seed, run in worker processes, outcomes
counted per target and findings kept (one minimized recipe per class).

``Campaign(...).run()`` is what ``tools/fuzz.py`` (long runs) and
``tests/fuzz/test_fuzz_short.py`` (the short seeded run of the default tests) call.
A finding is an input whose run raised anything but ``core.DumpError`` /
``gocore.GoCoreError``, ran over the CPU limit (10 s), peaked over the memory limit
(2 GB resident), or killed its worker (a crash in C code, or no answer: a loop in C).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .mutate import Mutator, Recipe
from .seeds import available, load_seed
from .targets import SEEDS, finding_class

ROOT = Path(__file__).resolve().parents[2]
PEAK_LIMIT_MB = 2048


class Worker:
    """One ``tests.fuzz.worker`` process; replaced when it dies or stops answering."""

    def __init__(self, cpu_limit: float, stderr: Path | None = None):
        self.cpu_limit = cpu_limit
        self.stderr = stderr             # file the worker's stderr is appended to
        self.proc: subprocess.Popen | None = None
        self.busy: tuple[Recipe, float] | None = None
        self._buf = b""

    def start(self) -> None:
        """Start the process (if it is not running)."""
        if self.proc is None:
            err = open(self.stderr, "ab") if self.stderr else subprocess.DEVNULL
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.fuzz.worker", "--cpu-limit", str(self.cpu_limit)],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                env={**os.environ, "PYTHONHASHSEED": "0"})
            if self.stderr:
                err.close()
            self._buf = b""

    def send(self, recipe: Recipe) -> None:
        """Give the worker ``recipe`` to run."""
        self.start()
        self.proc.stdin.write((json.dumps(recipe.to_json()) + "\n").encode())
        self.proc.stdin.flush()
        self.busy = (recipe, time.monotonic())

    def fileno(self) -> int:
        """Return the worker's stdout descriptor (for select)."""
        return self.proc.stdout.fileno()

    def read_result(self) -> dict | None:
        """Return the finished input's outcome once its line is complete, else None;
        a dead worker gives a ``crash`` outcome."""
        chunk = os.read(self.fileno(), 1 << 16)
        if not chunk:
            code = self.proc.wait()
            self.proc = None
            self.busy = None
            return {"outcome": "crash", "type": f"worker exit {code}", "module": "?", "function": "?",
                    "message": f"the worker died (status {code}: a signal in C code?)"}
        self._buf += chunk
        if b"\n" not in self._buf:
            return None
        line, self._buf = self._buf.split(b"\n", 1)
        self.busy = None
        return json.loads(line)

    def kill(self) -> dict:
        """Kill the worker (it stopped answering) and return a ``hang`` outcome."""
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.busy = None
        return {"outcome": "hang", "type": "no answer", "module": "?", "function": "?",
                "message": "the worker stopped answering (a loop in C code?); killed"}

    def stop(self) -> None:
        """End the process."""
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def run_one(self, recipe: Recipe, wall_limit: float) -> dict:
        """Run ``recipe`` and wait for its outcome (for minimizing)."""
        self.send(recipe)
        deadline = time.monotonic() + wall_limit
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return self.kill()
            ready, _, _ = select.select([self], [], [], left)
            if ready:
                got = self.read_result()
                if got is None:
                    continue
                if got["outcome"] == "recycle":    # spent worker: again in a fresh one
                    self.stop()
                    self.send(recipe)
                    deadline = time.monotonic() + wall_limit
                    continue
                if got.pop("recycle", False):
                    self.stop()
                return got


@dataclass
class TargetStats:
    """Counts for one target."""

    inputs: int = 0
    ok: int = 0
    errors: int = 0
    findings: int = 0
    seconds: float = 0.0       # wall time of its inputs in the worker
    cpu_seconds: float = 0.0   # CPU time of its inputs (the machine may be shared)
    max_wall: float = 0.0
    max_cpu: float = 0.0
    max_peak_mb: float = 0.0

    def rate(self) -> float:
        """Return inputs per second of worker time."""
        return self.inputs / self.seconds if self.seconds else 0.0

    def cpu_rate(self) -> float:
        """Return inputs per CPU second."""
        return self.inputs / self.cpu_seconds if self.cpu_seconds else 0.0


@dataclass
class Finding:
    """One class of finding: its first input, minimized, and how often it was seen."""

    key: str
    result: dict
    recipe: Recipe
    minimized: Recipe
    count: int = 1
    first_input: int = 0

    def to_json(self) -> dict:
        """Return the finding as a JSON object."""
        return {"class": self.key, "count": self.count, "first_input": self.first_input,
                "result": self.result, "recipe": self.recipe.to_json(),
                "minimized": self.minimized.to_json(), "reproduce": self.minimized.describe()}


def outcome_class(result: dict) -> str | None:
    """Return the finding class of an outcome, or None for ok / expected error."""
    if result["outcome"] in ("ok", "error"):
        if (result.get("peak_mb") or 0) > PEAK_LIMIT_MB:
            return f"peak over {PEAK_LIMIT_MB} MB"
        return None
    return finding_class(result)


@dataclass
class Campaign:
    """Runs ``inputs`` recipes (or until ``hours`` pass) over ``targets`` from ``seed``."""

    targets: list[str]
    seed: int = 1
    inputs: int | None = None
    hours: float | None = None
    jobs: int = 1
    cpu_limit: float = 10.0
    out: Path | None = None
    minimize: bool = True
    fair_time: bool = False            # schedule targets by worker time spent, not in turn
    progress: object = None            # fn(str) for a status line now and then
    stats: dict[str, TargetStats] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    started: float = 0.0
    done: int = 0
    recycled: int = 0                  # workers replaced because they were spent
    _minimizer: Worker | None = field(default=None, repr=False)
    _log: Path | None = field(default=None, repr=False)   # the workers' stderr

    def recipes(self):
        """Yield (index, recipe) in order. Round robin over targets (each target's seeds in
        turn) by default; with ``fair_time`` the next target is the one that has had the
        least worker time, so cheap readers get more inputs than the end-to-end target.
        Either way recipe k of a (target, seed) is a pure function of the campaign seed."""
        mutators = {}
        for t in self.targets:
            seeds = [s for s in SEEDS[t] if available(s)]
            mutators[t] = [Mutator(t, load_seed(s), self.seed) for s in seeds]
        made = {t: 0 for t in self.targets}
        i = 0
        while True:
            live = [t for t in self.targets if mutators[t]]
            if not live:
                return
            if self.fair_time:
                t = min(live, key=lambda t: (self.stats[t].seconds if t in self.stats else 0.0, made[t]))
            else:
                t = live[i % len(live)]
            k = made[t]
            made[t] += 1
            ms = mutators[t]
            yield i, ms[k % len(ms)].recipe(k // len(ms))
            i += 1

    def run(self) -> "Campaign":
        """Run the campaign; return self with ``stats`` and ``findings`` filled."""
        self.stats = {t: TargetStats() for t in self.targets}
        self.started = time.monotonic()
        deadline = self.started + self.hours * 3600 if self.hours else None
        wall_limit = self.cpu_limit * 3 + 30
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            self._log = self.out / "worker-stderr.log"
        workers = [Worker(self.cpu_limit, self._log) for _ in range(max(self.jobs, 1))]
        gen = self.recipes()
        exhausted = False
        last_note = time.monotonic()
        try:
            while True:
                for w in workers:
                    if w.busy is None and not exhausted:
                        if (self.inputs is not None and self.done + sum(x.busy is not None for x in workers) >= self.inputs) \
                                or (deadline is not None and time.monotonic() >= deadline):
                            exhausted = True
                            break
                        i, recipe = next(gen)
                        w.send(recipe)
                        w.index = i
                busy = [w for w in workers if w.busy is not None]
                if not busy:
                    break
                now = time.monotonic()
                wait = min(w.busy[1] + wall_limit for w in busy) - now
                ready, _, _ = select.select(busy, [], [], max(wait, 0))
                for w in busy:
                    recipe, sent = w.busy
                    if w in ready:
                        result = w.read_result()
                        if result is None:
                            continue
                    elif time.monotonic() - sent > wall_limit:
                        result = w.kill()
                        result["wall"] = time.monotonic() - sent
                    else:
                        continue
                    if result["outcome"] == "recycle":   # the worker was spent: run it again
                        self.recycled += 1
                        w.stop()
                        w.send(recipe)
                        continue
                    if result.pop("recycle", False):
                        self.recycled += 1
                        w.stop()
                    result.setdefault("wall", time.monotonic() - sent)
                    self._count(w.index, recipe, result)
                if self.progress and time.monotonic() - last_note > 60:
                    self.progress(self.status_line())
                    last_note = time.monotonic()
                    self.save()
        finally:
            for w in workers + ([self._minimizer] if self._minimizer else []):
                w.stop()
            self._minimizer = None
            self.save()
        return self

    def _count(self, index: int, recipe: Recipe, result: dict) -> None:
        st = self.stats[recipe.target]
        st.inputs += 1
        self.done += 1
        st.seconds += result.get("wall", 0.0)
        st.cpu_seconds += result.get("cpu", 0.0) or 0.0
        st.max_wall = max(st.max_wall, result.get("wall", 0.0))
        st.max_cpu = max(st.max_cpu, result.get("cpu", 0.0) or 0.0)
        st.max_peak_mb = max(st.max_peak_mb, result.get("peak_mb") or 0.0)
        key = outcome_class(result)
        if key is None:
            if result["outcome"] == "ok":
                st.ok += 1
            else:
                st.errors += 1
            return
        st.findings += 1
        key = f"{recipe.target}: {key}"
        got = self.findings.get(key)
        if got is not None:
            got.count += 1
            return
        minimized = self._minimize(recipe, key) if self.minimize else recipe
        self.findings[key] = Finding(key, result, recipe, minimized, first_input=index)
        if self.progress:
            self.progress(f"new finding [{key}]: {minimized.describe()}")
        self.save()

    def _minimize(self, recipe: Recipe, key: str) -> Recipe:
        """Return ``recipe`` with every op removed whose removal keeps the finding's class."""
        ops = list(recipe.ops)
        if self._minimizer is None:   # one worker for every minimization: start-up is slow
            self._minimizer = Worker(self.cpu_limit, self._log)
        for op in list(ops):
            if len(ops) == 1:
                break
            trial = Recipe(recipe.target, recipe.seed, [o for o in ops if o is not op])
            got = self._minimizer.run_one(trial, self.cpu_limit * 3 + 30)
            if f"{recipe.target}: {outcome_class(got)}" == key:
                ops = trial.ops
        return Recipe(recipe.target, recipe.seed, ops)

    def status_line(self) -> str:
        """Return one line: inputs so far, rate and findings."""
        el = time.monotonic() - self.started
        return (f"{self.done} inputs in {el:.0f} s ({self.done / el if el else 0:.1f}/s), "
                f"{len(self.findings)} finding classes, {sum(f.count for f in self.findings.values())} findings, "
                f"{self.recycled} workers recycled")

    def summary(self) -> dict:
        """Return the campaign's figures as a JSON object."""
        el = time.monotonic() - self.started
        return {
            "seed": self.seed, "targets": self.targets, "inputs": self.done, "seconds": round(el, 1),
            "workers_recycled": self.recycled,
            "per_target": {t: {**s.__dict__, "inputs_per_s": round(s.rate(), 2),
                                "inputs_per_cpu_s": round(s.cpu_rate(), 2)} for t, s in self.stats.items()},
            "totals": {
                "exceptions": sum(f.count for f in self.findings.values() if f.result["outcome"] == "exception"),
                "hangs": sum(f.count for f in self.findings.values() if f.result["outcome"] == "hang"),
                "peaks": sum(f.count for f in self.findings.values() if f.key.endswith(f"peak over {PEAK_LIMIT_MB} MB")
                             or f.result["outcome"] == "memory"),
                "crashes": sum(f.count for f in self.findings.values() if f.result["outcome"] == "crash"),
            },
            "findings": [f.to_json() for f in self.findings.values()],
        }

    def save(self) -> None:
        """Write summary.json and one JSON file per finding class under ``out``."""
        if self.out is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        summary = self.summary()
        (self.out / "summary.json").write_text(json.dumps(summary, indent=1))
        (self.out / "report.md").write_text(report_markdown(summary))
        for f in self.findings.values():
            slug = re.sub(r"[^A-Za-z0-9]+", "-", f.key).strip("-")[:120]
            (self.out / f"{slug}.json").write_text(json.dumps(f.to_json(), indent=1))


def report_markdown(summary: dict) -> str:
    """Return the campaign's report: figures per target, then findings grouped by module."""
    lines = [f"# Fuzz campaign (seed {summary['seed']})", "",
             f"{summary['inputs']} inputs in {summary['seconds']:.0f} s; totals: "
             + ", ".join(f"{k} {v}" for k, v in summary["totals"].items()), "",
             "| target | inputs | inputs/s | inputs/CPU s | ok | project errors | findings | max wall s | max cpu s | max peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for t, s in summary["per_target"].items():
        lines.append(f"| {t} | {s['inputs']} | {s['inputs_per_s']} | {s['inputs_per_cpu_s']} | {s['ok']} | {s['errors']} | {s['findings']} "
                     f"| {s['max_wall']:.2f} | {s['max_cpu']:.2f} | {s['max_peak_mb']:.0f} |")
    by_module = defaultdict(list)
    for f in summary["findings"]:
        by_module[f["result"].get("module", "?")].append(f)
    for module in sorted(by_module):
        lines += ["", f"## {module}", ""]
        for f in by_module[module]:
            r = f["result"]
            lines += [f"### {f['class']} ({f['count']} inputs)", "",
                      f"- {r.get('type')}: {r.get('message', '')[:200]}",
                      f"- recipe: `{f['reproduce']}`",
                      f"- replay: `{json.dumps(f['minimized'])}`",
                      "- traceback (innermost last):", ""]
            lines += [f"      {fr}" for fr in r.get("frames", [])]
    return "\n".join(lines) + "\n"
