"""Optional dependencies, checked before any work so that a missing one is a clear error."""

from __future__ import annotations

import importlib.util

from .._utils.install import install_command

__all__ = ["TORCH_INSTALL", "require_torch"]

TORCH_INSTALL = install_command("torch")


def require_torch(function: str, *extra: str) -> None:
    """Raise ImportError naming the install command unless torch (and ``extra`` packages) exist.

    Looks the packages up without importing them: importing torch takes seconds.
    """
    missing = [name for name in ("torch", *extra) if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"{function}: the torch backend needs {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed. Install it with: {TORCH_INSTALL}"
        )
