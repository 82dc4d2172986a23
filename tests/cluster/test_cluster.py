"""Collections and videos on a real Dask cluster (a LocalCluster of two worker processes on
loopback, also reached by its tcp:// address as a remote one is): the merged files equal one
process's, a killed worker's chunk is answered again, a run resumes from its kept chunks, a chunk
that outlasts its timeout and an unreachable scheduler each stop with one clear message."""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fer_core.errors import ConfigError, DataError
from fer_core.answering.spec import AnswerSpec
from fer_core.cluster.chunks import (CHUNKS_FOLDER, UNPICKLABLE_TASK, analyze_collection_on_cluster,
                                     analyze_video_on_cluster)
from fer_core.cluster.workers import connect
from fer_core.cluster.options import ClusterOptions
from fer_core.media.video import VideoOptions
from tests.conftest import REPO_ROOT, SHARED_PHOTOS, app_page, needs_photos, write_test_video

PHOTOS = ["fr_obama.jpg", "fr_biden.jpg", "df_img10.jpg", "df_img13.jpg", "fr_two_people.jpg", "df_img15.jpg",
          "df_img22.jpg", "fr_kit_with_rose.jpg", "df_couple.jpg", "df_img2.jpg", "df_img3.jpg", "df_img4.jpg"]
OPTIONS = ClusterOptions("local:2", photos_per_task=8, segment_seconds=2.0)


@pytest.fixture(scope="module")
def cluster():
    with connect(OPTIONS) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def spec(exported_onnx) -> AnswerSpec:
    return AnswerSpec.resolve(exported_onnx)  # no TensorFlow on the workers


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """Twelve real photos, a corrupt JPEG and a text file: two chunks of eight."""
    root = tmp_path_factory.mktemp("collection") / "photos"
    root.mkdir()
    for name in PHOTOS:
        shutil.copy(SHARED_PHOTOS / name, root / name)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "notes.txt").write_text("not a photo")
    return root


def _has_tensorflow() -> bool:
    return "tensorflow" in sys.modules or "keras" in sys.modules


def _loaded_answerer(plugin: str, dask_worker=None) -> int:
    return id(dask_worker.plugins[plugin].answerer)


def same_table(a, b) -> bool:
    return a.table().to_csv(index=False) == b.table().to_csv(index=False)


@needs_photos
def test_a_collection_and_a_video_on_the_cluster_equal_one_process(cluster, spec, collection, tmp_path, monkeypatch):
    alone = spec.load().collection(collection)
    seen = []
    merged, folder = analyze_collection_on_cluster(cluster, collection, spec, tmp_path, "photos", OPTIONS,
                                                   progress=lambda done, total, left: seen.append((done, total)))
    assert same_table(merged, alone) and merged.skipped == alone.skipped  # the corrupt JPEG listed, in order
    assert {name for name, _ in merged.skipped} == {"broken.jpg", "notes.txt"}
    assert seen[0] == (0, 2) and seen[-1] == (2, 2) and folder == tmp_path / "photos"
    assert [f.crop.tolist() for _, f in merged.faces] == [f.crop.tolist() for _, f in alone.faces]
    assert not any(cluster.client.run(_has_tensorflow).values())  # an exported model: no TensorFlow on the workers

    video = write_test_video(tmp_path / "clip.mp4")  # 6 s: three 2-s segments, people come and go
    one_pass = spec.load().video(video, VideoOptions(fps=5))
    (plugin,) = cluster.plugins.values()
    loaded = cluster.client.run(_loaded_answerer, plugin)
    asked, run = [], cluster.client.run
    monkeypatch.setattr(cluster.client, "run", lambda *a, **k: asked.append(a[0]) or run(*a, **k))
    segmented, _ = analyze_video_on_cluster(cluster, video, spec, tmp_path, "clip", VideoOptions(fps=5), OPTIONS)
    monkeypatch.undo()
    assert asked == [] and cluster.client.run(_loaded_answerer, plugin) == loaded  # the same model: not asked again
    assert segmented.table().equals(one_pass.table())  # person ids too: the tracker's warm-up links the edges
    assert segmented.times == one_pass.times and len(segmented.people) == len(one_pass.people) >= 2


@needs_photos
def test_a_killed_worker_is_replaced_and_a_run_resumes_from_its_kept_chunks(cluster, spec, collection, tmp_path):
    alone = spec.load().collection(collection)
    pids = cluster.client.run(os.getpid)
    killed = []

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            busy = [worker for worker, keys in cluster.client.processing().items() if keys]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)  # mid-chunk
                killed.append(pids[busy[0]])
            time.sleep(0.01)

    def start_killer(done: int, total: int, left) -> None:
        if done == 0:
            threading.Thread(target=kill_a_busy_worker, daemon=True).start()

    merged, folder = analyze_collection_on_cluster(cluster, collection, spec, tmp_path, "photos", OPTIONS,
                                                   progress=start_killer)
    assert killed and same_table(merged, alone)  # its chunk was answered again, on another worker
    cluster.client.wait_for_workers(2, timeout=60)  # the nanny started a new one; the model plugin loads on it
    assert killed[0] not in cluster.client.run(os.getpid).values()

    (folder / CHUNKS_FOLDER / "000001.json").unlink()  # as if killed before the second chunk was saved
    seen = []
    resumed, again = analyze_collection_on_cluster(cluster, collection, spec, tmp_path, "photos", OPTIONS,
                                                   progress=lambda done, total, left: seen.append(done), resume=True)
    assert again == folder and seen[0] == 1 and same_table(resumed, alone)  # only the missing chunk ran
    fresh, other = analyze_collection_on_cluster(cluster, collection, spec, tmp_path, "photos", OPTIONS)
    assert other == tmp_path / "photos-2"  # without --resume: a new folder, nothing overwritten
    other_spec = AnswerSpec.resolve(spec.model, margin=0.2)
    _, third = analyze_collection_on_cluster(cluster, collection, other_spec, tmp_path, "photos", OPTIONS, resume=True)
    assert third == tmp_path / "photos-3"  # other settings: not resumed into a run made with others


@needs_photos
def test_a_chunk_that_outlasts_its_timeout_stops_the_run_with_what_is_kept(cluster, spec, collection, tmp_path):
    hasty = ClusterOptions("local:2", photos_per_task=8, chunk_timeout=0.05, retries=1)
    with pytest.raises(DataError, match=r"chunk \d did not finish in 0.05 s \(2 tries.*of 2 chunks are kept in "
                                        r".*run again with --resume"):
        analyze_collection_on_cluster(cluster, collection, spec, tmp_path, "photos", hasty)


def test_an_unreachable_scheduler_or_a_bad_address_is_one_message():
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 2 s"):
        with connect(ClusterOptions("tcp://127.0.0.1:9", connect_timeout=2)):
            pass
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, dashboard_address=None) as empty:
        with pytest.raises(ConfigError, match="has no workers .none joined within 2 s.: start some with `dask worker"):
            with connect(ClusterOptions(empty.scheduler_address, connect_timeout=2)):
                pass
    import socket
    import threading
    import time

    listener = socket.socket()  # a port that accepts connections and never says a word: another program's
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    started = time.monotonic()
    with pytest.raises(ConfigError, match="answers, but not as a Dask scheduler .no reply to its identity call within 2 s"):
        with connect(ClusterOptions(f"tcp://127.0.0.1:{listener.getsockname()[1]}", connect_timeout=2)):
            pass
    assert time.monotonic() - started < 10  # it used to hang for ever
    listener.close()
    with pytest.raises(ConfigError, match="unknown cluster address 'lokal'"):
        ClusterOptions("lokal")
    with pytest.raises(ConfigError, match="multiple of 8"):
        ClusterOptions("local", photos_per_task=100)


@needs_photos
def test_predict_on_a_remote_scheduler_from_the_command_line(cluster, spec, collection, tmp_path):
    """The command line reaches the fixture's scheduler by address, as a lab cluster's."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    address = cluster.client.scheduler.address
    ran = subprocess.run([sys.executable, "-m", "fer_core", "predict", str(collection), "--model", str(spec.model),
                          "--out", str(tmp_path / "cluster"), "--cluster", address, "--photos-per-task", "8"],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "photos: 2/2 chunks" in ran.stderr and "about 0 s left" in ran.stderr
    alone = subprocess.run([sys.executable, "-m", "fer_core", "predict", str(collection), "--model", str(spec.model),
                            "--out", str(tmp_path / "alone")], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    assert alone.returncode == 0, alone.stderr[-2000:]
    for name in ("predictions.csv", "predictions.json", "faces_by_class.png"):
        assert filecmp.cmp(tmp_path / "cluster" / "photos" / name, tmp_path / "alone" / "photos" / name,
                           shallow=False), name
    bad = subprocess.run([sys.executable, "-m", "fer_core", "predict", str(collection), "--model", str(spec.model),
                          "--out", str(tmp_path / "bad"), "--resume"], cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1] == (
        "error: --resume goes with --cluster (or the cluster setting, FER_CLUSTER)")


@needs_photos
@pytest.mark.slow
def test_device_gpu_is_resolved_on_each_worker_and_fails_there_in_one_line(spec, collection, tmp_path):
    """``--device`` travels to the workers (the client may have no GPU where they do): on this
    machine's workers ``gpu`` fails as the model loads, in one line, with no worker traceback."""
    import socket

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with socket.socket() as dask_default_port:  # held, as by another cluster: no four-line warning either
        with contextlib.suppress(OSError):
            dask_default_port.bind(("127.0.0.1", 8787))
            dask_default_port.listen(1)
        ran = subprocess.run([sys.executable, "-m", "fer_core", "predict", str(collection), "--model", str(spec.model),
                              "--out", str(tmp_path / "out"), "--cluster", "local:1", "--device", "gpu"],
                             cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr[-2000:]
    assert ran.stderr.strip().splitlines() == [ran.stderr.strip().splitlines()[-1]]
    assert ran.stderr.startswith(f"error: --device gpu: {spec.model.name} cannot answer on a GPU here: onnxruntime ")


@needs_photos
@pytest.mark.slow
def test_a_scheduler_that_cannot_import_fer_core_is_one_error_line(spec, collection, tmp_path):
    """Dask's scheduler unpickles every task: one started where fer_core does not import (the cause
    of the API image's "different environments" failure, docs/deploy.md) stops predict with one
    line that says so, not Dask's four about environments."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # cwd tmp_path: no fer_core there
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-dashboard"], cwd=tmp_path, env=bare,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        time.sleep(3)
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                   "--no-dashboard", "--no-nanny"], cwd=REPO_ROOT,
                                  env={**bare, "PYTHONPATH": str(REPO_ROOT)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ran = subprocess.run([sys.executable, "-m", "fer_core", "predict", str(collection), "--model", str(spec.model),
                              "--out", str(tmp_path / "out"), "--cluster", address], cwd=REPO_ROOT,
                             env={**bare, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True, timeout=300)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.kill()
                process.wait(timeout=30)
    assert ran.returncode == 2, ran.stderr[-2000:]
    assert ran.stderr.strip().splitlines()[-1] == f"error: {UNPICKLABLE_TASK}"


@needs_photos
@pytest.mark.slow
def test_the_predict_page_runs_a_collection_on_the_cluster_the_settings_name(cluster, collection, dashboard_env,
                                                                            monkeypatch):
    shutil.copytree(collection, dashboard_env["data_root"] / "party")
    monkeypatch.setenv("FER_CLUSTER", cluster.client.scheduler.address)
    at = app_page("pages/4_Predict.py").run(timeout=300)
    at.radio(key="mode").set_value("A photo collection").run(timeout=300)
    at.radio(key="collection_source").set_value("A folder under the data folder").run(timeout=300)
    at.selectbox(key="collection_folder").set_value("party").run(timeout=300)
    assert not at.exception and not at.error
    captions = [c.value for c in at.caption]
    address = cluster.client.scheduler.address
    assert any(c.startswith(f"Runs in chunks on the Dask cluster `{address}`") for c in captions)
    assert any(c.startswith("12 photos,") and c.endswith("2 files skipped.") for c in captions)
    runs = (Path(os.environ["FER_CACHE_DIR"]) / "cluster_runs").iterdir()  # the first folder offered, then party
    kept = sorted(len(list((run / CHUNKS_FOLDER).glob("*.json"))) for run in runs)
    assert kept == [2, 2]  # for each, its plan and one chunk (96 photos a chunk), kept: a stopped run goes on
