"""``python -m matlab_occsens``: the same as the ``matlab-occsens`` command."""

import sys

from .cli import main

sys.exit(main())
