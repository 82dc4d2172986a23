"""Which dtype policy mixed precision means on which hardware, and its scope."""

from __future__ import annotations

import keras
import pytest

from fer_core.training.hardware import GPU, _capability, cpu_flags, cpu_name, dtype_policy, mixed_precision_policy

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
