"""Write the real MATLAB imresize vectors of docs/specification.md §7 as cross-check cases (.mat files).

The numbers are MATLAB R2019b's, as docs/specification.md §7 quotes them (rounded to 6 decimals, hence the
files' tolerance of 1e-6). They are saved in the layout ``compat/matlab/make_references.m``
writes, so ``python -m compat.crosscheck compat/references`` checks them like any MATLAB output.
Run: ``python tools/make_spec7_references.py``.
"""

from pathlib import Path

import numpy as np
import scipy.io

TARGET = Path(__file__).resolve().parents[1] / "compat" / "references"
SOURCE = "MATLAB R2019b, as quoted (6 decimals) in docs/specification.md §7"

SMALL4 = np.arange(16, dtype=np.float64).reshape(4, 4)  # A(i,j) = 4(i-1) + (j-1)
TOPLEFT4 = np.zeros((4, 4))
TOPLEFT4[0, 0], TOPLEFT4[1, 0], TOPLEFT4[0, 1], TOPLEFT4[0, 3] = 100, 10, 1, 100
TOPLEFT_UP5 = np.array(
    [
        [108.685225, 27.697097, -12.446562, 26.884193, 109.2025],
        [35.471365, 8.970789, -3.589562, 6.637437, 26.961],
        [-0.650312, -0.212219, 0.394531, -1.607906, -6.53125],
        [-0.768075, -0.18963, 0.045938, 0, 0],
        [0, 0, 0, 0, 0],
    ]
)

CASES = {
    "imresize_spec7_small4_aa": (
        "4x4 ramp 0..15 (row-major) to 3x3, bicubic, antialiasing on",
        SMALL4,
        [3, 3],
        True,
        [[0.750552, 2.100442, 3.450331], [6.150110, 7.5, 8.849890], [11.549669, 12.899558, 14.249448]],
    ),
    "imresize_spec7_small4_noaa": (
        "4x4 ramp 0..15 (row-major) to 3x3, bicubic, antialiasing off",
        SMALL4,
        [3, 3],
        False,
        [[0.543981, 1.935185, 3.326389], [6.108796, 7.5, 8.891204], [11.673611, 13.064815, 14.456019]],
    ),
    "imresize_spec7_topleft_up5": (
        "4x4 zeros with A(1,1)=100, A(2,1)=10, A(1,2)=1, A(1,4)=100 to 5x5, bicubic",
        TOPLEFT4,
        [5, 5],
        None,
        TOPLEFT_UP5,
    ),
    "imresize_spec7_bottomright_up5": (
        "the same input turned by 180 degrees: MATLAB's output is the one above turned by 180 degrees",
        np.rot90(TOPLEFT4, 2),
        [5, 5],
        None,
        np.rot90(TOPLEFT_UP5, 2),
    ),
}


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, (about, A, size, antialiasing, B) in CASES.items():
        record = dict(
            kind="imresize",
            name=name,
            about=about,
            matlab_version=SOURCE,
            A=np.ascontiguousarray(A),
            method="bicubic",
            output_size=np.array(size, float),
            scale=np.zeros((0, 0)),
            antialiasing=np.zeros((0, 0)) if antialiasing is None else antialiasing,
            B=np.ascontiguousarray(B, dtype=np.float64),
            tolerance=1e-6,
        )
        scipy.io.savemat(TARGET / f"{name}.mat", record)
        print(f"wrote {TARGET / name}.mat")


if __name__ == "__main__":
    main()
