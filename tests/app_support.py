"""Shared fixtures and helpers for the Streamlit app tests (``test_app_*.py``).

Every test gets its own runs folder, data cache and allowed data root through the environment
variables the app reads, so tests never touch the project's ``checkpoints/`` or ``data/``. One
tiny run is trained once per session (in-process, on the synthetic set) and copied into each
test that needs it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from support import tiny_config

from cifar_core.runs import Run, RunStore
from cifar_core.runs.process import cancel, execute
from cifar_core.runs.store import ACTIVE_STATES

APP = Path(__file__).resolve().parents[1] / "streamlit_app.py"
TIMEOUT = 180  # seconds per script run: the first one imports torch and loads data on a slow CPU
RUN_ID = "tiny-run"


@pytest.fixture(scope="session")
def trained_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder holding one finished 1-epoch run on the synthetic set."""
    root = tmp_path_factory.mktemp("trained-runs")
    run = RunStore(root).create(tiny_config(), RUN_ID)
    assert execute(run) is not None, run.log_path.read_text() if run.log_path.exists() else run.raw_status()
    return root


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty runs folder, a private data cache, the synthetic set as default and one allowed data root.

    Runs a test left queued or running (a failed assertion mid-training) are cancelled afterwards.
    """
    for name in ("runs", "cache", "data"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("CIFAR_EXPLORER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("CIFAR_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CIFAR_EXPLORER_DATA", "synthetic")
    monkeypatch.setenv("CIFAR_EXPLORER_DATA_ROOTS", str(tmp_path / "data"))
    yield tmp_path
    for run in RunStore(tmp_path / "runs").list():
        if run.state in ACTIVE_STATES and run.raw_status().get("pid") != os.getpid():
            cancel(run)


@pytest.fixture
def trained_run(app_env: Path, trained_root: Path) -> Run:
    """The session's trained run, copied into this test's runs folder."""
    shutil.copytree(trained_root / RUN_ID, app_env / "runs" / RUN_ID)
    return RunStore(app_env / "runs").get(RUN_ID)


def open_app(page: str | None = None, query_params: dict[str, str] | None = None, session: dict[str, Any] | None = None) -> AppTest:
    """Run the app once (landing on the Dataset page), then switch to ``app_pages/<page>.py``;
    ``session`` is set in the session state first, as an earlier visit to another page leaves it."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in (session or {}).items():
        at.session_state[key] = value
    at.query_params.update(query_params or {})
    at.run()
    if page is not None:
        at.switch_page(f"app_pages/{page}.py").run()
    assert_ok(at)
    return at


def assert_ok(at: AppTest) -> None:
    """No uncaught exception rendered on the page."""
    assert not at.exception, [element.value for element in at.exception]


def errors(at: AppTest) -> list[str]:
    return [element.value for element in at.error]


def page_text(at: AppTest) -> str:
    """All text a user reads on the page (markdown, captions, alerts, headings), for assertions."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error"):
        parts += [str(element.value) for element in getattr(at, kind)]
    return "\n".join(parts)


def metrics(at: AppTest) -> dict[str, str]:
    return {element.label: element.value for element in at.metric}


def charts(at: AppTest) -> list[dict]:
    """The plotly figures on the page, as the JSON the browser receives."""
    return [json.loads(element.proto.spec) for element in at.get("plotly_chart")]


def button(at: AppTest, label: str):
    """The one button whose label starts with ``label``."""
    found = [element for element in at.button if element.label.startswith(label)]
    assert len(found) == 1, [element.label for element in at.button]
    return found[0]


def navigate(at: AppTest, page: str) -> AppTest:
    """Switch pages as the browser does: the new page's run gets none of the old page's widget values."""
    from streamlit.proto.WidgetStates_pb2 import WidgetStates

    at.switch_page(f"app_pages/{page}.py")
    at._run(WidgetStates())
    assert_ok(at)
    return at


def shown_value(widget):
    """The value the browser is told to display: the one the server sets, else the widget's own default."""
    proto = widget.proto
    return proto.value if proto.set_value else proto.default


def deltas_sent_at_scoring(monkeypatch, sent: list) -> list[int]:
    """How many of the recorded deltas ``sent`` the browser had been sent each time the page scored
    images (``ui.loaders.evaluate``): what it showed before the work began."""
    import cifar_core.ui.loaders

    counts: list[int] = []
    score = cifar_core.ui.loaders.evaluate

    def counted(*args, **kwargs):
        counts.append(len(sent))
        return score(*args, **kwargs)

    monkeypatch.setattr(cifar_core.ui.loaders, "evaluate", counted)
    return counts


def record_deltas(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every element or block the app sends from now on, in order (``ForwardMsg`` deltas): what the
    browser receives while a script runs, where ``AppTest``'s tree holds only the end of the run."""
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    sent = []
    enqueue = ForwardMsgQueue.enqueue

    def recording(queue, msg):
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") in ("new_element", "add_block"):
            sent.append(msg)
        enqueue(queue, msg)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", recording)
    return sent


def element_paths(sent: list, kind: str) -> list[tuple[int, ...]]:
    """Where the recorded elements of ``kind`` (``"metric"``, ``"imgs"``, ``"progress"``…) were placed."""
    return [
        tuple(msg.metadata.delta_path)
        for msg in sent
        if msg.delta.WhichOneof("type") == "new_element" and msg.delta.new_element.WhichOneof("type") == kind
    ]


def written_over(sent: list, path: tuple[int, ...]) -> bool:
    """Whether one of the recorded deltas put an element (which drops a container's old contents, where a
    new container would keep them) at ``path`` or at a container holding it, below the page's root."""
    return any(
        msg.delta.WhichOneof("type") == "new_element"
        and 1 < len(msg.metadata.delta_path) <= len(path)
        and path[: len(msg.metadata.delta_path)] == tuple(msg.metadata.delta_path)
        for msg in sent
    )
