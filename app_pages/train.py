"""Train: set up a run, launch it in the background and watch it learn."""

import time
from typing import Any

import streamlit as st

from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.device import resolve_device
from cifar_core.errors import CifarError, RunError
from cifar_core.models import MODEL_REGISTRY
from cifar_core.models.mobilenet import hub_cache_file, load_imagenet_state_dict
from cifar_core.plots import confusion_figure, curves_figure
from cifar_core.presets import PRESETS
from cifar_core.runs import Run, RunStore
from cifar_core.runs.process import cancel, launch
from cifar_core.runs.store import ACTIVE_STATES
from cifar_core.sources import check_path
from cifar_core.train import TrainConfig
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors

ACTIVE = "train_active_run"
LAUNCH_ERROR = "train_launch_error"
LAST_LAUNCH = "train_last_launch"
NONCE = "train_launch_nonce"
AUGMENT = "train_augment"  # ops and params carried over from the Augmentation lab
HANDOFF = "lab_handoff"  # written by the Augmentation lab
RECIPE = "train_recipe"  # the chosen preset's fields that have no widget here (optimizer, schedule, ...)
CUSTOM = "custom"
MODEL_TITLES = {"simple_cnn": "Simple CNN (from scratch)", "mobilenet_v3_large": "MobileNetV3-Large (fine-tune)", "fast_cnn": "Fast CNN (speed recipe)"}
# preset field -> the widget that shows it
WIDGET_FIELDS = {"model": "train_model", "dropout": "train_dropout", "aug_p": "train_aug_p", "mix_p": "train_mix_p",
                 "batch_size": "train_batch_size", "lr": "train_lr", "epochs": "train_epochs", "shuffle": "train_shuffle"}
REFRESH_S = 1.5
DOUBLE_CLICK_S = 5.0
WEIGHT_CHOICES = ("ImageNet weights (cache or download)", "ImageNet weights from a file", "No pretrained weights (random init)")
DEFAULTS = TrainConfig()
# A step event every 5 steps keeps the progress bar moving on small runs (the default of 20 leaves a
# 2,000-image run silent until its epoch ends); it changes only how often metrics.jsonl is written.
LIVE_LOG_EVERY = 5


def _take_handoff() -> None:
    """Apply settings the Augmentation lab carried over, before the widgets are drawn."""
    handoff = st.session_state.pop(HANDOFF, None)
    if handoff:
        state.set_sticky("train_aug_p", handoff["aug_p"])
        state.set_sticky("train_mix_p", handoff["mix_p"])
        st.session_state[AUGMENT] = {"augment_ops": handoff["augment_ops"], "augment_params": handoff["augment_params"]}


def _apply_preset() -> None:
    """Recipe callback: load a preset into the widgets; its other fields ride along unseen."""
    name = st.session_state["train_preset"]
    config = TrainConfig() if name == CUSTOM else PRESETS[name].config()
    for field, key in WIDGET_FIELDS.items():
        state.set_sticky(key, getattr(config, field))
    st.session_state.pop(AUGMENT, None)
    st.session_state.pop(RECIPE, None)
    if name != CUSTOM:
        st.session_state[AUGMENT] = {"augment_ops": config.augment_ops, "augment_params": config.augment_params}
        hidden = set(PRESETS[name].values) - set(WIDGET_FIELDS) - {"augment_ops", "augment_params"}
        st.session_state[RECIPE] = {"model": config.model, "fields": {field: getattr(config, field) for field in hidden}}


def _recipe_fields(model: str) -> dict[str, Any]:
    """The preset's hidden fields; its model options only while its model is still chosen."""
    recipe = st.session_state.get(RECIPE)
    if not recipe:
        return {}
    return {k: v for k, v in recipe["fields"].items() if k != "model_options" or model == recipe["model"]}


def _config_values() -> dict[str, Any]:
    """The form's values as ``TrainConfig`` fields (read from session state, so callbacks can use it)."""
    s = st.session_state
    values: dict[str, Any] = {
        **_recipe_fields(s["train_model"]),
        "model": s["train_model"],
        "data": state.data_source(),
        "dropout": s["train_dropout"],
        "aug_p": s["train_aug_p"],
        "mix_p": s["train_mix_p"],
        "batch_size": s["train_batch_size"],
        "lr": s["train_lr"],
        "shuffle": s["train_shuffle"],
        "epochs": s["train_epochs"],
        "seed": s["train_seed"],
        "limit": s["train_limit"] if s["train_use_limit"] else None,
        "budget_minutes": float(s["train_budget"]) if s["train_use_budget"] else None,
        "log_every": LIVE_LOG_EVERY,
        **s.get(AUGMENT, {}),
    }
    if values["model"] == "mobilenet_v3_large":
        choice = s["train_weights"]
        values["model_options"] = {
            "pretrained": choice != WEIGHT_CHOICES[2],
            "weights_path": str(check_path(s["train_weights_path"], what="weights file")) if choice == WEIGHT_CHOICES[1] else None,
            "resolution": s["train_resolution"],
            "freeze_backbone": s["train_freeze"],
        }
    return values


def _check_weights(config: TrainConfig) -> None:
    """Fail before launching when ImageNet weights are wanted but cannot be had (online: downloads them)."""
    options = config.model_options
    if config.model == "mobilenet_v3_large" and options.get("pretrained", True):
        if options.get("weights_path") or not hub_cache_file().is_file():
            load_imagenet_state_dict(options.get("weights_path"))


def _launch() -> None:
    """Button callback: validate, create the run folder, start its worker, and remember the run."""
    try:
        config = TrainConfig.from_dict(_config_values())
        _check_weights(config)
    except CifarError as exc:
        st.session_state[LAUNCH_ERROR] = str(exc)
        return
    fingerprint = repr(sorted(config.to_dict().items()))
    last = st.session_state.get(LAST_LAUNCH)
    if last and last[0] == fingerprint and time.time() - last[1] < DOUBLE_CLICK_S:
        return  # the same click delivered twice
    st.session_state[LAST_LAUNCH] = (fingerprint, time.time())
    try:
        run = RunStore().create(config)
        launch(run)
    except CifarError as exc:
        st.session_state[LAUNCH_ERROR] = str(exc)
        return
    st.session_state[ACTIVE] = run.id
    st.session_state[NONCE] = st.session_state.get(NONCE, 0) + 1  # a new button: stale clicks are dropped
    st.query_params["run"] = run.id
    state.select_run(run.id)


def _shown_run(store: RunStore) -> Run | None:
    """The run to watch: the URL's, else this session's last launch, else the newest active run on disk."""
    for candidate in (st.query_params.get("run"), st.session_state.get(ACTIVE)):
        if candidate:
            try:
                return store.get(candidate)
            except RunError:
                continue
    return next((run for run in store.list() if run.state in ACTIVE_STATES), None)


def _form() -> None:
    st.subheader("Set up a run")
    recipe = st.selectbox(
        "Recipe", [CUSTOM, *PRESETS], key=state.sticky("train_preset", CUSTOM), on_change=_apply_preset,
        format_func=lambda name: "Custom (study defaults)" if name == CUSTOM else name,
        help="A preset loads a whole recipe: model, hyper-parameters and settings not shown here (optimizer, schedule).",
    )
    if recipe != CUSTOM:
        st.caption(PRESETS[recipe].description)
    model = st.selectbox(
        "Model", list(MODEL_REGISTRY), key=state.sticky("train_model", DEFAULTS.model),
        format_func=lambda name: MODEL_TITLES.get(name, name),
    )
    st.caption(MODEL_REGISTRY[model].description)
    if model == "mobilenet_v3_large":
        _mobilenet_options()
    st.slider("Dropout", 0.0, 0.95, step=0.05, key=state.sticky("train_dropout", DEFAULTS.dropout),
              help="Share of activations randomly zeroed while training: another regularizer.")
    st.slider("aug_p: chance of each standard augmentation", 0.0, 1.0, step=0.01, key=state.sticky("train_aug_p", DEFAULTS.aug_p))
    st.slider("mix_p: chance of CutMix", 0.0, 1.0, step=0.01, key=state.sticky("train_mix_p", DEFAULTS.mix_p))
    carried = st.session_state.get(AUGMENT)
    if carried:
        st.info(f"Augmentations from the lab: {', '.join(carried['augment_ops']) or 'none'}"
                + (f", parameters {carried['augment_params']}" if carried["augment_params"] else ""))
        if st.button("Back to the study's augmentations"):
            del st.session_state[AUGMENT]
            st.rerun()
    else:
        st.caption(f"Augmentations: {', '.join(DEFAULTS.augment_ops)} (the study's). Change them in the Augmentation lab.")
    left, right = st.columns(2)
    left.number_input("Batch size", step=32, key=state.sticky("train_batch_size", DEFAULTS.batch_size))
    right.number_input("Learning rate", step=1e-4, format="%.5f", key=state.sticky("train_lr", DEFAULTS.lr))
    left.number_input("Epochs", step=1, key=state.sticky("train_epochs", DEFAULTS.epochs))
    right.number_input("Seed", step=1, key=state.sticky("train_seed", DEFAULTS.seed))
    st.checkbox("Shuffle the training images every epoch", key=state.sticky("train_shuffle", DEFAULTS.shuffle))
    use_limit = st.checkbox("Train on part of the images only (faster)", key=state.sticky("train_use_limit", DEFAULTS.limit is not None))
    if use_limit:
        st.number_input("Number of images (class-balanced)", step=500, key=state.sticky("train_limit", 2000))
    else:
        state.sticky("train_limit", 2000)
    use_budget = st.checkbox(
        "Fit training into a time budget", key=state.sticky("train_use_budget", False),
        help="The first steps are timed on this device; the epochs (at most the number above) and the "
        "learning-rate schedule are then set so training ends within the budget.",
    )
    if use_budget:
        st.number_input("Budget (minutes)", min_value=0.1, step=1.0, key=state.sticky("train_budget", 5.0))
    else:
        state.sticky("train_budget", 5.0)

    config = None
    try:
        config = TrainConfig.from_dict(_config_values())
    except CifarError as exc:
        st.error(str(exc))
    if error := st.session_state.pop(LAUNCH_ERROR, None):
        st.error(error)
    st.button(
        "Start training", type="primary", icon=":material/play_arrow:", on_click=_launch, disabled=config is None,
        key=f"train_launch_{st.session_state.get(NONCE, 0)}", width="stretch",
    )
    device = resolve_device("auto")
    st.caption(
        f"Trains on **{device.type}** in a background process: you can leave this page and come back. "
        + ("On a CPU one run trains at a time; later launches wait as *queued*." if device.type == "cpu" else "")
    )


def _mobilenet_options() -> None:
    cached = hub_cache_file().is_file()
    if not cached:
        st.warning(
            f"ImageNet weights for MobileNetV3-Large are not in the local cache ({hub_cache_file()}). "
            "Online, they are downloaded when you start; offline, name a weights file or train without them."
        )
    choice = st.radio("Starting weights", WEIGHT_CHOICES, key=state.sticky("train_weights", WEIGHT_CHOICES[0]))
    if choice == WEIGHT_CHOICES[1]:
        st.text_input("Weights file (.pth)", key=state.sticky("train_weights_path", ""))
    else:
        state.sticky("train_weights_path", "")
    st.select_slider("Input size (images are resized up)", [32, 64, 96, 128, 160, 224], key=state.sticky("train_resolution", 224),
                     help="The study used 224, the size ImageNet features were learned at; 64 is about 10x faster on a CPU.")
    st.checkbox("Train only the new head (freeze the backbone)", key=state.sticky("train_freeze", False))


def _cancel(run: Run) -> None:
    try:
        cancel(run)
    except CifarError as exc:
        st.session_state[LAUNCH_ERROR] = str(exc)


def _live(run: Run, was_active: bool) -> None:
    """Everything read from the run folder; reruns on a timer while the run is active."""
    status = run.status()
    run_state = status["state"]
    if was_active and run_state not in ACTIVE_STATES:
        st.rerun()  # finished: redraw the page once, without the timer
    st.markdown(f"### Run `{run.id}` · {run_state}")
    if run_state == "queued":
        ahead = [other.id for other in RunStore(run.dir.parent).list() if other.id != run.id and other.state == "running"]
        st.info(
            f"Queued: waiting for `{ahead[0]}` to finish (one run trains at a time on a CPU)." if ahead
            else "Queued: the training process is starting…",
            icon=":material/hourglass_top:",
        )
    elif run_state in ("failed", "interrupted"):
        st.error(f"This run {run_state}: {status.get('error') or 'no reason recorded'}. See {run.log_path}.")
    elif run_state == "cancelled":
        st.warning("This run was cancelled; the Runs page can resume it from its last finished epoch.")
    events = run.events()
    steps = [event for event in events if event["type"] == "step"]
    epochs = [event for event in events if event["type"] == "epoch"]
    budget = next((event for event in reversed(events) if event["type"] == "budget"), None)
    total_epochs = budget["epochs"] if budget else run.config().epochs
    if steps and run_state == "running":
        last = steps[-1]
        epoch_steps = last.get("epoch_steps", last["steps_per_epoch"])  # a budget may cut the last epoch short
        st.progress(
            min(1.0, last["step"] / epoch_steps),
            text=f"Epoch {last['epoch']}/{total_epochs} · step {last['step']}/{epoch_steps} · "
            f"{last['images_per_s']:.0f} images/s · about {last['eta_s']:.0f} s left in this epoch",
        )
    elif run_state == "running":
        st.progress(0.0, text="Starting: loading data and building the model…")
    columns = st.columns(4)
    columns[0].metric("Epochs done", f"{len(epochs)}/{total_epochs}")
    val_accs = [event["val_acc"] for event in epochs if event.get("val_acc") is not None]
    columns[1].metric("Best val accuracy", f"{max(val_accs):.1%}" if val_accs else "–")
    columns[2].metric("Last train loss", f"{(epochs or steps)[-1]['train_loss']:.3f}" if (epochs or steps) else "–")
    if epochs and epochs[-1].get("val_acc") is not None:
        gap = epochs[-1]["train_acc"] - epochs[-1]["val_acc"]
        columns[3].metric("Train − val accuracy", f"{gap:+.1%}", help="A growing gap means the model memorises its training images.")
    if active := run_state in ACTIVE_STATES:
        st.button("Cancel run", icon=":material/stop:", on_click=_cancel, args=(run,), key=f"cancel_{run.id}")
    if steps or epochs:
        st.plotly_chart(curves_figure({run.id: events}), key=f"curves_{run.id}")
    confusion = next((event["confusion"] for event in reversed(epochs) if event.get("confusion")), None)
    if confusion is not None:
        st.plotly_chart(
            confusion_figure(confusion, CIFAR10_CLASSES, normalize=True, title=f"Validation confusion after epoch {epochs[-1]['epoch']} (row-normalised)"),
            key=f"confusion_{run.id}",
        )
    elif active:
        st.caption("The validation confusion matrix appears after the first epoch.")
    with st.expander("Configuration"):
        st.json(run.config().to_dict(), expanded=False)


st.title("Train")
st.markdown(
    "Training shows the model batches of images, measures how wrong it is (the **loss**) and nudges its "
    "weights to be less wrong. After each pass over the data (an **epoch**) it is scored on **validation** "
    "images it never trains on. Watch the two curves: while both improve the model is learning; when "
    "training accuracy keeps rising but validation stalls, the **gap** between them is memorisation "
    "(overfitting) — that is what dropout and augmentation fight."
)
if state.is_synthetic():
    st.caption("Training on the SYNTHETIC demo set (not CIFAR-10); load real data on the Dataset page.")
_take_handoff()
store = RunStore()
form_column, live_column = st.columns([1, 2], gap="large")
with form_column:
    _form()
with live_column:
    shown = None
    with user_errors():
        shown = _shown_run(store)
    if shown is None:
        st.info("No run to show yet: set up a run on the left and press **Start training**.")
    else:
        st.session_state[ACTIVE] = shown.id
        if st.query_params.get("run") != shown.id:
            st.query_params["run"] = shown.id
        is_active = shown.state in ACTIVE_STATES
        with user_errors():
            st.fragment(_live, run_every=REFRESH_S if is_active else None)(shown, is_active)
