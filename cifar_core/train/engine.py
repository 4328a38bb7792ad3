"""The training loop: data on the device as uint8, batched augmentation, honest metrics.

The engine knows nothing about files or processes. It reports through ``on_event`` (one dict per
step/epoch, the run store appends them to ``metrics.jsonl``), hands checkpoints to ``save``
(the run store writes them atomically), and polls ``should_stop`` so a cancel ends it between
steps. A resume state restores model, optimiser, plan, RNGs (CPU and CUDA) and epoch, so a
resumed run continues exactly where the last completed epoch left it.

Read it top-down, as torchvision's classification reference: ``train`` sets a run up and loops
over epochs; ``train_one_epoch`` runs one epoch's steps (``train_step``, in ``step.py``);
``evaluate`` scores the validation images; ``checkpoint_state`` is everything a resume needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cifar_core.augment import AugmentPipeline
from cifar_core.data import CifarData, class_coverage_warnings
from cifar_core.errors import ConfigError
from cifar_core.metrics import confusion_matrix
from cifar_core.models import count_parameters
from cifar_core.models.inference import predict_logits, to_model_input
from cifar_core.train.batches import augmented_batches
from cifar_core.train.config import TrainConfig
from cifar_core.train.distributed import (
    SINGLE,
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
from cifar_core.train.step import INIT_SAMPLE, StepSettings, build_training_model, train_step

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
    """What one run trains with, built once by ``train`` and handed to every epoch."""

    config: TrainConfig
    settings: StepSettings
    model: nn.Module
    optimizer: torch.optim.Optimizer
    base_lrs: list[float]
    pipeline: AugmentPipeline
    generator: torch.Generator
    images: torch.Tensor  # the training images, uint8 on the device
    labels: torch.Tensor
    batch_size: int  # the global batch; under torchrun each rank takes its share of it
    world: World = SINGLE
    augment_generator: torch.Generator | None = None  # this rank's own under torchrun, else ``generator``
    lookahead: Lookahead | None = None

    def set_lr(self, steps_done: int, plan: Plan) -> None:
        """The learning rate of the next step: each group's base rate times the schedule's factor."""
        factor = lr_factor(self.config, steps_done, plan.steps, plan.steps_per_epoch)
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base_lr * factor


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
    world = world_from_env()
    settings = StepSettings.of(config)
    settings = settings.replace(device=device_for(world, settings.device))
    join(world, settings.device)
    check_world(world, config.batch_size, config.budget_minutes, sync_batchnorm=config.sync_batchnorm, device=settings.device)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    splits = run_splits(config, data)
    source = data.splits["train"]
    train_images = source.images[splits.train].to(settings.device)
    train_labels = source.labels[splits.train].to(settings.device)
    val_images = source.images[splits.val].to(settings.device)  # on the device once, not copied every epoch
    val_labels = source.labels[splits.val]
    num_classes = len(data.classes)

    model = build_training_model(config, num_classes, settings)
    if config.compile:
        model.compile()  # in place: state_dict keys stay those of the plain model
    optimizer = make_optimizer(config, model)
    n_train = len(train_labels)
    batch_size = min(config.batch_size, n_train)
    steps_per_epoch = n_train // batch_size + (1 if n_train % batch_size > 1 else 0)  # skip a lone image: BatchNorm needs 2
    parts = RunParts(
        config,
        settings,
        model,
        optimizer,
        [group["lr"] for group in optimizer.param_groups],
        AugmentPipeline(config.augment_config(), num_classes=num_classes),
        generator,
        train_images,
        train_labels,
        batch_size,
        world,
        augment_generator(world, config.seed, generator),
    )
    plan = Plan(steps_per_epoch, config.epochs * steps_per_epoch)
    start_epoch, best_val_acc, history = 0, None, []
    if resume is not None:
        start_epoch, best_val_acc, history, plan = restore(parts, resume, plan)
    elif hasattr(model, "init_from_data"):
        model.init_from_data(to_model_input(train_images[:INIT_SAMPLE], settings.device))
    parts.model = model = wrap(model, world, settings.device, sync_batchnorm=config.sync_batchnorm)
    parts.lookahead = Lookahead(unwrap(model), resume and resume.get("lookahead")) if config.lookahead else None
    parts.set_lr(start_epoch * steps_per_epoch, plan)
    # a budget replaces config.epochs (the recipe's count for its reference budget) once the first
    # steps are timed; a resumed run keeps the plan its checkpoint was made under, so it continues exactly
    budget = None
    if config.budget_minutes is not None and resume is None:
        max_steps = MAX_BUDGET_EPOCHS * steps_per_epoch if config.budget_stretch else plan.steps
        budget = BudgetFitter(config.budget_minutes, clock_start, max_steps, len(val_labels) / batch_size, on_event, clock=clock)

    on_event(
        {
            "type": "start",
            "time": time.time(),
            "device": str(settings.device),
            "n_train": n_train,
            "n_val": len(val_labels),
            "parameters": count_parameters(model),
            "trainable_parameters": count_parameters(model, trainable_only=True),
            "steps_per_epoch": steps_per_epoch,
            "epochs": config.epochs,
            "planned_steps": None if budget is not None else plan.steps,  # a budget's plan follows in a budget event
            "start_epoch": start_epoch,
            "synthetic_data": data.is_synthetic,
            "warnings": class_coverage_warnings(train_labels, val_labels, data.classes),
            "world_size": world.size,
        }
    )

    epoch = start_epoch
    while epoch < plan.epochs:
        outcome = train_one_epoch(parts, epoch, plan, budget=budget, on_event=on_event, should_stop=should_stop)
        plan = outcome.plan
        if outcome.cancelled:
            return TrainResult("cancelled", epoch, best_val_acc, history)
        record = epoch_record(parts, epoch, plan, outcome)
        eval_start = clock()  # the budget's clock: a validation costs budget time like a step
        last_epoch = epoch + 1 == plan.epochs
        # under torchrun the ranks hold the same weights: rank 0 alone validates and writes;
        # a benchmark recipe may validate only every val_every epochs (always after the last)
        validate = world.is_writer and ((epoch + 1) % config.val_every == 0 or last_epoch)
        scored = val_labels if validate else val_labels[:0]
        record.update(evaluate(unwrap(model), val_images[: len(scored)], scored, settings, num_classes))
        record["eval_s"] = clock() - eval_start
        if budget is not None:
            budget.validated(record["eval_s"])
        improved = record["val_acc"] is not None and (best_val_acc is None or record["val_acc"] > best_val_acc)
        if improved:
            best_val_acc = record["val_acc"]
        history.append(record)  # whole, confusion included: a lost metrics line is re-written from it

        if (epoch + 1) % config.checkpoint_every and not last_epoch:  # opt-in (benchmarks): a crash loses these epochs
            on_event(record)
            epoch += 1
            continue
        state = checkpoint_state(parts, plan, epoch + 1, best_val_acc, history, data.classes)
        if not world.is_writer:
            epoch += 1
            continue
        save("last", state)
        if improved or not len(val_labels):
            save("best", state)
        on_event(record)  # after the checkpoints: a reported epoch can always be resumed from
        epoch += 1
    if world.distributed:
        finish(unwrap(model), world)
    return TrainResult("finished", plan.epochs, best_val_acc, history)


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
    config, model = parts.config, parts.model
    model.train()
    if hasattr(model, "on_epoch_start"):  # a model whose training changes by epoch (e.g. a freeze) hooks in here
        model.on_epoch_start(epoch)
    n_train, spe = len(parts.labels), plan.steps_per_epoch
    device = parts.settings.device
    order = torch.randperm(n_train, generator=parts.generator) if config.shuffle else torch.arange(n_train)
    batch = parts.batch_size
    if parts.world.distributed:  # this rank's share of every global batch, in step order
        order = torch.cat([shard(order[i : i + batch], parts.world) for i in range(0, n_train, batch)])
        batch //= parts.world.size
    batches = augmented_batches(
        parts.pipeline,
        parts.images,
        parts.labels,
        order,
        batch,
        parts.augment_generator or parts.generator,
        epoch,
        whole_epoch=config.augment_per_epoch,
        flip_seed=config.seed,  # not the rank's own augmentation seed: every rank mirrors the same half
    )
    epoch_start = time.perf_counter()
    # running sums stay on the device: reading one (.item()) waits for the GPU, so only log points do
    loss_sum, correct = torch.zeros((), device=device), torch.zeros((), device=device)
    seen = 0
    window_loss, window_steps = torch.zeros((), device=device), 0
    step = 0
    while step < plan.epoch_steps(epoch):
        if any_rank(should_stop(), parts.world, device):  # a cancel seen by rank 0 stops every rank
            return EpochOutcome(plan, cancelled=True)
        augmented = next(batches)
        out = train_step(model, parts.optimizer, augmented, parts.settings)
        steps_done = epoch * spe + step + 1
        if budget is not None:  # before the schedule moves on, so it steps along the fitted length
            plan = budget.after_step(steps_done, plan)
        parts.set_lr(steps_done, plan)
        if parts.lookahead is not None:
            parts.lookahead.step(steps_done, plan.steps)

        batch_loss = out.loss.detach()
        n = len(out.logits)
        seen += n
        loss_sum += batch_loss * n
        # accuracy against each image's dominant label (CutMix keeps the larger share)
        correct += (out.logits.argmax(1) == out.soft_labels.argmax(1)).sum()
        window_loss += batch_loss
        window_steps += 1
        epoch_steps = plan.epoch_steps(epoch)
        if window_steps == config.log_every or step == epoch_steps - 1:
            elapsed = time.perf_counter() - epoch_start
            on_event(
                {
                    "type": "step",
                    "time": time.time(),
                    "epoch": epoch + 1,
                    "step": step + 1,
                    "steps_per_epoch": spe,
                    "epoch_steps": epoch_steps,
                    "global_step": steps_done,
                    "train_loss": window_loss.item() / window_steps,
                    "images_per_s": seen / elapsed,
                    "eta_s": elapsed / (step + 1) * (epoch_steps - step - 1),
                    "lr": parts.optimizer.param_groups[0]["lr"],
                }
            )
            window_loss, window_steps = torch.zeros((), device=device), 0
        step += 1
    if parts.lookahead is not None and epoch + 1 == plan.epochs:
        parts.lookahead.sync(1.0)  # the run ends on the slow weights
    return EpochOutcome(plan, False, loss_sum.item(), correct.item(), seen, time.perf_counter() - epoch_start)


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


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, settings: StepSettings, num_classes: int) -> dict[str, Any]:
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


def checkpoint_state(
    parts: RunParts, plan: Plan, epochs_done: int, best_val_acc: float | None, history: list[dict[str, Any]], classes
) -> dict[str, Any]:
    """Everything ``restore`` needs to continue bit-exactly, and what evaluation needs to score."""
    return {
        "format": "cifar-explorer-checkpoint",
        "version": 1,
        "config": parts.config.to_dict(),
        "classes": list(classes),
        "epoch": epochs_done,
        "best_val_acc": best_val_acc,
        "val_acc": history[-1]["val_acc"],
        "history": history,
        "planned_epochs": plan.epochs,
        "planned_steps": plan.steps,
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


def restore(parts: RunParts, state: dict[str, Any], plan: Plan) -> tuple[int, float | None, list[dict[str, Any]], Plan]:
    """Load a ``checkpoint_state`` into ``parts``; returns epochs done, best accuracy, history, plan."""
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
    return state["epoch"], state["best_val_acc"], list(state["history"]), Plan(plan.steps_per_epoch, steps)
