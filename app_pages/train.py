"""Train: set up a run, launch it in the background and watch it learn."""

import time
from typing import Any

import streamlit as st

from cifar_core.app.lab import describe_augmentations
from cifar_core.app.train_form import (
    CUSTOM,
    DEFAULT_PRESET,
    KEY_PREFIX,
    RESOLUTIONS,
    WEIGHT_CHOICES,
    TrainForm,
    check_trainable,
    config_field,
    form_config,
    widget_arguments,
)
from cifar_core.classes import CIFAR10_CLASSES
from cifar_core.device import resolve_device
from cifar_core.errors import CifarError, RunError, WeightsUnavailableError
from cifar_core.figures.runs import confusion_figure, curves_figure
from cifar_core.models import MODEL_REGISTRY
from cifar_core.models.mobilenet import hub_cache_file, load_imagenet_state_dict
from cifar_core.runs import Run, RunStore
from cifar_core.runs.health import chance_warning
from cifar_core.runs.process import cancel, launch
from cifar_core.runs.progress import plan_changes
from cifar_core.runs.store import ACTIVE_STATES
from cifar_core.study.estimate import budget_epochs
from cifar_core.train import TrainConfig
from cifar_core.train.presets import PRESETS, too_few_epochs
from cifar_core.ui import browser, permissions, state
from cifar_core.ui.estimates import run_estimate, throughput
from cifar_core.ui.feedback import show_error, user_errors
from cifar_core.ui.loaders import load_data
from cifar_core.ui.queue import queue_note

ACTIVE = "train_active_run"
LAUNCH_ERROR = "train_launch_error"
LAST_LAUNCH = "train_last_launch"
NONCE = "train_launch_nonce"
MODEL_TITLES = {
    "simple_cnn": "Simple CNN (from scratch)",
    "mobilenet_v3_large": "MobileNetV3-Large (fine-tune)",
    "fast_cnn": "Fast CNN (speed recipe)",
}
# train_acc is the running accuracy over the epoch's augmented (and CutMix-mixed) batches with
# dropout on (engine.RunningTotals); val_acc is measured after the epoch on plain images.
GAP_HELP = (
    "Training accuracy minus validation accuracy in the last epoch. A growing positive gap means the model "
    "memorises its training images. A negative gap is normal early on or with strong augmentation or dropout: "
    "training accuracy is measured on the altered training images with dropout switched on, and averaged over "
    "an epoch in which the model was still improving, while validation uses plain images after the epoch."
)
REFRESH_S = 2.0
CHARTS_REFRESH_S = 10.0  # see _live_charts
DOUBLE_CLICK_S = 5.0
DEFAULTS = TrainForm.for_preset(DEFAULT_PRESET)  # what train_form() seeds a new session with


def _apply_preset() -> None:
    """Recipe callback: the recipe fills the whole form (its budget box included); the seed stays."""
    state.set_train_form(TrainForm.for_preset(st.session_state["train_preset"], seed=st.session_state["train_seed"]))


def _check_weights(config: TrainConfig) -> None:
    """Fail before launching when ImageNet weights are wanted but cannot be had (online: downloads them)."""
    options = config.model_options
    if config.model == "mobilenet_v3_large" and options.get("pretrained", True):
        if options.get("weights_path") or not hub_cache_file().is_file():
            try:
                load_imagenet_state_dict(options.get("weights_path"))
            except WeightsUnavailableError as exc:
                if options.get("weights_path"):
                    raise
                raise WeightsUnavailableError(
                    "The ImageNet weights for MobileNetV3-Large are not on this computer and cannot be downloaded "
                    f"(not available offline): copy the file {hub_cache_file().name} into {hub_cache_file().parent}, "
                    "or choose “ImageNet weights from a file” and give its path, or “No pretrained weights”."
                ) from exc


def _launch() -> None:
    """Button callback: validate, refuse a source without training images, create the run folder, start its worker."""
    try:
        config = form_config(state.train_form(), state.data_source())
        check_trainable(load_data(config.data))
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
    browser.add_own_run(run.id)
    st.session_state[ACTIVE] = run.id
    st.session_state[NONCE] = st.session_state.get(NONCE, 0) + 1  # a new button: stale clicks are dropped
    st.query_params["run"] = run.id  # this page watches the new run; the sidebar keeps the run the user chose


def _shown_run(store: RunStore) -> Run | None:
    """The run to watch: the URL's, else this session's last launch, else the newest active run, else the newest finished one."""
    for candidate in (st.query_params.get("run"), st.session_state.get(ACTIVE)):
        if candidate:
            try:
                return store.get(candidate)
            except RunError:
                continue
    runs = store.list()
    return next((run for run in runs if run.state in ACTIVE_STATES), None) or next((run for run in runs if run.state == "finished"), None)


def _augmentations(form: TrainForm, config: TrainConfig | None) -> None:
    """Which augmentations the run will use, in words, and where they came from."""
    if form.augment:
        origin = "from the Augmentation lab"
    elif form.preset != CUSTOM:
        origin = f"from the {form.preset} recipe"
    else:
        origin = "the study's"
    if config is None:  # a bad value above: "none" would be a false statement about the recipe
        st.markdown(f"**Augmentations** ({origin}): listed here once the values above are valid.")
    else:
        phrases = describe_augmentations(config)
        st.markdown(f"**Augmentations** ({origin}): " + ("; ".join(phrases) if phrases else "none") + ".")
    if form.augment:
        if st.button("Back to the recipe's augmentations"):
            st.session_state[state.TRAIN_AUGMENT] = None
            st.rerun()
    else:
        st.caption("Change them in the Augmentation lab.")


def _field(container: Any, name: str, label: str, **extra: Any) -> Any:
    """Draw form field ``name`` as its config field's widget, with that field's range, step and help
    (``widget_arguments``), keeping its value across pages and reloads (``state.persist``)."""
    arguments = {**widget_arguments(name), **extra}
    key, default = KEY_PREFIX + name, getattr(DEFAULTS, name)
    kind = config_field(name).widget.kind
    if kind == "number":
        bounds = {bound: arguments.pop(bound) for bound in ("min_value", "max_value") if bound in arguments}
        return container.number_input(label, **arguments, **state.persist_number(key, default, **bounds))
    draw = {"select": container.selectbox, "slider": container.slider, "checkbox": container.checkbox}[kind]
    return draw(label, **arguments, **state.persist(key, default))


def _recipe() -> None:
    """The recipe picker: a recipe fills the whole form (``_apply_preset``)."""
    recipe = st.selectbox(
        "Recipe",
        [*PRESETS, CUSTOM],
        **state.persist("train_preset", DEFAULTS.preset),
        on_change=_apply_preset,
        format_func=lambda name: "Custom (study defaults)" if name == CUSTOM else name,
        help="A recipe loads a whole setup: model, hyper-parameters and settings not shown here (optimizer, schedule).",
    )
    if recipe != CUSTOM:
        st.caption(PRESETS[recipe].description)
    # Choosing the recipe the box already shows sends no change, so an edited form offers the
    # recipe again here: every value it sets comes back, its time budget included.
    if state.train_form().edited():
        st.button(
            f"Restore the {recipe} recipe" if recipe != CUSTOM else "Restore the study defaults",
            icon=":material/restart_alt:",
            on_click=_apply_preset,
            help="Puts back every value the recipe sets (the time budget and augmentations included); the seed stays.",
        )


def _model() -> None:
    """The model, what it is, and MobileNet's own options when it is chosen."""
    model = _field(st, "model", "Model", format_func=lambda name: MODEL_TITLES.get(name, name))
    st.caption(MODEL_REGISTRY[model].description)
    if model == "mobilenet_v3_large":
        _mobilenet_options()


def _regularisers() -> None:
    """Dropout and the two augmentation probabilities: the levers against memorising the training images."""
    _field(st, "dropout", "Dropout")
    _field(st, "aug_p", "aug_p: chance of each standard augmentation")
    _field(st, "mix_p", "mix_p: chance of CutMix")


def _training() -> None:
    """Batch size, learning rate, epochs and seed in two columns, then shuffling."""
    left, right = st.columns(2)
    _field(left, "batch_size", "Batch size")
    _field(right, "epochs", "Epochs")
    # a row of its own: a half-width box cuts off a value like 0.20000
    _field(st, "lr", "Learning rate")
    _field(st, "seed", "Seed")
    _field(st, "shuffle", "Shuffle each epoch")


def _subset_and_budget() -> None:
    """Part of the images and a time budget, each a box that appears once its checkbox is ticked."""
    if st.checkbox("Train on part of the images only (faster)", **state.persist("train_use_limit", DEFAULTS.use_limit)):
        _field(st, "limit", "Number of images (class-balanced)")
    if st.checkbox(
        "Fit training into a time budget",
        **state.persist("train_use_budget", DEFAULTS.use_budget),
        help="The first steps are timed on this device; the epochs and the learning-rate schedule are then "
        "set so training uses the whole budget, and refitted as the run goes if the machine gets faster or slower.",
    ):
        _field(st, "budget", "Budget (minutes)")


def _form(store: RunStore) -> None:
    """The run's settings, the run they describe (or the sentence naming a bad value), its estimate and Start."""
    st.subheader("Set up a run")
    state.train_form()  # a new session starts from this browser's saved form
    _recipe()
    _model()
    _regularisers()
    augment_slot = st.container()
    _training()
    _subset_and_budget()
    form = state.train_form()
    config = None
    try:
        config = form_config(form, state.data_source())
    except CifarError as exc:
        show_error(str(exc))
    with augment_slot:
        _augmentations(form, config)
    _start(config, store)


def _start(config: TrainConfig | None, store: RunStore) -> None:
    """The data check, the last launch's error, the time estimate and the Start button (disabled while nothing can start)."""
    data = None
    with user_errors("Could not load the data: "):
        loaded = load_data(state.data_source())
        check_trainable(loaded)
        data = loaded  # only a source that can be trained on gets an estimate
    launch_error = st.session_state.pop(LAUNCH_ERROR, None)
    if launch_error:
        show_error(launch_error)
    if config is not None and data is not None:
        with user_errors():
            _, words = run_estimate(config, len(data.splits["train"]), store)
            st.markdown(f"**Estimated time:** {words}, from Start to the end of training.")
            _budget_plan(config, len(data.splits["train"]), store)
    st.button(
        "Start training",
        type="primary",
        icon=":material/play_arrow:",
        on_click=_launch,
        disabled=config is None or data is None,
        key=f"train_launch_{st.session_state.get(NONCE, 0)}",
        width="stretch",
    )
    device = resolve_device("auto")
    st.caption(
        f"Trains on **{device.type}** in a background process: you can leave this page and come back. "
        + ("On a CPU one run trains at a time; later launches wait as *queued*." if device.type == "cpu" else "")
    )


def _budget_plan(config: TrainConfig, dataset_size: int, store: RunStore) -> None:
    """How many epochs the budget buys at the speed measured now, and a plain warning when too few to learn."""
    epochs = budget_epochs(config, dataset_size, throughput(config, store))
    if epochs is None:
        return
    st.markdown(f"**The budget buys about {epochs} epoch{'s' if epochs != 1 else ''}** at this machine's speed now.")
    if sentence := too_few_epochs(st.session_state.get("train_preset", CUSTOM), epochs):
        st.warning(sentence)


def _mobilenet_options() -> None:
    if not hub_cache_file().is_file():
        st.warning(
            "The ImageNet weights for MobileNetV3-Large are not in this computer's model cache. With internet they "
            f"are downloaded when you press Start; without it, copy the file {hub_cache_file().name} into "
            f"{hub_cache_file().parent}, or choose “ImageNet weights from a file” below, or train without them."
        )
    choice = st.radio("Starting weights", WEIGHT_CHOICES, **state.persist("train_weights", DEFAULTS.weights))
    if choice == WEIGHT_CHOICES[1]:
        st.text_input(
            "Weights file (.pth)",
            **state.persist("train_weights_path", DEFAULTS.weights_path),
            help="The path of a MobileNetV3-Large ImageNet weights file on this computer.",
        )
    st.select_slider(
        "Input size (images are resized up)",
        list(RESOLUTIONS),
        **state.persist("train_resolution", DEFAULTS.resolution),
        help="The study used 224, the size ImageNet features were learned at; 64 is about 10x faster on a CPU.",
    )
    st.checkbox(
        "Train only the new head",
        **state.persist("train_freeze", DEFAULTS.freeze),
        help="Keep the ImageNet-trained layers fixed (frozen) and train only the new last layers: much faster, usually less accurate.",
    )


def _cancel(run: Run) -> None:
    if not permissions.may_manage(run.id):  # the button is disabled; a stale click is refused here too
        st.session_state[LAUNCH_ERROR] = permissions.refusal(run.id)
        return
    try:
        cancel(run)
    except CifarError as exc:
        st.session_state[LAUNCH_ERROR] = str(exc)


def _open_evaluate(run_id: str) -> None:
    state.select_run(run_id)
    st.switch_page("app_pages/evaluate.py")


def _actions(run: Run, active: bool) -> None:
    """Cancel while it trains (its own browser or the teacher only), else open it on Evaluate."""
    if active:
        allowed = permissions.may_manage(run.id)
        st.button("Cancel run", icon=":material/stop:", on_click=_cancel, args=(run,), key=f"cancel_{run.id}", disabled=not allowed)
        if not allowed:
            st.caption(permissions.refusal(run.id))
    elif run.checkpoint_path("best").is_file():
        if st.button(
            "Evaluate this run",
            icon=":material/troubleshoot:",
            key=f"evaluate_{run.id}",
            help="Its confusion matrix, its mistakes and predictions on your own images.",
        ):
            _open_evaluate(run.id)  # not as on_click: Streamlit refuses a page switch inside a callback


def _recipe_of(config: TrainConfig) -> str:
    """The form's recipe when the run trains it (size and budget aside), else CUSTOM: the minimum epochs it needs are that recipe's."""
    name = st.session_state.get("train_preset", CUSTOM)
    if name not in PRESETS:
        return CUSTOM
    recipe, trained = PRESETS[name].config().to_dict(), config.to_dict()
    sized = ("limit", "budget_minutes", "epochs")  # what a teacher changes to make a recipe fit the lesson
    return name if all(trained.get(field) == recipe[field] for field in PRESETS[name].values if field not in sized) else CUSTOM


def _plan_notes(run: Run, events: list[dict], epochs_planned: int, run_state: str) -> None:
    """A budget run's plan in words (a refit says what changed and why), and the too-few-epochs sentence
    when a refit drops the plan below what its recipe needs to learn."""
    budgets = [event for event in events if event["type"] == "budget"]
    if not budgets:
        return
    changes = plan_changes(events)
    if changes:
        before, after = changes[-1]
        done_then = sum(1 for event in events[: events.index(after)] if event["type"] == "epoch")
        old_s, new_s = before.get("seconds_per_epoch_estimate"), after.get("seconds_per_epoch_estimate")
        why = ""
        if isinstance(old_s, (int, float)) and isinstance(new_s, (int, float)) and old_s > 0 and new_s > 0:
            why = f" An epoch with its validation takes about {new_s:.1f} s on this machine now, not the {old_s:.1f} s measured before"
            why += ": other programs are using the processor, or whole epochs cost more than the first steps." if new_s > old_s else "."
        st.caption(
            f"**Replanned** after {done_then} epoch{'s' if done_then != 1 else ''}: {after['epochs']} epochs instead of "
            f"{before['epochs']}.{why} A time budget refits the plan to the speed it measures, so the run still ends on time."
        )
    elif run_state == "running":
        st.caption(
            f"**Planned** from the speed of the first steps: {budgets[0]['epochs']} epochs fit the budget. The plan is refitted "
            "as the run goes; once an epoch's validation is timed it often changes."
        )
    if run_state == "running" and (sentence := too_few_epochs(_recipe_of(run.config()), epochs_planned)):
        st.warning(sentence, icon=":material/warning:")


def _live(run: Run, was_active: bool) -> None:
    """Everything read from the run folder; reruns on a timer while the run is active."""
    status = run.status()
    run_state = status["state"]
    if was_active and run_state not in ACTIVE_STATES:
        st.rerun()  # finished: redraw the page once, without the timer
    st.markdown(f"### Run `{run.id}` · {run_state}")
    if run_state == "queued":
        st.info(queue_note(run, RunStore(run.dir.parent).list()), icon=":material/hourglass_top:")
    elif run_state in ("failed", "interrupted"):
        show_error(f"This run {run_state}: {status.get('error') or 'no reason recorded'}. Its log is in {run.log_path}.")
    elif run_state == "cancelled":
        st.warning("This run was cancelled; the Runs page can resume it from its last finished epoch.")
    events = run.events()
    steps = [event for event in events if event["type"] == "step"]
    epochs = [event for event in events if event["type"] == "epoch"]
    progress = run.progress()
    if steps and run_state == "running":
        last = steps[-1]
        st.progress(
            min(1.0, last["step"] / progress.epoch_steps),
            text=f"Epoch {last['epoch']}/{progress.epochs_planned} · step {last['step']}/{progress.epoch_steps} · "
            f"{last['images_per_s']:.0f} images/s · about {last['eta_s']:.0f} s left in this epoch",
        )
    elif run_state == "running":
        st.progress(0.0, text="Starting: loading data and building the model…")
    columns = st.columns(4)
    columns[0].metric(
        "Epochs done",
        f"{progress.epochs_done}/{progress.epochs_planned}",
        help="Planned epochs: with a time budget, as many as fit into it.",
    )
    _plan_notes(run, events, progress.epochs_planned, run_state)
    val_accs = [event["val_acc"] for event in epochs if event.get("val_acc") is not None]
    columns[1].metric("Best val accuracy", f"{max(val_accs):.1%}" if val_accs else "–")
    columns[2].metric("Last train loss", f"{(epochs or steps)[-1]['train_loss']:.3f}" if (epochs or steps) else "–")
    if epochs and epochs[-1].get("val_acc") is not None:
        gap = epochs[-1]["train_acc"] - epochs[-1]["val_acc"]
        columns[3].metric("Gap (train − val)", f"{gap:+.1%}", help=GAP_HELP)
    if warning := chance_warning(epochs, len(CIFAR10_CLASSES), finished=run_state == "finished"):
        st.warning(warning, icon=":material/warning:")
    _actions(run, run_state in ACTIVE_STATES)


def _live_charts(run: Run, active: bool) -> None:
    """The curves and the confusion matrix, on their own slower timer.

    Redrawing two changed Plotly charts is most of what a live page costs the browser (measured with
    ``bench/browser_cpu.py`` on this 2-core machine: 40% of one core when they redrew with the
    progress bar every 1.5 s, 9% with no charts at all), so they refresh every ``CHARTS_REFRESH_S``
    while the progress bar and the numbers above them keep the fast timer, and the ``key`` keeps
    each chart in place between redraws. A finished run redraws the whole page once.
    """
    events = run.events()
    epochs = [event for event in events if event["type"] == "epoch"]
    if events:
        st.plotly_chart(curves_figure({run.id: events}), key=f"curves_{run.id}")
    confusion = next((event["confusion"] for event in reversed(epochs) if event.get("confusion")), None)
    if confusion is not None:
        title = f"Validation confusion after epoch {epochs[-1]['epoch']} (row-normalised)"
        figure = confusion_figure(confusion, CIFAR10_CLASSES, normalize=True, title=title, clickable=False)
        st.plotly_chart(figure, key=f"confusion_{run.id}")
    elif active:
        st.caption("The validation confusion matrix appears after the first epoch.")


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
store = RunStore()
form_column, live_column = st.columns([1, 2], gap="large")
with form_column:
    _form(store)
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
            st.fragment(_live_charts, run_every=CHARTS_REFRESH_S if is_active else None)(shown, is_active)
            with st.expander("Configuration"):
                st.json(shown.config().to_dict(), expanded=False)
