"""``python -m service`` is the ``leadgate`` command."""

from service.cli import main

main()
