"""The training loop: data on the device as uint8, batched augmentation, honest metrics.

The engine knows nothing about files or processes. It reports through ``on_event`` (one dict per
step/epoch, the run store appends them to ``metrics.jsonl``), hands checkpoints to ``save``
(the run store writes them atomically), and polls ``should_stop`` so a cancel ends it between
steps. A resume state restores model, optimiser, schedule, RNGs and epoch, so a resumed run
continues exactly where the last completed epoch left it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from cifar_core.augment import AugmentPipeline
from cifar_core.data import CifarData
from cifar_core.device import autocast, memory_format, resolve_device
from cifar_core.inference import predict_logits, to_model_input
from cifar_core.models import build_model, count_parameters
from cifar_core.train.config import TrainConfig
from cifar_core.train.batches import augmented_batches
from cifar_core.train.lookahead import Lookahead
from cifar_core.train.optim import lr_factor, make_optimizer
from cifar_core.train.splits import run_splits

# Training steps timed (after two warm-up steps) to fit the schedule into a time budget.
CALIBRATION_STEPS = 8
# Images used to initialise data-dependent layers (e.g. fast_cnn's whitening filters).
INIT_SAMPLE = 5000

EventSink = Callable[[dict[str, Any]], None]
CheckpointSink = Callable[[str, dict[str, Any]], None]


@dataclass
class TrainResult:
    """How the run ended and its headline numbers."""

    status: str  # "finished" | "cancelled"
    epochs_done: int
    best_val_acc: float | None
    history: list[dict[str, Any]] = field(default_factory=list)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy against probability targets, so CutMix/MixUp's mixed labels train correctly."""
    if label_smoothing:
        targets = targets * (1 - label_smoothing) + label_smoothing / targets.shape[1]
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def confusion_matrix(labels: torch.Tensor, preds: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[true, predicted] counts."""
    flat = labels.to(torch.long) * num_classes + preds.to(torch.long)
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def train(
    config: TrainConfig,
    data: CifarData,
    *,
    on_event: EventSink = lambda event: None,
    save: CheckpointSink = lambda name, payload: None,
    should_stop: Callable[[], bool] = lambda: False,
    resume: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``config`` on ``data``; see the module docstring for the callbacks."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    splits = run_splits(config, data)
    source = data.splits["train"]
    train_images = source.images[splits.train].to(device)
    train_labels = source.labels[splits.train].to(device)
    val_images = source.images[splits.val].to(device)  # on the device once, not copied every epoch
    val_labels = source.labels[splits.val]
    num_classes = len(data.classes)

    model = build_model(config.model, dropout=config.dropout, num_classes=num_classes, options=config.model_options)
    model = model.to(device, memory_format=memory_format(device))
    if config.compile:
        model.compile()  # in place: state_dict keys stay those of the plain model
    optimizer = make_optimizer(config, model)
    pipeline = AugmentPipeline(config.augment_config(), num_classes=num_classes)

    n_train = len(train_labels)
    batch_size = min(config.batch_size, n_train)
    steps_per_epoch = n_train // batch_size + (1 if n_train % batch_size > 1 else 0)  # skip a lone image: BatchNorm needs 2
    # a time budget replaces config.epochs (then only a cap) once the first steps are timed; it
    # plans in steps, so the last epoch may be cut short and the whole budget is used
    plan = {"steps": config.epochs * steps_per_epoch, "fitted": config.budget_minutes is None}

    def planned_epochs() -> int:
        return math.ceil(plan["steps"] / steps_per_epoch)

    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(config, step, plan["steps"], steps_per_epoch)
    )

    start_epoch, best_val_acc, history = 0, None, []
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        generator.set_state(resume["generator"])
        torch.set_rng_state(resume["torch_rng"])
        start_epoch, best_val_acc, history = resume["epoch"], resume["best_val_acc"], list(resume["history"])
        plan.update(steps=resume.get("planned_steps", resume.get("planned_epochs", config.epochs) * steps_per_epoch), fitted=True)
    elif hasattr(model, "init_from_data"):
        model.init_from_data(to_model_input(train_images[:INIT_SAMPLE], device))
    lookahead = Lookahead(model, resume and resume.get("lookahead")) if config.lookahead else None
    run_start = time.perf_counter()

    on_event(
        {
            "type": "start",
            "time": time.time(),
            "device": str(device),
            "n_train": n_train,
            "n_val": len(val_labels),
            "parameters": count_parameters(model),
            "trainable_parameters": count_parameters(model, trainable_only=True),
            "steps_per_epoch": steps_per_epoch,
            "epochs": config.epochs,
            "start_epoch": start_epoch,
            "synthetic_data": data.is_synthetic,
        }
    )

    epoch = start_epoch
    while epoch < planned_epochs():
        model.train()
        if hasattr(model, "on_epoch_start"):
            model.on_epoch_start(epoch)
        order = torch.randperm(n_train, generator=generator) if config.shuffle else torch.arange(n_train)
        batches = augmented_batches(
            pipeline, train_images, train_labels, order, batch_size, generator, epoch, whole_epoch=config.augment_per_epoch
        )
        epoch_start = time.perf_counter()
        # running sums stay on the device: reading them (.item()) waits for the GPU, so only log points do
        loss_sum, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
        window_loss, window_steps = torch.zeros((), device=device), 0
        for step, augmented in zip(range(steps_per_epoch), batches):
            epoch_steps = min(steps_per_epoch, plan["steps"] - epoch * steps_per_epoch)  # a budget may cut the last short
            if step >= epoch_steps:
                break
            if should_stop():
                return TrainResult("cancelled", epoch, best_val_acc, history)
            x = to_model_input(augmented.images, device)
            with autocast(device, config.precision):
                logits = model(x)
            loss = soft_cross_entropy(logits, augmented.soft_labels, config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if not plan["fitted"]:  # before the schedule moves on, so it steps along the fitted length
                calibrate_budget(config, plan, step, steps_per_epoch, len(val_labels) / batch_size, run_start, on_event)
            scheduler.step()
            if lookahead is not None:
                lookahead.step(epoch * steps_per_epoch + step + 1, plan["steps"])

            batch_loss = loss.detach()
            n = len(x)
            loss_sum += batch_loss * n
            seen += n
            # accuracy against each image's dominant label (CutMix keeps the larger share)
            correct += (logits.argmax(1) == augmented.soft_labels.argmax(1)).sum()
            window_loss += batch_loss
            window_steps += 1
            if window_steps == config.log_every or step == epoch_steps - 1:
                elapsed = time.perf_counter() - epoch_start
                on_event(
                    {
                        "type": "step",
                        "time": time.time(),
                        "epoch": epoch + 1,
                        "step": step + 1,
                        "steps_per_epoch": steps_per_epoch,
                        "epoch_steps": epoch_steps,
                        "global_step": epoch * steps_per_epoch + step + 1,
                        "train_loss": window_loss.item() / window_steps,
                        "images_per_s": seen / elapsed,
                        "eta_s": elapsed / (step + 1) * (epoch_steps - step - 1),
                        "lr": optimizer.param_groups[0]["lr"],
                    }
                )
                window_loss, window_steps = torch.zeros((), device=device), 0
        if lookahead is not None and epoch + 1 == planned_epochs():
            lookahead.sync(1.0)  # the run ends on the slow weights
        train_seconds = time.perf_counter() - epoch_start

        record: dict[str, Any] = {
            "type": "epoch",
            "time": time.time(),
            "epoch": epoch + 1,
            "train_loss": loss_sum.item() / seen,
            "train_acc": correct.item() / seen,
            "val_loss": None,
            "val_acc": None,
            "val_error": None,
            "lr": optimizer.param_groups[0]["lr"],
            "epoch_s": train_seconds,
            "images_per_s": seen / train_seconds,
            "confusion": None,
        }
        improved = False
        last_epoch = epoch + 1 == planned_epochs()
        if len(val_labels) and ((epoch + 1) % config.val_every == 0 or last_epoch):
            logits = predict_logits(model, val_images, device, precision=config.precision)
            preds = logits.argmax(1)
            val_acc = (preds == val_labels).float().mean().item()
            record.update(
                val_loss=F.cross_entropy(logits, val_labels).item(),
                val_acc=val_acc,
                val_error=1 - val_acc,
                confusion=confusion_matrix(val_labels, preds, num_classes).tolist(),
            )
            improved = best_val_acc is None or val_acc > best_val_acc
            if improved:
                best_val_acc = val_acc
        record["eval_s"] = time.perf_counter() - epoch_start - train_seconds
        history.append({k: v for k, v in record.items() if k != "confusion"})
        if (epoch + 1) % config.checkpoint_every and not last_epoch:  # benchmark recipes opt out of per-epoch checkpoints
            on_event(record)
            epoch += 1
            continue

        state = {
            "format": "cifar-explorer-checkpoint",
            "version": 1,
            "config": config.to_dict(),
            "classes": list(data.classes),
            "epoch": epoch + 1,
            "best_val_acc": best_val_acc,
            "val_acc": record["val_acc"],
            "history": history,
            "planned_epochs": planned_epochs(),
            "planned_steps": plan["steps"],
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "lookahead": None if lookahead is None else lookahead.state_dict(),
        }
        save("last", state)
        if improved or not len(val_labels):
            save("best", state)
        on_event(record)  # after the checkpoints: a reported epoch can always be resumed from
        epoch += 1
    return TrainResult("finished", planned_epochs(), best_val_acc, history)


def calibrate_budget(
    config: TrainConfig,
    plan: dict[str, Any],
    step: int,
    steps_per_epoch: int,
    val_steps: float,
    run_start: float,
    on_event: EventSink,
) -> None:
    """Time the first steps, then set how many steps fit into ``config.budget_minutes``.

    Step 0 is warm-up (allocator, kernel selection); the next steps, up to CALIBRATION_STEPS,
    are timed. Validation costs about a third of a training step per batch (forward only) and
    runs after every epoch, the last one included. The schedule (warm-up, decay) is then laid over
    the fitted number of steps; the epoch count is rounded up, the last epoch cut short.
    """
    now = time.perf_counter()
    if step == 0 and steps_per_epoch > 1:
        plan["calibration_start"] = now
        return
    if step < min(CALIBRATION_STEPS, steps_per_epoch - 1):
        return
    step_s = (now - plan.get("calibration_start", run_start)) / max(1, step)
    epoch_s = step_s * (steps_per_epoch + val_steps / 3)
    remaining = config.budget_minutes * 60 - (now - run_start) + step_s * (step + 1)
    # validation after each epoch, spread over its steps, plus the final one
    steps = int((remaining - step_s * val_steps / 3) / (epoch_s / steps_per_epoch))
    plan["steps"] = max(step + 1, min(config.epochs * steps_per_epoch, steps))
    plan["fitted"] = True
    on_event(
        {
            "type": "budget",
            "time": time.time(),
            "budget_minutes": config.budget_minutes,
            "seconds_per_epoch_estimate": epoch_s,
            "epochs": math.ceil(plan["steps"] / steps_per_epoch),
            "steps": plan["steps"],
        }
    )
