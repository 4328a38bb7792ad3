"""Device, precision and memory-layout choices."""

from __future__ import annotations

import pytest
import torch

from cifar_core.device import autocast, cpu_has_native_bf16, memory_format, resolve_device, uses_bf16
from cifar_core.errors import ConfigError
from cifar_core.train import TrainConfig

CPU = torch.device("cpu")


def test_auto_precision_uses_bf16_on_cpu_only_where_the_hardware_has_it():
    assert uses_bf16(CPU, "auto") == cpu_has_native_bf16()
    assert uses_bf16(CPU, "bf16") and not uses_bf16(CPU, "fp32")
    assert uses_bf16(torch.device("cuda"), "auto") and not uses_bf16(torch.device("mps"), "bf16")


def test_autocast_really_computes_convolutions_in_bf16_when_asked():
    conv = torch.nn.Conv2d(3, 4, 3)
    with autocast(CPU, "bf16"):
        assert conv(torch.rand(1, 3, 8, 8)).dtype == torch.bfloat16
    with autocast(CPU, "fp32"):
        assert conv(torch.rand(1, 3, 8, 8)).dtype == torch.float32


def test_bad_precision_and_absent_devices_are_config_errors():
    with pytest.raises(ConfigError, match="precision must be one of auto, fp32, bf16"):
        TrainConfig(precision="fp16")
    with pytest.raises(ConfigError, match="precision must be one of"):
        uses_bf16(CPU, "half")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is available"):
            resolve_device("cuda")


def test_channels_last_on_cpu_and_cuda():
    assert memory_format(CPU) == torch.channels_last
    assert memory_format(torch.device("mps")) == torch.contiguous_format
