"""The training loop: data on the device as uint8, batched augmentation, honest metrics.

The engine knows nothing about files or processes. It reports through ``on_event`` (one dict per
step/epoch, the run store appends them to ``metrics.jsonl``), hands checkpoints to ``save``
(the run store writes them atomically), and polls ``should_stop`` so a cancel ends it between
steps. A resume state restores model, optimiser, plan, RNGs (CPU and CUDA) and epoch, so a
resumed run continues exactly where the last completed epoch left it.

Read it top-down, as torchvision's classification reference: ``train`` sets a run up
(``prepare_run``), loops over epochs and finishes; ``train_one_epoch`` runs one epoch's steps
(``train_step``, in ``step.py``); ``validate_epoch`` scores the validation images
(``validation_scores``); ``keep_epoch`` checkpoints and reports a finished epoch;
``checkpoint_state`` is everything a resume needs.

The random draws happen in a fixed order: the seed, the model's initialisation, then each epoch's
shuffle and augmentation. A resume builds the model the same way and then overwrites its weights
and the generators' states before the first epoch draws, so it is bit-identical to a run that was
never interrupted; a change here must keep that order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cifar_core.augment import AugmentPipeline, AugmentResult
from cifar_core.data import CifarData, class_coverage_warnings
from cifar_core.errors import ConfigError
from cifar_core.metrics import confusion_matrix
from cifar_core.models import count_parameters
from cifar_core.models.inference import predict_logits, to_model_input
from cifar_core.train.batches import augmented_batches
from cifar_core.train.config import TrainConfig
from cifar_core.train.distributed import (
    World,
    any_rank,
    augment_generator,
    device_for,
    finish,
    gather_states,
    join,
    shard,
    unwrap,
    world_from_env,
    wrap,
)
from cifar_core.train.distributed import check_config as check_world
from cifar_core.train.lookahead import Lookahead
from cifar_core.train.optim import lr_factor, make_optimizer
from cifar_core.train.plan import MAX_BUDGET_EPOCHS, BudgetFitter, Plan
from cifar_core.train.splits import run_splits
from cifar_core.train.step import INIT_SAMPLE, StepOutput, StepSettings, build_training_model, train_step

EventSink = Callable[[dict[str, Any]], None]
CheckpointSink = Callable[[str, dict[str, Any]], None]


@dataclass
class TrainResult:
    """How the run ended and its headline numbers."""

    status: str  # "finished" | "cancelled"
    epochs_done: int
    best_val_acc: float | None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunParts:
    """What one run trains and validates with, built once by ``prepare_run`` and handed to every epoch."""

    config: TrainConfig
    settings: StepSettings
    model: nn.Module
    optimizer: torch.optim.Optimizer
    base_lrs: list[float]
    pipeline: AugmentPipeline
    generator: torch.Generator
    images: torch.Tensor  # the training images, uint8 on the device
    labels: torch.Tensor
    val_images: torch.Tensor  # on the device once, not copied every epoch
    val_labels: torch.Tensor
    num_classes: int
    batch_size: int  # the global batch; under torchrun each rank takes its share of it
    world: World
    augment_generator: torch.Generator  # this rank's own under torchrun, else ``generator``
    lookahead: Lookahead | None = None

    @property
    def steps_per_epoch(self) -> int:
        n_train = len(self.labels)
        return n_train // self.batch_size + (1 if n_train % self.batch_size > 1 else 0)  # skip a lone image: BatchNorm needs 2

    def set_lr(self, steps_done: int, plan: Plan) -> None:
        """The learning rate of the next step: each group's base rate times the schedule's factor."""
        factor = lr_factor(self.config, steps_done, plan.steps, plan.steps_per_epoch)
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base_lr * factor


@dataclass
class Progress:
    """Where a run stands between epochs: what a checkpoint saves of it and ``restore`` reads back."""

    epoch: int  # epochs done, so also the 0-based index of the next one
    plan: Plan
    best_val_acc: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def finish_epoch(self, record: dict[str, Any]) -> bool:
        """Add the trained and validated epoch's ``record`` and move on to the next epoch.

        Returns whether it improved on the best validation accuracy (the "best" checkpoint follows it).
        """
        improved = record["val_acc"] is not None and (self.best_val_acc is None or record["val_acc"] > self.best_val_acc)
        if improved:
            self.best_val_acc = record["val_acc"]
        self.history.append(record)  # whole, confusion included: a lost metrics line is re-written from it
        self.epoch += 1
        return improved

    def result(self, status: str, epochs_done: int) -> TrainResult:
        return TrainResult(status=status, epochs_done=epochs_done, best_val_acc=self.best_val_acc, history=self.history)


@dataclass(frozen=True)
class EpochOutcome:
    """What ``train_one_epoch`` did: the plan it ended under, and its training numbers."""

    plan: Plan
    cancelled: bool
    loss_sum: float = 0.0
    correct: float = 0.0
    seen: int = 0
    seconds: float = 0.0


def train(
    config: TrainConfig,
    data: CifarData,
    *,
    on_event: EventSink = lambda event: None,
    save: CheckpointSink = lambda name, payload: None,
    should_stop: Callable[[], bool] = lambda: False,
    resume: dict[str, Any] | None = None,
    clock_start: float | None = None,
    clock: Callable[[], float] = time.time,
) -> TrainResult:
    """Train ``config`` on ``data``; see the module docstring for the callbacks.

    ``clock_start`` (``time.time()`` seconds) is when the user's wait began, so a time budget
    also pays for the process start and data load before this call; default: now. ``clock`` is
    the one clock a budget measures the run's speed with (a test injects a slow or busy machine).
    """
    clock_start = clock() if clock_start is None else clock_start
    parts, progress = prepare_run(config, data, resume)
    # a budget replaces config.epochs (the recipe's count for its reference budget) once the first
    # steps are timed; a resumed run keeps the plan its checkpoint was made under, so it continues exactly
    budget = None
    if config.budget_minutes is not None and resume is None:
        max_steps = MAX_BUDGET_EPOCHS * parts.steps_per_epoch if config.budget_stretch else progress.plan.steps
        val_batches = len(parts.val_labels) / parts.batch_size
        budget = BudgetFitter(config.budget_minutes, clock_start, max_steps, val_batches, on_event, clock=clock)
    on_event(start_event(parts, progress, data, budgeted=budget is not None))

    while progress.epoch < progress.plan.epochs:
        epoch = progress.epoch
        outcome = train_one_epoch(parts, epoch, progress.plan, budget=budget, on_event=on_event, should_stop=should_stop)
        progress.plan = outcome.plan
        if outcome.cancelled:
            return progress.result("cancelled", epochs_done=epoch)
        record = epoch_record(parts, epoch, progress.plan, outcome)
        record.update(validate_epoch(parts, epoch, progress.plan, budget=budget, clock=clock))
        improved = progress.finish_epoch(record)  # the one place the epoch advances
        keep_epoch(parts, progress, record, improved=improved, save=save, on_event=on_event, classes=data.classes)

    if parts.world.distributed:
        finish(unwrap(parts.model), parts.world)
    return progress.result("finished", epochs_done=progress.plan.epochs)


def prepare_run(config: TrainConfig, data: CifarData, resume: dict[str, Any] | None) -> tuple[RunParts, Progress]:
    """The run's parts and where it starts: fresh from the seed, or restored from ``resume``."""
    world = world_from_env()
    settings = StepSettings.of(config)
    settings = settings.replace(device=device_for(world, settings.device))
    join(world, settings.device)
    check_world(world, config.batch_size, config.budget_minutes, sync_batchnorm=config.sync_batchnorm, device=settings.device)
    parts = build_parts(config, data, world, settings)
    plan = Plan(steps_per_epoch=parts.steps_per_epoch, steps=config.epochs * parts.steps_per_epoch)
    if resume is not None:
        progress = restore(parts, resume, plan)
    else:
        progress = Progress(epoch=0, plan=plan)
        if hasattr(parts.model, "init_from_data"):
            parts.model.init_from_data(to_model_input(parts.images[:INIT_SAMPLE], settings.device))
    parts.model = wrap(parts.model, world, settings.device, sync_batchnorm=config.sync_batchnorm)
    parts.lookahead = Lookahead(unwrap(parts.model), resume and resume.get("lookahead")) if config.lookahead else None
    parts.set_lr(progress.epoch * parts.steps_per_epoch, progress.plan)
    return parts, progress


def build_parts(config: TrainConfig, data: CifarData, world: World, settings: StepSettings) -> RunParts:
    """Seed, split, move the images to the device and build model and optimiser, in that order.

    The order is the RNG draw order a resume and the reference weights rely on.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    splits = run_splits(config, data)
    source = data.splits["train"]
    train_images = source.images[splits.train].to(settings.device)
    train_labels = source.labels[splits.train].to(settings.device)
    val_images = source.images[splits.val].to(settings.device)
    val_labels = source.labels[splits.val]
    num_classes = len(data.classes)

    model = build_training_model(config, num_classes, settings)
    if config.compile:
        model.compile()  # in place: state_dict keys stay those of the plain model
    optimizer = make_optimizer(config, model)
    return RunParts(
        config=config,
        settings=settings,
        model=model,
        optimizer=optimizer,
        base_lrs=[group["lr"] for group in optimizer.param_groups],
        pipeline=AugmentPipeline(config.augment_config(), num_classes=num_classes),
        generator=generator,
        images=train_images,
        labels=train_labels,
        val_images=val_images,
        val_labels=val_labels,
        num_classes=num_classes,
        batch_size=min(config.batch_size, len(train_labels)),
        world=world,
        augment_generator=augment_generator(world, config.seed, generator),
    )


def start_event(parts: RunParts, progress: Progress, data: CifarData, *, budgeted: bool) -> dict[str, Any]:
    """The run's first metrics line: what it trains on, with what, and for how long."""
    return {
        "type": "start",
        "time": time.time(),
        "device": str(parts.settings.device),
        "n_train": len(parts.labels),
        "n_val": len(parts.val_labels),
        "parameters": count_parameters(parts.model),
        "trainable_parameters": count_parameters(parts.model, trainable_only=True),
        "steps_per_epoch": parts.steps_per_epoch,
        "epochs": parts.config.epochs,
        "planned_steps": None if budgeted else progress.plan.steps,  # a budget's plan follows in a budget event
        "start_epoch": progress.epoch,
        "synthetic_data": data.is_synthetic,
        "warnings": class_coverage_warnings(parts.labels, parts.val_labels, data.classes),
        "world_size": parts.world.size,
    }


def train_one_epoch(
    parts: RunParts,
    epoch: int,
    plan: Plan,
    *,
    budget: BudgetFitter | None,
    on_event: EventSink,
    should_stop: Callable[[], bool],
) -> EpochOutcome:
    """Train epoch ``epoch`` (0-based) step by step, logging the running loss every ``log_every``.

    A budget may refit the plan after any step (so this epoch may end sooner or later than it
    began to); the epoch that ends the plan finishes on lookahead's slow weights.
    """
    model = parts.model
    model.train()
    if hasattr(model, "on_epoch_start"):  # a model whose training changes by epoch (e.g. a freeze) hooks in here
        model.on_epoch_start(epoch)
    batches = epoch_batches(parts, epoch)
    epoch_start = time.perf_counter()
    totals = RunningTotals(parts.settings.device)
    step = 0
    while step < plan.epoch_steps(epoch):
        if any_rank(should_stop(), parts.world, parts.settings.device):  # a cancel seen by rank 0 stops every rank
            return EpochOutcome(plan=plan, cancelled=True)
        out = train_step(model, parts.optimizer, next(batches), parts.settings)
        steps_done = epoch * plan.steps_per_epoch + step + 1
        plan = after_step(parts, steps_done, plan, budget)
        totals.add(out)
        if totals.window_steps == parts.config.log_every or step == plan.epoch_steps(epoch) - 1:
            on_event(step_event(parts, epoch, step, plan, totals, elapsed=time.perf_counter() - epoch_start))
        step += 1
    if parts.lookahead is not None and epoch + 1 == plan.epochs:
        parts.lookahead.sync(1.0)  # the run ends on the slow weights
    return EpochOutcome(
        plan=plan,
        cancelled=False,
        loss_sum=totals.loss_sum.item(),
        correct=totals.correct.item(),
        seen=totals.seen,
        seconds=time.perf_counter() - epoch_start,
    )


def epoch_batches(parts: RunParts, epoch: int) -> Iterator[AugmentResult]:
    """This rank's augmented batches of epoch ``epoch``, drawing the epoch's shuffle now."""
    n_train, batch = len(parts.labels), parts.batch_size
    order = torch.randperm(n_train, generator=parts.generator) if parts.config.shuffle else torch.arange(n_train)
    if parts.world.distributed:  # this rank's share of every global batch, in step order
        order = torch.cat([shard(order[i : i + batch], parts.world) for i in range(0, n_train, batch)])
        batch //= parts.world.size
    return augmented_batches(
        parts.pipeline,
        parts.images,
        parts.labels,
        order,
        batch,
        parts.augment_generator,
        epoch,
        whole_epoch=parts.config.augment_per_epoch,
        flip_seed=parts.config.seed,  # not the rank's own augmentation seed: every rank mirrors the same half
    )


def after_step(parts: RunParts, steps_done: int, plan: Plan, budget: BudgetFitter | None) -> Plan:
    """The plan, learning rate and lookahead the next step runs under."""
    if budget is not None:  # before the schedule moves on, so it steps along the fitted length
        plan = budget.after_step(steps_done, plan)
    parts.set_lr(steps_done, plan)
    if parts.lookahead is not None:
        parts.lookahead.step(steps_done, plan.steps)
    return plan


class RunningTotals:
    """An epoch's loss and accuracy sums, and the loss since the last step event.

    The sums stay on the device: reading one (``.item()``) waits for the GPU, so only log points do.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.loss_sum, self.correct = torch.zeros((), device=device), torch.zeros((), device=device)
        self.seen = 0
        self.window_loss, self.window_steps = torch.zeros((), device=device), 0

    def add(self, out: StepOutput) -> None:
        batch_loss = out.loss.detach()
        n = len(out.logits)
        self.seen += n
        self.loss_sum += batch_loss * n
        # accuracy against each image's dominant label (CutMix keeps the larger share)
        self.correct += (out.logits.argmax(1) == out.soft_labels.argmax(1)).sum()
        self.window_loss += batch_loss
        self.window_steps += 1

    def take_window_loss(self) -> float:
        """The mean loss of the steps since the last call, which starts the next window."""
        mean = self.window_loss.item() / self.window_steps
        self.window_loss, self.window_steps = torch.zeros((), device=self.device), 0
        return mean


def step_event(parts: RunParts, epoch: int, step: int, plan: Plan, totals: RunningTotals, *, elapsed: float) -> dict[str, Any]:
    """A running-loss metrics line after step ``step`` (0-based) of epoch ``epoch``, ``elapsed`` seconds into it."""
    epoch_steps = plan.epoch_steps(epoch)
    return {
        "type": "step",
        "time": time.time(),
        "epoch": epoch + 1,
        "step": step + 1,
        "steps_per_epoch": plan.steps_per_epoch,
        "epoch_steps": epoch_steps,
        "global_step": epoch * plan.steps_per_epoch + step + 1,
        "train_loss": totals.take_window_loss(),
        "images_per_s": totals.seen / elapsed,
        "eta_s": elapsed / (step + 1) * (epoch_steps - step - 1),
        "lr": parts.optimizer.param_groups[0]["lr"],
    }


def epoch_record(parts: RunParts, epoch: int, plan: Plan, outcome: EpochOutcome) -> dict[str, Any]:
    """The epoch's metrics line, before validation fills in its ``val_*`` fields.

    ``epoch_fraction`` is below 1 when a budget cut the epoch short, so curves can draw it at
    e.g. x = 2.42 rather than 3.
    """
    return {
        "type": "epoch",
        "time": time.time(),
        "epoch": epoch + 1,
        "epoch_fraction": plan.epoch_fraction(epoch),
        "train_loss": outcome.loss_sum / outcome.seen,
        "train_acc": outcome.correct / outcome.seen,
        "lr": parts.optimizer.param_groups[0]["lr"],
        "epoch_s": outcome.seconds,
        "images_per_s": outcome.seen / outcome.seconds,
    }


def validate_epoch(parts: RunParts, epoch: int, plan: Plan, *, budget: BudgetFitter | None, clock: Callable[[], float]) -> dict[str, Any]:
    """The epoch's ``val_*`` fields and ``eval_s``, the seconds validation took on the budget's clock.

    Under torchrun the ranks hold the same weights: rank 0 alone validates (and writes); a
    benchmark recipe may validate only every ``val_every`` epochs (always after the last).
    Epochs not validated get the fields as None.
    """
    eval_start = clock()  # the budget's clock: a validation costs budget time like a step
    validate = parts.world.is_writer and ((epoch + 1) % parts.config.val_every == 0 or epoch + 1 == plan.epochs)
    scored = parts.val_labels if validate else parts.val_labels[:0]
    scores = validation_scores(unwrap(parts.model), parts.val_images[: len(scored)], scored, parts.settings, parts.num_classes)
    scores["eval_s"] = clock() - eval_start
    if budget is not None:
        budget.validated(scores["eval_s"])
    return scores


def validation_scores(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, settings: StepSettings, num_classes: int
) -> dict[str, Any]:
    """Validation loss, accuracy, error and confusion counts (all None without validation images)."""
    if not len(labels):
        return {"val_loss": None, "val_acc": None, "val_error": None, "confusion": None}
    logits = predict_logits(model, images, settings.device, precision=settings.precision)
    preds = logits.argmax(1)
    val_acc = (preds == labels).float().mean().item()
    return {
        "val_loss": F.cross_entropy(logits, labels).item(),
        "val_acc": val_acc,
        "val_error": 1 - val_acc,
        "confusion": confusion_matrix(labels, preds, num_classes).tolist(),
    }


def keep_epoch(
    parts: RunParts,
    progress: Progress,
    record: dict[str, Any],
    *,
    improved: bool,
    save: CheckpointSink,
    on_event: EventSink,
    classes: Sequence[str],
) -> None:
    """Checkpoint the epoch ``progress`` just finished (as "best" too when it ``improved``), then report ``record``.

    The report comes after the checkpoints, so a reported epoch can always be resumed from.
    """
    last_epoch = progress.epoch == progress.plan.epochs
    if progress.epoch % parts.config.checkpoint_every and not last_epoch:  # opt-in (benchmarks): a crash loses these epochs
        on_event(record)
        return
    state = checkpoint_state(parts, progress, classes)  # on every rank: under torchrun it gathers from all of them
    if not parts.world.is_writer:
        return
    save("last", state)
    if improved or not len(parts.val_labels):
        save("best", state)
    on_event(record)


def checkpoint_state(parts: RunParts, progress: Progress, classes: Sequence[str]) -> dict[str, Any]:
    """Everything ``restore`` needs to continue bit-exactly, and what evaluation needs to score."""
    return {
        "format": "cifar-explorer-checkpoint",
        "version": 1,
        "config": parts.config.to_dict(),
        "classes": list(classes),
        "epoch": progress.epoch,
        "best_val_acc": progress.best_val_acc,
        "val_acc": progress.history[-1]["val_acc"],
        "history": progress.history,
        "planned_epochs": progress.plan.epochs,
        "planned_steps": progress.plan.steps,
        "model": unwrap(parts.model).state_dict(),
        "optimizer": parts.optimizer.state_dict(),
        "generator": parts.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        # dropout masks and other on-GPU randomness draw from the CUDA generators
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "lookahead": None if parts.lookahead is None else parts.lookahead.state_dict(),
        # under torchrun, every rank's own augmentation generator (index = rank); a collective call
        "augment_generators": gather_states(parts.augment_generator.get_state(), parts.world) if parts.world.distributed else None,
        "world_size": parts.world.size,
    }


def restore(parts: RunParts, state: dict[str, Any], plan: Plan) -> Progress:
    """Load a ``checkpoint_state`` into ``parts``; returns where the run stands, under the plan it was checkpointed with."""
    parts.model.load_state_dict(state["model"])
    parts.optimizer.load_state_dict(state["optimizer"])
    parts.generator.set_state(state["generator"])
    if parts.world.distributed:
        saved = state.get("augment_generators") or []
        if len(saved) != parts.world.size:
            raise ConfigError(f"This run was checkpointed by {len(saved) or 1} process(es); resume it with as many.")
        parts.augment_generator.set_state(saved[parts.world.rank])
    torch.set_rng_state(state["torch_rng"])
    cuda_states = state.get("cuda_rng")
    if cuda_states and torch.cuda.is_available():
        for device_index, cuda_state in enumerate(cuda_states[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device_index)
    steps = state.get("planned_steps", state.get("planned_epochs", parts.config.epochs) * plan.steps_per_epoch)
    return Progress(
        epoch=state["epoch"],
        plan=Plan(steps_per_epoch=plan.steps_per_epoch, steps=steps),
        best_val_acc=state["best_val_acc"],
        history=list(state["history"]),
    )
