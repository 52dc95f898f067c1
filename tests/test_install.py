"""Every message that says what to install prints a command that works where this copy came from."""

from __future__ import annotations

import ast
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from matlab_occsens._utils.install import _target, install_command, pip_command
from matlab_occsens.network._optional import TORCH_INSTALL
from matlab_occsens.pretrained import DEMO_INSTALL

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "matlab_occsens"


@pytest.mark.parametrize(
    "direct_url, words",
    [
        (None, ["'matlab-occsens[demo]'"]),  # from an index: the name
        ({"url": "file:///home/me/occ%20sens", "dir_info": {}}, ["'/home/me/occ sens[demo]'"]),  # pip install DIR
        ({"url": "file:///home/me/occsens", "dir_info": {"editable": True}}, ["-e", "'/home/me/occsens[demo]'"]),
        (
            {"url": "file:///tmp/matlab_occsens-0.1.0-py3-none-any.whl", "archive_info": {}},
            ["'matlab-occsens[demo] @ file:///tmp/matlab_occsens-0.1.0-py3-none-any.whl'"],
        ),
        (
            {"url": "https://example.org/occsens.git", "vcs_info": {"vcs": "git", "commit_id": "abc123"}},
            ["'matlab-occsens[demo] @ git+https://example.org/occsens.git@abc123'"],
        ),
    ],
)
def test_the_target_follows_where_the_installed_copy_came_from(direct_url, words):
    assert _target("demo", direct_url, None) == words


def test_a_clone_is_named_by_its_folder_and_the_command_uses_this_interpreter():
    assert _target("gpu", {"url": "file:///elsewhere", "dir_info": {}}, ROOT) == ["-e", shlex.quote(f"{ROOT}[gpu]")]
    assert install_command("demo") == f"{shlex.quote(sys.executable)} -m pip install -e {shlex.quote(f'{ROOT}[demo]')}"
    assert DEMO_INSTALL == install_command("demo") and TORCH_INSTALL == install_command("torch")
    assert pip_command("check") == f"{shlex.quote(sys.executable)} -m pip check"


def test_the_printed_command_is_one_pip_accepts():
    pytest.importorskip("setuptools")
    words = shlex.split(install_command("demo"))
    done = subprocess.run(
        [*words, "--dry-run", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def _messages(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module that are not docstrings (with their line numbers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_message_spells_out_an_install_command_of_its_own():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "install.py"
        for line, text in _messages(path)
        if "matlab-occsens[" in text or "pip install -e" in text
    ]
    assert found == []


def test_onnx_runtime_missing_or_without_cuda_prints_commands_that_fit_this_copy():
    script = (
        "import sys\n"
        "sys.modules['onnxruntime'] = None  # as if neither [cpu] nor [gpu] were installed\n"
        "try:\n"
        "    import matlab_occsens._backends.ort\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.stdout.strip() == (
        f"matlab-occsens needs ONNX Runtime: {install_command('cpu')} "
        f"(or {install_command('gpu')} for onnxruntime-gpu on CUDA)."
    )
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has a CUDA provider")
    from matlab_occsens._backends.ort import ort_providers

    with pytest.raises(ValueError) as info:
        ort_providers("gpu")
    assert str(info.value).endswith(f"{pip_command('uninstall', '-y', 'onnxruntime')} && {install_command('gpu')}")


def test_the_readme_installs_only_extras_and_modules_that_exist():
    import re
    import tomllib

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for block in re.findall(r"```bash\n(.*?)```", readme, re.S) for line in block.splitlines()]
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    named = {
        extra for line in commands for group in re.findall(r'"\.\[([a-z,]+)\]"', line) for extra in group.split(",")
    }
    assert named and named <= extras, named - extras
    modules = {module for line in commands for module in re.findall(r"python -m ([\w.]+)", line)}
    assert "tools.fetch_models" in modules
    assert all((ROOT / (module.replace(".", "/") + ".py")).is_file() or module == "pytest" for module in modules)
    assert not any(re.search(r"(?<!\.venv/bin/)\bpip install\b", line) for line in commands)  # the venv's pip
    assert not any(line.startswith("matlab-occsens ") for line in commands)  # the venv's command
