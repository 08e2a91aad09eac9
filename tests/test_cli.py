"""The CLI as a user runs it: exit codes and one-line messages."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "tl_core", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )


def test_inspect_prints_classes(colour_dataset_dir):
    result = run_cli("inspect", colour_dataset_dir)
    assert result.returncode == 0, result.stderr
    assert "red" in result.stdout
    assert "3 classes, 30 images" in result.stdout


def test_inspect_json(colour_dataset_dir):
    result = run_cli("inspect", colour_dataset_dir, "--json")
    report = json.loads(result.stdout)
    assert sorted(report["classes"]) == ["blue", "green", "red"]


def test_inspect_missing_path_exits_1(tmp_path):
    result = run_cli("inspect", tmp_path / "nothing.zip")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: Dataset not found")
    assert len(result.stderr.strip().splitlines()) == 1


def test_inspect_single_class_exits_1(tmp_path):
    from conftest import write_colour_dataset

    root = write_colour_dataset(tmp_path / "d", per_class=3)
    for name in ("green", "blue"):
        for file in (root / name).iterdir():
            file.unlink()
        (root / name).rmdir()
    result = run_cli("inspect", root)
    assert result.returncode == 1
    assert "class" in result.stderr


def test_train_unknown_backbone_exits_1(colour_dataset_dir, tmp_path):
    result = run_cli("train", "--data", colour_dataset_dir, "--backbone", "alexnet", "--out", tmp_path / "r")
    assert result.returncode == 1
    assert "Unknown backbone 'alexnet'" in result.stderr


def test_train_bad_mode_exits_2(colour_dataset_dir):
    result = run_cli("train", "--data", colour_dataset_dir, "--mode", "half")
    assert result.returncode == 2
    assert result.stderr.startswith("error: argument --mode: invalid choice: 'half'")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option,value", [("--epochs", "0"), ("--image-size", "8"), ("--split", "70/30")])
def test_train_bad_setting_exits_1(colour_dataset_dir, tmp_path, option, value):
    result = run_cli("train", "--data", colour_dataset_dir, option, value, "--out", tmp_path / "r")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert not (tmp_path / "r").exists()


def test_train_writes_run_and_reports_accuracy(colour_dataset_dir, tmp_path):
    out = tmp_path / "run"
    result = run_cli(
        "train", "--data", colour_dataset_dir, "--epochs", "2", "--image-size", "32", "--out", out,
    )
    assert result.returncode == 0, result.stderr
    assert "epoch   2/2" in result.stdout
    assert "test accuracy" in result.stdout
    assert json.loads((out / "summary.json").read_text())["status"] == "finished"


def test_backbones_lists_all():
    result = run_cli("backbones", "--json")
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"mobilenet", "mobilenet_v2", "efficientnet_lite0", "resnet50", "vgg16"} <= names


def test_weights_fetch_unknown_name_exits_1():
    result = run_cli("weights", "fetch", "vgg16")
    assert result.returncode == 1
    assert "No offline weight source for vgg16" in result.stderr
