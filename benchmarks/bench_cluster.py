"""A photo collection and a video on 1 and 2 Dask workers against today's single process.

Usage: python benchmarks/bench_cluster.py [--model FILE] [--photos 2000] [--video-seconds 300]
       [--workers 1 2] [--kinds photos video] [--out DIR]

Builds (seeded, once per ``--out``) a collection of ``--photos`` JPEGs made from the 39 shared
photos (each rescaled to 40-100%, cropped to 80-100% of its area, perhaps mirrored, saved at JPEG
quality 70-95) and a ``--video-seconds`` 640x360 10 fps MP4 in which the shared photos take
turns, two at a time, drifting a pixel a frame. Each configuration runs in a fresh process, as a
user's ``predict`` would: one process (``analyze_collection``/``analyze_video``, no annotated
video) and ``local:N`` clusters (``fer_core.cluster.chunks``, default chunking). Wall time
counts from the start of work (loading the model, or starting the cluster) to the merged answer.
Peak memory: the process's own (ru_maxrss), and each worker's. Cores busy: the CPU time of the
process and its workers over the wall time (2.0 = both of a 2-core machine's cores all the time). The merged ``predictions.csv`` and
``frames.csv`` are compared byte for byte with the single process's.

``--model``: default the bundled model exported to ONNX (multicrop inside), the payload the
cluster docs recommend (no TensorFlow on the workers).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "photos"


def make_collection(folder: Path, count: int, seed: int = 0) -> Path:
    from PIL import Image, ImageOps

    if folder.exists() and len(list(folder.glob("*.jpg"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    rng = random.Random(seed)
    for k in range(count):
        with Image.open(sources[k % len(sources)]) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            scale = rng.uniform(0.4, 1.0)
            img = img.resize((max(64, round(img.width * scale)), max(64, round(img.height * scale))))
            side = rng.uniform(0.8 ** 0.5, 1.0)
            w, h = round(img.width * side), round(img.height * side)
            x, y = rng.randint(0, img.width - w), rng.randint(0, img.height - h)
            img = img.crop((x, y, x + w, y + h))
            if rng.random() < 0.5:
                img = ImageOps.mirror(img)
            img.save(folder / f"photo_{k:05d}.jpg", quality=rng.randint(70, 95))
    return folder


def make_video(path: Path, seconds: float, fps: float = 10.0, size=(640, 360)) -> Path:
    import cv2
    import numpy as np
    from PIL import Image

    if path.exists():
        return path
    faces = [PHOTOS / n for n in ("fr_obama.jpg", "fr_biden.jpg", "df_img10.jpg", "df_img15.jpg", "df_img22.jpg",
                                  "df_img13.jpg")]
    patches = []
    for face in faces:
        with Image.open(face) as img:
            img = img.convert("RGB")
            scale = (size[1] - 40) / img.height
            patches.append(np.asarray(img.resize((round(img.width * scale), size[1] - 40)))[:, : size[0] // 2 - 40])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in range(round(seconds * fps)):
        scene = int(index / fps // 5)  # a new pair every 5 s
        frame = np.full((size[1], size[0], 3), 90, np.uint8)
        drift = index % 20
        for side, patch in enumerate((patches[scene % len(patches)], patches[(scene + 1) % len(patches)])):
            left = side * size[0] // 2 + 10 + drift
            frame[20:20 + patch.shape[0], left:left + patch.shape[1]] = patch
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def run_one(config: str, kind: str, model: str, source: Path, out: Path) -> dict:
    """One configuration in this process: 'single' or 'local:N', on 'photos' or 'video'."""
    from fer_core.answering.spec import AnswerSpec
    from fer_core.media.video import VideoOptions

    spec = AnswerSpec.resolve(model)
    started = time.perf_counter()
    workers_peak, workers_cpu = {}, 0.0
    if config == "single":
        answerer = spec.load()
        if kind == "photos":
            table = answerer.collection(source, max_photos=10**6).table()
        else:
            table = answerer.video(source, VideoOptions()).table()
    else:
        from fer_core.cluster.chunks import analyze_collection_on_cluster, analyze_video_on_cluster
        from fer_core.cluster.workers import connect
        from fer_core.cluster.options import ClusterOptions

        options = ClusterOptions(config)
        with connect(options) as cluster:
            if kind == "photos":
                analysis, _ = analyze_collection_on_cluster(cluster, source, spec, out / "chunks", kind, options,
                                                            max_photos=10**6)
            else:
                analysis, _ = analyze_video_on_cluster(cluster, source, spec, out / "chunks", kind, VideoOptions(),
                                                       options)
            workers_peak = cluster.worker_peak_memory()
            workers_cpu = sum(cluster.client.run(_cpu_seconds).values())
            table = analysis.table()
    wall = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.csv").write_text(table.to_csv(index=False))
    return {"config": config, "kind": kind, "wall_s": wall, "rows": len(table),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "workers_peak_mb": sorted(workers_peak.values()), "cpu_s": _cpu_seconds() + workers_cpu}


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process so far: how many cores the work kept busy."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def export_default(folder: Path) -> Path:
    path = folder / "default.onnx"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "fer_core", "export", "default", "--format", "onnx",
                        "--out", str(path)], cwd=ROOT, check=True, capture_output=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--video-seconds", type=float, default=300.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kinds", nargs="+", choices=["photos", "video"], default=["photos", "video"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/fer_bench_cluster"))
    parser.add_argument("--one", nargs=4, metavar=("CONFIG", "KIND", "MODEL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        config, kind, model, out = args.one
        source = args.out / ("collection" if kind == "photos" else "video.mp4")
        print(json.dumps(run_one(config, kind, model, source, Path(out))))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.model or str(export_default(args.out))
    make_collection(args.out / "collection", args.photos)
    make_video(args.out / "video.mp4", args.video_seconds)
    print(f"model {Path(model).name}; {args.photos} photos; a {args.video_seconds:g} s video sampled at 5 fps")
    print("| work | run | wall s | photos/s or x real time | cores busy (CPU s / wall s) | peak MB (process; workers) "
          "| same table |")
    print("|---|---|---|---|---|---|---|")
    for kind in args.kinds:
        baseline = None
        for config in ["single", *(f"local:{n}" for n in args.workers)]:
            out = args.out / f"run-{kind}-{config.replace(':', '')}"
            shutil.rmtree(out, ignore_errors=True)
            ran = subprocess.run([sys.executable, __file__, "--out", str(args.out), "--one", config, kind, model,
                                  str(out)], capture_output=True, text=True, cwd=ROOT)
            if ran.returncode != 0:
                print(f"| {kind} | {config} | failed: {ran.stderr.strip().splitlines()[-1]} |")
                continue
            result = json.loads(ran.stdout.strip().splitlines()[-1])
            table = (out / "table.csv").read_bytes()
            baseline = table if config == "single" else baseline
            rate = (args.photos / result["wall_s"]) if kind == "photos" else args.video_seconds / result["wall_s"]
            rate_words = f"{rate:.1f} photos/s" if kind == "photos" else f"{rate:.2f}x"
            workers = ", ".join(f"{m:.0f}" for m in result["workers_peak_mb"]) or "-"
            print(f"| {kind} | {config} | {result['wall_s']:.1f} | {rate_words} | {result['cpu_s'] / result['wall_s']:.2f} "
                  f"| {result['peak_mb']:.0f}; {workers} "
                  f"| {'yes' if table == baseline else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
