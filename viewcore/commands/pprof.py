"""``pprof -o FILE``: the live heap as a pprof profile of reference chains."""

from __future__ import annotations

from ..progress import report
from ..results import WrittenFile

HELP = "write the live heap as a pprof profile (go tool pprof FILE): objects and bytes per reference chain"


def add_arguments(parser) -> None:
    """Take the output file and the chain depth."""
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="profile to write (gzip)")
    parser.add_argument("--depth", type=int, default=32, help="longest chain kept (default 32)")


def run(gp, args) -> WrittenFile:
    """Write the profile; return what was written."""
    from ..render.pprof import encode_profile  # protobuf: imported only to write a profile
    tree = gp.reference_chains(max_depth=args.depth, progress=report)
    nodes = [k for k in range(len(tree.label)) if tree.count[k]]
    data = encode_profile([tree.chain(k) for k in nodes],
                          [(int(tree.count[k]), int(tree.bytes[k])) for k in nodes],
                          goroutines=tree.goroutine[nodes].tolist())
    with open(args.output, "wb") as f:
        f.write(data)
    return WrittenFile(args.output, "pprof", len(data), int(tree.count.sum()), int(tree.bytes.sum()),
                       len(nodes))
