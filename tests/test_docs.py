"""The docs hold: the getting-started page runs as written and draws the picture it shows, every
citation stays inside the repository, and every link and section it names exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matlab_occsens import imread

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_getting_started_script_runs_and_draws_the_committed_picture(efficientnet, tmp_path, monkeypatch, capsys):
    pytest.importorskip("skimage.data")
    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    assert blocks, "no Python block in getting-started.md"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "getting-started.md", "exec"), namespace)
    assert capsys.readouterr().out.strip() == "espresso 968 (224, 224)"
    drawn = imread(tmp_path / "overlay.png")
    shown = imread(DOCS / "images" / "coffee-overlay.png")
    assert drawn.shape == shown.shape
    # Identical but for float noise from another ONNX Runtime build at colour boundaries.
    assert np.mean(np.all(drawn == shown, axis=2)) > 0.99
    assert (DOCS / "images" / "coffee-overlay.png").stat().st_size < 200_000


# Every Python block of the user guide (the README and every page of docs/) runs alone, as a plain
# script pasted into a new folder, and a line `print(...)  # shown` must print `shown` (up to a colon
# that starts an explanation).
GUIDE_PAGES = [DOCS.parent / "README.md", *sorted(DOCS.glob("*.md"))]
# The user's own files that blocks name, stood in for in the block's folder: EfficientNet-Lite0 as
# the network, scikit-image's coffee photo as the image, two of its photos in labelled folders as
# `photos/`, and the store that the datasets page's command writes from them as `results/`.
USER_FILES = ("model.onnx", "photo.jpg", "photos", "results/occlusion.zarr")
DATASET_COMMAND_PAGE = DOCS / "datasets.md"
# The blocks that cannot run here, each found by a line of its own and page, with the reason.
NOT_RUN = {
    ("troubleshooting.md", '"vit.onnx"'): "needs the user's own vision transformer; none ships with the package",
    ("datasets.md", "from dask_jobqueue import SLURMCluster"): "needs a SLURM cluster and dask-jobqueue",
}
OPTIONAL_MODULES = ("torch", "torchvision", "captum", "monai", "skimage", "matplotlib")


def _guide_blocks():
    for page in GUIDE_PAGES:
        text = page.read_text(encoding="utf-8")
        for number, block in enumerate(re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL), start=1):
            skipped = [why for (name, line), why in NOT_RUN.items() if name == page.name and line in block]
            marks = [pytest.mark.skip(reason=skipped[0])] if skipped else []
            yield pytest.param(page.name, block, id=f"{page.name}-block{number}", marks=marks)


@pytest.mark.parametrize(("name", "block"), list(_guide_blocks()))
def test_each_block_runs_alone_and_prints_what_it_says(name, block, tmp_path, monkeypatch, capsys):
    for module in OPTIONAL_MODULES:
        if re.search(rf"^\s*(from|import) {module}\b", block, flags=re.MULTILINE):
            pytest.importorskip(module)
    if "EFFICIENTNET_LITE0" in block or any(f'"{file}"' in block for file in USER_FILES):
        pytest.importorskip("efficientnet_lite_pytorch", reason="needs the demo extra (see README)")
        pytest.importorskip("skimage.data")
        from skimage import data

        from matlab_occsens import imwrite
        from matlab_occsens.pretrained import EFFICIENTNET_LITE0

        shutil.copyfile(EFFICIENTNET_LITE0.onnx_path(), tmp_path / "model.onnx")
        imwrite(data.coffee(), tmp_path / "photo.jpg")
        (tmp_path / "photos" / "cats").mkdir(parents=True)  # a photo in the folder, one in a subfolder
        imwrite(data.coffee(), tmp_path / "photos" / "coffee.jpg")
        imwrite(data.chelsea(), tmp_path / "photos" / "cats" / "chelsea.jpg")
    if name == DATASET_COMMAND_PAGE.name and '"results/occlusion.zarr"' in block:  # others write their own
        _run_the_dataset_command(tmp_path)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, name, "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out.strip().splitlines()
    said = [comment.split(":")[0].strip() for comment in re.findall(r"^print\(.*\)  # (.*)$", block, re.MULTILINE)]
    if said:  # a block that promises no output has still run without an error
        assert printed == said


def _run_the_dataset_command(folder: Path) -> None:
    """The datasets page's command as written, on one worker (``matlab-occsens`` run as this
    Python's ``-m matlab_occsens``), in ``folder``: the store its reading blocks open."""
    pytest.importorskip("zarr")
    page = DATASET_COMMAND_PAGE.read_text(encoding="utf-8")
    command = next(
        block for block in re.findall(r"```bash\n(.*?)```", page, flags=re.DOTALL) if "--out results" in block
    )
    words = command.replace("\\\n", " ").split()
    assert words[0] == "matlab-occsens"
    subprocess.run(
        [sys.executable, "-m", "matlab_occsens", *words[1:], "--workers", "1"], cwd=folder, check=True, timeout=600
    )


def test_every_page_with_python_has_its_blocks_collected_and_every_exemption_names_a_block():
    collected = list(_guide_blocks())
    pages = {param.values[0] for param in collected}
    with_python = {page.name for page in GUIDE_PAGES if "```python" in page.read_text(encoding="utf-8")}
    assert pages == with_python and {"README.md", "getting-started.md", "volumes-signals.md"} <= pages
    used = {
        (param.values[0], line)
        for param in collected
        for (name, line) in NOT_RUN
        if name == param.values[0] and line in param.values[1]
    }
    assert used == set(NOT_RUN)


# --- the repository stands alone -----------------------------------------------------------------

ROOT = DOCS.parent
SPECIFICATION = DOCS / "specification.md"
# Spelled in pieces so that this file does not cite them itself.
OUTSIDE = [name.encode() for name in ("SPEC" + ".md", "MODELS" + ".md", "/".join(("..", "shared")))]


def _tracked_files() -> list[Path]:
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"not a git checkout ({error}): the tracked files are unknown")
    return [ROOT / name for name in listing.decode().split("\0") if name]


def _sections() -> set[int]:
    headings = re.findall(r"^## (\d+)\. ", SPECIFICATION.read_text(encoding="utf-8"), re.MULTILINE)
    return {int(number) for number in headings}


def test_no_tracked_file_cites_a_document_outside_the_repository():
    citing = []
    for path in _tracked_files():
        if path.is_file():
            content = path.read_bytes()
            citing += [f"{path.relative_to(ROOT)}: {name.decode()}" for name in OUTSIDE if name in content]
    assert citing == []


def test_the_specification_has_its_nine_numbered_sections():
    assert _sections() == set(range(1, 10))  # §9: the extensions to volumes, signals and ReductionFcn


def test_every_rule_of_section_9_is_tagged_an_extension():
    """MATLAB documents 2-D images and the total activation only: each rule of §9 says so first."""
    section = SPECIFICATION.read_text(encoding="utf-8").split("\n## 9. ")[1].split("\n## ")[0]
    rules = re.findall(r"^### (9\.\d+) [^\n]*\n\n(.*)$", section, re.MULTILINE)
    assert len(rules) >= 7
    assert [number for number, first in rules if not first.startswith("**Extension")] == []


def test_every_citation_of_the_specification_names_a_section_that_exists():
    sections = _sections()
    cited = re.compile(r"docs/specification\.md §(\d+)(?:[-–](\d+))?")
    wrong, count = [], 0
    for path in _tracked_files():
        if path.suffix not in (".py", ".md", ".json", ".txt", ".m", ".toml") or not path.is_file():
            continue
        for match in cited.finditer(path.read_text(encoding="utf-8", errors="replace")):
            count += 1
            numbers = [int(group) for group in match.groups() if group]
            if not set(numbers) <= sections:
                wrong.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert wrong == [] and count > 20


def test_the_cross_check_rules_cite_existing_sections():
    from compat.rules import RULES

    sections = _sections()
    assert {int(rule.section.lstrip("§")) for rule in RULES.values()} <= sections
    assert all(str(rule).startswith(f"docs/specification.md {rule.section} ") for rule in RULES.values())


def test_relative_links_in_the_docs_lead_to_files_that_exist():
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), ROOT / "tests" / "data" / "README.md"]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
