"""``python -m leadgate`` is the ``leadgate`` command."""

from leadgate import main

main()
