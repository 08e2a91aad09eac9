"""The job queue: detached workers, status read from folders, stop and crash."""

import os
import signal
import time

import pytest

from tl_core import jobs, runs
from tl_core.datasets import open_dataset
from tl_core.training import TrainConfig

TIMEOUT_SECONDS = 240


@pytest.fixture
def dataset_file(colour_dataset_dir):
    return open_dataset(colour_dataset_dir).folder / "dataset.json"


def wait_for(predicate, timeout=TIMEOUT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def config(**changes):
    values = {"backbone": "mobilenet_v2", "mode": "frozen", "image_size": 32, "epochs": 2, "batch_size": 8}
    values.update(changes)
    return TrainConfig(**values)


def status_of(run_id):
    return jobs.run_status(jobs.runs_root() / run_id)


def test_submitted_job_finishes(dataset_file):
    run_id = jobs.submit(config(), dataset_file, race="r1")
    assert wait_for(lambda: status_of(run_id) == "finished")
    info = next(info for info in jobs.list_runs() if info.run_id == run_id)
    assert info.summary["test_accuracy"] is not None
    assert info.job["race"] == "r1"


def test_queue_runs_jobs_in_order(dataset_file, monkeypatch):
    first = jobs.submit(config(), dataset_file, start_supervisor=False)
    second = jobs.submit(config(), dataset_file, start_supervisor=False)
    assert [folder.name for folder in jobs.queued_folders(jobs.runs_root())] == [first, second]


def test_stop_before_start_never_runs(dataset_file):
    run_id = jobs.submit(config(), dataset_file, start_supervisor=False)
    jobs.stop(run_id)
    assert status_of(run_id) == "stopped"
    assert jobs.queued_folders(jobs.runs_root()) == []


def test_stop_running_job(dataset_file):
    run_id = jobs.submit(config(mode="scratch", epochs=50, batch_size=4), dataset_file)
    folder = jobs.runs_root() / run_id
    assert wait_for(lambda: runs.read_metrics(folder))
    jobs.stop(run_id)
    assert wait_for(lambda: status_of(run_id) == "stopped", timeout=60)
    assert len(runs.read_metrics(folder)) < 50


def test_killed_worker_reads_interrupted(dataset_file):
    run_id = jobs.submit(config(mode="scratch", epochs=50, batch_size=4), dataset_file)
    folder = jobs.runs_root() / run_id
    assert wait_for(lambda: (folder / "events.jsonl").exists())
    pid = runs.read_json(folder / jobs.WORKER_FILE)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: status_of(run_id) == "interrupted", timeout=30)
    assert not (folder / "summary.json").exists()
