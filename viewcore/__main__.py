"""``python -m viewcore``: the same as the ``viewcore`` command."""

from .cli import main_entry

main_entry()
