"""The Compare page on real run folders, through Streamlit's AppTest."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tl_core import runs

TIMEOUT = 60
APP = Path(__file__).resolve().parent.parent / "app.py"


@pytest.fixture(autouse=True)
def private_data_root(two_runs_root, monkeypatch):
    """Point the app at the two shared runs (overrides the per-test root of conftest)."""
    monkeypatch.setenv("TL_DATA_DIR", str(two_runs_root))


def open_compare() -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    app.switch_page("pages/3_Compare.py").run()
    return app


def test_compare_lists_both_runs(two_runs_root):
    app = open_compare()
    assert not app.exception
    table = app.dataframe[0].value
    assert len(table) == 2
    assert set(table["backbone"]) == {"MobileNetV2 (1.0)", "MobileNet v1 (1.0)"}


def test_compare_table_values(two_runs_root):
    app = open_compare()
    table = app.dataframe[0].value
    assert table["test_accuracy"].between(0, 100).all()  # percent
    assert (table["image_size"] == 32).all()
    assert (table["epochs"] == 1).all()
    assert (table["model_size_mb"] > 0).all()


def test_compare_draws_charts(two_runs_root):
    app = open_compare()
    charts = app.get("plotly_chart")
    # Loss and accuracy curves, then one confusion matrix per run.
    assert len(charts) == 4
    traces = [json.loads(chart.proto.spec)["data"][0]["type"] for chart in charts]
    assert traces.count("heatmap") == 2
    assert all(chart.key.startswith("compare.") for chart in charts)


def test_compare_without_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_DATA_DIR", str(tmp_path / "empty"))
    app = open_compare()
    assert not app.exception
    assert "No finished runs yet" in app.info[0].value
    assert len(app.dataframe) == 0


def test_compare_shows_failed_run(two_runs_root, tmp_path, monkeypatch):
    root = tmp_path / "data"
    shutil.copytree(two_runs_root / "runs", root / "runs")
    failed = root / "runs" / "20990101-000000-resnet50-frozen-dead"
    failed.mkdir()
    (failed / "config.json").write_text(
        json.dumps({"config": {"backbone": "resnet50", "mode": "frozen"}, "dataset": {}})
    )
    runs.write_json_atomic(
        failed / "summary.json",
        {"status": "failed", "error": "Pretrained weights for ResNet50 are missing."},
    )
    monkeypatch.setenv("TL_DATA_DIR", str(root))

    app = open_compare()
    assert not app.exception
    errors = [element.value for element in app.error]
    assert any("Pretrained weights for ResNet50 are missing." in text for text in errors)
    assert len(app.dataframe[0].value) == 3  # no race: the 3 newest runs, failed one included


def wrong_count(folder) -> int:
    with open(folder / "test_predictions.csv", newline="") as handle:
        return sum(row["true_label"] != row["predicted_label"] for row in csv.DictReader(handle))


def test_compare_misclassified_thumbnails(two_runs_root):
    app = open_compare()
    wrong = [wrong_count(folder) for folder in (two_runs_root / "runs").iterdir() if folder.is_dir()]
    assert len(app.image) == sum(min(count, 24) for count in wrong)
    assert len(app.success) == wrong.count(0)


def test_compare_dataset_deleted(two_runs_root, tmp_path, monkeypatch):
    root = tmp_path / "data"
    shutil.copytree(two_runs_root / "runs", root / "runs")
    for folder in (root / "runs").iterdir():
        if not folder.is_dir():
            continue
        config = json.loads((folder / "config.json").read_text())
        config["dataset"]["root"] = str(tmp_path / "deleted")
        (folder / "config.json").write_text(json.dumps(config))
        with open(folder / "test_predictions.csv", "a", newline="") as handle:
            csv.writer(handle).writerow(["red/red_00.png", "red", "blue", 0.9])
    monkeypatch.setenv("TL_DATA_DIR", str(root))

    app = open_compare()
    assert not app.exception
    assert len(app.image) == 0
    warnings = [element.value for element in app.warning]
    assert sum("no longer exists" in text for text in warnings) == 2
