"""The getting-started page's matplotlib overlay does what MATLAB's imagesc layering does."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from matlab_occsens import jet

PAGE = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"


@pytest.mark.parametrize("map_shape", [(6, 8), (3, 4)], ids=["upsampled", "OutputUpsampling-none"])
def test_the_matplotlib_overlay_snippet_layers_the_map_as_imagesc(tmp_path, monkeypatch, map_shape):
    plt = pytest.importorskip("matplotlib.pyplot")
    pytest.importorskip("skimage")  # the block imports it for its own image
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)
    (snippet,) = [block for block in blocks if "ListedColormap(jet())" in block]
    # The block computes its own X and scoreMap (it runs alone); here its imports and its drawing
    # lay maps of two shapes over an image of another size.
    imports = "".join(line for line in snippet.splitlines(keepends=True) if line.startswith(("import ", "from ")))
    snippet = imports + snippet[snippet.index("fig, ax = plt.subplots()") :]
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    scoreMap = rng.normal(size=map_shape).astype(np.float32)
    namespace = {"X": rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "scoreMap": scoreMap}
    figures_before = set(plt.get_fignums())
    exec(compile(snippet.replace("plt.close(fig)", ""), str(PAGE), "exec"), namespace)
    ax, layer = namespace["ax"], namespace["layer"]
    try:
        assert len(ax.images) == 2 and ax.images[1] is layer  # the map above the image
        assert layer.get_alpha() == 0.6
        np.testing.assert_array_equal(layer.get_cmap().colors, jet())  # MATLAB's jet, 256 colours
        assert layer.get_clim() == (scoreMap.min(), scoreMap.max())  # imagesc: the map's own range
        assert layer.get_extent() == ax.images[0].get_extent() == [-0.5, 7.5, 5.5, -0.5]
        assert (tmp_path / "overlay-axes.png").stat().st_size > 0
    finally:
        plt.close(namespace["fig"])
    assert set(plt.get_fignums()) == figures_before
