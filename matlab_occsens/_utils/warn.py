"""One way to warn: the warning names the user's line, however deep in the package it is raised.

A hard-coded ``stacklevel`` is right for one call path only (``warn_unbatchable`` is reached from
``importNetworkFromONNX`` and from ``occlusionSensitivity`` at different depths), so the frame is
found instead: the first one whose file lies outside this package.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn_user"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # matlab_occsens/, not _utils/


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue ``message`` as ``category``, attributed to the first caller outside matlab_occsens."""
    if sys.version_info >= (3, 12):
        warnings.warn(message, category, skip_file_prefixes=(_PACKAGE,))
        return
    frame = sys._getframe(1)
    level = 2  # 1 would be this line; 2 is whoever called warn_user
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
