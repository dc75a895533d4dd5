"""``python -m registry`` runs the ``evidence`` command line."""

from registry.cli import main

main()
