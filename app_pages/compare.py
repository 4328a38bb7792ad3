"""Compare: two runs on the same images; which images and classes moved, and whether the difference is more than noise."""

import streamlit as st

from cifar_core.calibration import BINNING, reliability
from cifar_core.errors import CifarError, DataError
from cifar_core.evaluate import labelled_splits
from cifar_core.figures.calibration import reliability_figure
from cifar_core.figures.images import upscale
from cifar_core.figures.paired import class_delta_figure, difference_figure
from cifar_core.figures.runs import confusion_cell
from cifar_core.paired import TEST_METHOD, check_classes, check_pair, compare_evaluations, paired_images
from cifar_core.runs import RunStore
from cifar_core.ui import state
from cifar_core.ui.feedback import user_errors
from cifar_core.ui.loaders import checkpoint_stamp, load_data, load_model, score_split
from cifar_core.ui.pixels import show_pixels

GALLERY = 24
GALLERY_COLUMNS = 6
RUN_A, RUN_B = state.COMPARE_RUN_A, state.COMPARE_RUN_B  # the Runs page's "Compare" button sets these too
SET_KEY = "compare_images"
TRUE_KEY, PRED_KEY = "compare_true", "compare_pred"
LAST_CLICK = "_compare_last_click"
CELL_SET = "_compare_cell_set"
OWN_VAL = "__val__"  # the validation images both runs held out, when they are the same ones


def _describe(source: str) -> str:
    return "the SYNTHETIC demo set" if source == "synthetic" else f"“{source.rsplit('/', 1)[-1]}”"


def _choices(own_source: str) -> dict[tuple[str, str], str]:
    """Labelled sets both runs can be scored on: run A's source (its splits, and the shared validation images) and the Dataset page's."""
    choices = {}
    for source in dict.fromkeys([own_source, state.data_source()]):
        try:
            data = load_data(source)
        except DataError:
            continue
        for split in labelled_splits(data):
            choices[(source, split)] = f"The {len(data.splits[split]):,} {split} images of {_describe(source)}"
    choices[(OWN_VAL, "val")] = "The validation images both runs held out (when their seeds chose the same ones)"
    return choices


def _held_out(choices: dict[tuple[str, str], str], loaded_a, loaded_b) -> tuple[str, str]:
    """The set to open on: images neither run trained on, so neither score is flattered by memorised images.

    The validation images both held out where they share them, else a test split; the first set
    only when there is neither.
    """
    try:
        paired_images(loaded_a, loaded_b, load_data(loaded_a.config.data), "val")
        return (OWN_VAL, "val")
    except CifarError:  # different seeds or data: their validation images differ
        return next((key for key in choices if key[1] == "test"), next(iter(choices)))


def _caption(item: dict) -> str:
    a, b = item["a"], item["b"]
    return f"{item['true']} · A {a['predicted']} {a['confidence']:.0%} · B {b['predicted']} {b['confidence']:.0%}"


def _gallery(images, items: list[dict], total: int, what: str) -> None:
    """Images with both models' answers; ``total`` of them exist, the surest of B's first are shown."""
    if not items:
        st.caption(f"No image {what}.")
        return
    shown = f"the {len(items)} of **{total}** B is surest about" if total > len(items) else f"all **{total}**"
    st.markdown(f"Showing {shown} images {what}:")
    columns = st.columns(GALLERY_COLUMNS)
    for position, item in enumerate(items):
        show_pixels(columns[position % GALLERY_COLUMNS], upscale(images[item["row"]], 4), caption=_caption(item))


def _pick_cell(event, difference, classes: list[str], key: tuple) -> tuple[int, int]:
    """The cell to look into: the last click, else the dropdowns, first set to the cell that moved most."""
    clicked = confusion_cell(event.selection, classes)
    if st.session_state.get(CELL_SET) != key:
        st.session_state[CELL_SET] = key
        st.session_state.pop(TRUE_KEY, None)
        st.session_state.pop(PRED_KEY, None)
    if clicked is not None and clicked != st.session_state.get(LAST_CLICK):
        st.session_state[TRUE_KEY], st.session_state[PRED_KEY] = clicked
    st.session_state[LAST_CLICK] = clicked
    largest = int(difference.abs().flatten().argmax())
    st.session_state.setdefault(TRUE_KEY, largest // len(classes))
    st.session_state.setdefault(PRED_KEY, largest % len(classes))
    pick_true, pick_pred = st.columns(2)
    true_class = pick_true.selectbox("True class", range(len(classes)), format_func=classes.__getitem__, key=TRUE_KEY)
    predicted_class = pick_pred.selectbox("Predicted as", range(len(classes)), format_func=classes.__getitem__, key=PRED_KEY)
    return true_class, predicted_class


def _open_robustness(run_a_id: str, run_b_id: str) -> None:
    st.session_state[state.ROBUSTNESS_RUN], st.session_state[state.ROBUSTNESS_OTHER] = run_a_id, run_b_id


def _robustness_rows(run_a, run_b) -> None:
    """Both runs under rotation, shifts, noise and blur: the Robustness page scores them side by side on the
    same seeded images, so this page hands it the pair rather than scoring 52 settings a second time."""
    st.subheader("Robustness")
    st.caption(
        f"How {run_a.id} and {run_b.id} hold up on rotated, shifted, noisy and blurred copies of the same images, heatmap beside heatmap."
    )
    if st.button("Score both on the Robustness page", icon=":material/shield:", on_click=_open_robustness, args=(run_a.id, run_b.id)):
        st.switch_page("app_pages/robustness.py")


st.title("Compare two runs")
st.markdown(
    "Both models answer **the same images**, so only the images on which they disagree tell them apart. "
    "The difference B − A comes with a 95% interval from a **paired bootstrap over images**: the images are "
    "resampled 2,000 times, each keeping both models' answers together. When the interval covers 0 the "
    "page says so and names no winner."
)
store = RunStore()
runs = [run for run in store.list() if run.checkpoint_path("best").is_file()]
if len(runs) < 2:
    st.info("Compare needs two trained runs: train another on the Train page.")
    st.stop()
ids = [run.id for run in runs]
by_id = dict(zip(ids, runs))
for key in (RUN_A, RUN_B):
    if st.session_state.get(key) not in ids:  # a run deleted since it was picked
        st.session_state.pop(key, None)
left, right = st.columns(2)
first = left.selectbox("Run A", ids, **state.persist(RUN_A, ids[0]))
second = right.selectbox("Run B (B − A throughout)", ids, **state.persist(RUN_B, ids[1]))
run_a, run_b = by_id[first], by_id[second]
loaded_a = loaded_b = None
with user_errors():
    check_pair(run_a, run_b)
    stamps = checkpoint_stamp(run_a, "best"), checkpoint_stamp(run_b, "best")
    loaded_a, loaded_b = load_model(str(run_a.dir), "best", stamps[0]), load_model(str(run_b.dir), "best", stamps[1])
    check_classes(loaded_a, loaded_b, run_a, run_b)
if loaded_b is None or loaded_a.classes != loaded_b.classes:
    st.stop()

choices = _choices(loaded_a.config.data)
default = list(choices).index(_held_out(choices, loaded_a, loaded_b))
chosen = st.selectbox("Images to score", list(choices), index=default, format_func=choices.get, key=SET_KEY)
source, split = chosen
if split == "train":
    st.warning(
        "Both runs trained on some of these images, and a score on images a run trained on flatters it: "
        "the held-out validation images or a test set compare them fairly."
    )
comparison = scored = None
with user_errors():
    if source == OWN_VAL:
        paired_images(loaded_a, loaded_b, load_data(loaded_a.config.data), split)  # refuses runs that held out different images
        scored, scored_b = (score_split(str(run.dir), "best", stamp, None, split) for run, stamp in zip((run_a, run_b), stamps))
    else:
        scored, scored_b = (score_split(str(run.dir), "best", stamp, source, split) for run, stamp in zip((run_a, run_b), stamps))
    comparison = compare_evaluations(scored.evaluation, scored_b.evaluation)
if comparison is None:
    st.stop()

report = comparison.to_json(run_a.id, run_b.id)
metrics = st.columns(3)
metrics[0].metric(f"A · {run_a.id}", f"{report['accuracy_a']:.1%}")
metrics[1].metric(f"B · {run_b.id}", f"{report['accuracy_b']:.1%}")
low, high = (100 * bound for bound in report["interval"])
metrics[2].metric(
    "B − A", f"{100 * report['difference']:+.1f} points", f"95% interval {low:+.1f} to {high:+.1f}", delta_color="off", delta_arrow="off"
)
(st.info if comparison.interval.covers_zero else st.success)(report["summary"])
st.caption(
    f"{report['wrong_to_right']} images went wrong→right and {report['right_to_wrong']} right→wrong of {report['n']:,}. "
    f"Interval: {report['interval_method']}. p: {TEST_METHOD}."
)

st.subheader("Where the answers moved")
st.markdown(
    "Each cell is B's count minus A's of images of the true class (row) given the predicted class (column): "
    "**blue**, B puts more images there; **red**, fewer. Click a cell to see exactly the images that moved "
    "into it (B says that class, A did not) and out of it (A said that class, B does not)."
)
classes = list(comparison.classes)
difference = comparison.confusion_difference
event = st.plotly_chart(difference_figure(difference, classes), key="compare_difference", on_select="rerun", selection_mode="points")
true_class, predicted_class = _pick_cell(event, difference, classes, (run_a.id, run_b.id, source, split))
moved_in, moved_out = comparison.moved(true_class, predicted_class)
true_name, predicted_name = classes[true_class], classes[predicted_class]
st.markdown(
    f"**{true_name} called {predicted_name}**: {difference[true_class, predicted_class]:+d} = {len(moved_in)} in − {len(moved_out)} out"
)
into, out = st.tabs([f"Moved in ({len(moved_in)})", f"Moved out ({len(moved_out)})"])
with into:
    _gallery(scored.images, comparison.describe(moved_in, GALLERY), len(moved_in), f"B calls {predicted_name} and A did not")
with out:
    _gallery(scored.images, comparison.describe(moved_out, GALLERY), len(moved_out), f"A called {predicted_name} and B does not")

st.subheader("Per class")
st.markdown("Each class's accuracy change with its 95% interval (the same bootstrap over that class's images).")
st.plotly_chart(class_delta_figure(comparison.class_deltas()), key="compare_classes")

st.subheader("Flipped images")
flips = comparison.flips(GALLERY)
lost_tab, gained_tab = st.tabs([f"Right → wrong ({report['right_to_wrong']})", f"Wrong → right ({report['wrong_to_right']})"])
with lost_tab:
    _gallery(scored.images, flips["right_to_wrong"], report["right_to_wrong"], "A got right and B gets wrong")
with gained_tab:
    _gallery(scored.images, flips["wrong_to_right"], report["wrong_to_right"], "A got wrong and B gets right")

st.subheader("Calibration")
st.markdown(f"Does “90% sure” mean right 9 times in 10? Bars below the dashed diagonal are over-confident. ECE uses {BINNING}.")
diagrams = st.columns(2)
for column, name, evaluation, key in (
    (diagrams[0], f"A · {run_a.id}", comparison.a, "a"),
    (diagrams[1], f"B · {run_b.id}", comparison.b, "b"),
):
    bins = reliability(evaluation.probs, evaluation.labels)
    column.plotly_chart(reliability_figure(bins, title=f"{name}: ECE {bins.ece:.3f}"), key=f"compare_reliability_{key}")

_robustness_rows(run_a, run_b)
