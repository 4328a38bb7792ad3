"""A class on one server: each browser keeps its own state, and the run picker keeps each student's runs in view.

A browser is its ``?b=`` token: two ``AppTest`` sessions with the same token are the same
browser after a reload, two with different tokens are two students.
"""

from __future__ import annotations

import json
import re
import time

from app_support import app_env, assert_ok, button, open_app, trained_root, trained_run  # noqa: F401  (fixtures)
from study_support import GRID, tiny_base
from support import standing_in, tiny_config

from cifar_core.runs import RunStore
from cifar_core.study import StudyFolder, studies_root
from cifar_core.study.definition import plan_study
from cifar_core.ui import browser
from cifar_core.ui.queue import queue_note
from cifar_core.ui.sidebar import LABEL_FITS, PICK, STUDY_PICK, run_choices, short_label
from cifar_core.ui.state import restorable

ALICE = "a" * 16
BOB = "b0b0b0b0b0b0b0b0"


def number(at, key: str):
    return next(widget for widget in at.number_input if widget.key == key)


def test_each_browser_gets_its_own_train_form_and_a_reload_brings_it_back(app_env):  # noqa: F811
    alice = open_app("train", query_params={"b": ALICE})
    assert number(alice, "train_epochs").value == 30  # the classroom recipe
    number(alice, "train_epochs").set_value(7).run()
    number(alice, "train_seed").set_value(3).run()
    saved = json.loads(browser.state_path(app_env / "runs", ALICE).read_text())
    assert (saved["train_epochs"], saved["train_seed"]) == (7, 3)

    bob = open_app("train", query_params={"b": BOB})
    assert (number(bob, "train_epochs").value, number(bob, "train_seed").value) == (30, 0)
    number(bob, "train_epochs").set_value(12).run()

    reloaded = open_app("train", query_params={"b": ALICE})  # a reload: a new session, the same URL
    assert (number(reloaded, "train_epochs").value, number(reloaded, "train_seed").value) == (7, 3)
    assert reloaded.query_params["b"] == ALICE
    assert not (app_env / "runs" / "train_form.json").exists()


def test_two_tabs_of_one_browser_each_start_their_run_and_both_stay_that_browsers_own(app_env):  # noqa: F811
    """Two tabs share the token, and each press of Start is its own run (the double-click guard is per tab).

    If a session wrote back the whole copy of the browser's file it read once, the second tab's save
    would drop the first tab's run from the own runs, and after a reload on a class server this
    browser could not cancel it; so a save changes only its own key.
    """
    small = {"train_preset": "custom", "train_epochs": 1, "train_batch_size": 16, "train_use_limit": True, "train_limit": 200}
    tabs = [open_app("train", query_params={"b": ALICE}, session=small) for _ in range(2)]
    for tab in tabs:
        button(tab, "Start training").click().run()
        assert_ok(tab)
    runs = [run.id for run in RunStore(app_env / "runs").list()]
    assert len(runs) == 2
    assert sorted(browser.load_values(app_env / "runs", ALICE)[browser.OWN_RUNS]) == sorted(runs)
    assert {tab.query_params["run"] for tab in tabs} == set(runs)  # each tab watches the run it started


def test_each_number_box_paints_the_value_it_holds_from_its_first_frame(app_env):  # noqa: F811
    """A box's element default is what the browser paints before it applies the session's value.

    CI read Epochs '0' right after a reload (7 saved): the box had no default of its own, so it
    painted 0 until an effect after that paint put 7 in. A saved value outside a box's bounds (a
    hand-edited file) gives way to the recipe's.
    """
    browser.save_values(app_env / "runs", ALICE, {"train_epochs": 7, "train_seed": 3, "train_use_budget": True, "train_budget": 0.01})
    reloaded = open_app("train", query_params={"b": ALICE})
    keys = ("train_epochs", "train_seed", "train_budget")
    painted = {key: (number(reloaded, key).value, number(reloaded, key).proto.default) for key in keys}
    assert painted == {"train_epochs": (7, 7), "train_seed": (3, 3), "train_budget": (1.25, 1.25)}

    fresh = open_app("train", query_params={"b": BOB})
    assert (number(fresh, "train_epochs").proto.default, number(fresh, "train_lr").proto.default) == (30, 0.2)  # the classroom recipe
    number(fresh, "train_epochs").set_value(12).run()
    assert number(fresh, "train_epochs").proto.default == 12  # a remount (page switch) paints the last edit too


def test_a_hostile_or_missing_token_gets_a_fresh_one_and_reads_nothing_else(app_env):  # noqa: F811
    alice = open_app("train", query_params={"b": ALICE})
    number(alice, "train_epochs").set_value(9).run()
    for hostile in ("../" + ALICE, ALICE.upper(), ALICE + "0", "", "x" * 5000):
        at = open_app("train", query_params={"b": hostile})
        token = at.query_params["b"]
        assert browser.valid_token(token) and token != ALICE
        assert number(at, "train_epochs").value == 30
    assert sorted(path.name for path in (app_env / "runs" / browser.FOLDER).iterdir()) == [f"{ALICE}.json"]


def test_a_damaged_or_oversized_state_file_is_ignored(app_env):  # noqa: F811
    path = browser.state_path(app_env / "runs", ALICE)
    path.parent.mkdir()
    for content in ("{not json", "[1, 2]", json.dumps({"train_epochs": "many", "train_model": "resnet999"}), "x" * 300_000):
        path.write_text(content)
        at = open_app("train", query_params={"b": ALICE})
        assert (number(at, "train_epochs").value, at.selectbox(key="train_model").value) == (30, "fast_cnn")


def test_saved_values_are_restored_only_in_the_widgets_shape():
    assert restorable([-30, 30], (-10, 10)) == (-30, 30)
    assert restorable([1, 2, 3], (0, 1)) is None
    assert restorable(["__run__", "test"], ("__run__", "val")) == ("__run__", "test")
    assert restorable(True, 0) is None and restorable(3, 0.5) == 3.0 and restorable(float("nan"), 0.5) is None
    assert restorable("x", 1) is None and restorable([90, "a"], [90]) is None


def test_state_files_are_capped_in_number(tmp_path, monkeypatch):
    monkeypatch.setattr(browser, "MAX_BROWSERS", 3)
    tokens = [browser.new_token() for _ in range(5)]
    for token in tokens:
        assert browser.save_values(tmp_path, token, {"k": token})
        time.sleep(0.01)
    assert sorted(path.stem for path in browser.folder(tmp_path).iterdir()) == sorted(tokens[2:])
    assert not browser.save_values(tmp_path, tokens[0], {"k": "x" * (browser.MAX_STATE_BYTES + 1)})


def _fake_study(root) -> StudyFolder:
    """A planned study whose run folders exist (queued, untrained), as the selector sees one mid-way."""
    study = plan_study(tiny_base(), root, grid=GRID, seeds=2)
    folder = StudyFolder.create(studies_root(root) / study.id, study)
    for planned in study.runs:
        RunStore(root).create(tiny_config(), planned.run_id)
    return folder


def test_the_selector_lists_own_runs_first_and_each_study_once(trained_run, app_env):  # noqa: F811
    root = app_env / "runs"
    store = RunStore(root)
    mine = store.create(tiny_config(), "simple_cnn-20261202-080000-aaaa")
    store.create(tiny_config(), "simple_cnn-20261202-090000-bbbb")  # another student's, newer
    browser.save_values(root, ALICE, {browser.OWN_RUNS: [mine.id]})
    folder = _fake_study(root)  # the newest of all
    at = open_app("evaluate", query_params={"b": ALICE})
    picker = at.sidebar.selectbox(key=PICK)
    entries = picker.options
    assert entries[0] == "★ simple_cnn aaaa ‖ · 08:00 Dec 02"  # created, never launched: interrupted
    assert entries[1] == "simple_cnn bbbb ‖ · 09:00 Dec 02"
    assert len(entries) == 4 and re.match(r"▸ \S+ [0-9a-f]{4} \(8 runs\) · ", entries[3])
    assert picker.value == mine.id  # a new browser opens on its own newest run, not the study's
    # the picker cuts the time; the caption under it gives the whole label, the state as a word
    assert "simple_cnn aaaa · 08:00 Dec 02 · interrupted" in [caption.value for caption in at.sidebar.caption]

    picker.set_value("study:" + folder.dir.name).run()
    assert_ok(at)
    inner = at.sidebar.selectbox(key=STUDY_PICK)
    assert len(inner.options) == 8
    inner.set_value(folder.study().runs[3].run_id).run()
    assert at.session_state["selected_run"] == folder.study().runs[3].run_id

    reloaded = open_app("evaluate", query_params={"b": ALICE})
    assert reloaded.session_state["selected_run"] == folder.study().runs[3].run_id
    assert reloaded.sidebar.selectbox(key=PICK).value == "study:" + folder.dir.name


def test_a_new_run_elsewhere_does_not_move_the_selection(trained_run):  # noqa: F811
    at = open_app("evaluate", query_params={"b": ALICE})
    assert at.session_state["selected_run"] == trained_run.id
    RunStore().create(tiny_config(), "simple_cnn-20991231-235959-ffff")
    at.run()
    assert at.session_state["selected_run"] == trained_run.id
    assert at.sidebar.selectbox(key=PICK).options[0].startswith("simple_cnn ffff")


def test_a_reload_on_evaluate_keeps_the_run_and_the_scored_set(trained_run):  # noqa: F811
    RunStore().create(tiny_config(), "zz-newer")
    at = open_app("evaluate", query_params={"b": ALICE})
    at.sidebar.selectbox(key=PICK).set_value(trained_run.id).run()
    at.selectbox(key="evaluate_images").set_value(("__run__", "test")).run()
    assert_ok(at)
    reloaded = open_app("evaluate", query_params={"b": ALICE})
    assert reloaded.session_state["selected_run"] == trained_run.id
    assert reloaded.selectbox(key="evaluate_images").value == ("__run__", "test")
    assert any("test images" in caption.value for caption in reloaded.caption)


def test_labels_keep_the_whole_short_id():
    assert short_label("fast_cnn-20261202-074133-858e") == "fast_cnn 858e · 07:41 Dec 02"
    assert short_label("fast_cnn-20261202-074133-858e", "my best", "✓") == "my best 858e ✓ · 07:41 Dec 02"
    assert short_label("ablation-20261202-074133-858e-09-all-s2") == "ablation 09-all-s2 · 07:41 Dec 02"
    assert short_label("tiny-run") == "tiny-run"
    # what the sidebar must show uncut: name, id and state fit, only the time may be cut
    assert len(short_label("fast_cnn-20261202-074133-858e", "", "✓").split(" · ")[0]) <= LABEL_FITS


def test_run_choices_put_own_runs_first_and_group_studies(tmp_path):
    store = RunStore(tmp_path)
    runs = [store.create(tiny_config(), f"simple_cnn-20261202-{i:06d}-{i % 65536:04x}") for i in range(40)]
    runs = store.list()
    studies = {"ablation-20261202-000000-0000": [run.id for run in runs[:30]]}
    own = [runs[35].id]
    choices = run_choices(runs, studies, own, {})
    assert choices.entries[0] == runs[35].id
    assert len(choices.entries) == 10 + 1 and choices.entries[-1] == "study:ablation-20261202-000000-0000"
    assert choices.study_runs[choices.entries[-1]] == [run.id for run in runs[:30]]


def _delete_button(at):
    return next(widget for widget in at.button if widget.label == "Delete run")


def test_on_a_class_server_only_the_owner_or_the_teacher_may_delete_a_run(trained_run, monkeypatch):  # noqa: F811
    student = open_app("runs", query_params={"b": BOB})  # CIFAR_EXPLORER_DATA_ROOTS is set: served
    student.checkbox(key="runs_confirm_tiny-run").check().run()
    assert _delete_button(student).disabled
    assert any("started from another browser" in caption.value for caption in student.caption)

    browser.save_values(trained_run.dir.parent, ALICE, {browser.OWN_RUNS: [trained_run.id]})
    owner = open_app("runs", query_params={"b": ALICE})
    owner.checkbox(key="runs_confirm_tiny-run").check().run()
    assert not _delete_button(owner).disabled

    monkeypatch.setenv("CIFAR_EXPLORER_TEACHER_KEY", "k3y")
    teacher = open_app("runs", query_params={"b": BOB})
    teacher.text_input(key="teacher_key").input("wrong").run()
    assert any("not this server's teacher key" in error.value for error in teacher.error)
    teacher.text_input(key="teacher_key").input("k3y").run()
    teacher.checkbox(key="runs_confirm_tiny-run").check().run()
    _delete_button(teacher).click().run()
    assert_ok(teacher)
    assert not trained_run.dir.exists()


def test_a_queued_run_says_its_place_and_the_training_ahead(tmp_path):
    store = RunStore(tmp_path)
    first = store.create(tiny_config(budget_minutes=2.0), "first")
    second = store.create(tiny_config(budget_minutes=3.0), "second")
    third = store.create(tiny_config(), "third")
    fourth = store.create(tiny_config(), "fourth")
    with standing_in(first, second, third, fourth) as me:  # this process stands in for the workers
        first.update_status(state="running", started=1000.0, **me)
        for run in (second, third, fourth):
            run.update_status(state="queued", **me)
        runs = store.list()
        assert queue_note(second, runs, now=1030.0) == (
            "Queued: number 2 in line, behind `first` (training) (one run trains at a time on a CPU); about 1.5 min of training ahead."
        )
        assert queue_note(third, runs, now=1030.0).startswith("Queued: number 3 in line, behind `first` (training), `second` (one run")
        assert "about 4.5 min of training ahead" in queue_note(third, runs, now=1030.0)
        assert "has no time budget" in queue_note(fourth, runs, now=1030.0)  # `third` has none
