"""Write ``tests/data/imresize-matlab-r2019b.json`` from MATLAB's own .mat files.

The numbers are the outputs MATLAB R2019b saved in the ``test_answer/`` folder of
https://github.com/sanghyun-son/bicubic_pytorch (commit 2b978ab, 13 July 2020; written by that
project's ``test_answer/gen_test.m``). This script only reads those arrays and writes them, with
the inputs they were computed from, as JSON that ``tests/test_imresize.py`` and
``python -m compat.crosscheck tests/data`` read. The cases on ``butterfly.png`` are left out
(large, and they need the photo). Every value is copied bit for bit (JSON keeps a float64's
shortest exact form). See ``tests/data/README.md``.

Run: ``python tools/make_imresize_references.py PATH/TO/bicubic_pytorch/test_answer``.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import scipy.io

TARGET = Path(__file__).resolve().parents[1] / "tests" / "data" / "imresize-matlab-r2019b.json"
SOURCE = (
    "imresize(A, [m n], 'bicubic', 'antialiasing', aa) computed by MATLAB R2019b; inputs are class double. "
    "Saved by MATLAB in test_answer/*.mat of github.com/sanghyun-son/bicubic_pytorch (commit 2b978ab); "
    "see tests/data/README.md."
)


def _ramp(n: int) -> np.ndarray:
    return np.arange(n * n, dtype=np.float64).reshape(n, n)  # A(i,j) = n(i-1) + (j-1)


def _topleft() -> np.ndarray:
    A = np.zeros((4, 4))
    A[0, 0], A[1, 0], A[0, 1], A[0, 3] = 100, 10, 1, 100
    return A


INPUTS = {
    "square8": ("8x8, A(i,j) = 8*(i-1) + (j-1)  (row-major 0..63)", _ramp(8)),
    "small4": ("4x4, A(i,j) = 4*(i-1) + (j-1)  (row-major 0..15)", _ramp(4)),
    "grid15": ("15x15, A(i,j) = 15*(i-1) + (j-1)  (row-major 0..224)", _ramp(15)),
    "topleft4": ("4x4 zeros, A(1,1)=100, A(2,1)=10, A(1,2)=1, A(1,4)=100", _topleft()),
    "bottomright4": ("4x4 zeros, A(4,4)=100, A(3,4)=10, A(4,3)=1, A(4,1)=100", np.rot90(_topleft(), 2)),
}

# name: (input, output size, antialiasing), as gen_test.m calls imresize for each.
CASES = {
    "down_down_aa": ("square8", [3, 4], True),
    "down_down_noaa": ("square8", [3, 4], False),
    "down_down_small_aa": ("small4", [3, 3], True),
    "down_down_small_noaa": ("small4", [3, 3], False),
    "down_down_x2_aa": ("square8", [4, 4], True),
    "down_down_x4_aa": ("square8", [2, 2], True),
    "down_down_x5_aa": ("grid15", [3, 3], True),
    "up_up_bottomright_noaa": ("bottomright4", [5, 5], False),
    "up_up_topleft_noaa": ("topleft4", [5, 5], False),
    "down_down_irregular_aa": ("square8", [5, 7], True),
    "down_down_irregular_noaa": ("square8", [5, 7], False),
    "down_down_x3_aa": ("grid15", [5, 5], True),
    "up_up_irregular_aa": ("square8", [11, 13], True),
    "up_up_irregular_noaa": ("square8", [11, 13], False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("test_answer", type=Path, help="the test_answer folder of a bicubic_pytorch checkout")
    folder = parser.parse_args().test_answer
    cases = []
    for name, (input_name, size, antialiasing) in CASES.items():
        expected = scipy.io.loadmat(folder / f"{name}.mat")[name]
        if expected.shape != tuple(size) or expected.dtype != np.float64:
            raise SystemExit(f"{name}.mat holds a {expected.dtype} {expected.shape} array, not {size}: refusing")
        cases.append(
            {
                "name": name,
                "input": input_name,
                "size": size,
                "method": "bicubic",
                "antialiasing": antialiasing,
                "expected": expected.tolist(),
            }
        )
    inputs = {name: {"how": how, "A": A.tolist()} for name, (how, A) in INPUTS.items()}
    document = {"source": SOURCE, "inputs": inputs, "cases": cases}
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {TARGET}")


if __name__ == "__main__":
    main()
