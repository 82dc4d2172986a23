"""The HTTP API under load: requests/s and p50/p95 latency at 1, 8 and 32 concurrent clients.

Usage: python benchmarks/bench_serve.py [--model FILE] [--requests 64] [--queue 16] [--workers 1 2] [--devices cpu gpu]
       [--soak 2000]

For each ``--workers`` count (compared in the same run), starts ``python -m fer_core serve`` on
loopback with that many processes, then each
client posts one photo (fr_obama.jpg, 910x1137, one face) after another until ``--requests`` in
all have been answered. 503s (the bounded queue saying "retry") are counted apart from errors
(anything else that is not a 200, and failed connections). ``--model``: default the bundled
model exported to int8 ONNX (multicrop inside, as ``export --int8`` writes it). With ``--soak N``,
also the server's resident memory (all its processes) after the rows, and after N more requests at 8
clients: growth there beyond warm-up would be a leak.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

import httpx2 as httpx  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PHOTO = SHARED / "photos" / "fr_obama.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def int8_export(data: str) -> Path:
    from fer_core.export.exporting import ExportOptions, export_model

    out = Path(tempfile.mkdtemp(prefix="bench_serve-")) / "default-int8.onnx"
    export_model("default", out, ExportOptions(format="onnx", int8=True, data=data))
    return out


def load(url: str, clients: int, requests: int, photo: bytes) -> dict:
    latencies: list[float] = []
    counts = {"ok": 0, "busy": 0, "errors": 0}
    lock = threading.Lock()

    def client(share: int) -> None:
        with httpx.Client(timeout=120) as session:
            for _ in range(share):
                started = time.perf_counter()
                try:
                    code = session.post(f"{url}/v1/predict", files=[("files", ("a.jpg", photo, "image/jpeg"))]
                                        ).status_code
                except httpx.HTTPError:
                    code = 0
                with lock:
                    counts["ok" if code == 200 else "busy" if code == 503 else "errors"] += 1
                    if code == 200:
                        latencies.append(1000 * (time.perf_counter() - started))
                if code == 503:
                    time.sleep(1)  # as its Retry-After says

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, [max(1, requests // clients)] * clients))  # at least one each
    wall = time.perf_counter() - started
    latencies.sort()
    return {**counts, "rate": counts["ok"] / wall, "p50": statistics.median(latencies),
            "p95": latencies[max(0, int(0.95 * len(latencies)) - 1)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="the model to serve (default: the bundled model as int8 ONNX)")
    parser.add_argument("--data", default=str(SHARED / "datasets" / "fer2013" / "fer2013-train-publictest.zip"))
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--queue", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--soak", type=int, default=0)
    parser.add_argument("--devices", nargs="+", choices=["cpu", "gpu"], default=["cpu"],
                        help="serve --device for each row group, e.g. --devices cpu gpu on a GPU machine: the "
                             "CPU and the GPU in the same run")
    args = parser.parse_args()
    model = Path(args.model) if args.model else int8_export(args.data)
    photo = PHOTO.read_bytes()
    print(f"serving {model.name}, queue {args.queue} per process; {args.requests} requests of {PHOTO.name} per row")
    print(f"{'workers':>7s} {'clients':>7s} {'req/s':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'200':>5s} {'503':>5s} "
          f"{'errors':>6s}")
    for device in args.devices:
        for workers in args.workers:
            bench_one(model, workers, args, photo, device)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn's workers), MB, from /proc."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += int(next(line for line in Path(f"/proc/{current}/status").read_text().splitlines()
                              if line.startswith("VmRSS:")).split()[1])
            todo += [int(c) for t in Path(f"/proc/{current}/task").iterdir()
                     for c in (t / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


def bench_one(model: Path, workers: int, args, photo: bytes, device: str = "cpu") -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "FER_API_KEY"}
    server = subprocess.Popen([sys.executable, "-m", "fer_core", "serve", "--model", str(model), "--port", str(port),
                               "--queue", str(args.queue), "--workers", str(workers), "--device", device],
                              cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    print(f"serve --device {device}: /health says {httpx.get(f'{url}/health').json()['device']}")
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        time.sleep(3 if workers > 1 else 0)  # every worker warm, not only the first to answer
        for clients in (1, 8, 32):
            row = load(url, clients, args.requests, photo)
            print(f"{workers:7d} {clients:7d} {row['rate']:7.1f} {row['p50']:8.0f} {row['p95']:8.0f} {row['ok']:5d} "
                  f"{row['busy']:5d} {row['errors']:6d}")
        if args.soak:
            before = rss_mb(server.pid)
            row = load(url, 8, args.soak, photo)
            after = rss_mb(server.pid)
            print(f"  soak: {args.soak} more requests at 8 clients ({row['ok']} answered, {row['errors']} errors): "
                  f"resident memory {before:,.0f} MB -> {after:,.0f} MB ({100 * (after / before - 1):+.1f}%)")
    finally:
        server.terminate()
        server.wait(timeout=60)

if __name__ == "__main__":
    main()
