"""Test metrics from predicted probabilities: accuracy, loss, confusion matrix."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Evaluation:
    accuracy: float | None
    loss: float | None
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    predictions: list[dict] = field(default_factory=list)

    def misclassified(self) -> list[dict]:
        return [row for row in self.predictions if row["true_label"] != row["predicted_label"]]


def evaluate_probabilities(
    probabilities: np.ndarray, labels: np.ndarray, classes: list[str], paths: list[str]
) -> Evaluation:
    """Score class probabilities (N, C) against integer labels (N,)."""
    num_classes = len(classes)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    if len(labels) == 0:
        return Evaluation(accuracy=None, loss=None, confusion=confusion.tolist())

    predicted = probabilities.argmax(axis=1)
    np.add.at(confusion, (labels, predicted), 1)
    picked = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
    rows = [
        {
            "path": path,
            "true_label": classes[true],
            "predicted_label": classes[guess],
            "confidence": round(float(probabilities[i, guess]), 4),
        }
        for i, (path, true, guess) in enumerate(zip(paths, labels, predicted))
    ]
    return Evaluation(
        accuracy=float(np.mean(predicted == labels)),
        loss=loss,
        confusion=confusion.tolist(),
        predictions=rows,
    )
