"""The CLI answers its quick commands without importing torch or scikit-learn, and its JSON is strict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cifar_core.cli import COMMANDS, build_parser
from cifar_core.cli.output import emit_json

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _heavy_modules_after(argv: list[str]) -> tuple[str, list[str]]:
    """(stdout, the heavy modules imported) after running the CLI with ``argv`` in a fresh interpreter."""
    code = textwrap.dedent(
        f"""
        import sys
        from cifar_core.cli import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        print("HEAVY=" + ",".join(m for m in ("torch", "sklearn", "streamlit", "pandas") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120, cwd=REPO)
    out, _, heavy = done.stdout.rpartition("HEAVY=")
    return out, [name for name in heavy.strip().split(",") if name]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["info"], ["data", "info", "--help"], ["app", "--help"]])
def test_quick_commands_skip_heavy_imports(argv: list[str]) -> None:
    out, heavy = _heavy_modules_after(argv)
    assert heavy == []
    assert out.strip()  # it did answer


def _runs_folder(root: Path) -> Path:
    """A runs folder as training leaves it: a finished run with its epochs, and one still queued."""
    from cifar_core.runs import RunStore
    from cifar_core.train import TrainConfig

    store = RunStore(root)
    done = store.create(TrainConfig(model="fast_cnn", epochs=2), "done-run")
    for epoch, val_acc in ((1, 0.41), (2, 0.5625)):
        done.append_event({"type": "epoch", "epoch": epoch, "val_acc": val_acc})
    done.update_status(state="finished", started=10.0, ended=70.0)
    store.create(TrainConfig(), "waiting-run")
    return root


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_runs_list_and_presets_skip_torch(tmp_path: Path, json_flag: list[str]) -> None:
    """``runs list`` reads and checks every config.json, and ``presets`` builds every recipe's config, all without torch.

    Before, ``cifar_core.runs`` imported the checkpoint code and the trainer, and ``TrainConfig`` the
    augmentation kernels, the model builders and the device code: each imported torch (and the
    trainer scikit-learn), 2-25 s before the first row.
    """
    out, heavy = _heavy_modules_after(["runs", "--root", str(_runs_folder(tmp_path)), "list", *json_flag])
    assert heavy == []
    if json_flag:
        rows = {row["run_id"]: row for row in json.loads(out)}
        assert (rows["done-run"]["state"], rows["done-run"]["model"], rows["done-run"]["best_val_acc"]) == ("finished", "fast_cnn", 0.5625)
        assert (rows["done-run"]["epochs_done"], rows["done-run"]["duration_s"]) == (2, 60.0)
        assert rows["waiting-run"]["model"] == "simple_cnn"
    else:
        assert "done-run" in out and "best val_acc 0.5625" in out and "waiting-run" in out
    presets, heavy = _heavy_modules_after(["presets", *json_flag])
    assert heavy == []
    if json_flag:
        assert all(entry["config"]["model"] for entry in json.loads(presets).values())
    else:
        assert len(presets.strip().splitlines()) >= 2


def test_help_lists_every_command_and_the_version_is_pyprojects() -> None:
    out, _ = _heavy_modules_after(["--help"])
    for name in COMMANDS:
        assert f"    {name}" in out
    version, _ = _heavy_modules_after(["--version"])
    assert version.strip() == "cifar-explorer 0.3.0" and 'version = "0.3.0"' in (REPO / "pyproject.toml").read_text()


def test_table_matches_what_the_modules_register() -> None:
    """Every name in the table is registered by its module, so the lazy parser and the full one agree."""
    full = build_parser()
    (subparsers,) = [action for action in full._actions if action.dest == "command"]
    assert set(subparsers.choices) == set(COMMANDS)
    lazy = build_parser(["runs", "list"])
    (lazy_sub,) = [action for action in lazy._actions if action.dest == "command"]
    assert list(lazy_sub.choices) == list(COMMANDS)  # the same order in --help either way


def test_emit_json_is_strict(capsys: pytest.CaptureFixture[str]) -> None:
    emit_json({"loss": float("nan"), "best": float("inf"), "per": (1.5, float("-inf")), "n": 3})
    out = capsys.readouterr().out
    assert json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON")) == {
        "loss": None,
        "best": None,
        "per": [1.5, None],
        "n": 3,
    }
    assert out.count("\n") == 1


def test_closed_pipe_ends_quietly() -> None:
    code = "from cifar_core.cli.output import emit_json, quiet_broken_pipe\nwith quiet_broken_pipe():\n    emit_json(list(range(10**6)))"
    done = subprocess.run(
        f"{sys.executable} -c '{code}' | head -c 10", shell=True, capture_output=True, text=True, env=ENV, timeout=60, cwd=REPO
    )
    assert done.stdout == "[0, 1, 2, "[:10] and done.stderr == ""
