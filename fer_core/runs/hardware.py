"""What the machine can do for training: a GPU, and whether reduced-precision compute pays off.

Mixed precision keeps float32 weights and computes in a 16-bit float. It pays off on a GPU
(bfloat16 where the GPU has bfloat16 units, e.g. Ampere and Hopper; float16 before them) and on
CPUs with native bfloat16 instructions (AVX512_BF16 or AMX, e.g. AMD Zen 4 or Intel Sapphire
Rapids), where TensorFlow's oneDNN kernels use them: on this project's 2-core AMD EPYC a
training step of the quick preset's VGG takes about 0.72 of its float32 time, on a 2-core Intel Xeon
with AVX512_BF16 but no AMX about 0.97 (docs/performance.md, "CPU training: bfloat16"). On any other
CPU bfloat16 is emulated and slower, so it is not used there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import keras

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class GPU:
    """The first GPU the active Keras backend sees."""

    name: str  # e.g. 'NVIDIA H200'
    compute_capability: tuple[int, int] | None  # (9, 0) for Hopper; None where the backend does not say

    @property
    def has_bfloat16(self) -> bool:
        """Native bfloat16 matrix units: NVIDIA Ampere (8.0) and later, e.g. A100, H100, H200."""
        return self.compute_capability is not None and self.compute_capability >= (8, 0)


def find_gpu() -> GPU | None:
    """The first GPU of the active Keras backend, or None."""
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            devices = [d for d in jax.devices() if d.platform == "gpu"]
            if devices:
                capability = getattr(devices[0], "compute_capability", None)
                return GPU(devices[0].device_kind, _capability(capability))
        elif backend == "tensorflow":
            import tensorflow as tf

            devices = tf.config.list_physical_devices("GPU")
            if devices:
                details = tf.config.experimental.get_device_details(devices[0])
                return GPU(details.get("device_name", "GPU"), _capability(details.get("compute_capability")))
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return GPU(torch.cuda.get_device_name(0), tuple(torch.cuda.get_device_capability(0)))
    except Exception:  # a backend that cannot list devices has no GPU we can use
        return None
    return None


def _capability(value) -> tuple[int, int] | None:
    """'9.0' or (9, 0) -> (9, 0)."""
    if value is None:
        return None
    try:
        parts = str(value).split(".") if isinstance(value, str) else list(value)
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except (ValueError, TypeError, IndexError):
        return None


def gpu_available() -> bool:
    """Whether the active Keras backend sees a GPU."""
    return find_gpu() is not None


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


def mixed_precision_policy(backend: str, gpu: GPU | None, flags: Iterable[str]) -> str | None:
    """The Keras dtype policy that mixed precision means on this hardware, or None where it would
    not pay off: bfloat16 on a GPU with bfloat16 units (Ampere and later: as fast as float16, and
    its float32-sized range needs no loss scaling), float16 on an older GPU; bfloat16 on a CPU
    with native bfloat16 instructions under TensorFlow (whose oneDNN kernels use them)."""
    if gpu is not None:
        return "mixed_bfloat16" if gpu.has_bfloat16 else "mixed_float16"
    if backend == "tensorflow" and has_bf16_instructions(flags):
        return "mixed_bfloat16"
    return None


def mixed_precision_for_this_machine() -> str | None:
    return mixed_precision_policy(keras.backend.backend(), find_gpu(), cpu_flags())


def device_description() -> str:
    """What training runs on here, for logs and model cards: the GPU's name, or the CPU's."""
    import platform

    gpu = find_gpu()
    if gpu is not None:
        return f"{gpu.name} GPU" + (f" (compute capability {gpu.compute_capability[0]}.{gpu.compute_capability[1]})"
                                    if gpu.compute_capability else "")
    cpu = cpu_name() or platform.processor() or "cpu"
    bf16 = ", bfloat16 instructions" if has_bf16_instructions(cpu_flags()) else ""
    return f"{platform.machine()}, {os.cpu_count()} CPU cores ({cpu}{bf16})"


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


def default_preset() -> str:
    """The preset the Train & Tune form opens on: ``gpu`` where the backend sees a GPU, else
    ``quick`` (the best recipe measured for 30 minutes of a 2-core CPU)."""
    return "gpu" if gpu_available() else "quick"


@contextlib.contextmanager
def training_devices(choice: str, batch_size: int) -> Iterator[int]:
    """Train on one device (``choice`` 'one': nothing changes) or on all of this machine's, data
    parallel: Keras's ``DataParallel`` distribution, which replicates the model and splits each
    batch across the devices (JAX only in Keras 3.15). Yields the number of devices; the global
    distribution is restored afterwards."""
    if choice == "one":
        yield 1
        return
    if keras.backend.backend() != "jax":
        from fer_core.errors import ConfigError

        raise ConfigError(f"--devices all trains data parallel under JAX only; this run uses "
                          f"KERAS_BACKEND={keras.backend.backend()}")
    devices = keras.distribution.list_devices()
    if batch_size % len(devices):
        from fer_core.errors import ConfigError

        raise ConfigError(f"--batch-size {batch_size} does not divide across {len(devices)} devices")
    with keras.distribution.DataParallel(devices=devices).scope():
        yield len(devices)
