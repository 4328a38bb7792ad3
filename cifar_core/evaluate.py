"""What a trained model gets right and wrong: accuracy, loss, per-class scores, confusion,
most-confused pairs and the misclassified images themselves.

Everything here works from a run folder and a dataset, so the CLI and the app's Evaluate page
show the same numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.metrics import precision_recall_fscore_support
from torch import nn

from cifar_core.data import CifarData, iter_unlabelled_images
from cifar_core.device import memory_format, resolve_device
from cifar_core.errors import CheckpointError, DataError
from cifar_core.metrics import confusion_matrix
from cifar_core.models import MODEL_REGISTRY, build_model
from cifar_core.models.inference import ImageProgress, predict_logits
from cifar_core.runs import Run, load_checkpoint
from cifar_core.train import TrainConfig
from cifar_core.train.splits import run_splits


@dataclass
class LoadedModel:
    """A model restored from a run's checkpoint, ready for inference."""

    model: nn.Module
    config: TrainConfig
    classes: tuple[str, ...]
    epoch: int
    device: torch.device

    def probabilities(self, images: torch.Tensor, *, tta: str = "none", progress: ImageProgress | None = None) -> torch.Tensor:
        """Softmax probabilities [N, C] for uint8 images [N, 3, 32, 32]."""
        logits = predict_logits(self.model, images, self.device, tta=tta, precision=self.config.precision, progress=progress)
        return logits.softmax(dim=1)


def load_run_model(run: Run, which: str = "best", device: str = "auto") -> LoadedModel:
    """Rebuild the run's model and load ``best.pt`` (or ``last.pt``) into it."""
    path = run.checkpoint_path(which)
    return model_from_checkpoint(load_checkpoint(path), device, where=str(path))


def model_from_checkpoint(payload: dict[str, Any], device: str = "auto", *, where: str = "the checkpoint") -> LoadedModel:
    """Rebuild a model from a checkpoint's payload (``engine.checkpoint_state``), from a file or still in memory.

    ``where`` names the payload's origin in the sentence for weights that do not fit their own config.
    """
    config = TrainConfig.from_dict(payload["config"])
    # weights come from the checkpoint, so never fetch ImageNet weights again
    options = {**config.model_options}
    if "pretrained" in MODEL_REGISTRY[config.model].options:
        options.update(pretrained=False, weights_path=None)
    model = build_model(config.model, dropout=config.dropout, num_classes=len(payload["classes"]), options=options)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{where} does not match its own model config: {exc}") from exc
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
        return self._most_confident(wrong, limit)

    def cell(self, true_class: int, predicted_class: int, limit: int = 64) -> list[dict[str, Any]]:
        """Exactly the images of one confusion cell (a diagonal cell: the correct ones), most confident first."""
        return self._most_confident((self.labels == true_class) & (self.preds == predicted_class), limit)

    def _most_confident(self, chosen: torch.Tensor, limit: int) -> list[dict[str, Any]]:
        rows = chosen.nonzero().flatten()
        confidence = self.probs[rows].max(dim=1).values
        rows = rows[confidence.argsort(descending=True, stable=True)][:limit]
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
    """Images, labels and source indices of a run's ``val``/``train`` part, or the source's whole ``test``.

    The run's parts are positions in the source's train split, chosen by the run's own seed, so
    they only mean something on the source the run trained on.
    """
    if split == "test":
        return source_split_images(data, "test")
    if split not in ("val", "train"):
        raise DataError(f"Unknown split {split!r}; choose val, train or test.")
    if not data.has_labels("train"):
        raise DataError(
            f"{data.source} has no labelled training images, so it holds none of this run's own "
            f"validation images; score its {_labelled_splits_phrase(data)} instead."
        )
    indices = getattr(run_splits(config, data), split)
    if split == "val" and not len(indices):
        raise DataError("This run trained on train+val, so it has no validation split to score.")
    source = data.splits["train"]
    return source.images[indices], source.labels[indices], indices


def source_split_images(data: CifarData, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every image of one labelled split of any source (a separate test set), with its labels and positions."""
    if split not in data.splits:
        raise DataError(f"{data.source} has no {split} split; it holds {_labelled_splits_phrase(data)}.")
    if not data.has_labels(split):
        raise DataError(f"The {split} images of {data.source} have no labels, so they can be predicted but not scored.")
    part = data.splits[split]
    return part.images, part.labels, torch.arange(len(part.labels))


def labelled_splits(data: CifarData) -> list[str]:
    """The splits of ``data`` that can be scored (every image labelled), test first."""
    return sorted((name for name in data.splits if data.has_labels(name)), key=lambda name: name != "test")


def _labelled_splits_phrase(data: CifarData) -> str:
    names = labelled_splits(data)
    return " and ".join(f"{name} images" for name in names) if names else "no labelled images at all"


def evaluate(
    loaded: LoadedModel,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: torch.Tensor | None = None,
    *,
    tta: str = "none",
    progress: ImageProgress | None = None,
) -> Evaluation:
    """Score ``loaded`` on labelled uint8 images (``progress`` hears after every batch)."""
    probs = loaded.probabilities(images, tta=tta, progress=progress)
    return Evaluation(loaded.classes, labels.cpu(), probs, indices if indices is not None else torch.arange(len(labels)))


@dataclass(frozen=True)
class Predictions:
    """One predicted class per unlabelled image, keyed by the image's id (Kaggle's submission form)."""

    ids: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def to_csv(self) -> str:
        """``id,label`` lines, exactly what Kaggle's CIFAR-10 competition accepts."""
        return "id,label\n" + "".join(f"{image_id},{label}\n" for image_id, label in zip(self.ids, self.labels))


def predict_unlabelled(
    loaded: LoadedModel,
    source: str | Path,
    *,
    tta: str = "none",
    batch_size: int = 1024,
    on_batch: ImageProgress | None = None,
) -> Predictions:
    """The model's class for every image of an unlabelled set (``test.7z``, a folder or archive of images).

    Images are streamed batch by batch, so Kaggle's 300,000 never sit in memory at once;
    ``on_batch`` hears (images done, -1) after each batch since the total is only known at the end.
    Ids must name one image each; a set where two files share an id is refused rather than
    written as an ambiguous submission.
    """
    ids: list[str] = []
    labels: list[str] = []
    for batch_ids, images in iter_unlabelled_images(source, batch_size=batch_size):
        preds = loaded.probabilities(images, tta=tta).argmax(dim=1)
        ids.extend(batch_ids)
        labels.extend(loaded.classes[int(p)] for p in preds)
        if on_batch is not None:
            on_batch(len(ids), -1)
    if repeated := sorted(image_id for image_id, count in Counter(ids).items() if count > 1):
        raise DataError(
            f"{source} has several images with the same id ({', '.join(repeated[:5])}"
            f"{', …' if len(repeated) > 5 else ''}); each image needs its own name for a submission."
        )
    return Predictions(ids, labels)
