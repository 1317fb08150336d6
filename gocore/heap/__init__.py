"""The Go heap: spans and objects, pointer maps and edges, roots and marking, types, dominators."""
