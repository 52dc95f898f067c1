"""Compare this package with real MATLAB, case by case, and say which docs/specification.md rule differs.

    python -m compat.crosscheck FOLDER_OR_FILE [...]

reads the reference files that ``compat/matlab/make_references.m`` wrote (one .mat per case, plus
the probe networks as ONNX), or imresize reference JSON files, replays every case with this
package, prints one line per case and, for each failure, what MATLAB did instead and which rule
of docs/specification.md that contradicts. The exit status is 1 when any case fails, so it can gate a CI job.

Tolerances (a file's own ``tolerance`` field, an absolute bound, wins):

- occlusionSensitivity: |Δ| <= 1e-4 * max(1, max |MATLAB map|); the probes' activations are exact
  integers wherever the fill is, so only float32 rounding of non-integer fills is allowed for;
- imresize: 1e-10 (double) or 2e-6 (single) times max(1, max |MATLAB output|); integer classes
  must match exactly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .casefile import Case, ImresizeCase, OcclusionCase, load_cases
from .diagnose import Finding, exercised_rules, explain
from .replay import Replay, replay
from .rules import ASSUMED, RULES

__all__ = ["Outcome", "check", "crosscheck", "verdicts", "report", "main"]

PASS, FAIL, SKIP = "pass", "FAIL", "n/a"

_OCCLUSION_RTOL = 1e-4
_TOTALS_RTOL = 1e-5
_IMRESIZE_RTOL = {"float64": 1e-10, "float32": 2e-6}


@dataclass
class Outcome:
    """The verdict on one case: the numbers, what differs, and the rules blamed for it."""

    case: Case
    status: str
    max_abs: float = float("nan")
    max_rel: float = float("nan")
    tolerance: float = float("nan")
    network: str = ""
    network_differs: bool = False
    differences: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _shape(array: np.ndarray | None) -> str:
    return "x".join(map(str, np.shape(array))) if array is not None else "-"


def _compare(outcome: Outcome, matlab: np.ndarray, ours: np.ndarray, tolerance: float) -> bool:
    """Fill in the differences; True when the values agree within ``tolerance``."""
    outcome.tolerance = tolerance
    if matlab.shape != ours.shape:
        outcome.differences.append(f"MATLAB's result is {_shape(matlab)}, this port's {_shape(ours)}.")
        return False
    if matlab.size == 0:
        outcome.max_abs = outcome.max_rel = 0.0
        return True
    delta = np.abs(matlab.astype(np.float64) - ours.astype(np.float64))
    outcome.max_abs = float(delta.max())
    scale = float(np.max(np.abs(matlab)))
    outcome.max_rel = outcome.max_abs / scale if scale else (0.0 if outcome.max_abs == 0 else float("inf"))
    if outcome.max_abs <= tolerance:
        return True
    where = np.unravel_index(int(np.argmax(delta)), delta.shape)
    position = ", ".join(str(index + 1) for index in where)
    outcome.differences.append(
        f"largest difference at ({position}) (1-based): MATLAB {matlab[where]:.6g}, this port {ours[where]:.6g}."
    )
    return False


def _check_imresize(case: ImresizeCase) -> Outcome:
    outcome = Outcome(case, PASS)
    ours = replay(case).result
    if case.B.dtype != ours.dtype:
        outcome.differences.append(f"MATLAB's result is {case.B.dtype.name}, this port's {ours.dtype.name}.")
    rtol = _IMRESIZE_RTOL.get(case.B.dtype.name, 0.0)
    tolerance = case.tolerance if case.tolerance is not None else rtol * max(1.0, float(np.max(np.abs(case.B))))
    if not _compare(outcome, case.B, ours, tolerance) or outcome.differences:
        outcome.status = FAIL
        outcome.findings.append(Finding("imresize", f"imresize(A, {_call(case)}) differs from MATLAB's."))
    return outcome


def _call(case: ImresizeCase) -> str:
    target = f"[{' '.join(f'{item:g}' for item in case.output_size)}]" if case.output_size else f"{case.scale:g}"
    antialiasing = "" if case.antialiasing is None else f", Antialiasing={str(case.antialiasing).lower()}"
    return f'{target}, "{case.method}"{antialiasing}'


def _check_network(outcome: Outcome, case: OcclusionCase, replayed: Replay) -> bool:
    """True when the replayed probe gives MATLAB's activations on the unoccluded image."""
    if case.totals is None or replayed.totals is None:
        return True
    matlab, ours = np.ravel(case.totals), np.ravel(replayed.totals)
    tolerance = _TOTALS_RTOL * max(1.0, float(np.max(np.abs(matlab), initial=0)))
    if matlab.shape == ours.shape and np.all(np.abs(matlab - ours) <= tolerance):
        return True
    outcome.differences.append(
        f"the replayed network ({replayed.network}) does not give MATLAB's activations on X: it is not the "
        "network MATLAB ran, so the maps cannot be compared (check the ONNX export and the saved weights)."
    )
    return False


def _check_occlusion(case: OcclusionCase) -> Outcome:
    replayed = replay(case)
    outcome = Outcome(case, PASS, network=replayed.network)
    if case.error and replayed.error:
        return outcome
    if case.error and case.may_reject:
        outcome.status = SKIP
        outcome.differences.append(f"MATLAB rejects this case ({case.error}); the rules it probes stay unconfirmed.")
        return outcome
    if case.error or replayed.error:
        outcome.status = FAIL
        outcome.differences.append(
            f"MATLAB raises: {case.error}; this port returns a {_shape(replayed.result)} map."
            if case.error
            else f"this port raises: {replayed.error} MATLAB returns a {_shape(case.scoreMap)} map."
        )
        outcome.findings = explain(case, replayed)
        return outcome
    if not _check_network(outcome, case, replayed):
        outcome.status, outcome.network_differs = FAIL, True
        return outcome
    tolerance = case.tolerance
    if tolerance is None:
        tolerance = _OCCLUSION_RTOL * max(1.0, float(np.max(np.abs(case.scoreMap), initial=0)))
    if not _compare(outcome, case.scoreMap, replayed.result, tolerance):
        outcome.status = FAIL
        outcome.findings = explain(case, replayed)
    if case.scoreMap.dtype != np.float32:
        outcome.status = FAIL
        text = f"MATLAB's scoreMap is {case.scoreMap.dtype.name}, not single."
        outcome.findings.append(Finding("output-single", text))
    return outcome


def check(case: Case) -> Outcome:
    """Replay one case and compare; findings come from this case alone."""
    return _check_imresize(case) if isinstance(case, ImresizeCase) else _check_occlusion(case)


def _infer(outcomes: list[Outcome]) -> None:
    """Blame failing cases that cannot be read on their own, from what the other cases show.

    First the rules other cases blame directly, when this case depends on them too; failing
    that, by elimination, the one rule this case depends on that no passing case does.
    """
    shown: dict[str, str] = {}
    for outcome in outcomes:
        for finding in outcome.findings:
            if finding.direct and finding.rule is not None:
                shown.setdefault(finding.rule, outcome.case.name)
    checked: set[str] = set()
    for outcome in outcomes:
        if outcome.status == PASS and isinstance(outcome.case, OcclusionCase):
            checked |= exercised_rules(outcome.case)
    for outcome in outcomes:
        if outcome.status != FAIL or outcome.findings or outcome.network_differs:
            continue
        used = exercised_rules(outcome.case)
        likely = sorted(used & set(shown))
        if likely:
            outcome.findings = [
                Finding(key, f"this case depends on it too; case {shown[key]} shows it.", False) for key in likely
            ]
            continue
        remaining = sorted(used - checked)
        if len(remaining) == 1:
            text = "every other rule this case depends on holds in cases that pass."
            outcome.findings = [Finding(remaining[0], text, False)]
            continue
        unconfirmed = f" (not confirmed by a passing case: {', '.join(remaining)})" if remaining else ""
        outcome.findings = [Finding(None, "no rule of the specification explains it on its own" + unconfirmed + ".")]


def verdicts(outcomes: Sequence[Outcome]) -> dict[str, str]:
    """What the cases say about each [assumed] rule of docs/specification.md §8.

    "contradicted" when a case shows MATLAB doing otherwise, "likely contradicted" when only
    inferred, "confirmed" when a passing case depends on it, else "unconfirmed".
    """
    occlusion = [outcome for outcome in outcomes if isinstance(outcome.case, OcclusionCase)]
    result = {}
    for key in ASSUMED:
        findings = [f for outcome in occlusion for f in outcome.findings if f.rule == key]
        if any(finding.direct for finding in findings):
            result[key] = "contradicted"
        elif findings:
            result[key] = "likely contradicted"
        elif any(o.status == PASS and key in exercised_rules(o.case) for o in occlusion):
            result[key] = "confirmed"
        else:
            result[key] = "unconfirmed"
    return result


def crosscheck(paths: Iterable[str | Path]) -> list[Outcome]:
    """Check every case found in ``paths`` and attribute every failure to a rule if possible."""
    outcomes = [check(case) for case in load_cases(paths)]
    _infer(outcomes)
    return outcomes


def _number(value: float) -> str:
    return "-" if np.isnan(value) else "0" if value == 0 else f"{value:.2e}"


def report(outcomes: Sequence[Outcome]) -> str:
    """The table and, below it, the differences and the rules blamed for each failing case."""
    width = max([len(outcome.case.name) for outcome in outcomes] + [4])
    lines = [f"{'case':<{width}}  {'kind':<9}  {'net':<7}  {'max |d|':>9}  {'rel':>9}  {'tolerance':>9}  result"]
    for outcome in outcomes:
        kind = "imresize" if isinstance(outcome.case, ImresizeCase) else "occlusion"
        lines.append(
            f"{outcome.case.name:<{width}}  {kind:<9}  {outcome.network or '-':<7}  {_number(outcome.max_abs):>9}  "
            f"{_number(outcome.max_rel):>9}  {_number(outcome.tolerance):>9}  {outcome.status}"
        )
    counts = {status: sum(outcome.status == status for outcome in outcomes) for status in (PASS, FAIL, SKIP)}
    lines.append(
        f"\n{len(outcomes)} cases: {counts[PASS]} pass, {counts[FAIL]} fail, {counts[SKIP]} not comparable. "
        "rel = max |d| / max |MATLAB|; tolerance = the bound on max |d| (see compat/crosscheck.py)."
    )
    versions = sorted({outcome.case.matlab for outcome in outcomes if outcome.case.matlab})
    lines.append("References from: " + ("; ".join(versions) or "unknown MATLAB"))
    if any(isinstance(outcome.case, OcclusionCase) for outcome in outcomes):
        lines.append("\nThe [assumed] rules of docs/specification.md §8:")
        lines.extend(f"  {verdict:<19}  {RULES[key]}" for key, verdict in verdicts(outcomes).items())
    for outcome in outcomes:
        if outcome.status == PASS:
            continue
        lines.append(f"\n{outcome.status} {outcome.case.name} ({outcome.case.source.name}): {outcome.case.about}")
        lines.extend(f"  - {text}" for text in outcome.differences)
        for finding in outcome.findings:
            rule = str(RULES[finding.rule]) if finding.rule else "unexplained"
            lines.append(f"  * {rule}\n      {'' if finding.direct else 'likely: '}{finding.text}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat.crosscheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="reference folders or files (.mat cases, imresize .json)")
    arguments = parser.parse_args(argv)
    try:
        outcomes = crosscheck(arguments.paths)
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    if not outcomes:
        print(f"crosscheck: no reference cases in {', '.join(arguments.paths)}.", file=sys.stderr)
        return 2
    print(report(outcomes))
    return 1 if any(outcome.status == FAIL for outcome in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
