"""The probe of careless and hostile arguments (``python -m tools.trust_probe``) finds nothing wrong.

The smoke run tries 300 seeded cases over every argument of occlusionSensitivity, predict,
classify, imresize, rescale and scores2label; the full run (``--cases 12000``) is the figure in
the issue. The bad model files it also tries are reported, not judged, here.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tools import dataset_probe, trust_probe


def test_smoke_probe_finds_no_argument_case_wrong(capsys):
    status = trust_probe.main(["--smoke"])
    out = capsys.readouterr().out
    tried, wrong = map(int, re.search(r"arguments: (\d+) cases tried, (\d+) not right", out).groups())
    assert (tried, wrong) == (300, 0), out
    assert status == 0
    assert re.search(r"model files: 7 tried, \d+ not right", out)


def test_the_probe_judges_what_it_should():
    probe = trust_probe
    nets = probe.networks()

    def case(call, args, kwargs, words):
        return probe.Case("f", call, args, kwargs, ["A"], words)

    def raises_attribute_error(*_):
        raise AttributeError("'int' object has no attribute 'item'")

    def modifies(A):
        A[0] = 99
        return A

    def raises_naming(_):
        raise ValueError("f: A must be positive; got -1.")

    assert probe.judge(case(raises_attribute_error, [1], {}, ["A"]), nets["cold"]).startswith("AttributeError")
    assert probe.judge(case(modifies, [np.zeros(3)], {}, ["A"]), nets["cold"]) == "modified an input array"
    assert probe.judge(case(lambda A: A * np.nan, [np.ones(2)], {}, ["A"]), nets["cold"]).startswith("NaN")
    assert probe.judge(case(lambda A: A * np.nan, [np.array([np.nan])], {}, ["A"]), nets["cold"]) is None
    assert probe.judge(case(raises_naming, [1], {}, ["A"]), nets["cold"]) is None
    assert probe.judge(case(raises_naming, [1], {}, ["B"]), nets["cold"]).startswith("ValueError not naming")


@pytest.mark.parametrize("items", [[], ["--volumes"]], ids=["images", "NIfTI volumes"])
def test_smoke_dataset_probe_finds_no_store_case_wrong(capsys, items):
    """40 seeded cases of damage and edits to a real store on disk (``python -m tools.dataset_probe``),
    of images and of volumes."""
    pytest.importorskip("distributed")
    if items:
        pytest.importorskip("nibabel")
    status = dataset_probe.main(["--smoke", *items])
    out = capsys.readouterr().out
    tried, wrong = map(int, re.search(r"store cases: (\d+) tried, (\d+) not right", out).groups())
    assert (tried, wrong) == (40, 0), out
    assert ("NIfTI volumes" in out) == bool(items)
    assert status == 0


def test_the_dataset_probe_judges_what_it_should(tmp_path):
    pytest.importorskip("distributed")
    import shutil

    probe = dataset_probe
    setup = probe.prepare(tmp_path)
    out = tmp_path / "case"
    shutil.copytree(setup.clean, out)
    assert probe.judge(setup, out, set(), probe.snapshot(out), setup.values) is None
    other = {**setup.values, "maps": setup.values["maps"] + 1}
    assert (
        probe.judge(setup, out, set(), probe.snapshot(out), other)
        == "completed with other values in maps than a clean run"
    )
    assert probe.judge(setup, out, {2}, probe.snapshot(out), setup.values).startswith("completed without reporting")
    (out / probe.STORE / "zarr.json").write_text("{")
    assert probe.judge(setup, out, set(), probe.snapshot(out), setup.values) is None  # refused, naming the store
