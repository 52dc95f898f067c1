"""The MATLAB cross-check kit (compat/): real MATLAB references, and the round trip through a
synthetic MATLAB that follows docs/specification.md, then each [assumed] rule's alternative in turn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from compat.crosscheck import FAIL, PASS, SKIP, crosscheck, main, report, verdicts
from compat.rules import ASSUMED, RULES
from compat.synthetic import FLIPS, case_matrix, emulate, write_references

ROOT = Path(__file__).resolve().parents[1]
KIT_REFERENCES = ROOT / "compat" / "references"
MATLAB_JSON = ROOT / "tests" / "data" / "imresize-matlab-r2019b.json"


def by_name(outcomes):
    return {outcome.case.name: outcome for outcome in outcomes}


def blamed(outcome):
    return {finding.rule for finding in outcome.findings}


@pytest.fixture(scope="module")
def as_specified(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    write_references(folder)
    return folder


@pytest.fixture(scope="module")
def flipped(tmp_path_factory):
    """The cross-check of a synthetic MATLAB with one rule flipped, computed once per rule."""
    done = {}

    def outcomes(flip):
        if flip not in done:
            folder = tmp_path_factory.mktemp(flip)
            write_references(folder, flip=flip)
            done[flip] = crosscheck([folder])
        return done[flip]

    return outcomes


def rewrite(source: Path, target: Path, **changes) -> Path:
    """A copy of a reference case with some of its fields replaced (MATLAB doing otherwise)."""
    fields = {key: value for key, value in scipy.io.loadmat(source).items() if not key.startswith("__")}
    fields.update(changes)
    scipy.io.savemat(target, fields)
    return target


# --- real MATLAB numbers --------------------------------------------------------------------------


def test_the_kits_spec7_references_pass():
    outcomes = crosscheck([KIT_REFERENCES])
    assert sorted(outcome.case.name for outcome in outcomes) == [
        "imresize_spec7_bottomright_up5",
        "imresize_spec7_small4_aa",
        "imresize_spec7_small4_noaa",
        "imresize_spec7_topleft_up5",
    ]
    assert all(outcome.status == PASS for outcome in outcomes)
    assert all(outcome.tolerance == 1e-6 and outcome.max_abs <= 5.0001e-7 for outcome in outcomes)
    assert main([str(KIT_REFERENCES)]) == 0


def test_the_r2019b_imresize_references_pass():
    outcomes = crosscheck([MATLAB_JSON.parent])
    assert len(outcomes) == 14 and all(outcome.status == PASS for outcome in outcomes)
    assert max(outcome.max_abs for outcome in outcomes) < 1e-12


def test_a_wrong_imresize_reference_fails(tmp_path):
    source = KIT_REFERENCES / "imresize_spec7_small4_aa.mat"
    B = scipy.io.loadmat(source)["B"].copy()
    B[1, 2] += 1e-5
    rewrite(source, tmp_path / "wrong.mat", B=B)
    (outcome,) = crosscheck([tmp_path])
    assert outcome.status == FAIL and blamed(outcome) == {"imresize"}
    assert "largest difference at (2, 3)" in outcome.differences[0]
    assert main([str(tmp_path)]) == 1


# --- the round trip: the specification as written ------------------------------------------------


def test_the_synthetic_matlab_following_spec_passes_every_case(as_specified):
    outcomes = crosscheck([as_specified])
    assert len(outcomes) == len(case_matrix()["occlusion"]) == 31
    assert [o.case.name for o in outcomes if o.status != PASS] == []
    assert set(verdicts(outcomes).values()) == {"confirmed"}
    networks = {o.case.name: o.network for o in outcomes}
    assert networks.pop("time_axis") == "weights"  # MATLAB cannot export its functionLayer
    assert set(networks.values()) == {"onnx"}


def test_without_onnx_files_the_probes_are_rebuilt_from_the_saved_weights(tmp_path):
    write_references(tmp_path, with_onnx=False)
    outcomes = crosscheck([tmp_path])
    assert {o.network for o in outcomes} == {"weights"}
    assert all(o.status == PASS for o in outcomes)


# --- the round trip: each [assumed] rule flipped -------------------------------------------------


def test_every_assumed_rule_of_spec_section_8_has_a_flip():
    assert set(FLIPS) == set(ASSUMED) and len(ASSUMED) == 7
    assert all(RULES[key].tag == "assumed" for key in FLIPS)


@pytest.mark.parametrize("flip", sorted(FLIPS))
def test_a_flipped_assumed_rule_is_caught_and_blamed_on_that_rule(flipped, flip):
    outcomes = flipped(flip)
    failing = [o for o in outcomes if o.status == FAIL]
    assert failing, f"flipping {flip} went unnoticed"
    for outcome in failing:
        assert blamed(outcome) == {flip}, (outcome.case.name, outcome.findings)
    assert any(finding.direct for outcome in failing for finding in outcome.findings)
    said = verdicts(outcomes)
    assert said.pop(flip) == "contradicted" and "contradicted" not in said.values()


def test_the_report_says_what_matlab_did_instead(flipped):
    outcome = by_name(flipped("even-mask-before-centre"))["grid_even_on"]
    texts = [finding.text for finding in outcome.findings]
    assert texts == [
        "rows: MATLAB puts the extra row of the even 4-row mask after its centre: centred on row 1 it "
        "covers 1-3, where this port covers 1-2.",
        "columns: MATLAB puts the extra column of the even 6-column mask after its centre: centred on "
        "column 1 it covers 1-4, where this port covers 1-3.",
    ]
    printed = report([outcome])
    assert str(RULES["even-mask-before-centre"]) in printed and "FAIL grid_even_on" in printed


def test_uint8_occluded_before_conversion_is_read_back_from_the_fill(flipped):
    outcome = by_name(flipped("convert-before-occlusion"))["fill_uint8_auto"]
    (finding,) = outcome.findings
    assert finding.direct and "[128.0000, 134.0000, 134.0000]" in finding.text
    assert "[128.4729, 133.9417, 133.6583]" in finding.text


def test_cases_that_cannot_be_read_alone_are_blamed_through_the_others(flipped):
    outcomes = by_name(flipped("even-mask-before-centre"))
    upsampled = outcomes["upsample_bicubic"]
    assert upsampled.status == FAIL
    assert [(f.rule, f.direct) for f in upsampled.findings] == [("even-mask-before-centre", False)]
    assert "case auto_28 shows it" in upsampled.findings[0].text


# --- MATLAB doing other things than the [assumed] flips -----------------------------------------


def spec_named(name):
    return next(spec for spec in case_matrix()["occlusion"] if spec["name"] == name)


def emulated_map(name, **options):
    spec = spec_named(name)
    return emulate(dict(spec, options=dict(spec["options"], **options)))


def test_auto_stride_rounded_half_to_even_is_blamed_on_matlabs_round(as_specified, tmp_path):
    rewrite(as_specified / "auto_225.mat", tmp_path / "auto_225.mat", scoreMap=emulated_map("auto_225", Stride=22))
    (outcome,) = crosscheck([tmp_path / "auto_225.mat"])
    assert outcome.status == FAIL and blamed(outcome) == {"auto-mround"}
    assert "auto Stride for 225 rows is 22 (halves to even)" in outcome.findings[0].text


def test_a_different_fill_value_is_read_back(as_specified, tmp_path):
    other_fill = emulated_map("fill_vector", MaskValue=[11, 20, 30])
    rewrite(as_specified / "fill_vector.mat", tmp_path / "c.mat", scoreMap=other_fill)
    (outcome,) = crosscheck([tmp_path])
    assert blamed(outcome) == {"mask-value"}
    expected = "[11.0000, 20.0000, 30.0000] where this port fills with [10.0000, 20.0000, 30.0000]"
    assert expected in outcome.findings[0].text


def test_channels_returned_sorted_and_unique_are_recognised(as_specified, tmp_path):
    spec = spec_named("channels_repeated")
    sorted_map = emulate(dict(spec, channels=[1, 25, 47]))
    rewrite(as_specified / "channels_repeated.mat", tmp_path / "c.mat", scoreMap=sorted_map)
    (outcome,) = crosscheck([tmp_path])
    assert blamed(outcome) == {"channel-order"}
    assert outcome.findings[0].text == "MATLAB returns the maps of channels [1, 25, 47] for channelIdx [47, 1, 1, 25]."


def test_an_averaged_spatial_output_is_recognised(as_specified, tmp_path):
    source = as_specified / "intermediate_pixels.mat"
    mean_map = (scipy.io.loadmat(source)["scoreMap"] / (20 * 24)).astype(np.float32)
    rewrite(source, tmp_path / "c.mat", scoreMap=mean_map)
    (outcome,) = crosscheck([tmp_path])
    assert blamed(outcome) == {"total-activation"}
    assert "(1/480: the mean over the 20x24 positions)" in outcome.findings[0].text


def probe_map(X, row_spans, col_spans):
    """The rowcol probe's raw map (MaskValue 0, every channel) for masks given by 1-based spans."""
    image = X.astype(np.float64)
    totals = lambda z: np.concatenate([z.sum(axis=(1, 2)), z.sum(axis=(0, 2)), z.sum(axis=(0, 1))])  # noqa: E731
    out = np.empty((len(row_spans), len(col_spans), sum(image.shape)), np.float32)
    for i, (r0, r1) in enumerate(row_spans):
        for j, (c0, c1) in enumerate(col_spans):
            occluded = image.copy()
            occluded[r0 - 1 : r1, c0 - 1 : c1] = 0
            out[i, j] = totals(image) - totals(occluded)
    return out


def test_an_extra_last_mask_under_clipping_off_is_recognised(as_specified, tmp_path):
    source = as_specified / "grid_stride_uneven_off.mat"  # 23x19, MaskSize 5, Stride 4, "off"
    X = scipy.io.loadmat(source)["X"]
    rows = [(1, 5), (5, 9), (9, 13), (13, 17), (17, 21), (19, 23)]
    cols = [(1, 5), (5, 9), (9, 13), (13, 17), (15, 19)]
    rewrite(source, tmp_path / "c.mat", scoreMap=probe_map(X, rows, cols))
    (outcome,) = crosscheck([tmp_path])
    assert blamed(outcome) == {"grid-clipping-off"}
    assert [f.text for f in outcome.findings] == [
        "rows: MATLAB adds a last full mask at rows 19-23, which the stride 4 does not reach.",
        "columns: MATLAB adds a last full mask at columns 15-19, which the stride 4 does not reach.",
    ]


def spans(size, mask, stride, clipping):
    """1-based covered spans from docs/specification.md §4, for MATLAB maps made up by the tests."""
    if clipping:
        return [(max(c - mask // 2, 1), min(c - mask // 2 + mask - 1, size)) for c in range(1, size + 1, stride)]
    return [(top, top + mask - 1) for top in range(1, size - mask + 2, stride)]


@pytest.mark.parametrize(
    "rows, cols, rule, text",
    [
        (
            spans(20, 5, 3, False),
            spans(24, 5, 3, True),
            "grid-clipping-on",
            "rows: MATLAB lays out the masks as: full masks from the first row while they fit.",
        ),
        (
            spans(20, 7, 3, True),
            spans(24, 5, 3, True),
            "grid-clipping-on",
            "rows: MATLAB's masks use MaskSize 7 where 5 was given.",
        ),
        (
            [(1, 2), (2, 9)],
            spans(24, 5, 3, True),
            "grid-clipping-on",
            "rows: MATLAB's masks cover 1-2, 2-9; this port's cover 1-3, 2-6, 5-9, 8-12, ... (7 masks).",
        ),
    ],
)
def test_other_mask_layouts_are_described(as_specified, tmp_path, rows, cols, rule, text):
    source = as_specified / "grid_odd_on.mat"  # 20x24, MaskSize 5, Stride 3, "on"
    rewrite(source, tmp_path / "c.mat", scoreMap=probe_map(scipy.io.loadmat(source)["X"], rows, cols))
    (outcome,) = crosscheck([tmp_path])
    assert [(f.rule, f.text) for f in outcome.findings] == [(rule, text)]


def test_a_map_no_rule_explains_is_reported_as_unexplained(as_specified, tmp_path):
    source = as_specified / "grid_odd_on.mat"
    noisy = scipy.io.loadmat(source)["scoreMap"].copy()
    noisy[2, 3, 4] += 50
    rewrite(source, tmp_path / "c.mat", scoreMap=noisy)
    (outcome,) = crosscheck([tmp_path])
    assert outcome.status == FAIL and blamed(outcome) == {None}
    assert "largest difference at (3, 4, 5) (1-based)" in outcome.differences[0]


def test_a_different_network_is_reported_before_any_rule(as_specified, tmp_path):
    source = as_specified / "grid_odd_on.mat"
    totals = scipy.io.loadmat(source)["totals"] + 1
    rewrite(source, tmp_path / "c.mat", totals=totals)
    (outcome,) = crosscheck([tmp_path])
    assert outcome.status == FAIL and outcome.findings == []
    assert "is not the network MATLAB ran" in outcome.differences[0]


def test_a_case_matlab_may_reject_is_not_a_failure(as_specified, tmp_path):
    rewrite(
        as_specified / "time_axis.mat",
        tmp_path / "c.mat",
        error_identifier="nnet:occlusionSensitivity:Unsupported",
        error_message="Time outputs are not supported.",
    )
    (outcome,) = crosscheck([tmp_path])
    assert outcome.status == SKIP and "stay unconfirmed" in outcome.differences[0]
    assert main([str(tmp_path)]) == 0


def test_usage_errors_exit_with_2(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2  # an empty folder
    assert main([str(tmp_path / "missing")]) == 2
    scipy.io.savemat(tmp_path / "other.mat", {"kind": "something"})
    assert main([str(tmp_path)]) == 2
    assert "is not a reference case" in capsys.readouterr().err
    (tmp_path / "other.mat").write_bytes(b"not a mat file")
    assert main([str(tmp_path)]) == 2
    assert "is not a readable .mat file" in capsys.readouterr().err
    assert main([str(KIT_REFERENCES / "README.md")]) == 2
    assert "is not a reference file" in capsys.readouterr().err
