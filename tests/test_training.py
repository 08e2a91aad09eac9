"""Training end to end on a small generated dataset: events, stop, run folder."""

import csv
import json

import pytest

from tl_core import runs
from tl_core.datasets import open_dataset
from tl_core.errors import ConfigError, WeightsError
from tl_core.training import TrainConfig, train

RUN_FILES = (
    "config.json", "events.jsonl", "metrics.csv", "model.keras", "labels.json",
    "confusion_matrix.json", "test_predictions.csv", "summary.json",
)


@pytest.fixture
def dataset(colour_dataset_dir):
    return open_dataset(colour_dataset_dir)


def small_config(**changes):
    values = {
        "backbone": "mobilenet_v2", "mode": "frozen", "image_size": 32, "epochs": 2, "batch_size": 8,
        "learning_rate": 0.01,
    }
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def frozen_run(colour_dataset_dir, tmp_path_factory):
    """One frozen run shared by the read-only checks below."""
    folder = tmp_path_factory.mktemp("runs") / "frozen"
    events = []
    summary = train(small_config(epochs=5), open_dataset(colour_dataset_dir), folder, listener=events.append)
    return folder, summary, events


def test_run_folder_has_every_file(frozen_run):
    folder, _, _ = frozen_run
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    assert missing == []


def test_summary_fields(frozen_run):
    folder, summary, _ = frozen_run
    stored = json.loads((folder / "summary.json").read_text())
    assert stored["status"] == "finished"
    for key in ("test_accuracy", "best_val_accuracy", "train_seconds", "trainable_params",
                "total_params", "backbone", "mode", "image_size", "dataset_counts"):
        assert stored[key] is not None, key
    assert stored["dataset_counts"] == {"train": 21, "val": 6, "test": 3}


def test_metrics_has_row_per_epoch(frozen_run):
    folder, _, _ = frozen_run
    with open(folder / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert all(float(row["val_accuracy"]) >= 0 for row in rows)


def test_listener_gets_batch_and_epoch_events(frozen_run):
    _, _, events = frozen_run
    batches = [event for event in events if event["type"] == "batch"]
    epochs = [event for event in events if event["type"] == "epoch"]
    assert len(batches) == 5 * 3  # 21 images in batches of 8, five epochs
    assert [event["epoch"] for event in epochs] == [1, 2, 3, 4, 5]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds", "images_per_second"):
        assert epochs[-1][key] is not None, key


def test_events_file_matches_listener(frozen_run):
    folder, _, events = frozen_run
    stored, _ = runs.read_events(folder)
    assert [event["type"] for event in stored] == [event["type"] for event in events]


def test_frozen_learns_colours(frozen_run):
    _, summary, _ = frozen_run
    assert summary["test_accuracy"] >= 0.8


def test_confusion_matrix_counts_test_split(frozen_run):
    folder, _, _ = frozen_run
    confusion = json.loads((folder / "confusion_matrix.json").read_text())
    assert sum(map(sum, confusion["matrix"])) == 3


def test_saved_model_predicts(frozen_run):
    import keras
    import numpy as np

    folder, _, _ = frozen_run
    model = keras.models.load_model(folder / "model.keras")
    probabilities = model.predict(np.full((1, 32, 32, 3), 128, "float32"), verbose=0)
    assert probabilities.shape == (1, 3)


def test_stop_honoured_within_one_batch(dataset, tmp_path):
    events = []
    summary = train(
        small_config(mode="scratch", batch_size=4, epochs=3), dataset, tmp_path / "run",
        listener=events.append,
        should_stop=lambda: any(event["type"] == "batch" for event in events),
    )
    assert summary["status"] == "stopped"
    assert sum(event["type"] == "batch" for event in events) == 1


def test_stop_file_ends_run(dataset, tmp_path):
    folder = tmp_path / "run"

    def stop_after_first_epoch(event):
        if event["type"] == "epoch":
            runs.request_stop(folder)

    summary = train(small_config(epochs=5), dataset, folder, listener=stop_after_first_epoch)
    assert summary["status"] == "stopped"
    assert summary["epochs_completed"] == 1
    assert (folder / "model.keras").is_file()


def test_invalid_config_creates_no_folder(dataset, tmp_path):
    with pytest.raises(ConfigError, match="received 0"):
        train(small_config(epochs=0), dataset, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_failure_writes_failed_summary(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TL_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    with pytest.raises(WeightsError):
        train(small_config(), dataset, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert "weights fetch" in summary["error"]


def test_crash_while_saving_leaves_no_model(dataset, tmp_path, monkeypatch):
    def broken_save(self, model):
        raise OSError("disk full")

    monkeypatch.setattr(runs.RunWriter, "save_model", broken_save)
    with pytest.raises(OSError):
        train(small_config(epochs=1), dataset, tmp_path / "run")
    assert not (tmp_path / "run" / "model.keras").exists()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"


def test_existing_run_folder_rejected(frozen_run, dataset):
    folder, _, _ = frozen_run
    with pytest.raises(ConfigError, match="already holds a run"):
        train(small_config(), dataset, folder)


def test_cached_and_uncached_frozen_agree(dataset, tmp_path):
    cached = train(small_config(epochs=3), dataset, tmp_path / "cached")
    uncached = train(small_config(epochs=3, feature_cache=False), dataset, tmp_path / "uncached")
    assert cached["feature_cache"] is True
    assert uncached["feature_cache"] is False
    assert abs(cached["test_accuracy"] - uncached["test_accuracy"]) <= 1 / 3


def test_phase_events_first_last_and_throttled():
    from tl_core.fitting import _phase_reporter

    events = []
    report = _phase_reporter(events.append, "loading:train", interval=3600)
    for done in range(101):
        report(done, 100)
    assert [event["done"] for event in events] == [0, 100]

    events.clear()
    report = _phase_reporter(events.append, "loading:val", interval=0)
    for done in range(11):
        report(done, 10)
    assert [event["done"] for event in events] == list(range(11))
    assert {event["phase"] for event in events} == {"loading:val"}


def test_loading_phase_reaches_total(frozen_run):
    _, summary, events = frozen_run
    for split, count in summary["dataset_counts"].items():
        done = [event["done"] for event in events if event.get("phase") == f"loading:{split}"]
        assert done[0] == 0, split
        assert done[-1] == count, split


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("TL_THREADS", "abc", "TL_THREADS must be a whole number"), ("TL_DISTRIBUTION", "ring", "TL_DISTRIBUTION must be one of")],
)
def test_invalid_setting_creates_no_folder(dataset, tmp_path, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        train(small_config(), dataset, tmp_path / "run")
    assert not (tmp_path / "run").exists()
