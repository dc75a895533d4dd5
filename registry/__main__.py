"""``python -m registry`` runs the ``evidence`` command line."""

from .cli import main

main()
