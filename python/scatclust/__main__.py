"""``python -m scatclust``: the scatclust command line (see :mod:`scatclust.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
