"""``python -m matlab_occsens``: the same as the ``matlab-occsens`` command."""

import sys

from ._command.cli import main

sys.exit(main())
