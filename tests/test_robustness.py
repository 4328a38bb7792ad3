"""Robustness transforms (seeded, monotone, exact where they should be) and the ``robustness`` command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from app_support import RUN_ID
from data_fixtures import make_images, write_kaggle

from cifar_core.cli import main
from cifar_core.evaluate import load_run_model
from cifar_core.robustness import CORRUPTIONS, TRANSFORMS, score_run
from cifar_core.runs import Run

ROOT = Path(__file__).resolve().parents[1]


def _smooth_images(n: int = 16) -> torch.Tensor:
    """Blurred random images: natural-looking enough that blur and pixelation remove detail that is there."""
    noise = torch.randint(0, 256, (n, 3, 32, 32), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    return TF.gaussian_blur(noise, [5, 5], [1.0, 1.0])


IMAGES = _smooth_images()


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_every_setting_keeps_shape_and_dtype_and_repeats_exactly(name: str) -> None:
    t = TRANSFORMS[name]
    for severity in t.severities:
        first = t(IMAGES, severity)
        assert first.shape == IMAGES.shape and first.dtype == torch.uint8
        assert torch.equal(first, t(IMAGES.clone(), severity)), f"{name} {severity} differs between calls"


@pytest.mark.slow  # a fresh interpreter imports torch: over a minute on the busy 2-core CI
def test_seeded_corruptions_equal_in_another_process() -> None:
    code = (
        "import torch,sys;from cifar_core.robustness import TRANSFORMS;"
        "x=torch.arange(3*32*32*4,dtype=torch.int64).remainder(256).to(torch.uint8).reshape(4,3,32,32);"
        "torch.save({n:TRANSFORMS[n](x,3) for n in ('gaussian_noise','shot_noise')},sys.argv[1])"
    )
    out = ROOT / ".pytest_cache_robust.pt"
    try:
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
        theirs = torch.load(out, weights_only=True)
    finally:
        out.unlink(missing_ok=True)
    x = torch.arange(3 * 32 * 32 * 4, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(4, 3, 32, 32)
    for name, image in theirs.items():
        assert torch.equal(image, TRANSFORMS[name](x, 3))
    assert not torch.equal(theirs["gaussian_noise"], x)


def test_rotation_180_twice_is_identity_and_quarter_turns_compose() -> None:
    rotate = TRANSFORMS["rotate"]
    assert torch.equal(rotate(rotate(IMAGES, 2), 2), IMAGES)
    assert torch.equal(rotate(rotate(IMAGES, 1), 3), IMAGES)
    assert torch.equal(rotate(IMAGES, 2), IMAGES.flip(-1).flip(-2))


def test_flips_and_shift_move_pixels_where_they_should() -> None:
    assert torch.equal(TRANSFORMS["hflip"](IMAGES, 1), IMAGES.flip(-1))
    assert torch.equal(TRANSFORMS["vflip"](IMAGES, 1), IMAGES.flip(-2))
    shifted = TRANSFORMS["shift"](IMAGES, 2)  # 4 px right and down
    assert torch.equal(shifted[..., 4:, 4:], IMAGES[..., :-4, :-4])
    assert shifted[..., :4, :].eq(0).all()


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "gaussian_blur", "contrast", "brightness", "jpeg", "defocus_blur"])
def test_distance_to_clean_grows_with_severity(name: str) -> None:
    t = TRANSFORMS[name]
    distances = [(t(IMAGES, s).float() - IMAGES.float()).abs().mean().item() for s in t.severities]
    assert distances[0] > 0
    assert distances[-1] > distances[0]
    # noise, contrast and brightness are strictly monotone; blur and JPEG have near-ties between adjacent CIFAR-10-C severities
    if name in ("gaussian_noise", "shot_noise", "contrast", "brightness"):
        assert distances == sorted(distances), distances


def test_gaussian_noise_has_cifar_c_standard_deviation() -> None:
    grey = torch.full((64, 3, 32, 32), 128, dtype=torch.uint8)
    for severity, std in zip(TRANSFORMS["gaussian_noise"].severities, TRANSFORMS["gaussian_noise"].strengths):
        measured = TRANSFORMS["gaussian_noise"](grey, severity).float().div(255).std().item()
        assert measured == pytest.approx(std, rel=0.05)


@pytest.fixture
def scored_run(trained_root: Path, tmp_path: Path) -> Path:
    shutil.copytree(trained_root / RUN_ID, tmp_path / RUN_ID)
    return tmp_path / RUN_ID


def test_score_run_counts_add_up(scored_run: Path) -> None:
    from cifar_core.data import load_synthetic

    data = load_synthetic()
    images, labels = data.splits["test"].images[:200], data.splits["test"].labels[:200]
    result = score_run(Run(scored_run), images, labels, ["rotate", "contrast"])
    loaded = load_run_model(Run(scored_run), device="cpu")
    preds = loaded.probabilities(torch.rot90(images, 2, dims=(-2, -1))).argmax(1)
    assert result.accuracy["rotate"][2] == pytest.approx((preds == labels).float().mean().item())
    assert result.mca == pytest.approx(sum(result.accuracy["contrast"].values()) / 5)
    per_class = result.per_class["rotate"][2]
    support = torch.bincount(labels, minlength=10)
    assert sum(p * int(s) for p, s in zip(per_class, support) if p is not None) == pytest.approx(result.accuracy["rotate"][2] * 200)


def test_cli_json_is_one_strict_document(scored_run: Path, capfd: pytest.CaptureFixture) -> None:
    assert (
        main(
            [
                "robustness",
                "--run",
                str(scored_run),
                "--data",
                "synthetic",
                "--split",
                "val",
                "--device",
                "cpu",
                "--json",
                "--transforms",
                "rotate",
                "jpeg",
            ]
        )
        == 0
    )
    out, err = capfd.readouterr()
    report = json.loads(out)
    assert set(report["transforms"]) == {"rotate", "jpeg"}
    assert len(report["transforms"]["jpeg"]["severities"]) == 5
    assert 0 <= report["clean_accuracy"] <= 1 and report["mca"] == pytest.approx(
        sum(s["accuracy"] for s in report["transforms"]["jpeg"]["severities"].values()) / 5
    )
    assert err == ""  # --json into a pipe: the progress bar is hidden (tests/test_cli_progress.py shows it on a terminal)


def _fails_with(args: list[str], capfd: pytest.CaptureFixture) -> str:
    assert main(args) == 2
    err = capfd.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ")
    return err


def test_running_run_is_refused(scored_run: Path, capfd: pytest.CaptureFixture) -> None:
    status = json.loads((scored_run / "status.json").read_text())
    import os

    status.update(state="running", pid=os.getpid())
    (scored_run / "status.json").write_text(json.dumps(status))
    run = Run(scored_run)
    if run.state != "running":
        pytest.skip("liveness check needs the recorded worker process; state stays " + run.state)
    assert "still running" in _fails_with(["robustness", "--run", str(scored_run), "--data", "synthetic", "--json"], capfd)


def test_source_without_labels_is_refused(scored_run: Path, tmp_path: Path, capfd: pytest.CaptureFixture, monkeypatch) -> None:
    source = write_kaggle(tmp_path / "kaggle", make_images(2, seed=1), make_images(1, seed=2)[0])
    monkeypatch.setenv("CIFAR_EXPLORER_DATA_ROOTS", str(tmp_path))
    err = _fails_with(["robustness", "--run", str(scored_run), "--data", str(source), "--split", "test", "--json"], capfd)
    assert "no labels" in err


def test_other_class_set_is_refused(scored_run: Path, capfd: pytest.CaptureFixture) -> None:
    for which in ("best", "last"):
        path = scored_run / f"{which}.pt"
        payload = torch.load(path, weights_only=True)
        payload["classes"] = ["kitten" if name == "cat" else name for name in payload["classes"]]
        torch.save(payload, path)
    err = _fails_with(["robustness", "--run", str(scored_run), "--data", "synthetic", "--json"], capfd)
    assert "kitten" in err and "same classes" in err


def test_every_corruption_is_registered() -> None:
    assert {"gaussian_noise", "shot_noise", "gaussian_blur", "defocus_blur", "contrast", "brightness", "jpeg", "pixelate"} <= set(
        CORRUPTIONS
    )
