"""ONNX Runtime's failures, said in the user's terms: running out of memory names MiniBatchSize."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["out_of_memory_said"]

_ALLOCATION = re.compile(r"Failed to allocate memory for requested buffer of size (\d+)|bad_alloc|std::bad_alloc")


@contextmanager
def out_of_memory_said(images: int) -> Iterator[None]:
    """Turn ONNX Runtime's allocation failure while computing ``images`` images into a MemoryError
    that says what to change; any other failure passes as it is."""
    try:
        yield
    except MemoryError:
        raise
    except Exception as error:  # onnxruntime raises its own Fail/RuntimeException for everything
        found = _ALLOCATION.search(str(error))
        if found is None:
            raise
        asked = f" (it asked for {int(found.group(1)) / 2**30:.2f} GiB more)" if found.group(1) else ""
        raise MemoryError(
            f"ONNX Runtime ran out of memory computing a batch of {images} images{asked}; lower "
            f"MiniBatchSize (a batch needs the network's activations for every image in it at once)."
        ) from error
