"""MATLAB's image functions: ``imresize`` (bit-exact) and ``imresize3`` (volumes),
``imread``/``imwrite`` (RGB, the file's own class, a decoded size read from the file's header
before decoding), ``rescale``, and the display functions ``jet``, ``overlayScoreMap`` and
``imshow``.

Every name here is also importable from :mod:`matlab_occsens` itself.
"""

from ._display import imshow, jet, overlayScoreMap
from ._imageio import imread, imwrite
from ._imresize import imresize
from ._imresize3 import imresize3
from ._rescale import rescale

__all__ = ["imresize", "imresize3", "imread", "imwrite", "rescale", "jet", "overlayScoreMap", "imshow"]
