"""A run's model as a file other tools run: ONNX (for ONNX Runtime and friends) or TorchScript.

The exported graph takes what a camera or PIL gives, ``uint8 [N, 32, 32, 3]`` RGB, and returns
logits ``[N, 10]``: scaling to [0, 1], normalisation and (for MobileNet) the resize to its input
size are baked in (they already live inside our models, see ``models/preprocess.py``), so a
consumer needs no Python preprocessing of ours. The file says so itself: its metadata (ONNX
``metadata_props``, a ``metadata.json`` extra file in TorchScript) names the classes in logit
order, the input layout and value range the graph expects and the mean/std it applies, so a
consumer that never saw this code can feed it. An export is only kept after a parity check: the
exported model, run by its own runtime (ONNX Runtime or ``torch.jit.load``), must give the same
logits as PyTorch within ``PARITY_TOLERANCE`` on a batch of the run's own images. The file is
written beside its destination under a temporary name and renamed into place, so a failed
export leaves nothing half-written, and an existing file is never overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cifar_core.errors import CifarError, DataError
from cifar_core.evaluate import LoadedModel, load_run_model
from cifar_core.models.preprocess import Preprocess
from cifar_core.runs import Run

FORMATS = ("onnx", "torchscript")
# Largest |logit difference| accepted between PyTorch and the exported model (the bar).
PARITY_TOLERANCE = 1e-4
PARITY_IMAGES = 64
ONNX_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "images", "logits"
IMAGE_PX = 32
TORCHSCRIPT_METADATA = "metadata.json"  # the extra file inside a TorchScript archive that carries the metadata


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
    metadata: dict[str, str]  # exactly what the file carries

    def to_json(self) -> dict:
        return {
            "path": str(self.path),
            "format": self.format,
            "run_id": self.run_id,
            "checkpoint": self.checkpoint,
            "epoch": self.epoch,
            "input": self.metadata["input"],
            "output": self.metadata["output"],
            "parity_images": self.parity_images,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": PARITY_TOLERANCE,
            "metadata": self.metadata,
        }


def export_metadata(run: Run, loaded: LoadedModel, checkpoint: str) -> dict[str, str]:
    """What a consumer must know to feed the exported graph, as the string pairs ONNX metadata holds.

    The values describe the graph as exported: it takes raw pixels (uint8, 0..255, NHWC, RGB) and
    itself divides by 255, resizes (MobileNet) and normalises with the mean/std read here from the
    model's own ``Preprocess``, so a consumer applies none of those; they are recorded so the file
    can be checked against, or re-implemented by, other tooling. Lists are JSON text.
    """
    stages = [m for m in loaded.model.modules() if isinstance(m, Preprocess)]
    if len(stages) != 1:
        raise ExportError(f"Run {run.id}'s model has {len(stages)} preprocessing stages instead of one, so its input cannot be described.")
    (stage,) = stages
    classes = list(loaded.classes)
    return {
        "classes": json.dumps(classes),
        "input_name": INPUT_NAME,
        "input": f"uint8 [N, {IMAGE_PX}, {IMAGE_PX}, 3] RGB",
        "input_layout": "NHWC",
        "input_dtype": "uint8",
        "input_shape": json.dumps(["N", IMAGE_PX, IMAGE_PX, 3]),
        "input_channels": "RGB",
        "input_range": "0..255",
        "preprocessing": "inside the graph: x / 255, then (x - mean) / std per channel"
        + (f", after a bilinear resize to {stage.resize_to}x{stage.resize_to}" if stage.resize_to else "")
        + "; feed raw pixels",
        "scale_in_graph": json.dumps(1 / 255),
        "mean": json.dumps([round(v, 6) for v in stage.mean.flatten().tolist()]),
        "std": json.dumps([round(v, 6) for v in stage.std.flatten().tolist()]),
        "model_input_px": str(stage.resize_to or IMAGE_PX),
        "output_name": OUTPUT_NAME,
        "output": f"logits [N, {len(classes)}] in the order of classes; softmax gives probabilities",
        "model": loaded.config.model,
        "run_id": run.id,
        "checkpoint": checkpoint,
        "epoch": str(loaded.epoch),
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
    metadata = export_metadata(run, loaded, checkpoint)
    wrapped = Uint8ImageModel(loaded.model.float().eval()).eval()
    batch = images[:PARITY_IMAGES].permute(0, 2, 3, 1).contiguous()
    with torch.no_grad():
        expected = wrapped(batch)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "onnx":
            _write_onnx(wrapped, batch, tmp, metadata)
            got = _run_onnx(tmp, batch)
        else:
            _write_torchscript(wrapped, batch, tmp, metadata)
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
    return ExportReport(path, fmt, run.id, checkpoint, loaded.epoch, len(batch), diff, metadata)


def _suffix(fmt: str) -> str:
    return "onnx" if fmt == "onnx" else "pt"


def _write_onnx(model: nn.Module, batch: torch.Tensor, path: Path, metadata: dict[str, str]) -> None:
    try:
        import onnx
    except ImportError as exc:  # an optional extra: say how to get it
        raise ExportError("ONNX export needs onnx: pip install 'cifar-explorer[export]'.") from exc
    # The TorchScript-based exporter (dynamo=False): one call, no extra graph-rewriting packages,
    # and a dynamic batch axis that ONNX Runtime accepts as is.
    with torch.no_grad():
        torch.onnx.export(
            model,
            (batch,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    # the exporter has no metadata argument, so the written model is loaded, given its metadata_props and saved again
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, metadata)
    onnx.save(proto, str(path))


def _run_onnx(path: Path, batch: torch.Tensor) -> torch.Tensor:
    try:
        import onnxruntime
    except ImportError as exc:  # an optional extra: say how to get it
        raise ExportError("ONNX export needs onnxruntime: pip install 'cifar-explorer[export]'.") from exc
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: batch.numpy()})
    return torch.from_numpy(logits)


# PyTorch marks TorchScript deprecated (in favour of torch.export); it is still what C++ and
# mobile runtimes load, so it is offered, with its FutureWarnings kept out of the user's console.
def _write_torchscript(model: nn.Module, batch: torch.Tensor, path: Path, metadata: dict[str, str]) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, (batch,), check_trace=False)
    traced.save(str(path), _extra_files={TORCHSCRIPT_METADATA: json.dumps(metadata)})


def _run_torchscript(path: Path, batch: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu")(batch)
