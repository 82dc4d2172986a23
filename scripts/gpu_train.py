"""Train the ``gpu`` preset on a GPU machine in one command that ends on time (docs/gpu.md).

Run it through ``scripts/gpu_train.sh``, which installs the carried wheels and picks the JAX
backend. Steps, each inside one wall-clock budget (``--minutes``):

1. optionally, the augmentation benchmark (``benchmarks/bench_train_speed.py``) -> ``bench.txt``;
2. optionally (``--teachers teacher-vgg:1 teacher-resnet:2``), larger teachers that need not ship,
   one after another (``--teacher-minutes`` each), then their ensemble evaluated on PublicTest with
   multicrop TTA (the ten-crop) -> ``summary.json``'s ``teacher_ensemble``; their folders are not
   returned (35-45 MB each), only their figures;
3. ``python -m fer_core train --preset gpu`` for each seed, ``--parallel`` of them at once on the
   one GPU, each with the time budget that is left;
4. optionally (``--distill``), a student of the same preset distilled from the teachers (with
   ``--teacher-tta``, multicrop by default) or, without teachers, from those seeds' models
   (``--teacher``), with the rest of the time.

``--out`` receives at most 8 files: ``summary.json`` (each run's val accuracy, macro-F1,
per-class recall, epochs and wall time, written after every run), ``log.txt`` (every command's
output), ``bench.txt``, and one ``run-NAME.tar`` per run (its folder without the resume
checkpoint: model, card material, history, log), ready for ``python -m fer_core bundle`` on
another machine. Only the standard library is imported here; the work runs in subprocesses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# Seconds kept free at the end of the budget: tar files, summary, and a slower last step.
END_MARGIN_SECONDS = 25.0
# A run gets this long past its own time budget before it is stopped (its report included).
OVERRUN_GRACE_SECONDS = 45.0


class Session:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.started = time.monotonic()
        self.deadline = self.started + args.minutes * 60
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.runs = Path(args.runs_dir)
        self.logs = self.runs / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.summary: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "budget_minutes": args.minutes,
                              "runs": {}}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f} s] {message}"
        print(line, flush=True)
        with open(self.logs / "session.txt", "a") as f:
            f.write(line + "\n")

    def start(self, name: str, command: list[str], env: dict | None = None) -> subprocess.Popen:
        self.say(f"{name}: {' '.join(command)}")
        log = open(self.logs / f"{name}.txt", "w")
        return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})

    def wait(self, name: str, proc: subprocess.Popen, limit: float) -> int:
        """Wait for ``proc`` until ``limit`` seconds from now, then stop it."""
        try:
            return proc.wait(timeout=max(1.0, limit))
        except subprocess.TimeoutExpired:
            self.say(f"{name}: over its time, stopping it")
            proc.terminate()
            try:
                return proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait()

    def write_outputs(self) -> None:
        self.summary["wall_seconds"] = round(time.monotonic() - self.started, 1)
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=1))
        with open(self.out / "log.txt", "w") as out:
            for path in sorted(self.logs.glob("*.txt")):
                out.write(f"===== {path.name}\n{path.read_text(errors='replace')}\n")


def train_command(args: argparse.Namespace, runs_dir: Path, seed: int, minutes: float,
                  extra: list[str], preset: str | None = None) -> list[str]:
    return [sys.executable, "-m", "fer_core", "train", "--preset", preset or args.preset, "--data", args.data,
            "--seed", str(seed), "--runs-dir", str(runs_dir), "--time-budget", f"{minutes:.2f}", *args.train_arg,
            *extra]


def finished_run(runs_dir: Path) -> Path | None:
    """The run folder a ``train`` call made under ``runs_dir`` (one run per folder here)."""
    found = [p for p in runs_dir.iterdir() if p.is_dir() and (p / "config.json").exists()] if runs_dir.exists() else []
    return found[0] if len(found) == 1 else None


def record(session: Session, name: str, runs_dir: Path, returncode: int, keep: bool = True) -> Path | None:
    """Summarise one run and, with ``keep``, tar its folder (without the resume checkpoint) into the output."""
    run = finished_run(runs_dir)
    entry: dict = {"returncode": returncode, "run_dir": str(run) if run else None}
    if run is not None:
        config = json.loads((run / "config.json").read_text())
        metrics_file = run / "metrics.json"
        if metrics_file.exists():
            metrics = json.loads(metrics_file.read_text())
            entry.update({
                "val_accuracy": round(metrics["accuracy"], 4), "val_macro_f1": round(metrics["macro_f1"], 4),
                "val_recall": {c: round(metrics["per_class"][c]["recall"], 3) for c in CLASSES},
            })
        entry.update({"epochs": config.get("epochs"), "wall_seconds": config.get("wall_seconds"),
                      "plan": config.get("time_budget_plan"), "teacher": config.get("teacher"),
                      "hardware": config.get("provenance", {}).get("hardware")})
        if keep and (run / "model.keras").exists():
            with tarfile.open(session.out / f"run-{name}.tar", "w") as tar:
                for path in sorted(run.iterdir()):
                    if path.name not in ("checkpoint.keras",) and path.is_file():
                        tar.add(path, arcname=f"{run.name}/{path.name}")
    session.summary["runs"][name] = entry
    session.say(f"{name}: exit {returncode}, val accuracy {entry.get('val_accuracy')}, "
                f"epochs {entry.get('epochs')}, wall {entry.get('wall_seconds')} s")
    session.write_outputs()
    return run if entry.get("val_accuracy") is not None else None


def run_batch(session: Session, jobs: list[tuple[str, int, list[str]]], minutes: float, preset: str | None = None,
              keep: bool = True) -> list[Path]:
    """Start ``jobs`` (name, seed, extra train args) at once with ``minutes`` each; return finished runs."""
    # Several processes may share the GPU's memory; runs of the same recipe reuse each other's
    # compiled steps from JAX's persistent cache instead of compiling them again.
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "JAX_COMPILATION_CACHE_DIR": str(session.runs / "jax-cache"),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    started = []
    for name, seed, extra in jobs:
        runs_dir = session.runs / name
        started.append((name, runs_dir, session.start(name, train_command(session.args, runs_dir, seed, minutes,
                                                                          extra, preset), env)))
    done = []
    for name, runs_dir, proc in started:
        limit = min(session.left(), minutes * 60 + OVERRUN_GRACE_SECONDS) - 5
        run = record(session, name, runs_dir, session.wait(name, proc, limit), keep)
        if run is not None:
            done.append(run)
    return done


def evaluate_teachers(session: Session, teachers: list[Path]) -> None:
    """The teachers' ensemble (one file averaging them) on PublicTest with multicrop TTA, into the summary."""
    model = teachers[0] / "model.keras"
    if len(teachers) > 1:
        model = session.runs / "teachers.keras"
        proc = session.start("teacher-ensemble", [sys.executable, "-m", "fer_core", "ensemble",
                                                  *map(str, teachers), "--out", str(model)])
        if session.wait("teacher-ensemble", proc, session.left() - END_MARGIN_SECONDS) != 0:
            return
    out = session.runs / "teacher-eval"
    proc = session.start("teacher-eval", [sys.executable, "-m", "fer_core", "evaluate", "--data", session.args.data,
                                          "--model", str(model), "--split", "val", "--tta", "multicrop",
                                          "--out", str(out)])
    if session.wait("teacher-eval", proc, session.left() - END_MARGIN_SECONDS) == 0:
        metrics = json.loads((out / "metrics.json").read_text())
        session.summary["teacher_ensemble"] = {
            "members": [str(t) for t in teachers], "tta": "multicrop", "val_accuracy": round(metrics["accuracy"], 4),
            "val_accuracy_95": metrics.get("intervals", {}).get("accuracy"), "val_macro_f1": round(metrics["macro_f1"], 4),
            "val_recall": {c: round(metrics["per_class"][c]["recall"], 3) for c in CLASSES}}
        session.say(f"teacher ensemble of {len(teachers)}: val accuracy {metrics['accuracy']:.4f} (multicrop)")
    session.write_outputs()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the dataset (a .ferpack made by `python -m fer_core pack`)")
    parser.add_argument("--out", required=True, help="folder for the result files (at most 8)")
    parser.add_argument("--minutes", type=float, default=9.3, help="wall-clock budget of the whole command")
    parser.add_argument("--preset", default="gpu")
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3],
                        help="seeds of the preset (none: only teachers and the student)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="seeds trained at once on the one GPU (each plans its epochs from its own timing, "
                             "so runs started together can plan too many: 1 is safe)")
    parser.add_argument("--distill", action="store_true", help="then distil a student from the seeds' models")
    parser.add_argument("--seed-minutes", type=float, default=0.0,
                        help="time budget of each seed's run (0: share what the student leaves evenly)")
    parser.add_argument("--distill-minutes", type=float, default=3.2, help="time kept for the student")
    parser.add_argument("--student-seed", type=int, default=100)
    parser.add_argument("--bench", type=float, default=0.0, metavar="SECONDS",
                        help="first run the augmentation benchmark for at most this long (0 = skip)")
    parser.add_argument("--bench-arg", action="append", default=[], help="an argument for the benchmark")
    parser.add_argument("--train-arg", action="append", default=[],
                        help="an extra argument for every train call, e.g. --train-arg=--data-fraction=0.05")
    parser.add_argument("--runs-dir", default="runs/gpu")
    parser.add_argument("--teachers", nargs="*", default=[], metavar="PRESET:SEED",
                        help="larger teachers first, e.g. teacher-vgg:1 teacher-resnet:2 (not returned, only "
                             "their figures); --distill then learns from them")
    parser.add_argument("--teacher-minutes", type=float, default=0.0,
                        help="time budget of each teacher (0: an even share of what the seeds and student leave)")
    parser.add_argument("--teacher-tta", default="multicrop", help="TTA of the teachers' soft labels")
    args = parser.parse_args()
    session = Session(args)
    session.say(f"budget {args.minutes} min; KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}; "
                f"python {sys.version.split()[0]}")

    if args.bench:
        bench = [sys.executable, "benchmarks/bench_train_speed.py", *args.bench_arg]
        proc = session.start("bench", bench)
        code = session.wait("bench", proc, min(args.bench, session.left() - END_MARGIN_SECONDS))
        (session.out / "bench.txt").write_text((session.logs / "bench.txt").read_text(errors="replace"))
        session.summary["bench_returncode"] = code
        session.write_outputs()

    teachers: list[Path] = []
    for k, spec in enumerate(args.teachers):
        preset, _, seed = spec.partition(":")
        share = (session.left() - (args.distill_minutes * 60 if args.distill else 0.0) - END_MARGIN_SECONDS) / 60 / (
            len(args.teachers) - k + (1 if args.seeds else 0))
        minutes = min(args.teacher_minutes, share) if args.teacher_minutes else share
        if minutes < 0.5:
            session.say(f"teacher {spec}: no time left ({minutes:.2f} min)")
            break
        teachers += run_batch(session, [(f"teacher-{preset}-{seed or 1}", int(seed or 1), [])], minutes, preset=preset,
                              keep=False)
    if teachers:
        evaluate_teachers(session, teachers)

    groups = [args.seeds[i:i + args.parallel] for i in range(0, len(args.seeds), args.parallel)]
    for k, group in enumerate(groups):
        reserve = args.distill_minutes * 60 if args.distill else 0.0
        fair_share = (session.left() - reserve - END_MARGIN_SECONDS) / (len(groups) - k) / 60
        minutes = min(args.seed_minutes, fair_share) if args.seed_minutes else fair_share
        if minutes < 0.5:
            session.say(f"seeds {group}: no time left ({minutes:.2f} min)")
            break
        run_batch(session, [(f"seed{seed}", seed, []) for seed in group], minutes)

    if args.distill:
        # The larger teachers if any; else every finished seed run here, this command's and earlier ones'.
        tta = ["--teacher-tta", args.teacher_tta] if teachers else []
        teachers = teachers or sorted(run for folder in session.runs.glob("seed*") if (run := finished_run(folder))
                                      and (run / "metrics.json").exists() and (run / "model.keras").exists())
        minutes = (session.left() - END_MARGIN_SECONDS) / 60
        if not teachers:
            session.say("distillation skipped: no seed finished")
        elif minutes < 0.5:
            session.say(f"distillation skipped: {minutes:.2f} min left")
        else:
            extra = [arg for run in teachers for arg in ("--teacher", str(run))] + tta
            run_batch(session, [("student", args.student_seed, extra)], minutes)

    session.say("done")
    session.write_outputs()
    return 0 if session.summary["runs"] and all(r.get("val_accuracy") is not None
                                                for r in session.summary["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
