"""Export: the ONNX/TorchScript file reproduces PyTorch on real images, takes uint8 RGB, names its
classes and preprocessing in its own metadata, and bad requests are refused with a sentence and
leave nothing behind."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from app_support import RUN_ID

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.cli import main
from cifar_core.data import load_cifar
from cifar_core.errors import CheckpointError
from cifar_core.evaluate import load_run_model
from cifar_core.export import PARITY_TOLERANCE, TORCHSCRIPT_METADATA, ExportError, export_run
from cifar_core.models.preprocess import CIFAR10_MEAN, CIFAR10_STD, Preprocess
from cifar_core.runs import Run, RunStore


@pytest.fixture
def run(trained_root: Path, tmp_path: Path) -> Run:
    import shutil

    shutil.copytree(trained_root / RUN_ID, tmp_path / "runs" / RUN_ID)
    return RunStore(tmp_path / "runs").get(RUN_ID)


@pytest.fixture(scope="module")
def real_images(tmp_path_factory: pytest.TempPathFactory, shared_tarball: Path) -> torch.Tensor:
    """100 real CIFAR-10 photos: the first ten JPEGs of each class in the shared tarball, as test/<class>/."""
    folder = tmp_path_factory.mktemp("real-slice")
    taken: dict[str, int] = {}
    with tarfile.open(shared_tarball) as archive:
        for member in archive:
            cls = Path(member.name).parent.name
            if member.isfile() and member.name.endswith(".jpg") and taken.get(cls, 0) < 10:
                target = folder / "test" / cls / Path(member.name).name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read())
                taken[cls] = taken.get(cls, 0) + 1
    return load_cifar(folder, cache_dir=tmp_path_factory.mktemp("cache")).splits["test"].images


def _as_rgb(images: torch.Tensor) -> np.ndarray:
    return images.permute(0, 2, 3, 1).contiguous().numpy()


@pytest.mark.realdata
def test_onnx_export_matches_pytorch_on_real_images(run: Run, real_images: torch.Tensor, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    report = export_run(run, "onnx", out, images=real_images[:64])
    assert out.is_file() and report.max_abs_diff <= PARITY_TOLERANCE
    # independent of the export's own check: fresh images through ONNX Runtime vs load_run_model
    held_out = real_images[64:]
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"images": _as_rgb(held_out)})
    assert logits.shape == (len(held_out), 10)
    reference = load_run_model(run, "best", "cpu").model.float()
    with torch.no_grad():
        expected = reference(held_out.float() / 255)
    assert np.abs(logits - expected.numpy()).max() <= PARITY_TOLERANCE
    # a dynamic batch axis: one image works too
    (single,) = session.run(["logits"], {"images": _as_rgb(held_out[:1])})
    assert np.abs(single - logits[:1]).max() <= PARITY_TOLERANCE


@pytest.mark.realdata
def test_onnx_metadata_says_how_to_feed_the_graph(run: Run, real_images: torch.Tensor, tmp_path: Path) -> None:
    """A consumer that knows only the file's metadata feeds real photos and gets PyTorch's predictions."""
    out = tmp_path / "model.onnx"
    report = export_run(run, "onnx", out, images=real_images[:64])
    props = {prop.key: prop.value for prop in onnx.load(str(out)).metadata_props}
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map == props == report.metadata
    assert json.loads(props["classes"]) == list(CIFAR10_CLASSES)
    (graph_input,) = session.get_inputs()
    assert (props["input_name"], props["input_layout"], props["input_dtype"], props["input_range"]) == ("images", "NHWC", "uint8", "0..255")
    assert graph_input.name == props["input_name"] and graph_input.type == f"tensor({props['input_dtype']})"
    assert graph_input.shape[1:] == json.loads(props["input_shape"])[1:] == [32, 32, 3]
    assert np.allclose(json.loads(props["mean"]), CIFAR10_MEAN) and np.allclose(json.loads(props["std"]), CIFAR10_STD)

    # the recorded input description applied to real pixels (our tensors are NCHW uint8 0..255)
    held_out = real_images[64:]
    layout = [("N", "C", "H", "W").index(axis) for axis in props["input_layout"]]
    feed = held_out.numpy().transpose(layout).astype(props["input_dtype"])
    (logits,) = session.run([props["output_name"]], {props["input_name"]: feed})
    reference = load_run_model(run, "best", "cpu")
    model = reference.model.float()
    with torch.no_grad():
        expected = model(held_out.float() / 255).numpy()
    assert np.array_equal(logits.argmax(1), reference.probabilities(held_out).argmax(1).numpy())
    assert np.abs(logits - expected).max() <= PARITY_TOLERANCE
    # the one-epoch model's logits vary little from image to image, so first prove that this
    # comparison can fail: the same pixels with height and width swapped pass the shape check but not it
    (swapped,) = session.run([props["output_name"]], {props["input_name"]: feed.transpose(0, 2, 1, 3).copy()})
    assert np.abs(swapped - expected).max() > PARITY_TOLERANCE

    # the recorded scale, mean and std are the graph's own: applied by hand in front of the
    # network's layers after its Preprocess, they give the exported graph's logits
    assert isinstance(model[0], Preprocess)
    mean = np.asarray(json.loads(props["mean"]), dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(json.loads(props["std"]), dtype=np.float32).reshape(1, 3, 1, 1)
    by_hand = (held_out.numpy().astype(np.float32) * np.float32(json.loads(props["scale_in_graph"])) - mean) / std
    imagenet_mean, imagenet_std = (np.float32(values).reshape(1, 3, 1, 1) for values in ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    imagenet = (held_out.numpy().astype(np.float32) / 255 - imagenet_mean) / imagenet_std
    with torch.no_grad():
        body_logits = model[1:](torch.from_numpy(by_hand)).numpy()
        imagenet_logits = model[1:](torch.from_numpy(imagenet)).numpy()
    assert np.abs(body_logits - logits).max() <= 1e-5
    assert np.abs(imagenet_logits - logits).max() > 1e-5  # other statistics are told apart


def test_torchscript_export_takes_uint8_rgb(run: Run, tmp_path: Path) -> None:
    images = load_cifar("synthetic").splits["train"].images[:32]
    out = tmp_path / "model.pt"
    report = export_run(run, "torchscript", out, images=images)
    assert report.max_abs_diff <= PARITY_TOLERANCE
    extra = {TORCHSCRIPT_METADATA: ""}
    scripted = torch.jit.load(str(out), _extra_files=extra)
    assert json.loads(extra[TORCHSCRIPT_METADATA]) == report.metadata
    assert json.loads(report.metadata["classes"]) == list(CIFAR10_CLASSES)
    probs = load_run_model(run, "best", "cpu").probabilities(images)
    with torch.no_grad():
        logits = scripted(images.permute(0, 2, 3, 1).contiguous())
    assert torch.equal(logits.argmax(1), probs.argmax(1))


def test_export_never_overwrites_and_refuses_bad_requests(run: Run, tmp_path: Path) -> None:
    images = load_cifar("synthetic").splits["train"].images[:8]
    existing = tmp_path / "keep.onnx"
    existing.write_bytes(b"mine")
    with pytest.raises(ExportError, match="already exists"):
        export_run(run, "onnx", existing, images=images)
    assert existing.read_bytes() == b"mine"
    with pytest.raises(ExportError, match="is a folder"):
        export_run(run, "onnx", tmp_path, images=images)
    with pytest.raises(ExportError, match="Unknown export format"):
        export_run(run, "tflite", tmp_path / "m.tflite", images=images)
    with pytest.raises(ExportError, match="does not exist"):
        export_run(run, "onnx", tmp_path / "missing" / "m.onnx", images=images)
    run.checkpoint_path("best").unlink()
    with pytest.raises(CheckpointError):
        export_run(run, "onnx", tmp_path / "m.onnx", images=images)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.onnx", "runs"]  # no temp file left


def test_cli_export(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.onnx"
    assert main(["export", "--run", str(run.dir), "--format", "onnx", "--out", str(out), "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    assert reported["max_abs_diff"] <= PARITY_TOLERANCE and out.is_file()
    assert reported["metadata"] == {prop.key: prop.value for prop in onnx.load(str(out)).metadata_props}
    assert reported["input"] == "uint8 [N, 32, 32, 3] RGB" and reported["metadata"]["run_id"] == RUN_ID
    assert main(["export", "--run", str(run.dir), "--format", "onnx", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", "--run", str(tmp_path), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "not a run folder" in capsys.readouterr().err
