"""The benchmark's code paths on tiny settings, and the training speed-ups it measures.

No test here checks a timing: the benchmark itself does that on a quiet machine.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tl_core import bench
from tl_core.bench import measure, report
from tl_core.bench.data import generate_images
from tl_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TINY = {"backbone": "mobilenet_v2", "image_size": 32, "batch_size": 8, "seed": 0}


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    """One in-process benchmark on 20 images of 32 px, shared by the checks below."""
    settings = bench.BenchSettings(
        **TINY, images=20, epochs=(1,), repeats=1, finetune_epochs=2,
        steps=("throughput", "frozen", "tutorial", "finetune", "accuracy"),
        workdir=tmp_path_factory.mktemp("bench"),
    )
    return bench.run_benchmark(settings)


def test_generated_images_balanced(tmp_path):
    folder = generate_images(bench.DEFAULT_SAMPLE, tmp_path / "images", count=12, size=40)
    counts = sorted(len(list(path.iterdir())) for path in folder.iterdir())
    assert counts == [2, 2, 2, 3, 3]


def test_generated_images_size_and_mode(tmp_path):
    folder = generate_images(bench.DEFAULT_SAMPLE, tmp_path / "images", count=5, size=40)
    image = Image.open(next(folder.glob("*/*.png")))
    assert image.size == (40, 40)
    assert image.mode == "RGB"


def test_generated_images_distinct(tmp_path):
    folder = generate_images(bench.DEFAULT_SAMPLE, tmp_path / "images", count=10, size=40)
    first, repeat = sorted((folder / "bag").iterdir())[:2]
    assert not np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(repeat)))


def test_settings_reject_unknown_step():
    with pytest.raises(ConfigError, match="Unknown benchmark step"):
        bench.BenchSettings(steps=("warp",)).validate()


def test_settings_reject_single_finetune_epoch():
    with pytest.raises(ConfigError, match="at least 2 epochs"):
        bench.BenchSettings(finetune_epochs=1).validate()


def test_tiny_run_measures_every_step(tiny_results):
    assert set(tiny_results.steps) == {"threads", "throughput", "frozen", "tutorial", "finetune", "accuracy"}


def test_tiny_run_throughputs_positive(tiny_results):
    throughput = tiny_results.steps["throughput"]
    assert throughput["forward_images_per_second"] > 0
    assert throughput["extraction_images_per_second"] > 0


def test_tiny_run_times_each_epoch_count(tiny_results):
    assert set(tiny_results.steps["frozen"]["cold"]) == {"1"}
    assert set(tiny_results.steps["tutorial"]) == {"1"}


def test_tiny_run_records_warm_run(tiny_results):
    assert len(tiny_results.steps["frozen"]["warm"]) == 1


def test_tiny_run_finetune_speed(tiny_results):
    assert tiny_results.steps["finetune"]["images_per_second"] > 0


def test_tiny_run_cached_matches_uncached(tiny_results):
    accuracy = tiny_results.steps["accuracy"]
    assert accuracy["cached"] == pytest.approx(accuracy["uncached"])


def test_report_rows_cover_steps(tiny_results):
    steps = {row[0] for row in report.result_rows(tiny_results)}
    assert steps == {"1", "2", "3", "3 / 2", "4", "5", "8"}


def test_report_keeps_surrounding_text(tiny_results, tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# Benchmarks\n\nintro\n\n{report.RESULTS_START}\nold\n{report.RESULTS_END}\n\nnotes\n")
    bench.write_report(tiny_results, path, "python -m tl_core bench")
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\nintro\n")
    assert text.endswith("\n\nnotes\n")
    assert "old" not in text
    assert "| 3 / 2 | Speed-up, 1 epochs, to the end of the last epoch as for the tutorial |" in text


def test_report_appends_block_to_new_file(tiny_results, tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    bench.write_report(tiny_results, path, "python -m tl_core bench")
    assert path.read_text().count(report.RESULTS_START) == 1


def results_with(**steps):
    return report.BenchResults(settings={}, machine={}, started_at="", steps=steps)


def timed(seconds, training_seconds=None):
    return [{
        "seconds": seconds, "cpu_seconds": seconds, "training_seconds": training_seconds,
        "feature_seconds": None, "epochs": 10,
    }]


def test_report_flags_missed_speedup():
    results = results_with(frozen={"cold": {"10": timed(11.0, 10.0)}}, tutorial={"10": timed(70.0)})
    speedup = [row for row in report.result_rows(results) if row[0] == "3 / 2"]
    assert speedup[0][2] == "7.0×"
    assert "not met" in speedup[0][3]


def test_report_passes_met_speedup():
    results = results_with(frozen={"cold": {"10": timed(11.0, 10.0)}}, tutorial={"10": timed(90.0)})
    speedup = [row for row in report.result_rows(results) if row[0] == "3 / 2"]
    assert speedup[0][3] == "≥ 8×: met"


def test_report_end_to_end_ratio():
    results = results_with(frozen={"cold": {"10": timed(12.0, 10.0)}}, tutorial={"10": timed(90.0)})
    speedup = [row for row in report.result_rows(results) if row[0] == "3 / 2"]
    assert speedup[1][2] == "7.5× wall time, 7.5× CPU time"


def test_report_cold_start_not_measured():
    results = results_with(cold_start={"measured": False, "reason": "app.py not found"})
    rows = report.result_rows(results)
    assert rows[0][2] == "not measured: app.py not found"


def test_memory_child_reports_each_run(tmp_path):
    folder = generate_images(bench.DEFAULT_SAMPLE, tmp_path / "images", count=20, size=32)
    result = measure.measure_memory(
        {
            "folder": str(folder), "data_root": str(tmp_path / "root"), "backbone": "mobilenet_v2",
            "image_size": 32, "runs": 2, "epochs": 1, "batch_size": 8, "seed": 0, "reuse_features": False,
        }
    )
    assert len(result["rss_after_mb"]) == 2
    assert result["peak_rss_mb"] >= max(result["rss_after_mb"][:1])


def test_memory_child_rejects_bad_usage():
    completed = subprocess.run(
        [sys.executable, "-m", "tl_core.bench", "bogus"], cwd=ROOT, capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert "python -m tl_core bench" in completed.stderr


def test_cold_start_sees_tensorflow_import(tmp_path):
    app = tmp_path / "app.py"
    # A stand-in module under the name is enough: the check reads sys.modules.
    app.write_text("import sys, types\nimport streamlit as st\nsys.modules['tensorflow'] = types.ModuleType('tensorflow')\nst.write('hi')\n")
    result = measure.measure_cold_start(app, tmp_path / "data")
    assert result["measured"] is True
    assert result["tensorflow_imported"] is True


def test_cold_start_plain_app(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import streamlit as st\nst.title('Home')\n")
    result = measure.measure_cold_start(app, tmp_path / "data")
    assert result["tensorflow_imported"] is False
    assert result["script_run_seconds"] > 0


def test_cold_start_reports_exception(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("raise RuntimeError('broken page')\n")
    result = measure.measure_cold_start(app, tmp_path / "data")
    assert result["measured"] is False
    assert "broken page" in result["reason"]


def test_cli_bench_writes_report(tmp_path):
    output = tmp_path / "BENCH.md"
    completed = subprocess.run(
        [
            sys.executable, "-m", "tl_core", "bench", "--steps", "cold_start", "--output", str(output),
            "--json", str(tmp_path / "bench.json"),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Home page cold start" in output.read_text()
    assert "cold_start" in json.loads((tmp_path / "bench.json").read_text())["steps"]


# ------------------------------------- training speed-ups the benchmark measures


@pytest.fixture
def colour_dataset(colour_dataset_dir):
    from tl_core.datasets import open_dataset

    return open_dataset(colour_dataset_dir)


def frozen_config(**changes):
    from tl_core.training import TrainConfig

    values = {"backbone": "mobilenet_v2", "image_size": 32, "epochs": 3, "batch_size": 8, "learning_rate": 0.01}
    return TrainConfig(**{**values, **changes})


def pooling_extractor():
    import keras

    inputs = keras.Input((4, 4, 3))
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))


def test_feature_sets_split_one_pass():
    from tl_core import features

    rng = np.random.default_rng(0)
    sets = [rng.integers(0, 256, (count, 4, 4, 3), dtype=np.uint8) for count in (70, 0, 5)]
    extracted = features.extract_feature_sets(pooling_extractor(), sets)
    for images, values in zip(sets, extracted):
        assert np.allclose(values, images.mean(axis=(1, 2)), atol=1e-4)


def test_feature_progress_reaches_totals():
    from tl_core import features

    images = np.zeros((70, 4, 4, 3), dtype=np.uint8)
    reports = []
    features.extract_feature_sets(pooling_extractor(), [images, images[:5]], progress=lambda *report: reports.append(report))
    assert (0, 70, 70) in reports
    assert reports[-1] == (1, 5, 5)


def test_feature_cache_replaces_wrong_shape(tmp_path):
    from tl_core import features

    path = tmp_path / "features.npy"
    np.save(path, np.zeros((2, 7), dtype=np.float32))
    images = np.full((3, 4, 4, 3), 10, dtype=np.uint8)
    values, loaded = features.load_or_extract(pooling_extractor(), {"train": images}, {"train": path})
    assert loaded == []
    assert np.load(path).shape == (3, 3)
    assert np.allclose(values["train"], 10)


def test_second_run_loads_features(colour_dataset, tmp_path):
    from tl_core.training import train

    first = train(frozen_config(), colour_dataset, tmp_path / "first")
    stored = sorted((colour_dataset.folder / "cache").glob("features_*.npy"))
    events = []
    second = train(frozen_config(), colour_dataset, tmp_path / "second", listener=events.append)
    feature_events = [event for event in events if event.get("phase", "").startswith("features:")]
    assert len(stored) == 3
    assert sorted((colour_dataset.folder / "cache").glob("features_*.npy")) == stored
    assert all(event["done"] == event["total"] for event in feature_events)
    assert second["test_accuracy"] == first["test_accuracy"]


def head_and_features(seed=0):
    import keras

    from tl_core.model import compile_model

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16,))
    x = keras.layers.Dropout(0.2, seed=seed, name="dropout")(inputs)
    head = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="classes")(x), name="head_on_features")
    compile_model(head, "adam", 0.05)
    rng = np.random.default_rng(seed)
    x_train, y_train = rng.normal(size=(50, 16)).astype(np.float32), rng.integers(0, 3, 50).astype(np.int32)
    x_val, y_val = rng.normal(size=(13, 16)).astype(np.float32), rng.integers(0, 3, 13).astype(np.int32)
    return head, (x_train, y_train), (x_val, y_val)


class EpochLogs:
    """Collects the logs of every epoch end, as a stand-in for ProgressCallback."""

    def __new__(cls):
        import keras

        class Collector(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.epochs = []

            def on_epoch_end(self, epoch, logs=None):
                self.epochs.append(dict(logs))

        return Collector()


def early_stopping():
    import keras

    return keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=1, restore_best_weights=True)


def test_fit_head_matches_keras_fit():
    from tl_core import features, fitting

    fast_head, train, validation = head_and_features()
    fast = EpochLogs()
    features.fit_head(fast_head, train, validation, 6, 8, 0, [fast])

    keras_head, train, validation = head_and_features()
    reference = EpochLogs()
    keras_head.fit(
        fitting.array_pipeline(*train, 8, True, 0, epochs=6), steps_per_epoch=7,
        validation_data=fitting.array_pipeline(*validation, 8, False, 0), epochs=6, verbose=0, callbacks=[reference],
        shuffle=False,
    )
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [logs[key] for logs in fast.epochs] == pytest.approx([logs[key] for logs in reference.epochs], abs=1e-5), key


def test_fit_head_early_stopping_matches_keras_fit():
    from tl_core import features, fitting

    fast_head, train, validation = head_and_features(seed=1)
    fast = EpochLogs()
    features.fit_head(fast_head, train, validation, 30, 8, 0, [fast, early_stopping()])

    keras_head, train, validation = head_and_features(seed=1)
    reference = EpochLogs()
    keras_head.fit(
        fitting.array_pipeline(*train, 8, True, 0, epochs=30), steps_per_epoch=7,
        validation_data=fitting.array_pipeline(*validation, 8, False, 0), epochs=30, verbose=0,
        callbacks=[reference, early_stopping()], shuffle=False,
    )
    assert len(fast.epochs) == len(reference.epochs)
    assert len(fast.epochs) < 30
    assert np.allclose(fast_head.get_weights()[0], keras_head.get_weights()[0], atol=1e-5)


def test_distribution_auto_is_default_on_cpu():
    import tensorflow as tf

    from tl_core import fitting

    assert fitting.distribution_strategy("auto") is tf.distribute.get_strategy()


def test_distribution_rejects_unknown_name():
    from tl_core import fitting

    with pytest.raises(ConfigError, match="TL_DISTRIBUTION must be one of"):
        fitting.distribution_strategy("ring")


def test_mirrored_strategy_run_matches_default(colour_dataset, tmp_path, monkeypatch):
    from tl_core.training import train

    default = train(frozen_config(feature_cache=False), colour_dataset, tmp_path / "default")
    monkeypatch.setenv("TL_DISTRIBUTION", "mirrored")
    mirrored = train(frozen_config(), colour_dataset, tmp_path / "mirrored")
    assert mirrored["status"] == "finished"
    assert mirrored["test_accuracy"] == default["test_accuracy"]


def test_has_stored_features_needs_every_split(colour_dataset_dir, tmp_path):
    from tl_core import features
    from tl_core.datasets import open_dataset

    dataset = open_dataset(colour_dataset_dir, data_root=tmp_path / "data")
    assert not features.has_stored_features(dataset, "mobilenet_v2", 32)

    for split in ("train", "val"):
        path = features.cache_path(dataset, split, "mobilenet_v2", 32, "0123456789abcdef")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.zeros((len(dataset.items[split]), 4), np.float32))
    assert not features.has_stored_features(dataset, "mobilenet_v2", 32)  # test split missing

    path = features.cache_path(dataset, "test", "mobilenet_v2", 32, "fedcba9876543210")
    np.save(path, np.zeros((len(dataset.items["test"]), 4), np.float32))
    assert features.has_stored_features(dataset, "mobilenet_v2", 32)
    assert not features.has_stored_features(dataset, "mobilenet_v2", 64)
    assert not features.has_stored_features(dataset, "mobilenet", 32)
