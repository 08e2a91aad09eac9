"""Run folders: the one contract between the trainer and every reader.

A run folder holds:
    config.json            the TrainConfig as asked
    events.jsonl           one JSON object per line, flushed as written
    metrics.csv            one row per finished epoch
    model.keras            the trained classifier
    labels.json            class names in label order
    confusion_matrix.json  test-split confusion matrix
    test_predictions.csv   one row per test image: path, true, predicted, confidence
    summary.json           written last, by atomic rename

A folder without summary.json is running (a live worker holds it) or was
interrupted. Every file except the two append-only logs is written to a
temporary name and renamed, so a reader never sees half a file.
"""

import csv
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

from tl_core.errors import ConfigError

STATUS_FINISHED = "finished"
STATUS_STOPPED = "stopped"
STATUS_FAILED = "failed"
STATUS_RUNNING = "running"
STATUS_INTERRUPTED = "interrupted"

METRIC_COLUMNS = (
    "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "images_per_second",
)
STOP_FILE = "STOP"


def new_run_id(backbone: str, mode: str) -> str:
    """Return a sortable, unique folder name like 20261204-203001-123-mobilenet_v2-frozen-1a2b.

    The stamp has milliseconds so that runs queued together sort in submission order.
    """
    now = datetime.now()
    stamp = now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}"
    return f"{stamp}-{backbone}-{mode}-{uuid.uuid4().hex[:4]}"


def write_json_atomic(path: Path, payload) -> None:
    """Write JSON to a temporary file in the same folder, then rename it over `path`."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def read_json(path: Path, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


class RunWriter:
    """Writes one run folder while a run trains."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._events = None

    @classmethod
    def create(cls, folder: Path, config: dict) -> "RunWriter":
        """Create `folder` (refused if it already holds a run) and write config.json."""
        folder = Path(folder)
        if (folder / "config.json").exists() or (folder / "summary.json").exists():
            raise ConfigError(
                f"{folder} already holds a run. Choose another output folder or delete it."
            )
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"{folder} is a file, not a folder. Choose another output folder.")
        folder.mkdir(parents=True, exist_ok=True)
        writer = cls(folder)
        write_json_atomic(folder / "config.json", config)
        with open(folder / "metrics.csv", "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(METRIC_COLUMNS)
        return writer

    def append_event(self, event: dict) -> None:
        if self._events is None:
            self._events = open(self.folder / "events.jsonl", "a", encoding="utf-8")
        self._events.write(json.dumps(event, ensure_ascii=False) + "\n")
        self._events.flush()

    def append_metrics(self, row: dict) -> None:
        with open(self.folder / "metrics.csv", "a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow([row.get(column, "") for column in METRIC_COLUMNS])

    def write_json(self, name: str, payload) -> None:
        write_json_atomic(self.folder / name, payload)

    def save_model(self, model) -> Path:
        """Save `model.keras` through a temporary name so a crash leaves no partial model."""
        target = self.folder / "model.keras"
        partial = self.folder / ".model.partial.keras"
        model.save(partial)
        partial.replace(target)
        return target

    def write_predictions(self, rows: list[dict]) -> None:
        partial = self.folder / ".test_predictions.csv.partial"
        columns = ("path", "true_label", "predicted_label", "confidence")
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        partial.replace(self.folder / "test_predictions.csv")

    def finish(self, summary: dict) -> None:
        """Write summary.json last; from then on the run counts as complete."""
        summary = {**summary, "finished_at": datetime.now(timezone.utc).isoformat()}
        self.close()
        write_json_atomic(self.folder / "summary.json", summary)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None


def request_stop(folder: Path) -> None:
    """Ask the worker training in `folder` to stop after its current batch."""
    (Path(folder) / STOP_FILE).touch()


def stop_requested(folder: Path) -> bool:
    return (Path(folder) / STOP_FILE).exists()


def read_events(folder: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Read complete event lines from byte `offset`; return them and the new offset.

    A line still being written (no newline yet) is left for the next call.
    """
    path = Path(folder) / "events.jsonl"
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    events = [json.loads(line) for line in chunk[:end].splitlines() if line.strip()]
    return events, offset + end


def read_metrics(folder: Path) -> list[dict]:
    """Return metrics.csv rows as dicts of floats (epoch as int)."""
    path = Path(folder) / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        rows = []
        for row in csv.DictReader(handle):
            rows.append({key: _number(value) for key, value in row.items()})
        return rows


def _number(text: str):
    if text in ("", None):
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value
