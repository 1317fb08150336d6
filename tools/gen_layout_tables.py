#!/usr/bin/env python3
"""Write gocore/generated/layout_tables.py: the runtime layout of each Go release, for stripped binaries.

For every Go release it takes one non-stripped executable, resolves exactly what
``gocore/binary/layout.py`` declares (``SPEC_STRUCTS``, ``SPEC_CONSTANTS``) from its DWARF, and
writes the results keyed by minor version ("1.19" ... "1.27"). Those are linux/amd64's;
Windows differs (4 MiB heap arenas, a 64-entry arena L1 index, so ``runtime.mheap`` and
``runtime.heapArena`` change shape): from the Windows fixtures' executables
(``fixtures/dumps-windows/index.json``) it writes, per release, what differs from Linux
(``GOOS_DELTAS``: whole structs and constants). linux/arm64 differs where the runtime pads
to a cache line (``cpu.CacheLinePadSize`` is 128 there, 64 on amd64: ``runtime.mheap``'s
``central`` array and what follows it): the tiny program below is cross-built with
``GOARCH=arm64`` by every toolchain found and what differs is written per release
(``GOARCH_DELTAS``); ``--no-arm64`` keeps them out.

Executables come from the fixtures (``fixtures/dumps/index.json``, entries with
``"stripped": false``) or, with ``--build``, from building a tiny program with each
toolchain (``--toolchains DIR`` holding ``go<V>/lib/python3.11/site-packages/go/bin/go``,
plus ``/usr/lib/go-1.19/bin/go``). Extra executables can be named with ``--exe``.

    python tools/gen_layout_tables.py            # from the fixtures
    python tools/gen_layout_tables.py --build    # from fresh builds
"""

from __future__ import annotations

import argparse
import json
import os
import pprint
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import exe as core_exe  # noqa: E402
from gocore.binary.dwarf import load_dwarf  # noqa: E402
from gocore.binary.goversion import parse_go_version  # noqa: E402
from gocore.binary.layout import MODULEDATA_FIELDS, Layout  # noqa: E402

TINY = """package main

import (
\t"fmt"
\t"runtime"
)

var keep = map[string]*int{}

func main() {
\tx := 1
\tkeep["x"] = &x
\tc := make(chan int, 1)
\tc <- x
\truntime.SetFinalizer(&x, func(*int) {})
\tvar e interface{} = keep
\tfmt.Println(<-c, e != nil, runtime.Version())
}
"""

TOOLCHAIN_VERSIONS = ["1.21.13", "1.22.10", "1.23.9", "1.24.11", "1.25.5", "1.26.6", "1.27.3"]


def fixture_executables(fixtures: str = "dumps") -> list[str]:
    index = os.path.join(ROOT, "fixtures", fixtures, "index.json")
    if not os.path.exists(index):
        return []
    with open(index) as f:
        entries = json.load(f)
    seen = []
    for e in entries:
        if e.get("stripped") or not e.get("exe"):
            continue
        path = os.path.join(ROOT, "fixtures", fixtures, e["exe"])
        if path not in seen and os.path.exists(path):
            seen.append(path)
    return seen


def build_executables(toolchains: str, outdir: str, goarch: str = "amd64") -> list[str]:
    """Return the paths of the tiny program built for linux/``goarch`` by every toolchain
    found (cross-compiled: nothing is run)."""
    src = os.path.join(outdir, "src")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "main.go"), "w") as f:
        f.write(TINY)
    with open(os.path.join(src, "go.mod"), "w") as f:
        f.write("module tiny\n\ngo 1.19\n")
    gos = [("1.19", "/usr/lib/go-1.19/bin/go")]
    gos += [(v, os.path.join(toolchains, f"go{v}", "lib", "python3.11", "site-packages", "go", "bin", "go"))
            for v in TOOLCHAIN_VERSIONS]
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", GOSUMDB="off", GOFLAGS="-mod=mod",
               CGO_ENABLED="0", GOOS="linux", GOARCH=goarch)
    out = []
    for v, go in gos:
        if not os.path.exists(go):
            print(f"skip go{v}: {go} not found", file=sys.stderr)
            continue
        target = os.path.join(outdir, f"tiny-{v}" + ("" if goarch == "amd64" else f"-{goarch}"))
        subprocess.run([go, "build", "-o", target, "."], cwd=src, env=env, check=True)
        out.append(target)
    return out


def delta(base: dict, other: dict) -> dict:
    """Return the structs and constants of table ``other`` that differ from ``base``'s."""
    return {"structs": {k: v for k, v in other["structs"].items() if base["structs"].get(k) != v},
            "constants": {k: v for k, v in other["constants"].items() if base["constants"].get(k) != v}}


def layout_of(path: str) -> tuple[str, dict]:
    exe = core_exe.open_executable(path)
    dwarf = load_dwarf(exe)
    version = parse_go_version(dwarf.go_version)
    if version is None:
        raise SystemExit(f"{path}: cannot tell the Go version from DWARF producer {dwarf.producer!r}")
    return version.release, Layout.from_dwarf(dwarf, version).to_table()


def _version_key(release: str):
    return parse_go_version(release)


# A moduledata layout family is named by the oldest release that has it; where no fixture of
# that release exists, src/runtime/symtab.go says: go1.18 added gofunc (1.18 and 1.19 share
# the layout), go1.20 inserted covctrs/ecovctrs (1.20 and 1.21-1.25 share it).
FAMILY_NAMES = {"1.19": "go1.18", "1.21": "go1.20"}


def moduledata_layouts(tables: dict[str, dict]) -> dict[str, dict]:
    """Return ``{family: {'releases': [...], 'fields': {field: (offset, size)}}}``: the
    offsets of ``MODULEDATA_FIELDS`` in each release's table, releases sharing them grouped."""
    out: dict[str, dict] = {}
    for v in sorted(tables, key=_version_key):
        have = tables[v]["structs"]["runtime.moduledata"]["fields"]
        fields = dict(sorted(((f, have[f]) for f in MODULEDATA_FIELDS if f in have),
                             key=lambda kv: kv[1][0]))
        same = next((fam for fam in out.values() if fam["fields"] == fields), None)
        if same is not None:
            same["releases"].append(v)
        else:
            out[FAMILY_NAMES.get(v, f"go{v}")] = {"releases": [v], "fields": fields}
    return out


def render(tables: dict[str, dict], sources: dict[str, str],
           deltas: dict[str, dict[str, dict]], delta_sources: dict[str, dict[str, str]],
           arch_deltas: dict[str, dict[str, dict]], arch_sources: dict[str, dict[str, str]]) -> str:
    lines = [
        '"""Runtime layouts per Go release, for executables without DWARF.',
        "",
        "GENERATED by tools/gen_layout_tables.py from the DWARF of these builds; do not edit:",
    ]
    for v in sorted(sources, key=_version_key):
        lines.append(f"    go{v}: {sources[v]}")
    for goos in sorted(delta_sources):
        for v in sorted(delta_sources[goos], key=_version_key):
            lines.append(f"    {goos} go{v}: {delta_sources[goos][v]}")
    for goarch in sorted(arch_sources):
        for v in sorted(arch_sources[goarch], key=_version_key):
            lines.append(f"    {goarch} go{v}: {arch_sources[goarch][v]}")
    lines += [
        "",
        "TABLES[minor] = {'ptr_size', 'structs': {canonical struct: {'name': spelling, 'size',",
        "'fields': {canonical path: (offset, size)}}}, 'constants': {name: value}} (linux/amd64)",
        "GOOS_DELTAS[goos][minor] = {'structs': {...}, 'constants': {...}}: what differs there",
        "GOARCH_DELTAS[goarch][minor]: the same for linux on another GOARCH",
        "MODULEDATA_LAYOUTS[family] = {'releases': [minor, ...], 'fields': {field: (offset, size)}}:",
        "the runtime.moduledata fields of gocore.binary.layout.MODULEDATA_FIELDS per layout family",
        '"""',
        "",
        "TABLES = " + pprint.pformat({v: tables[v] for v in sorted(tables, key=_version_key)},
                                     width=100, sort_dicts=False),
        "",
        "GOOS_DELTAS = " + pprint.pformat(
            {g: {v: deltas[g][v] for v in sorted(deltas[g], key=_version_key)} for g in sorted(deltas)},
            width=100, sort_dicts=False),
        "",
        "GOARCH_DELTAS = " + pprint.pformat(
            {a: {v: arch_deltas[a][v] for v in sorted(arch_deltas[a], key=_version_key)}
             for a in sorted(arch_deltas)}, width=100, sort_dicts=False),
        "",
        "MODULEDATA_LAYOUTS = " + pprint.pformat(moduledata_layouts(tables), width=100,
                                                 sort_dicts=False),
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="store_true", help="build a tiny program with each toolchain")
    ap.add_argument("--toolchains", default=os.path.expanduser("~/.cache/viewcore/toolchains"))
    ap.add_argument("--exe", action="append", default=[], help="another non-stripped Go executable")
    ap.add_argument("--no-arm64", action="store_true",
                    help="write no linux/arm64 deltas (they need the toolchains to cross-build)")
    ap.add_argument("--out", default=os.path.join(ROOT, "gocore", "generated", "layout_tables.py"))
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        paths = list(args.exe)
        paths += build_executables(args.toolchains, tmp) if args.build else fixture_executables()
        if not paths:
            print("no executables: run with --build or make the fixtures first", file=sys.stderr)
            return 1
        tables: dict[str, dict] = {}
        sources: dict[str, str] = {}
        for p in paths:
            minor, table = layout_of(p)
            if minor in tables and tables[minor] != table:
                print(f"warning: go{minor}: {p} differs from {sources[minor]}; keeping the first",
                      file=sys.stderr)
                continue
            tables.setdefault(minor, table)
            sources.setdefault(minor, os.path.relpath(p, ROOT) if p.startswith(ROOT) else os.path.basename(p))
            print(f"go{minor}: {len(table['structs'])} structs, {len(table['constants'])} constants from {p}",
                  file=sys.stderr)
        deltas: dict[str, dict[str, dict]] = {"windows": {}}
        delta_sources: dict[str, dict[str, str]] = {"windows": {}}
        for p in fixture_executables("dumps-windows"):
            minor, table = layout_of(p)
            if minor not in tables or minor in deltas["windows"]:
                continue
            deltas["windows"][minor] = delta(tables[minor], table)
            delta_sources["windows"][minor] = os.path.relpath(p, ROOT)
            print(f"windows go{minor}: {len(deltas['windows'][minor]['structs'])} structs, "
                  f"{len(deltas['windows'][minor]['constants'])} constants differ ({p})", file=sys.stderr)
        arch_deltas: dict[str, dict[str, dict]] = {"arm64": {}}
        arch_sources: dict[str, dict[str, str]] = {"arm64": {}}
        arm64 = [] if args.no_arm64 else build_executables(args.toolchains, os.path.join(tmp, "arm64"),
                                                           goarch="arm64")
        for p in arm64:
            minor, table = layout_of(p)
            if minor not in tables or minor in arch_deltas["arm64"]:
                continue
            arch_deltas["arm64"][minor] = delta(tables[minor], table)
            arch_sources["arm64"][minor] = f"tools/gen_layout_tables.py's tiny program, {os.path.basename(p)}"
            print(f"arm64 go{minor}: {len(arch_deltas['arm64'][minor]['structs'])} structs, "
                  f"{len(arch_deltas['arm64'][minor]['constants'])} constants differ", file=sys.stderr)
    with open(args.out, "w") as f:
        f.write(render(tables, sources, deltas, delta_sources, arch_deltas, arch_sources))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
