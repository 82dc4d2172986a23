"""The HTTP API: a real uvicorn on loopback with a real HTTP client (photos, no face, bad files,
keys, 16 concurrent clients, a client that disconnects, the bounded queue), and FastAPI's
TestClient for the rest of the app's answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx  # (httpx2: what starlette 1.10 TestClient wants too)
import pytest
from PIL import Image

from fer_core.serve.server import API_KEY_ENV, ServeOptions, create_app, required_api_key
from fer_core.errors import ConfigError
from tests.conftest import REPO_ROOT, SHARED_PHOTOS, jpeg_bytes, needs_photos

KEY = "test-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m fer_core serve`` in its own process, until the test ends."""

    def __init__(self, model: Path, log: Path, *extra: str, key: str | None = KEY):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        env.pop(API_KEY_ENV, None)
        if key:
            env[API_KEY_ENV] = key
        self.log = log
        self.process = subprocess.Popen([sys.executable, "-m", "fer_core", "serve", "--model", str(model), "--port",
                                         str(self.port), *extra], cwd=REPO_ROOT, env=env, stdout=log.open("w"),
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"the server did not start: {log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(exported_onnx, tmp_path_factory):
    running = Server(exported_onnx, tmp_path_factory.mktemp("serve") / "server.log")
    yield running
    running.stop()


def post(server, files, key: str | None = KEY, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/predict", files=files, headers={"X-API-Key": key} if key else {},
                      timeout=60, **kwargs)


def photo(name: str = "fr_obama.jpg") -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, (SHARED_PHOTOS / name).read_bytes(), "image/jpeg"))


def grey_jpeg() -> bytes:
    return jpeg_bytes(Image.new("RGB", (320, 240), (128, 128, 128)))


@needs_photos
def test_photos_come_back_as_predict_prints_them(server):
    one = post(server, [photo()])
    assert one.status_code == 200
    (answer,) = one.json()
    assert answer["file"] == "fr_obama.jpg" and len(answer["faces"]) == 1
    assert set(answer["faces"][0]) >= {"box", "top", "probabilities", "landmarks", "pose"}
    several = post(server, [photo(), photo("fr_obama_and_biden.jpg"), ("files", ("grey.jpg", grey_jpeg(),
                                                                                   "image/jpeg"))])
    assert several.status_code == 200
    assert [len(a["faces"]) for a in several.json()] == [1, 3, 0]  # three people in the second; none in grey


def test_bad_requests_get_a_4xx_json_error_and_the_server_keeps_serving(server):
    corrupt = post(server, [("files", ("broken.jpg", b"\xff\xd8\xff" + b"\x00" * 500, "image/jpeg"))])
    assert corrupt.status_code == 422 and "broken.jpg" in corrupt.json()["error"]
    wrong_type = post(server, [("files", ("notes.txt", b"hello", "text/plain"))])
    assert wrong_type.status_code == 415 and "not an image" in wrong_type.json()["error"]
    empty = post(server, [("files", ("empty.jpg", b"", "image/jpeg"))])
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    oversize = post(server, [("files", ("huge.jpg", b"\xff\xd8" + os.urandom(41 * 2**20), "image/jpeg"))])
    assert oversize.status_code == 413 and "larger than 40 MB" in oversize.json()["error"]
    nothing = httpx.post(f"{server.url}/v1/predict", headers={"X-API-Key": KEY}, timeout=30)
    assert nothing.status_code == 400 and "files" in nothing.json()["error"]
    assert httpx.get(f"{server.url}/health", timeout=10).json()["status"] == "ok"


def test_the_api_key_is_required_and_checked(server):
    missing = post(server, [("files", ("g.jpg", grey_jpeg(), "image/jpeg"))], key=None)
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["error"]
    wrong = post(server, [("files", ("g.jpg", grey_jpeg(), "image/jpeg"))], key="wrong-key-0123456789")
    assert wrong.status_code == 401
    assert httpx.get(f"{server.url}/v1/model", timeout=10).status_code == 401
    card = httpx.get(f"{server.url}/v1/model", headers={"X-API-Key": KEY}, timeout=10).json()
    assert card["runtime"] == "onnxruntime" and card["tta"] == "flip" and len(card["classes"]) == 7


@needs_photos
def test_sixteen_concurrent_clients_all_get_their_answer(server):
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: post(server, [photo()]), range(16)))
    assert [a.status_code for a in answers] == [200] * 16
    assert len({a.json()[0]["faces"][0]["top"] for a in answers}) == 1


def test_a_client_that_disconnects_mid_upload_does_not_hurt_the_server(server):
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        raw.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nX-API-Key: " + KEY.encode() +
                    b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n"
                    b'Content-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n' + b"\xff\xd8" * 100)
    time.sleep(0.5)
    assert httpx.get(f"{server.url}/health", timeout=10).json()["held"] == 0
    assert post(server, [("files", ("g.jpg", grey_jpeg(), "image/jpeg"))]).status_code == 200


def test_logs_carry_no_image_data(server):
    post(server, [("files", ("secret-name.jpg", grey_jpeg(), "image/jpeg"))])
    log = server.log.read_bytes()
    assert b"\xff\xd8" not in log and b"JFIF" not in log
    assert b"predict: 1 image(s)" in log


def test_beyond_the_queue_requests_get_503_with_retry_after(exported_onnx, tmp_path):
    busy = Server(exported_onnx, tmp_path / "busy.log", "--queue", "1")
    try:
        big = jpeg_bytes(Image.effect_noise((2400, 1800), 60).convert("RGB"))  # detection takes a while
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: post(busy, [("files", ("n.jpg", big, "image/jpeg"))]), range(8)))
        codes = sorted(a.status_code for a in answers)
        assert 200 in codes and 503 in codes and set(codes) <= {200, 503}
        refused = next(a for a in answers if a.status_code == 503)
        assert refused.headers["retry-after"] == "1" and "busy" in refused.json()["error"]
    finally:
        busy.stop()


def test_serving_beyond_loopback_needs_a_key(exported_onnx):
    result = subprocess.run([sys.executable, "-m", "fer_core", "serve", "--model", str(exported_onnx), "--host",
                             "0.0.0.0"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if k != API_KEY_ENV} | {
                                "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: serving on 0.0.0.0 (beyond this machine) "
                                                             "needs an API key")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        required_api_key("127.0.0.1", {API_KEY_ENV: "short"})
    assert required_api_key("127.0.0.1", {}) is None and required_api_key("::1", {API_KEY_ENV: KEY}) == KEY


def test_the_app_answers_json_for_unknown_paths_too_many_files_and_has_docs(exported_onnx):
    from fastapi.testclient import TestClient

    from fer_core.answering.spec import AnswerSpec

    spec = AnswerSpec.resolve(exported_onnx, detector="none")
    with TestClient(create_app(ServeOptions(max_photos=2), spec)) as client:
        assert client.get("/nope").json() == {"error": "Not Found"}
        three = [("files", (f"{k}.jpg", grey_jpeg(), "image/jpeg")) for k in range(3)]
        too_many = client.post("/v1/predict", files=three)
        assert too_many.status_code == 413 and "at most 2 per request" in too_many.json()["error"]
        whole = client.post("/v1/predict", files=three[:1]).json()
        assert whole[0]["whole_image"] and len(whole[0]["faces"]) == 1  # detector none: the image is the face
        assert client.get("/docs").status_code == 200 and "/v1/predict" in client.get("/openapi.json").json()["paths"]
        health = client.get("/health").json()
        assert health["model"] == exported_onnx.name and health["device"] == "cpu"  # serve --device's default
        schema = client.get("/openapi.json").json()
        answer = schema["paths"]["/v1/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"type": "array", "items": {"$ref": "#/components/schemas/PhotoAnswer"},
                          "title": "Response Predict V1 Predict Post"}
        face = schema["components"]["schemas"]["Face"]["properties"]
        assert {"box", "top", "probabilities", "landmarks", "pose"} <= set(face)  # /docs shows the answer's fields
        assert client.get("/v1/model").json()["answer"]["detector"] == "blazeface"  # spec: whole images
        assert client.get("/v1/model").json()["answer"]["whole_image"] is True


def metric(text: str, name: str, **labels) -> float:
    """A sample's value from Prometheus's text format (0 when absent)."""
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if not line.startswith("#") and line.rsplit(" ", 1)[0] == wanted)


def test_metrics_count_requests_latency_faces_and_errors(exported_onnx):
    from fastapi.testclient import TestClient

    from fer_core.answering.spec import AnswerSpec

    with TestClient(create_app(ServeOptions(), AnswerSpec.resolve(exported_onnx, detector="none"))) as client:
        assert client.post("/v1/predict", files=[("files", ("a.jpg", grey_jpeg(), "image/jpeg"))]).status_code == 200
        assert client.post("/v1/predict", files=[("files", ("e.jpg", b"", "image/jpeg"))]).status_code == 400
        text = client.get("/metrics").text
    assert metric(text, "fer_requests_total", endpoint="/v1/predict", status="200") == 1
    assert metric(text, "fer_errors_total", status="400") == 1 and metric(text, "fer_faces_total") == 1
    assert metric(text, "fer_request_seconds_count", endpoint="/v1/predict") == 2
    assert metric(text, "fer_queue_held") == 0  # none held once answered


def test_two_workers_share_one_port_and_their_metrics_add_up(exported_onnx, tmp_path):
    """``serve --workers 2``: two processes, each with its own model, answer on one port; /health
    answers once they are warm; /metrics (from whichever answers) counts both workers' requests."""
    two = Server(exported_onnx, tmp_path / "two.log", "--workers", "2")
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: post(two, [photo()]), range(12)))
        assert [a.status_code for a in answers] == [200] * 12
        pids = set()
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline:  # a new connection each: either worker takes it
            pids.add(httpx.get(f"{two.url}/health", timeout=10).json()["pid"])
        assert len(pids) == 2
        text = httpx.get(f"{two.url}/metrics", timeout=10).text
        assert metric(text, "fer_requests_total", endpoint="/v1/predict", status="200") == 12
        assert metric(text, "fer_faces_total") == 12
        # SIGTERM while a long request is in flight: it is answered, then the workers stop
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(post, two, [photo("fr_obama-1080p.jpg")] * 10)
            time.sleep(0.5)
            two.process.terminate()
            assert slow.result().status_code == 200 and len(slow.result().json()) == 10
        assert two.process.wait(timeout=60) == 0
    finally:
        if two.process.poll() is None:
            two.stop()


@pytest.mark.slow
@needs_photos
def test_a_worker_killed_mid_request_is_replaced_and_the_others_keep_answering(exported_onnx, tmp_path):
    """``serve --workers 2`` with a real uvicorn: one worker is SIGKILLed while requests stream in.
    Every request sent after the kill is answered (by the live worker), and a new worker process
    takes the dead one's place (uvicorn's supervisor), so two answer again."""
    import signal

    two = Server(exported_onnx, tmp_path / "killed.log", "--workers", "2")
    try:
        def worker_pids(wanted: int, timeout: float = 60) -> set[int]:
            found, deadline = set(), time.monotonic() + timeout
            while len(found) < wanted and time.monotonic() < deadline:
                found.add(httpx.get(f"{two.url}/health", timeout=10).json()["pid"])
            return found

        before = worker_pids(2)
        assert len(before) == 2
        victim = min(before)
        with ThreadPoolExecutor(2) as pool:
            in_flight = [pool.submit(post, two, [photo("fr_obama-1080p.jpg")] * 4) for _ in range(2)]
            time.sleep(0.3)
            os.kill(victim, signal.SIGKILL)
            for request in in_flight:  # the killed worker's own request may be lost, nothing else
                try:
                    request.result()
                except httpx.HTTPError:
                    pass
        after_kill = [post(two, [photo()]) for _ in range(8)]
        assert [a.status_code for a in after_kill] == [200] * 8
        replaced = worker_pids(2, timeout=90) - {victim}
        assert len(replaced) == 2 and replaced != before, (before, replaced, two.log.read_text()[-2000:])
    finally:
        if two.process.poll() is None:
            two.stop()
