"""``python -m worker.cli``: the ``pidsync`` command."""

from worker.cli import main

main()
