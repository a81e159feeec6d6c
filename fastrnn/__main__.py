"""``python -m fastrnn``: the fastrnn command (see :mod:`fastrnn.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
