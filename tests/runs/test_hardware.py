"""Which dtype policy mixed precision means on which hardware, and its scope."""

from __future__ import annotations

import keras
import pytest

from fer_core.runs.hardware import GPU, _capability, cpu_flags, cpu_name, dtype_policy, mixed_precision_policy

HOPPER = GPU("NVIDIA H200", (9, 0))
TURING = GPU("Tesla T4", (7, 5))


@pytest.mark.parametrize("backend, gpu, flags, expected", [
    ("jax", HOPPER, [], "mixed_bfloat16"),  # bfloat16 units: no loss scaling needed
    ("tensorflow", GPU("NVIDIA A100", (8, 0)), [], "mixed_bfloat16"),
    ("tensorflow", TURING, [], "mixed_float16"),
    ("jax", TURING, ["avx512_bf16"], "mixed_float16"),
    ("jax", GPU("some GPU", None), [], "mixed_float16"),
    ("tensorflow", None, ["avx2", "avx512f", "avx512_bf16"], "mixed_bfloat16"),
    ("tensorflow", None, ["amx_bf16", "amx_tile"], "mixed_bfloat16"),
    ("tensorflow", None, ["avx2", "avx512f"], None),  # bfloat16 would be emulated: slower, so off
    ("jax", None, ["avx512_bf16"], None),
])
def test_mixed_precision_policy_by_hardware(backend, gpu, flags, expected):
    assert mixed_precision_policy(backend, gpu, flags) == expected


def test_compute_capability_parsed_from_each_backends_form():
    assert _capability("9.0") == (9, 0) and _capability((8, 6)) == (8, 6) and _capability(None) is None
    assert _capability("junk") is None


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_name(cpuinfo) == "AMD EPYC"
    assert cpu_flags(tmp_path / "missing") == set() and cpu_name(tmp_path / "missing") is None


def test_dtype_policy_is_scoped_and_restored_after_an_error():
    before = keras.config.dtype_policy().name
    with dtype_policy("mixed_bfloat16"):
        layer = keras.layers.Dense(2)
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert layer.dtype_policy.name == "mixed_bfloat16" and keras.config.dtype_policy().name == before
    with pytest.raises(RuntimeError), dtype_policy("mixed_bfloat16"):
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == before
    with dtype_policy(None):
        assert keras.config.dtype_policy().name == before


def test_devices_all_is_refused_off_jax_and_for_a_batch_that_does_not_divide():
    from fer_core.errors import ConfigError
    from fer_core.runs.hardware import training_devices

    with training_devices("one", 33) as count:
        assert count == 1
    if keras.backend.backend() != "jax":
        with pytest.raises(ConfigError, match="data parallel under JAX only"):
            with training_devices("all", 32):
                pass


# Two virtual CPU devices under JAX: a run with --devices all replicates its model on both and
# splits each batch between them (the same code path as several GPUs).
DATA_PARALLEL_RUN = """
import json, sys
from pathlib import Path
import keras
from fer_core.training.config import TrainConfig
from fer_core.runs.hardware import training_devices
from fer_core.training.train import train
from tests.conftest import write_kaggle_folder

with training_devices("all", 32) as count:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    replicas = len(model.weights[0].value.sharding.device_set)
try:
    with training_devices("all", 33):
        pass
except Exception as exc:
    refused = str(exc)
root = Path(sys.argv[1])
data = write_kaggle_folder(root / "data", {"train": 8, "test": 4})
run = train(TrainConfig(data=str(data), epochs=1, filters=[4, 8, 8], dense_units=8, batch_size=32, devices="all"),
            root / "runs", verbose=0)
print(json.dumps({"count": count, "replicas": replicas, "refused": refused,
                  "device_count": json.loads((run / "config.json").read_text())["device_count"],
                  "accuracy": json.loads((run / "metrics.json").read_text())["accuracy"]}))
"""


@pytest.mark.slow
def test_devices_all_trains_data_parallel_on_two_virtual_jax_devices(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    pytest.importorskip("jax", reason="jax is not installed (the optional backend): pip install jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", DATA_PARALLEL_RUN, str(tmp_path)], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["count"] == answer["replicas"] == answer["device_count"] == 2
    assert "does not divide across 2 devices" in answer["refused"] and 0 <= answer["accuracy"] <= 1
