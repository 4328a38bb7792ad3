"""A run's model as a file other tools run: ONNX (for ONNX Runtime and friends) or TorchScript.

The exported graph takes what a camera or PIL gives, ``uint8 [N, 32, 32, 3]`` RGB, and returns
logits ``[N, 10]``: scaling to [0, 1], normalisation and (for MobileNet) the resize to its input
size are baked in (they already live inside our models, see ``models/preprocess.py``), so a
consumer needs no Python preprocessing of ours. An export is only kept after a parity check: the
exported model, run by its own runtime (ONNX Runtime or ``torch.jit.load``), must give the same
logits as PyTorch within ``PARITY_TOLERANCE`` on a batch of the run's own images. The file is
written beside its destination under a temporary name and renamed into place, so a failed
export leaves nothing half-written, and an existing file is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cifar_core.errors import CifarError, DataError
from cifar_core.evaluate import load_run_model
from cifar_core.runs import Run

FORMATS = ("onnx", "torchscript")
# Largest |logit difference| accepted between PyTorch and the exported model (the bar).
PARITY_TOLERANCE = 1e-4
PARITY_IMAGES = 64
ONNX_OPSET = 17


class ExportError(CifarError):
    """An export that cannot be made or did not reproduce PyTorch's output."""


class Uint8ImageModel(nn.Module):
    """Wraps a model so it takes ``uint8 [N, 32, 32, 3]`` RGB (height, width, channel order)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        return self.model(x.contiguous())


@dataclass(frozen=True)
class ExportReport:
    """What was written and how closely it reproduces PyTorch."""

    path: Path
    format: str
    run_id: str
    checkpoint: str
    epoch: int
    parity_images: int
    max_abs_diff: float

    def to_json(self) -> dict:
        return {
            "path": str(self.path),
            "format": self.format,
            "run_id": self.run_id,
            "checkpoint": self.checkpoint,
            "epoch": self.epoch,
            "input": "uint8 [N, 32, 32, 3] RGB",
            "output": "logits [N, 10]",
            "parity_images": self.parity_images,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": PARITY_TOLERANCE,
        }


def check_destination(out: Path | str, fmt: str) -> Path:
    """The resolved destination, refused with a sentence when it cannot or must not be written."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}; choose {' or '.join(FORMATS)}.")
    path = Path(out).expanduser()
    if path.is_dir():
        raise ExportError(f"{path} is a folder; give a file name such as model.{_suffix(fmt)}.")
    if path.exists() or path.is_symlink():
        raise ExportError(f"{path} already exists; choose a new file name (exports never overwrite).")
    if not path.parent.is_dir():
        raise ExportError(f"The folder {path.parent} does not exist.")
    if not os.access(path.parent, os.W_OK):
        raise ExportError(f"The folder {path.parent} is not writable.")
    return path


def export_run(run: Run, fmt: str, out: Path | str, *, images: torch.Tensor, checkpoint: str = "best") -> ExportReport:
    """Export ``run``'s model to ``out`` in ``fmt`` and check it on ``images`` (uint8 [N,3,32,32])."""
    path = check_destination(out, fmt)
    if images.dtype != torch.uint8 or images.dim() != 4 or len(images) == 0:
        raise DataError("The parity check needs at least one uint8 image of shape [3, 32, 32].")
    loaded = load_run_model(run, checkpoint, "cpu")  # CheckpointError (one sentence) if there is none
    wrapped = Uint8ImageModel(loaded.model.float().eval()).eval()
    batch = images[:PARITY_IMAGES].permute(0, 2, 3, 1).contiguous()
    with torch.no_grad():
        expected = wrapped(batch)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "onnx":
            _write_onnx(wrapped, batch, tmp)
            got = _run_onnx(tmp, batch)
        else:
            _write_torchscript(wrapped, batch, tmp)
            got = _run_torchscript(tmp, batch)
        diff = float((got - expected).abs().max())
        if not diff <= PARITY_TOLERANCE:
            raise ExportError(
                f"The {fmt} export does not reproduce PyTorch (largest logit difference {diff:.2g} > "
                f"{PARITY_TOLERANCE:g}); nothing was written."
            )
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return ExportReport(path, fmt, run.id, checkpoint, loaded.epoch, len(batch), diff)


def _suffix(fmt: str) -> str:
    return "onnx" if fmt == "onnx" else "pt"


def _write_onnx(model: nn.Module, batch: torch.Tensor, path: Path) -> None:
    # The TorchScript-based exporter (dynamo=False): one call, no extra graph-rewriting packages,
    # and a dynamic batch axis that ONNX Runtime accepts as is.
    with torch.no_grad():
        torch.onnx.export(
            model,
            (batch,),
            str(path),
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def _run_onnx(path: Path, batch: torch.Tensor) -> torch.Tensor:
    try:
        import onnxruntime
    except ImportError as exc:  # an optional extra: say how to get it
        raise ExportError("ONNX export needs onnxruntime: pip install 'cifar-explorer[export]'.") from exc
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"images": batch.numpy()})
    return torch.from_numpy(logits)


# PyTorch marks TorchScript deprecated (in favour of torch.export); it is still what C++ and
# mobile runtimes load, so it is offered, with its FutureWarnings kept out of the user's console.
def _write_torchscript(model: nn.Module, batch: torch.Tensor, path: Path) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, (batch,), check_trace=False)
    traced.save(str(path))


def _run_torchscript(path: Path, batch: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu")(batch)
