"""What the machine can do for training: a GPU, and whether reduced-precision compute pays off.

Mixed precision keeps float32 weights and computes in a 16-bit float. It pays off on a GPU
(float16) and on CPUs with native bfloat16 instructions (AVX512_BF16 or AMX, e.g. AMD Zen 4 or
Intel Sapphire Rapids), where TensorFlow's oneDNN kernels use them: on this project's 2-core
AMD EPYC a training step of the quick preset's VGG takes about 0.72 of its float32 time
(README, "CPU speed: bfloat16"). On any other CPU bfloat16 is emulated and slower, so
it is not used there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator

import keras

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def gpu_available() -> bool:
    """Whether the active Keras backend sees a GPU."""
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return any(d.platform == "gpu" for d in jax.devices())
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "torch":
            import torch

            return torch.cuda.is_available()
    except Exception:  # a backend that cannot list devices has no GPU we can use
        return False
    return False


def _cpuinfo_field(name: str, cpuinfo: str | os.PathLike) -> str | None:
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.split(":")[0].strip() == name:
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags the kernel reports (empty where there is no /proc/cpuinfo)."""
    return set((_cpuinfo_field("flags", cpuinfo) or "").split())


def cpu_name(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str | None:
    """The CPU's model name, e.g. 'AMD EPYC' (None where there is no /proc/cpuinfo)."""
    return _cpuinfo_field("model name", cpuinfo)


def has_bf16_instructions(flags: Iterable[str]) -> bool:
    """Whether CPU flags include native bfloat16 arithmetic (AVX512_BF16 or AMX)."""
    return bool(set(CPU_BF16_FLAGS) & set(flags))


def mixed_precision_policy(backend: str, gpu: bool, flags: Iterable[str]) -> str | None:
    """The Keras dtype policy that mixed precision means on this hardware, or None where it would
    not pay off: float16 on a GPU; bfloat16 on a CPU with native bfloat16 instructions under
    TensorFlow (whose oneDNN kernels use them)."""
    if gpu:
        return "mixed_float16"
    if backend == "tensorflow" and has_bf16_instructions(flags):
        return "mixed_bfloat16"
    return None


def mixed_precision_for_this_machine() -> str | None:
    return mixed_precision_policy(keras.backend.backend(), gpu_available(), cpu_flags())


@contextlib.contextmanager
def dtype_policy(name: str | None) -> Iterator[None]:
    """Build layers under the dtype policy ``name`` (None: leave it), then restore Keras's global
    policy, so one run's mixed precision does not leak into the next model built in the process."""
    if name is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
