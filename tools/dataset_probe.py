"""Probe the dataset job's store with damage and edits, as a careless user and an attacker would,
and count what goes wrong.

The sibling of ``tools.trust_probe`` for ``occlusionSensitivityDataset``. A small job (a linear
ONNX network, six images) is run once into a clean store. Each case (seeded: case ``i`` of seed
``s`` is always the same) copies that store, does one or two hostile things to it (flips, cuts,
deletes or replaces a chunk's bytes; edits an array's or the group's metadata; marks a pending
image done; rewrites or touches an image file; puts a file, a dangling link or another run's lock
where the store or its lock goes) and runs the same job again. A case is *right* when

- the rerun refuses with a one-line ValueError or RuntimeError that names the store (or its lock)
  and leaves every file of the store as it found it; or
- the rerun completes and every array holds exactly the values of a clean run of the job (every
  map bit for bit), and every completed image whose stored bytes or file were changed is reported
  (``JobSummary.damaged`` or ``changed``): nothing damaged is served, nothing is silently
  recomputed either (but for a completion record deleted: the image then looks as after a crash
  before it was recorded, and is computed again as such).

    python -m tools.dataset_probe --cases 400     # the full probe (a few minutes)
    python -m tools.dataset_probe --smoke         # 40 cases, for CI
    python -m tools.dataset_probe --show 17       # what case 17 does and its outcome
    python -m tools.dataset_probe --volumes       # the same with a volume network and NIfTI volumes

The exit status is 1 when a case is not right.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from matlab_occsens import imwrite

SIZE, COUNT = 12, 6
VOLUME = 6
ARRAYS = ("maps", "channels", "predicted", "score", "file_stamp", "failure", "status")
STORE, LOCK = "occlusion.zarr", "occlusion.zarr.lock"


def linear_model(volumes: bool = False) -> bytes:
    """A whole-input convolution, image [N, 3, 12, 12] (or volume [N, 1, 6, 6, 6]) -> scores [N, 4]."""
    shape = [1, VOLUME, VOLUME, VOLUME] if volumes else [3, SIZE, SIZE]
    weights = np.random.default_rng(0).standard_normal((4, *shape)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "W"], ["conv"]), helper.make_node("Flatten", ["conv"], ["scores"])],
        "linear",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4])],
        initializer=[numpy_helper.from_array(weights, "W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


@dataclass
class Setup:
    """The job every case reruns, and a clean store of it (its last image left pending)."""

    root: Path
    model: Path
    photos: Path
    clean: Path
    """The folder holding the clean, complete store."""
    partial: Path
    """The same job with images 4 and 5 not done (the first run was stopped)."""
    values: dict[str, np.ndarray] = field(default_factory=dict)
    """Every array of the clean store."""
    volumes: bool = False
    """The items are NIfTI volumes for a volume network, not PNG images."""

    def item(self, index: int) -> Path:
        return self.photos / (f"{index}.nii.gz" if self.volumes else f"{index}.png")

    def write_item(self, index: int, rng: np.random.Generator) -> None:
        """Item ``index`` written anew with values drawn from ``rng``."""
        if self.volumes:
            import nibabel

            values = rng.integers(0, 256, (VOLUME, VOLUME, VOLUME)).astype(np.float32)
            nibabel.save(nibabel.Nifti1Image(values, np.diag([2.0, 2.0, 2.0, 1.0])), self.item(index))
        else:
            imwrite(rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8), self.item(index))


def run_job(setup: Setup, out: Path) -> Any:
    from matlab_occsens.datasets import occlusionSensitivityDataset

    return occlusionSensitivityDataset(setup.model, setup.photos, 2, out=out, workers=0, progress=False, Stride=3)


def arrays(out: Path) -> dict[str, np.ndarray]:
    import zarr

    group = zarr.open_group(str(out / STORE), mode="r")
    return {name: np.asarray(group[name][:]) for name in ARRAYS}


def prepare(root: Path, volumes: bool = False) -> Setup:
    model = root / "linear.onnx"
    model.write_bytes(linear_model(volumes))
    photos = root / "photos"
    photos.mkdir()
    setup = Setup(root, model, photos, root / "clean", root / "partial", volumes=volumes)
    rng = np.random.default_rng(1)
    for index in range(COUNT):
        setup.write_item(index, rng)
    run_job(setup, setup.clean)
    setup.values = arrays(setup.clean)
    shutil.copytree(setup.clean, setup.partial)
    for name in ARRAYS:  # as if the first run stopped before its last two images
        for index in range(4, COUNT):
            chunk = setup.partial / STORE / name / "c" / str(index)
            shutil.rmtree(chunk) if chunk.is_dir() else chunk.unlink(missing_ok=True)
    return setup


# --- hostile actions -------------------------------------------------------------------------------


def _chunks(store: Path) -> list[Path]:
    """The store's chunk files that still hold bytes (an earlier action may have cut one to none)."""
    inside = (path for path in store.rglob("*") if path.is_file() and "/c/" in str(path.relative_to(store.parent)))
    return sorted(path for path in inside if path.stat().st_size > 0)


def _image_of(chunk: Path, store: Path) -> int:
    return int(chunk.relative_to(store).parts[2])  # <array>/c/<image>/...


def _edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


WILD_JSON: list[Any] = [None, 0, -1, 2, 99, 1.5, "", "x", [], [1], {}, {"a": 1}, True, [3, 12, 12], "float64", "int8"]


def act(rng: random.Random, out: Path, setup: Setup) -> tuple[str, set[int]]:
    """Do one hostile thing to the store in ``out``; return what, and the completed images whose
    stored bytes or file it changed (they must be reported if the rerun completes)."""
    store = out / STORE
    kind = rng.choice(
        ["flip", "cut", "delete", "replace", "array metadata", "group metadata", "mark done", "image", "place", "lock"]
    )
    done = set(range(4)) if out.name.endswith("partial") else set(range(COUNT))
    if store.is_symlink() or not store.is_dir():  # an earlier action put something else there
        kind = rng.choice(["image", "lock"])
    if kind in ("flip", "cut", "delete", "replace"):
        chunk = rng.choice(_chunks(store))
        index = _image_of(chunk, store)
        data = chunk.read_bytes()
        if kind == "flip":
            position = rng.randrange(len(data))
            chunk.write_bytes(data[:position] + bytes([data[position] ^ rng.randrange(1, 256)]) + data[position + 1 :])
        elif kind == "cut":
            chunk.write_bytes(data[: rng.randrange(len(data))])
        elif kind == "delete":
            chunk.unlink()
        else:
            chunk.write_bytes(rng.randbytes(rng.randrange(1, 2 * len(data) + 2)))
        looks_pending = kind == "delete" and chunk.relative_to(store).parts[0] == "status"  # as after a crash
        return f"{kind} {chunk.relative_to(store)}", set() if looks_pending else {index} & done
    if kind == "array metadata":
        name = rng.choice(ARRAYS)
        key = rng.choice(["shape", "data_type", "chunk_grid", "codecs", "fill_value", "dimension_names", "zarr_format"])
        value = rng.choice(WILD_JSON)
        _edit_json(store / name / "zarr.json", lambda document: document.update({key: value}))
        return f"{name}/zarr.json {key} = {value!r}", set()
    if kind == "group metadata":
        if rng.random() < 0.2:
            text = (store / "zarr.json").read_text()
            (store / "zarr.json").write_text(text[: rng.randrange(len(text))])
            return "zarr.json cut", set()
        key = rng.choice(["format", "job", "job_id", "package", "version"])
        value = rng.choice(WILD_JSON)
        _edit_json(store / "zarr.json", lambda document: document["attributes"].update({key: value}))
        return f"zarr.json attributes {key} = {value!r}", set()
    if kind == "mark done":
        pending = sorted(set(range(COUNT)) - done)
        if not pending:
            return "nothing pending to mark", set()
        index = rng.choice(pending)
        shutil.copy(store / "status" / "c" / "0", store / "status" / "c" / str(index))  # a record that says done
        return f"status of pending image {index} set to done", {index}
    if kind == "image":
        index = rng.randrange(COUNT)
        picture = setup.item(index)
        if rng.random() < 0.5:
            os.utime(picture, ns=(time.time_ns(), time.time_ns() + 10**9))
            return f"touch {picture.name}", {index} & done
        setup.write_item(index, np.random.default_rng(rng.randrange(2**32)))
        return f"rewrite {picture.name}", {index} & done
    if kind == "place":
        shutil.rmtree(store)
        if rng.random() < 0.5:
            store.write_text("not a store")
            return "a file at the store's place", set()
        store.symlink_to(out / "nowhere")
        return "a dangling link at the store's place", set()
    dead = {"host": socket.gethostname(), "pid": _finished_process(), "process_start": 1.0, "command": "old"}
    far = {"host": "elsewhere.example", "pid": 1, "process_start": 1.0, "command": "far"}
    (out / LOCK).write_text(json.dumps(rng.choice([dead, far])))
    return "a lock of " + ("a dead process" if (out / LOCK).read_text().count("old") else "another host"), set()


def _finished_process() -> int:
    import subprocess

    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True).stdout)


# --- judging ---------------------------------------------------------------------------------------


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


def judge(
    setup: Setup, out: Path, touched: set[int], before: dict[str, bytes], expected: dict[str, np.ndarray]
) -> str | None:
    """None if the rerun of the job in ``out`` behaved (``expected``: a clean run's arrays);
    otherwise what went wrong."""
    try:
        summary = run_job(setup, out)
    except (ValueError, RuntimeError) as error:
        message = str(error)
        if "\n" in message:
            return f"{type(error).__name__} over several lines"
        if str(out / STORE) not in message and str(out / LOCK) not in message:
            return f"{type(error).__name__} not naming the store: {message[:100]}"
        if snapshot(out) != before:
            return "refused, but changed the store"
        return None
    except Exception as error:  # noqa: BLE001 - anything else is what the probe counts
        return f"{type(error).__name__}: {' '.join(str(error).split())[:100]}"
    try:
        found = arrays(out)
    except Exception as error:  # noqa: BLE001
        return f"completed, but the store cannot be read: {type(error).__name__}"
    for name, values in expected.items():
        if found[name].shape != values.shape or found[name].tobytes() != values.tobytes():
            return f"completed with other values in {name} than a clean run"
    reported = set(summary.damaged) | set(summary.changed)
    unreported = touched - reported
    if unreported:
        return f"completed without reporting the changed image(s) {sorted(unreported)}"
    return None


@dataclass
class Case:
    index: int
    actions: list[str]
    outcome: str | None


def run_case(setup: Setup, seed: int, index: int, work: Path) -> Case:
    rng = random.Random(f"{seed}:{index}")
    source = setup.partial if rng.random() < 0.3 else setup.clean
    out = work / f"case{index}-{source.name}"
    shutil.copytree(source, out, symlinks=True)
    photos = {path: (path.read_bytes(), path.stat()) for path in setup.photos.iterdir()}
    try:
        touched: set[int] = set()
        actions = []
        for _ in range(rng.choice([1, 1, 2])):
            done, more = act(rng, out, setup)
            actions.append(done)
            touched |= more
        expected = setup.values
        if any(path.stat().st_mtime_ns != stat.st_mtime_ns for path, (_, stat) in photos.items()):
            run_job(setup, work / f"case{index}-reference")  # the images changed: so do the right maps
            expected = arrays(work / f"case{index}-reference")
        outcome = judge(setup, out, touched, snapshot(out), expected)
    finally:
        for path, (data, stat) in photos.items():  # the images as they were, to the nanosecond
            path.write_bytes(data)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        for folder in (out, work / f"case{index}-reference"):
            if folder.is_symlink() or folder.is_file():
                folder.unlink()
            shutil.rmtree(folder, ignore_errors=True)
    return Case(index, actions, outcome)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=400, help="cases to try (default 400)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a quick run: 40 cases")
    parser.add_argument("--show", type=int, metavar="I", help="run case I only and print what it did")
    parser.add_argument("--volumes", action="store_true", help="a volume network and NIfTI volumes (needs nibabel)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        setup = prepare(root, options.volumes)
        indices = [options.show] if options.show is not None else range(40 if options.smoke else options.cases)
        start = time.perf_counter()
        kinds: Counter[str] = Counter()
        wrong: dict[str, list[str]] = defaultdict(list)
        for index in indices:
            case = run_case(setup, options.seed, index, root)
            for action in case.actions:
                kinds[action.split(" ")[0]] += 1
            if options.show is not None:
                print("; ".join(case.actions), "->", case.outcome or "right")
            if case.outcome is not None:
                wrong[case.outcome.split(":")[0]].append(f"case {index}: {'; '.join(case.actions)} -> {case.outcome}")
        if options.show is not None:
            return 0
        count = len(indices)
        failures = sum(len(examples) for examples in wrong.values())
        took = time.perf_counter() - start
        on = "NIfTI volumes, " if options.volumes else ""
        print(f"store cases: {count} tried, {failures} not right ({on}seed {options.seed}, {took:.0f} s)")
        for kind, number in kinds.most_common():
            print(f"  {kind:16s} {number:5d}")
        for kind, examples in sorted(wrong.items(), key=lambda item: -len(item[1])):
            print(f"  {len(examples):5d}x {kind}")
            for example in examples[:2]:
                print(f"         {example}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
