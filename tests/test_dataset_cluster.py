"""Where a dataset job runs: the embedded cluster (loopback only, started from a plain script,
stopped by Ctrl-C or a kill), clusters started by hand (`dask scheduler`, `dask worker` in
another working folder), scheduler addresses that lead nowhere, images that kill their worker or
run out of memory. All with real processes."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from dataset_parts import command, completed, dask_cluster, environment, images, stored, wait_for, write_model

from matlab_occsens import importNetworkFromONNX, imwrite, occlusionSensitivity

pytest.importorskip("zarr", reason='needs the datasets extra: pip install -e ".[datasets]"')
pytest.importorskip("distributed", reason='needs the datasets extra: pip install -e ".[datasets]"')
psutil = pytest.importorskip("psutil")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("model") / "linear.onnx")


@pytest.fixture(scope="module")
def net(model_file):
    return importNetworkFromONNX(model_file)


def photos(folder: Path, count: int, seed: int = 0) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    pictures = images(count, seed)
    for index, picture in enumerate(pictures):
        imwrite(picture, folder / f"{index:03d}.png")
    return pictures


def listening(pid: int) -> list[tuple[int, str]]:
    """``(pid, address)`` of every listening TCP socket of process ``pid`` and its descendants."""
    found = []
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            connections = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        found += [(process.pid, c.laddr.ip) for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def test_the_embedded_cluster_listens_on_the_loopback_only(model_file, tmp_path):
    photos(tmp_path / "photos", 60)
    out = tmp_path / "out"
    run = command(
        str(model_file), str(tmp_path / "photos"), "--channel", "1", "--mask-size", "2", "--stride", "1",
        "--workers", "2", "--out", str(out),
    )  # fmt: skip
    wait_for(lambda: completed(out) >= 1)
    servers = listening(run.pid)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    assert len({pid for pid, _ in servers}) >= 3, servers  # the scheduler's process and two workers at least
    assert all(address in ("127.0.0.1", "::1") for _, address in servers), servers


def test_addresses_that_lead_to_no_working_scheduler_fail_within_seconds(model_file, tmp_path):
    photos(tmp_path / "photos", 3)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    base = [str(model_file), str(tmp_path / "photos"), "--channel", "1"]
    with dask_cluster(tmp_path / "idle", workers=0) as idle:
        cases = {
            "an HTTP server": (
                ["--scheduler", f"tcp://127.0.0.1:{web.server_address[1]}"],
                "no Dask scheduler answered",
            ),
            "a silent port": (
                ["--scheduler", f"tcp://127.0.0.1:{silent.getsockname()[1]}"],
                "no Dask scheduler answered",
            ),
            "a scheduler without workers": (["--scheduler", idle], "has no workers"),
            "--workers=-1": (["--workers=-1"], "argument --workers: expected 0 (this process) or more"),
        }
        started = time.monotonic()
        runs = {
            name: command(*base, *words, "--out", str(tmp_path / f"out{position}"))
            for position, (name, (words, _)) in enumerate(cases.items())
        }
        try:
            outcomes = {name: run.communicate(timeout=120) for name, run in runs.items()}
        finally:
            for run in runs.values():  # one that waits for ever (as they all did) is not left behind
                if run.poll() is None:
                    run.kill()
                    run.communicate()
        elapsed = time.monotonic() - started
    web.shutdown()
    silent.close()
    for name, (_, said) in cases.items():
        _, stderr = outcomes[name]
        assert runs[name].returncode == 2, (name, stderr)
        assert said in stderr and "Traceback" not in stderr, (name, stderr)
    assert elapsed < 60, elapsed  # each gives up within seconds (10 s to answer, 20 s for a worker)


def test_a_cluster_started_by_hand_in_another_folder_writes_into_the_commands_own_store(net, model_file, tmp_path):
    """A relative --out is the command's own folder: workers working elsewhere are sent absolute paths."""
    pictures = photos(tmp_path / "photos", 5)
    with dask_cluster(tmp_path / "elsewhere") as address:
        run = command(
            str(model_file), "photos", "--channel", "2", "--out", "results", "--scheduler", address, cwd=tmp_path
        )
        stdout, stderr = run.communicate(timeout=180)
    assert run.returncode == 0, stderr
    assert "5 maps computed" in stdout
    group = stored(tmp_path / "results")
    for index, X in enumerate(pictures):
        np.testing.assert_array_equal(group["maps"][index], occlusionSensitivity(net, X, 2))
    assert not (tmp_path / "elsewhere" / "results").exists()


def test_a_worker_that_cannot_see_the_store_says_so(model_file, tmp_path):
    hidden = tmp_path / "shared"
    photos(hidden / "photos", 3)
    hide = ["unshare", "--mount", "sh", "-c", f'mount -t tmpfs tmpfs "{hidden}" && exec "$0" "$@"']
    probe = subprocess.run([*hide, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot hide a folder from a worker here (unshare): {probe.stderr.decode().strip()}")
    with dask_cluster(tmp_path / "elsewhere", prefix=hide) as address:
        run = command(
            str(model_file), str(hidden / "photos"), "--channel", "1", "--out", str(hidden / "out"),
            "--scheduler", address,
        )  # fmt: skip
        _, stderr = run.communicate(timeout=180)
    assert run.returncode == 2
    assert f"cannot see the store {hidden / 'out' / 'occlusion.zarr'}" in stderr and "same path" in stderr, stderr


def test_an_image_that_kills_its_worker_is_that_images_failure_and_the_others_complete(net, model_file, tmp_path):
    """An image whose decoding takes more memory than the worker may use: Dask's nanny kills the
    worker each time; after two deaths the image is recorded as failed and the job completes."""
    pictures = photos(tmp_path / "photos", 5)
    huge = np.zeros((8000, 8000, 3), np.uint8)  # 183 MiB decoded, a few hundred KB as a PNG
    huge[::97, ::89] = 255
    imwrite(huge, tmp_path / "photos" / "001_huge.png")  # image 2, between 001.png and 002.png
    del huge
    out = tmp_path / "out"
    allowed = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    with dask_cluster(tmp_path / "cluster", memory_limit="600MiB", environ=allowed) as address:
        run = command(
            str(model_file), str(tmp_path / "photos"), "--channel", "3", "--out", str(out), "--scheduler", address
        )
        _, stderr = run.communicate(timeout=300)
    assert run.returncode == 1, stderr
    assert "failed: image 2 (" in stderr and "001_huge.png): its worker died while computing it, twice" in stderr
    group = stored(out)
    assert group["status"][:].tolist() == [1, 1, 2, 1, 1, 1]
    assert "its worker died while computing it, twice" in str(group["failure"][2])
    for index, X in zip([0, 1, 3, 4, 5], pictures):
        np.testing.assert_array_equal(group["maps"][index], occlusionSensitivity(net, X, 3))


_LIMITED = """
import json, resource, sys
from matlab_occsens.datasets import occlusionSensitivityDataset
job = json.loads(sys.argv[1])
warm = occlusionSensitivityDataset(
    job["model"], job["warm"], 1, out=job["out"] + "-warm", workers=0, progress=False, **job["options"]
)
assert warm.computed == 1 and not warm.failures  # sessions and buffers built before the limit
size = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmSize:"))) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 160 * 2**20, resource.RLIM_INFINITY))
options = {**job["options"], **job["limited"]}
summary = occlusionSensitivityDataset(
    job["model"], job["images"], 1, out=job["out"], workers=0, progress=False, **options
)
print(json.dumps({"computed": summary.computed, "failures": summary.failures}))
"""


def _limited(job: dict) -> dict:
    """Run the job in a process whose address space has 160 MiB left once its network is built."""
    done = subprocess.run(
        [sys.executable, "-c", _LIMITED, json.dumps(job)],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _tiled_model(path: Path) -> Path:
    """A network with a large activation: the 16×16 image tiled to 3×16×1,600,000 (307 MB a pass)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Tile", ["image", "repeats"], ["tiled"]),
        helper.make_node("ReduceMean", ["tiled"], ["pooled"], axes=[3], keepdims=0),
        helper.make_node("Flatten", ["pooled"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiled",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 48])],
        initializer=[numpy_helper.from_array(np.array([1, 1, 1, 100_000], np.int64), "repeats")],
    )
    path.write_bytes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()
    )
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process's size from /proc")
def test_opencv_running_out_of_memory_on_one_image_is_that_images_failure(model_file, tmp_path):
    """A real allocation failure under an address-space limit: OpenCV decoding one large image."""
    photos(tmp_path / "photos", 3)
    large = np.zeros((12000, 12000, 3), np.uint8)  # 412 MiB decoded: more than the 160 MiB left
    imwrite(large, tmp_path / "photos" / "001_large.png")  # image 2
    del large
    summary = _limited(
        {
            "model": str(model_file),
            "warm": str(tmp_path / "photos" / "000.png"),
            "images": str(tmp_path / "photos"),
            "out": str(tmp_path / "out"),
            "options": {"MaxImageBytes": None},
            "limited": {},
        }
    )
    assert summary["computed"] == 3 and list(summary["failures"]) == ["2"]
    assert summary["failures"]["2"].startswith("out of memory while decoding it"), summary


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process's size from /proc")
def test_onnx_runtime_running_out_of_memory_is_the_failure_of_the_images_not_of_the_job(tmp_path):
    """A real allocation failure in ONNX Runtime: a batch of 4 needs 1.2 GB more than was there, so
    the stream's images are tried one at a time, and each that cannot be computed alone fails with
    ONNX Runtime's reason; the job itself completes."""
    photos(tmp_path / "photos", 3)
    summary = _limited(
        {
            "model": str(_tiled_model(tmp_path / "tiled.onnx")),
            "warm": str(tmp_path / "photos" / "000.png"),
            "images": str(tmp_path / "photos"),
            "out": str(tmp_path / "out"),
            "options": {"MiniBatchSize": 1, "MaskSize": 16, "Stride": 16, "OutputUpsampling": "none"},
            "limited": {"MiniBatchSize": 4},
        }
    )
    assert summary["computed"] == 0 and sorted(summary["failures"]) == ["0", "1", "2"]
    for reason in summary["failures"].values():
        assert reason.startswith("out of memory while computing its map (ONNX Runtime ran out of memory"), reason


def test_a_plain_script_without_a_main_guard_runs_a_job_on_local_workers(model_file, tmp_path):
    """As docs/datasets.md shows it, in a file run with python, and as a notebook runs it (no file)."""
    photos(tmp_path / "photos", 4)
    script = textwrap.dedent(
        f"""
        from matlab_occsens.datasets import occlusionSensitivityDataset

        summary = occlusionSensitivityDataset(
            {str(model_file)!r}, {str(tmp_path / "photos")!r}, 1, out=OUT, workers=2, progress=False
        )
        print("computed", summary.computed)
        """
    )
    (tmp_path / "job.py").write_text(script.replace("OUT", repr(str(tmp_path / "out"))))
    as_file = subprocess.run(
        [sys.executable, str(tmp_path / "job.py")], env=environment(), capture_output=True, text=True, timeout=300
    )
    assert as_file.returncode == 0 and "computed 4" in as_file.stdout, as_file.stderr
    as_cell = subprocess.run(
        [sys.executable, "-"],
        input=script.replace("OUT", repr(str(tmp_path / "out2"))),
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert as_cell.returncode == 0 and "computed 4" in as_cell.stdout, as_cell.stderr
