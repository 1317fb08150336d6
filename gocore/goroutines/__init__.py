"""Goroutines: their states, stacks and frames, and the heap pointers their stacks hold."""
