"""What a trained model gets right and wrong: accuracy, loss, per-class scores, confusion,
most-confused pairs and the misclassified images themselves.

Everything here works from a run folder and a dataset, so the CLI and the app's Evaluate page
show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.metrics import precision_recall_fscore_support
from torch import nn

from cifar_core.data import CifarData
from cifar_core.device import memory_format, resolve_device
from cifar_core.errors import CheckpointError, DataError
from cifar_core.inference import predict_logits
from cifar_core.models import MODEL_REGISTRY, build_model
from cifar_core.runs import Run, load_checkpoint
from cifar_core.train import TrainConfig
from cifar_core.metrics import confusion_matrix
from cifar_core.train.splits import run_splits


@dataclass
class LoadedModel:
    """A model restored from a run's checkpoint, ready for inference."""

    model: nn.Module
    config: TrainConfig
    classes: tuple[str, ...]
    epoch: int
    device: torch.device

    def probabilities(self, images: torch.Tensor, *, tta: str = "none") -> torch.Tensor:
        """Softmax probabilities [N, C] for uint8 images [N, 3, 32, 32]."""
        return predict_logits(self.model, images, self.device, tta=tta, precision=self.config.precision).softmax(dim=1)


def load_run_model(run: Run, which: str = "best", device: str = "auto") -> LoadedModel:
    """Rebuild the run's model and load ``best.pt`` (or ``last.pt``) into it."""
    payload = load_checkpoint(run.checkpoint_path(which))
    config = TrainConfig.from_dict(payload["config"])
    # weights come from the checkpoint, so never fetch ImageNet weights again
    options = {**config.model_options}
    if "pretrained" in MODEL_REGISTRY[config.model].options:
        options.update(pretrained=False, weights_path=None)
    model = build_model(config.model, dropout=config.dropout, num_classes=len(payload["classes"]), options=options)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{run.checkpoint_path(which)} does not match its own model config: {exc}") from exc
    target = resolve_device(device)
    model = model.to(target, memory_format=memory_format(target)).eval()
    return LoadedModel(model, config, tuple(payload["classes"]), int(payload["epoch"]), target)


@dataclass
class Evaluation:
    """Scores of one model on one labelled image set."""

    classes: tuple[str, ...]
    labels: torch.Tensor  # [N] true labels
    probs: torch.Tensor  # [N, C]
    indices: torch.Tensor  # [N] positions of the images in their source split

    @property
    def preds(self) -> torch.Tensor:
        return self.probs.argmax(dim=1)

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def accuracy(self) -> float:
        return (self.preds == self.labels).float().mean().item()

    @property
    def loss(self) -> float:
        return F.nll_loss(self.probs.clamp_min(1e-12).log(), self.labels).item()

    @property
    def confusion(self) -> torch.Tensor:
        return confusion_matrix(self.labels, self.preds, len(self.classes))

    def per_class(self) -> dict[str, dict[str, float]]:
        """Precision, recall, F1 and support per class (scikit-learn)."""
        precision, recall, f1, support = precision_recall_fscore_support(
            self.labels.numpy(), self.preds.numpy(), labels=list(range(len(self.classes))), zero_division=0
        )
        return {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(self.classes, precision, recall, f1, support)
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "n": self.n,
            "classes": list(self.classes),
            "per_class": self.per_class(),
            "confusion": self.confusion.tolist(),
            "most_confused": most_confused_pairs(self.confusion, self.classes),
        }

    def misclassified(self, true_class: int | None = None, predicted_class: int | None = None, limit: int = 64) -> list[dict[str, Any]]:
        """The wrong predictions (optionally one confusion cell), most confident first, with top-3."""
        wrong = self.preds != self.labels
        if true_class is not None:
            wrong &= self.labels == true_class
        if predicted_class is not None:
            wrong &= self.preds == predicted_class
        rows = wrong.nonzero().flatten()
        confidence = self.probs[rows].max(dim=1).values
        rows = rows[confidence.argsort(descending=True)][:limit]
        return [self.describe(int(row)) for row in rows]

    def describe(self, row: int) -> dict[str, Any]:
        top = self.probs[row].topk(min(3, len(self.classes)))
        return {
            "row": row,
            "index": int(self.indices[row]),
            "true": self.classes[int(self.labels[row])],
            "predicted": self.classes[int(self.preds[row])],
            "top3": [(self.classes[int(i)], float(p)) for p, i in zip(top.values, top.indices)],
        }


def most_confused_pairs(confusion: torch.Tensor, classes: tuple[str, ...], top: int = 10) -> list[dict[str, Any]]:
    """Off-diagonal cells, largest first: which true class is taken for which, how often."""
    counts = confusion.clone().to(torch.long)
    counts.fill_diagonal_(0)
    row_totals = confusion.sum(dim=1).clamp_min(1)
    order = counts.flatten().argsort(descending=True)[:top]
    pairs = []
    for flat in order.tolist():
        true, predicted = divmod(flat, len(classes))
        if counts[true, predicted] == 0:
            break
        pairs.append(
            {
                "true": classes[true],
                "predicted": classes[predicted],
                "count": int(counts[true, predicted]),
                "rate": float(counts[true, predicted] / row_totals[true]),
            }
        )
    return pairs


def split_images(config: TrainConfig, data: CifarData, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images, labels and source indices of a run's ``val``/``train`` split, or the source's ``test``."""
    if split == "test":
        if "test" not in data.splits:
            raise DataError(f"{data.source} has no test split; use --split val.")
        part = data.splits["test"]
        if (part.labels < 0).any():
            raise DataError(f"The test split of {data.source} is unlabelled; use predict for it.")
        return part.images, part.labels, torch.arange(len(part.labels))
    if split not in ("val", "train"):
        raise DataError(f"Unknown split {split!r}; choose val, train or test.")
    indices = getattr(run_splits(config, data), split)
    if split == "val" and not len(indices):
        raise DataError("This run trained on train+val, so it has no validation split to score.")
    source = data.splits["train"]
    return source.images[indices], source.labels[indices], indices


def evaluate(loaded: LoadedModel, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor | None = None, *, tta: str = "none") -> Evaluation:
    """Score ``loaded`` on labelled uint8 images."""
    probs = loaded.probabilities(images, tta=tta)
    return Evaluation(loaded.classes, labels.cpu(), probs, indices if indices is not None else torch.arange(len(labels)))
