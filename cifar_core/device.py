"""Choosing the compute device, its numeric precision and memory layout.

Measured on the development machine (2-core AMD EPYC with AVX512-BF16, batch 512, training
steps/s; bench/epoch_time.py): the study's CNN ran 910 images/s in fp32 NCHW, 1,507 in fp32
channels_last and 3,118 with channels_last + bf16 autocast. So channels_last is used on every
device and bf16 wherever the hardware computes it natively (CUDA, and CPUs with AVX512-BF16 or
AMX); elsewhere bf16 would be emulated and slower, so fp32 stays.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

import torch

from cifar_core.errors import ConfigError
from cifar_core.train.config import PRECISIONS

DEVICE_NAMES = "auto, cpu, cuda (or cuda:N for the N-th GPU) or mps"


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit choice that is absent or unknown is a ``ConfigError``."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use 'auto' or 'cpu'.")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' was asked for but Apple MPS is not available; use 'auto' or 'cpu'.")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {name!r} is not a device name; use {DEVICE_NAMES}.") from exc
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {name!r} is not supported here; use {DEVICE_NAMES}.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise ConfigError(f"device {name!r} was asked for but this machine has {count} CUDA GPU{'s' if count != 1 else ''}.")
    return device


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True on x86 CPUs that compute bf16 in hardware (AVX512-BF16 or AMX), read from /proc/cpuinfo."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def uses_bf16(device: torch.device, precision: str = "auto") -> bool:
    """Whether ``precision`` on ``device`` means bf16 autocast."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    if precision == "fp32" or device.type not in ("cuda", "cpu"):
        return False
    return precision == "bf16" or device.type == "cuda" or cpu_has_native_bf16()


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 mixed precision where it pays (no loss scaling needed with bf16); else full precision."""
    if uses_bf16(device, precision):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last: tensor cores on CUDA, oneDNN's fast convolution layout on CPU (1.65x here)."""
    return torch.channels_last if device.type in ("cuda", "cpu") else torch.contiguous_format


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run small tensor work on one CPU thread, restoring the previous count afterwards.

    On the busy 2-core machine, tiny batches (16 lab previews, 200-image test runs) ran 5-30x
    slower with torch's two threads while another process held a core, and 2-11 ms with one.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
